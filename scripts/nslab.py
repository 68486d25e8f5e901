"""Network-namespace hosts for the measurement scripts: a switch namespace with one bridge
and `hosts` namespaces <prefix>h1..hN at <subnet>.N/24 on eth0. Needs root and `ip netns`."""
import os
import subprocess


def ip(*args):
    subprocess.run(["ip", *args], check=True)


class Lab:
    def __init__(self, hosts, subnet="10.77.0", tag="aislab"):
        self.prefix = f"{tag}{os.getpid() % 10000}"
        self.hosts = hosts
        ip("netns", "add", self.sw)
        ip("-n", self.sw, "link", "add", "br0", "type", "bridge")
        # Flood multicast: no IGMP querier lives on this little switch.
        ip("-n", self.sw, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0")
        ip("-n", self.sw, "link", "set", "br0", "up")
        for h in range(1, hosts + 1):
            ns = self.host(h)
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", self.sw, "link", "add", f"h{h}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("-n", self.sw, "link", "set", f"h{h}", "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{subnet}.{h}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")

    @property
    def sw(self):
        return f"{self.prefix}sw"

    def host(self, h):
        return f"{self.prefix}h{h}"

    def close(self):
        for h in range(1, self.hosts + 1):
            subprocess.run(["ip", "netns", "del", self.host(h)])
        subprocess.run(["ip", "netns", "del", self.sw])


def start_engine(lab, h, engine, conf, run_dir, aisexec):
    """Starts a cluster engine on host h with configuration `conf`: Debian's corosync when
    `engine` starts with "corosync" (with `run_dir` bind-mounted on a private /run, since its
    pid file is /run/corosync.pid), else the `aisexec` binary. Output is discarded."""
    if engine.startswith("corosync"):
        cmd = ["ip", "netns", "exec", lab.host(h), "unshare", "--mount", "--propagation", "private",
               "sh", "-c", 'mount --bind "$1" /run && shift && exec "$@"', "sh",
               run_dir, "corosync", "-f", "-c", conf]
    else:
        cmd = ["ip", "netns", "exec", lab.host(h), aisexec, "-f", "-c", conf]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_all(procs, timeout=20):
    """SIGTERM to every process still running, then SIGKILL to any not gone in `timeout` s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
