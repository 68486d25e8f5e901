#!/usr/bin/env python3
"""The operator tools against Debian's corosync 3.1.7 and against aisexec, side by side, in
one setup: three network-namespace hosts on one bridge (10.214.0.1-3), udpu without crypto, votequorum, the
same nodelist (names n1..n3). On host 1 every command is run against each engine, with
corosync's tools and with ours, while all three nodes are up and again after node 3 was
stopped. The output is a Markdown report: each command once per engine, and a diff wherever
the two engines' outputs differ. Volatile fields (dates, ring ids, counters, pids) differ by
nature; the report shows them as they are.

Needs root, ip netns, the corosync package (daemon and tools). Usage:
  cargo build --release -p ais-exec -p ais-tools
  sudo scripts/tools-side-by-side.py [--out FILE]
"""
import argparse, difflib, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")

from nslab import Lab, start_engine, stop_all  # scripts/nslab.py

def both(tool, *args, title=None):
    """The command with corosync's tool, then with ours ("ais-*" come from target/release)."""
    title = title or " ".join((tool, *args))
    return [(title, [f"corosync-{tool}", *args]), (title, [f"ais-{tool}", *args])]


def shell(title, script):
    return [(title, ["sh", "-c", script])]


# (title, argv) with every node up.
UP = [
    *both("quorumtool", "-s"),
    *both("quorumtool", "-l"),
    *both("cfgtool", "-s"),
    *both("cfgtool", "-n"),
    *both("cmapctl", "runtime.votequorum"),
    ("cmapctl runtime.members", ["corosync-cmapctl", "runtime.members"]),
    ("cmapctl nodelist", ["corosync-cmapctl", "nodelist"]),
    ("cmapctl quorum", ["corosync-cmapctl", "quorum"]),
    ("cmapctl -g totem.token", ["corosync-cmapctl", "-g", "runtime.config.totem.token"]),
    *shell("cmapctl -s/-g/-d", "corosync-cmapctl -s my.key u32 42 && corosync-cmapctl -g my.key "
                               "&& corosync-cmapctl -d my.key && corosync-cmapctl -g my.key; echo exit $?"),
    *shell("cmapctl -s, a read-only key", "corosync-cmapctl -s runtime.config.totem.token u32 1; echo exit $?"),
    *shell("cmapctl -s, a runtime key corosync-blackbox writes",
           "corosync-cmapctl -s runtime.blackbox.x u8 1; echo exit $?; corosync-cmapctl -d runtime.blackbox.x"),
    *shell("cmapctl -m stats stats.srp (names and types)",
           "corosync-cmapctl -m stats stats.srp | sed 's/ = .*//'"),
    *shell("cmapctl -m stats stats.ipcs, a quorum monitor connected (names and types)",
           "corosync-quorumtool -m >/dev/null 2>&1 & sleep 2; corosync-cmapctl -m stats stats.ipcs "
           "| sed -e 's/ = .*//' -e 's/service3\\.[0-9]*\\.[0-9a-fx]*\\./service3.PID.CONN./'; kill $!"),
    *shell("cmapctl -m stats -s (the stats map is read-only)",
           "corosync-cmapctl -m stats -s stats.srp.mcast_tx u64 0; echo exit $?"),
    ("quorumtool -s --json (ours)", ["ais-quorumtool", "-s", "--json"]),
]
# After node 3 stopped.
DOWN = [
    *both("quorumtool", "-s", title="quorumtool -s, node 3 stopped"),
    *both("cfgtool", "-s", title="cfgtool -s, node 3 stopped"),
]


