#!/usr/bin/env python3
"""Pacemaker 2.1 on Debian's corosync 3.1.7 and on aisexec, side by side, in one run: the
same three network-namespace hosts (10.215.0.1-3, each with its own mount and UTS namespace:
a private /run, /var/lib/pacemaker and /var/log/pacemaker, hostname n1..n3), the same
configuration file for both engines (knet, no crypto, default timers, votequorum, no uidgid
section), both at their default scheduling (SCHED_RR and locked memory). Runs alternate
between the engines, each on fresh Pacemaker state, and time three things with crm_mon
(polled every 100 ms on a node that stays up):

  form      pacemakerd started on all hosts -> three nodes online and a DC
  failover  SIGKILL of the engine on the node running an ocf:pacemaker:Dummy resource
            -> the resource started on a survivor
  rejoin    the engine restarted on that node (pacemakerd too if it had exited)
            -> the node online again

Then it compares what each side logged as an error: Pacemaker's error/crit lines (numbers,
pids and names masked), the output of `corosync-cfgtool -H` (vetoed by pacemakerd), and the
libsam client of the tests (tests/c/sam_check.c, restart scenario). The report is Markdown:
medians with min-max, every run, and the log lines one engine produced and the other did not.

Needs root, ip netns, util-linux, and the corosync, pacemaker, pacemaker-cli-utils and
libsam-dev packages. Usage:
  cargo build --release -p ais-exec -p ais-tools
  sudo scripts/pacemaker-side-by-side.py [--runs 5] [--out FILE] [--keep]
"""
import argparse, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
HOSTS = (1, 2, 3)
POLL = 0.1
LIMIT = 180.0
SETTLE = 10.0

from nslab import Lab  # scripts/nslab.py


def config(state_dir, log):
    return f"""totem {{
\tversion: 2
\tcluster_name: pcmk
\ttransport: knet
\tcrypto_cipher: none
\tcrypto_hash: none
}}
logging {{
\tto_stderr: no
\tto_logfile: yes
\tlogfile: {log}
\tto_syslog: no
}}
quorum {{
\tprovider: corosync_votequorum
}}
nodelist {{
""" + "".join(f"\tnode {{\n\t\tname: n{n}\n\t\tnodeid: {n}\n\t\tring0_addr: 10.215.0.{n}\n\t}}\n"
              for n in HOSTS) + f"""}}
system {{
\tstate_dir: {state_dir}
}}
"""


class Host:
    """A lab host with its own mounts and hostname, held by a sleeping process."""

    def __init__(self, lab, n, root):
        self.n, self.root = n, root
        self.lib, self.log, self.state = (os.path.join(root, d) for d in ("lib", "log", "state"))
        for sub in ("cib", "pengine", "blackbox", "cores"):
            os.makedirs(os.path.join(self.lib, sub))
        os.makedirs(self.log)
        os.makedirs(self.state)
        subprocess.run(["chown", "-R", "hacluster:haclient", self.lib, self.log], check=True)
        script = (f"set -e; hostname n{n}; mount -t tmpfs -o mode=0755 tmpfs /run; "
                  f"mount --bind {self.lib} /var/lib/pacemaker; "
                  f"mount --bind {self.log} /var/log/pacemaker; echo ready; exec sleep 100000")
        self.anchor = subprocess.Popen(
            ["ip", "netns", "exec", lab.host(n), "unshare", "--mount", "--uts", "--propagation",
             "private", "sh", "-c", script], stdout=subprocess.PIPE)
        assert self.anchor.stdout.readline().strip() == b"ready"
        self.conf = os.path.join(root, "engine.conf")
        with open(self.conf, "w") as f:
            f.write(config(self.state, os.path.join(root, "engine.log")))

    def argv(self, *cmd):
        return ["nsenter", "-t", str(self.anchor.pid), "-n", "-m", "-u", *cmd]

    def run(self, *cmd):
        return subprocess.run(self.argv(*cmd), capture_output=True, text=True)

    def spawn(self, *cmd, out=None):
        sink = open(out, "a") if out else subprocess.DEVNULL
        return subprocess.Popen(self.argv(*cmd), stdout=sink, stderr=sink, stdin=subprocess.DEVNULL)

    def processes(self):
        mine = os.stat(f"/proc/{self.anchor.pid}/ns/uts").st_ino
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            pid = int(pid)
            if pid == self.anchor.pid:
                continue
            try:
                if os.stat(f"/proc/{pid}/ns/uts").st_ino == mine:
                    found.append((pid, open(f"/proc/{pid}/comm").read().strip()))
            except OSError:
                pass
        return found

    def close(self):
        for _ in range(100):
            left = self.processes()
            if not left:
                break
            for pid, _ in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        self.anchor.kill()
        self.anchor.wait()


