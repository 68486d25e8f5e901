#!/usr/bin/env python3
"""Failure detection, join time and idle memory of aisexec on three network-namespace hosts,
measured the way ../shared/bench/corosync-baseline measured corosync 3.1.7:

  kill->membership: SIGKILL of node 3 until both survivors logged a 2-member ring
                    (the later of the two);
  start->join:      exec of node 3 until both survivors logged a 3-member ring;
  RSS idle:         VmRSS / VmHWM / threads of each daemon after 5 s of an idle ring.

Needs root (ip netns). Usage:
  cargo build --release -p ais-exec
  sudo scripts/measure-membership.py [--token 3000] [--reps 5] [--transport udpu|udp]
"""
import argparse, os, re, signal, statistics, subprocess, sys, tempfile, threading, time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXE = os.path.join(ROOT, "target", "release", "aisexec")
MEMBERS = re.compile(r"^(\S+)\s.*was formed\. Members\[(\d+)\]")


from nslab import Lab  # scripts/nslab.py


class Node:
    def __init__(self, lab, h, conf):
        self.lab, self.h, self.conf = lab, h, conf
        self.proc = None
        self.events = []  # (unix time, members)
        self.lock = threading.Lock()

    def start(self):
        env = dict(os.environ, AIS_LOG="info")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.lab.host(self.h), EXE, "-f", "-c", self.conf],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stderr:
            m = MEMBERS.search(line)
            if m:
                stamp = datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
                with self.lock:
                    self.events.append((stamp, int(m.group(2))))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def first_event_after(self, t, members):
        with self.lock:
            for stamp, n in self.events:
                if stamp >= t and n == members:
                    return stamp
        return None


def wait_all(nodes, t, members, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline:
        stamps = [n.first_event_after(t, members) for n in nodes]
        if all(s is not None for s in stamps):
            return max(stamps) - t
        time.sleep(0.01)
    raise SystemExit(f"no {members}-member ring within {limit} s")


def config(h, token, transport, state):
    nodes = "".join(f"    node {{\n        nodeid: {n}\n        ring0_addr: 10.77.0.{n}\n    }}\n" for n in (1, 2, 3))
    mcast = "        mcastaddr: 239.192.77.1\n" if transport == "udp" else ""
    return (f"totem {{\n    version: 2\n    cluster_name: bench\n    token: {token}\n    transport: {transport}\n"
            f"    keyfile: {state}/authkey\n    interface {{\n        linknumber: 0\n{mcast}    }}\n}}\n"
            f"nodelist {{\n{nodes}}}\nlogging {{\n    to_stderr: yes\n    timestamp: hires\n}}\n"
            f"system {{\n    state_dir: {state}/node{h}\n}}\n")


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = v.strip()
    return out


def summary(values):
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):.0f} [{min(ms):.0f}-{max(ms):.0f}] (n={len(ms)})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--token", type=int, default=3000)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--transport", default="udpu")
    a = p.parse_args()
    lab = Lab(3)
    tmp = tempfile.mkdtemp(prefix="ais-bench-")
    with open(f"{tmp}/authkey", "wb") as f:
        f.write(os.urandom(256))
    nodes = []
    try:
        for h in (1, 2, 3):
            path = f"{tmp}/node{h}.conf"
            with open(path, "w") as f:
                f.write(config(h, a.token, a.transport, tmp))
            nodes.append(Node(lab, h, path))
        t0 = time.time()
        for n in nodes:
            n.start()
        formed = wait_all(nodes, t0, 3)
        print(f"cold start of 3 nodes -> one 3-member ring: {formed * 1000:.0f} ms")
        time.sleep(5)
        for n in nodes:
            print(f"node {n.h} idle: {rss(n.proc.pid)}")
        kills, joins = [], []
        for _ in range(a.reps):
            time.sleep(2)
            t = time.time()
            nodes[2].kill()
            kills.append(wait_all(nodes[:2], t, 2))
            time.sleep(2)
            t = time.time()
            nodes[2].start()
            joins.append(wait_all(nodes[:2], t, 3))
        if not kills:
            return
        print(f"transport {a.transport}, token {a.token} ms:")
        print(f"  kill->membership ms: {summary(kills)}")
        print(f"  start->join ms:      {summary(joins)}")
    finally:
        for n in nodes:
            if n.proc and n.proc.poll() is None:
                n.kill()
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