def config(engine, d):
    lines = ["totem {", "\tversion: 2", "\tcluster_name: tools", "\ttransport: udpu",
             # corosync's udpu has no crypto (knet has): both run without, as in the baseline.
             "\tcrypto_cipher: none", "\tcrypto_hash: none", "}",
             "logging {", "\tto_stderr: no", "\tto_logfile: yes", f"\tlogfile: {d}/log", "\tto_syslog: no", "}",
             "quorum {", "\tprovider: corosync_votequorum", "}", "nodelist {"]
    for i in range(1, 4):
        lines += ["\tnode {", f"\t\tname: n{i}", f"\t\tnodeid: {i}", f"\t\tring0_addr: 10.214.0.{i}", "\t}"]
    lines += ["}"]
    if engine == "aisexec":
        lines += ["system {", f"\tstate_dir: {d}/state", "}"]
    return "\n".join(lines) + "\n"


class Cluster:
    def __init__(self, lab, engine, tmp):
        self.lab, self.engine, self.procs = lab, engine, []
        for n in range(1, 4):
            d = os.path.join(tmp, f"{engine}-n{n}")
            os.makedirs(os.path.join(d, "state"), exist_ok=True)
            os.makedirs(os.path.join(d, "run"), exist_ok=True)
            conf = os.path.join(d, "conf")
            with open(conf, "w") as f:
                f.write(config(engine, d))
            self.procs.append(start_engine(lab, n, engine, conf, os.path.join(d, "run"),
                                           os.path.join(BIN, "aisexec")))

    def run(self, argv, host=1):
        env = dict(os.environ, PATH=BIN + ":" + os.environ.get("PATH", ""), LC_ALL="C")
        p = subprocess.run(["ip", "netns", "exec", self.lab.host(host), *argv], capture_output=True,
                           text=True, env=env, timeout=30)
        out = p.stdout + p.stderr
        return out + f"[exit {p.returncode}]\n"

    def wait_members(self, count, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.run(["corosync-quorumtool", "-s"])
            for line in out.splitlines():
                if line.startswith("Nodes:") and int(line.split()[1]) == count:
                    return
            time.sleep(0.5)
        raise SystemExit(f"{self.engine}: {count} members not seen in {timeout} s")

    def stop(self, n):
        stop_all([self.procs[n - 1]])

    def close(self):
        stop_all(self.procs)


def collect(engine, tmp):
    lab = Lab(3, subnet="10.214.0", tag="tsbs")
    cluster = None
    results = []
    try:
        cluster = Cluster(lab, engine, tmp)
        cluster.wait_members(3)
        time.sleep(2)  # let knet's link status and the stats settle
        results += [(t, argv, cluster.run(argv)) for t, argv in UP]
        cluster.stop(3)
        cluster.wait_members(2)
        time.sleep(2)
        results += [(t, argv, cluster.run(argv)) for t, argv in DOWN]
    finally:
        if cluster:
            cluster.close()
        lab.close()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="write the report here as well as to stdout")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (ip netns)")
    tmp = tempfile.mkdtemp(prefix="tools-sbs-")
    engines = {e: collect(e, tmp) for e in ("corosync", "aisexec")}
    report = ["# The operator tools against corosync 3.1.7 and aisexec", "",
              "Three namespace hosts, udpu (no crypto, as corosync's udpu has none), votequorum; every command on host 1.", ""]
    for (title, argv, c_out), (_, _, a_out) in zip(engines["corosync"], engines["aisexec"]):
        cmd = " ".join(argv) if argv[0] != "sh" else argv[2]
        report += [f"## {title}", "", f"`{cmd}`", ""]
        if c_out == a_out:
            report += ["Identical against both engines:", "", "```", c_out.rstrip(), "```", ""]
            continue
        report += ["Against corosync:", "", "```", c_out.rstrip(), "```", "",
                   "Against aisexec:", "", "```", a_out.rstrip(), "```", "", "Diff (corosync → aisexec):", "",
                   "```diff"]
        report += [l.rstrip("\n") for l in difflib.unified_diff(
            c_out.splitlines(True), a_out.splitlines(True), "corosync", "aisexec", n=0)]
        report += ["```", ""]
    text = "\n".join(report) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