def engine_argv(engine, host):
    if engine == "corosync":
        return ["corosync", "-f", "-c", host.conf]
    return [os.path.join(BIN, "aisexec"), "-f", "-c", host.conf]


def status(host):
    out = host.run("crm_mon", "-1", "--output-as=xml").stdout
    try:
        doc = ET.fromstring(out)
    except ET.ParseError:
        return None
    dc = doc.find("./summary/current_dc")
    online = {n.get("name") for n in doc.findall("./nodes/node") if n.get("online") == "true"}
    res = doc.find("./resources/resource[@id='dummy']")
    on = None
    if res is not None and res.get("role") == "Started":
        node = res.find("node")
        on = node.get("name") if node is not None else None
    return {"dc": dc.get("name") if dc is not None and dc.get("present") == "true" else None,
            "quorate": dc is not None and dc.get("with_quorum") == "true",
            "online": online, "dummy": on}


def wait(host, check, what):
    start = time.monotonic()
    while time.monotonic() - start < LIMIT:
        s = status(host)
        if s and check(s):
            return time.monotonic() - start, s
        time.sleep(POLL)
    raise RuntimeError(f"n{host.n}: {what} not seen within {LIMIT} s; last {status(host)}")


def all_online(s):
    return s["dc"] is not None and s["quorate"] and s["online"] >= {"n1", "n2", "n3"}


MASKS = [(re.compile(r"^\w{3} \d+ [\d:.]+ n\d "), ""), (re.compile(r"\[\d+\]"), "[PID]"),
         (re.compile(r"\bn[123]\b"), "nX"), (re.compile(r"0x[0-9a-f]+"), "0xADDR"),
         (re.compile(r"\d+"), "N"), (re.compile(r"\s+"), " ")]


def mask(line):
    for pattern, repl in MASKS:
        line = pattern.sub(repl, line)
    return line.strip()


def pacemaker_errors(hosts):
    found = set()
    for h in hosts:
        path = os.path.join(h.log, "pacemaker.log")
        if os.path.exists(path):
            for line in open(path, errors="replace"):
                if re.search(r"\t(error|crit): ", line):
                    found.add(mask(line))
    return found


def one_run(lab, engine, tmp, index):
    root = os.path.join(tmp, f"{engine}-{index}")
    hosts = [Host(lab, n, os.path.join(root, f"h{n}")) for n in HOSTS]
    engines, pacemakers, result = {}, {}, {"engine": engine}
    try:
        for h in hosts:
            engines[h.n] = h.spawn(*engine_argv(engine, h), out=os.path.join(h.root, "engine.out"))
        # The engines form their ring before Pacemaker starts (as systemd orders them).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            q = hosts[0].run("corosync-quorumtool", "-s").stdout
            if "Quorate:          Yes" in q and "Nodes:            3" in q:
                break
            time.sleep(POLL)
        t0 = time.monotonic()
        for h in hosts:
            pacemakers[h.n] = h.spawn("pacemakerd", out=os.path.join(h.log, "pacemakerd.out"))
        wait(hosts[0], all_online, "three nodes online with a DC")
        result["form"] = time.monotonic() - t0

        hosts[0].run("crm_attribute", "-t", "crm_config", "-n", "stonith-enabled", "-v", "false")
        hosts[0].run("cibadmin", "-C", "-o", "resources", "-X",
                     '<primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy">'
                     '<operations><op id="dummy-monitor" name="monitor" interval="10s"/>'
                     "</operations></primitive>")
        _, s = wait(hosts[0], lambda s: s["dummy"] is not None, "dummy started")
        victim = int(s["dummy"][1:])
        watcher = hosts[0] if victim != 1 else hosts[1]
        engines[victim].send_signal(signal.SIGKILL)
        engines[victim].wait()
        result["failover"], _ = wait(
            watcher, lambda s: s["dummy"] not in (None, f"n{victim}") and s["dc"] is not None,
            "dummy moved")

        v = hosts[victim - 1]
        t0 = time.monotonic()
        engines[victim] = v.spawn(*engine_argv(engine, v), out=os.path.join(v.root, "engine.out"))
        if pacemakers[victim].poll() is not None:
            pacemakers[victim] = v.spawn("pacemakerd", out=os.path.join(v.log, "pacemakerd.out"))
        wait(watcher, all_online, "the victim online again")
        result["rejoin"] = time.monotonic() - t0
        result["victim"] = victim

        veto = watcher.run("corosync-cfgtool", "-H")
        result["cfgtool -H"] = (veto.stdout + veto.stderr).strip()
        # What Pacemaker does after the rejoin (probing the node, recovering) logs too; let
        # it settle, so that both engines' logs cover the same scenario.
        time.sleep(SETTLE)
        result["errors"] = pacemaker_errors(hosts)
    finally:
        for h in hosts:
            h.close()
    return result


def sam_run(lab, engine, tmp):
    """The libsam restart scenario on host 1 of a fresh three-node cluster of `engine`."""
    root = os.path.join(tmp, f"{engine}-sam")
    hosts = [Host(lab, n, os.path.join(root, f"h{n}")) for n in HOSTS]
    program = os.path.join(tmp, "sam_check")
    try:
        for h in hosts:
            h.spawn(*engine_argv(engine, h), out=os.path.join(h.root, "engine.out"))
        time.sleep(3)
        out = subprocess.run(hosts[0].argv(program, "restart"), capture_output=True, text=True,
                             timeout=60)
        keys = hosts[0].run("corosync-cmapctl", "resources.process").stdout
        return mask_pids(f"exit {out.returncode}\n" + out.stdout + out.stderr + keys).strip()
    finally:
        for h in hosts:
            h.close()


def mask_pids(text):
    return re.sub(r"(pid |process\.)\d+", r"\1PID", re.sub(r"last_updated \(u64\) = \d+",
                                                          "last_updated (u64) = T", text))


def spread(values):
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default="-")
    ap.add_argument("--keep", action="store_true", help="keep every host's logs (printed path)")
    args = ap.parse_args()
    for tool in ("corosync", "pacemakerd", "crm_mon", "nsenter", "cc"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    tmp = tempfile.mkdtemp(prefix="pcmk-sbs-")
    subprocess.run(["cc", "-O2", "-o", os.path.join(tmp, "sam_check"),
                    os.path.join(ROOT, "crates/ais-exec/tests/c/sam_check.c"), "-lsam"], check=True)
    os.chmod(tmp, 0o755)
    lab = Lab(3, subnet="10.215.0", tag="pcmk")
    results = []
    try:
        for i in range(args.runs):
            for engine in ("aisexec", "corosync"):
                r = one_run(lab, engine, tmp, i)
                print(f"run {i + 1} {engine}: form {r['form']:.2f} s, failover {r['failover']:.2f} s,"
                      f" rejoin {r['rejoin']:.2f} s (victim n{r['victim']})", file=sys.stderr)
                results.append(r)
        sam = {engine: sam_run(lab, engine, tmp) for engine in ("aisexec", "corosync")}
    finally:
        lab.close()

    lines = [f"# Pacemaker on aisexec and on corosync 3.1.7, side by side ({time.strftime('%Y-%m-%d')})",
             "", "Three namespace hosts, one bridge, knet without crypto, default timers, votequorum, "
             "both engines at their default scheduling (SCHED_RR, locked memory); "
             f"{args.runs} runs each, alternating. Median (min-max).", "",
             "| step | aisexec | corosync 3.1.7 |", "|---|---:|---:|"]
    for step in ("form", "failover", "rejoin"):
        cells = [spread([r[step] for r in results if r["engine"] == e]) for e in ("aisexec", "corosync")]
        lines.append(f"| {step} | {cells[0]} | {cells[1]} |")
    lines += ["", "Every run:", "", "| run | engine | form | failover | rejoin | victim |",
              "|---:|---|---:|---:|---:|---|"]
    for i, r in enumerate(results):
        lines.append(f"| {i // 2 + 1} | {r['engine']} | {r['form']:.2f} | {r['failover']:.2f} | "
                     f"{r['rejoin']:.2f} | n{r['victim']} |")
    errors = {e: set().union(*(r["errors"] for r in results if r["engine"] == e))
              for e in ("aisexec", "corosync")}
    for mine, theirs in (("aisexec", "corosync"), ("corosync", "aisexec")):
        only = sorted(errors[mine] - errors[theirs])
        lines += ["", f"Pacemaker error/crit lines logged with {mine} only ({len(only)}):", "", "```"]
        lines += only or ["(none)"]
        lines += ["```"]
    lines += ["", "Shared error/crit lines (both engines):", "", "```"]
    lines += sorted(errors["aisexec"] & errors["corosync"]) or ["(none)"]
    lines += ["```", "", "`corosync-cfgtool -H` while pacemakerd runs:", ""]
    for e in ("aisexec", "corosync"):
        said = {r["cfgtool -H"] for r in results if r["engine"] == e}
        lines += [f"- {e}: " + " / ".join(repr(s) for s in sorted(said))]
    lines += ["", "libsam restart scenario (tests/c/sam_check.c), pids masked:", ""]
    for e in ("aisexec", "corosync"):
        lines += [f"{e}:", "```", sam[e], "```"]
    report = "\n".join(lines) + "\n"
    if args.out == "-":
        sys.stdout.write(report)
    else:
        with open(args.out, "w") as f:
            f.write(report)
    if args.keep:
        print(f"logs kept in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
