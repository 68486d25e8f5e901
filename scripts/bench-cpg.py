#!/usr/bin/env python3
"""CPG throughput and latency of aisexec and of Debian's corosync 3.1.7, side by side, in the
same setup as ../shared/bench/corosync-baseline: three network-namespace hosts on one bridge,
the same libcpg benchmark program (cpgperf.c, built against Debian's libcpg), the same
message sizes and sender counts. Both engines run with their defaults (SCHED_RR on).

  tput: every host runs `cpgperf tput -m 3`; the first 1 or 3 send as fast as flow control
        allows for --secs; every host reports delivered msgs/s and MB/s and an order hash
        (all equal = one agreed order). Cell: median over --reps of the mean over hosts.
  lat:  host 1 sends one message at a time, waits for it, pauses 5 ms (--lat-count
        messages); p50/p99 of send -> own delivery. Cell: median over --reps.

Needs root, ip netns, cc, libcpg-dev, corosync (for the corosync rows).
Usage:
  cargo build --release -p ais-exec
  sudo scripts/bench-cpg.py [--secs 3] [--reps 3] [--engines aisexec,aisexec-aes,corosync-udpu,corosync-knet]
"""
import argparse, os, re, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AISEXEC = os.path.join(ROOT, "target", "release", "aisexec")
CPGPERF_SRC = os.path.join(ROOT, "..", "shared", "bench", "corosync-baseline", "bench", "cpgperf.c")
SIZES = [64, 1024, 8192, 65536]


from nslab import Lab, start_engine, stop_all  # scripts/nslab.py


def config(engine, n, d, key):
    crypto = engine in ("aisexec-aes",)
    transport = "knet" if engine == "corosync-knet" else "udpu"
    lines = ["totem {", "\tversion: 2", "\tcluster_name: cpgb", f"\ttransport: {transport}"]
    if crypto:
        lines += ["\tcrypto_cipher: aes256", "\tcrypto_hash: sha256", f"\tkeyfile: {key}"]
    else:
        lines += ["\tcrypto_cipher: none", "\tcrypto_hash: none"]
    lines += ["}", "logging {", "\tto_stderr: no", "\tto_logfile: yes", f"\tlogfile: {d}/log",
              "\tto_syslog: no", "}", "nodelist {"]
    for i in range(1, 4):
        lines += ["\tnode {", f"\t\tname: n{i}", f"\t\tnodeid: {i}", f"\t\tring0_addr: 10.213.0.{i}", "\t}"]
    lines += ["}", "system {", f"\tstate_dir: {d}/state", "}"]
    if engine.startswith("corosync"):
        lines += ["quorum {", "\tprovider: corosync_votequorum", "}"]
    return "\n".join(lines) + "\n"


class Cluster:
    def __init__(self, lab, engine, tmp):
        self.lab, self.engine, self.procs = lab, engine, []
        key = os.path.join(tmp, "authkey")
        with open(key, "wb") as f:
            f.write(os.urandom(256))
        os.chmod(key, 0o400)
        for n in range(1, 4):
            d = os.path.join(tmp, f"{engine}-n{n}")
            os.makedirs(os.path.join(d, "state"), exist_ok=True)
            os.makedirs(os.path.join(d, "run"), exist_ok=True)
            conf = os.path.join(d, "conf")
            with open(conf, "w") as f:
                f.write(config(engine, n, d, key))
            self.procs.append(start_engine(lab, n, engine, conf, os.path.join(d, "run"), AISEXEC))
        time.sleep(5 if engine == "corosync-knet" else 2)

    def engine_pid(self, n):
        """The daemon's pid on host n (the launcher chain execs, except unshare/sh for corosync)."""
        name = "corosync" if self.engine.startswith("corosync") else "aisexec"
        root = self.procs[n - 1].pid
        out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()
        for pid in map(int, out):
            p = pid
            while p > 1:
                if p == root:
                    return pid
                with open(f"/proc/{p}/stat") as f:
                    p = int(f.read().rsplit(")", 1)[1].split()[1])
        return root

    def close(self):
        stop_all(self.procs, timeout=10)


def parse(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def run_hosts(lab, cpgperf, per_host_args):
    procs = [subprocess.Popen(["ip", "netns", "exec", lab.host(h), cpgperf, *args],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for h, args in per_host_args]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=300)
        lines = [l for l in out.splitlines() if l.startswith("RESULT")]
        if p.returncode != 0 or not lines:
            raise RuntimeError(f"cpgperf failed ({p.returncode}): {out}")
        results.append(parse(lines[-1]))
    return results


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def tput(lab, cpgperf, size, senders, secs, rep, profile=None, daemons=()):
    group = f"tp-{size}-{senders}-{rep}"
    args = [(h, ["tput", "-g", group, "-s", str(size), "-t", str(secs), "-n", str(senders), "-m", "3"]
             + (["-S"] if h <= senders else [])) for h in range(1, 4)]
    perf = None
    if profile:
        pid, out = profile
        perf = subprocess.Popen(["perf", "record", "-g", "-o", out, "-p", str(pid), "--", "sleep", str(secs)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0, c0 = time.monotonic(), [cpu_ticks(p) for p in daemons]
    r = run_hosts(lab, cpgperf, args)
    wall = time.monotonic() - t0
    hz = os.sysconf("SC_CLK_TCK")
    daemon_cpu = statistics.mean((cpu_ticks(p) - c) / hz / wall * 100 for p, c in zip(daemons, c0)) if daemons else 0.0
    client_cpu = statistics.mean(float(x["cpu_s"]) / float(x["wall_s"]) * 100 for x in r)
    if perf:
        perf.wait()
    ok = len({x["order_hash"] for x in r}) == 1 and all(x["fifo_errors"] == "0" and x["incomplete"] == "0" for x in r)
    return (statistics.mean(float(x["msgs_per_s"]) for x in r),
            statistics.mean(float(x["MB_per_s"]) for x in r),
            sum(int(x["tryagain"]) for x in r), ok, daemon_cpu, client_cpu)


def lat(lab, cpgperf, size, count, rep):
    group = f"lat-{size}-{rep}"
    args = [(h, ["lat", "-g", group, "-s", str(size), "-c", str(count), "-i", "5", "-n", "1", "-m", "3"]
             + (["-S"] if h == 1 else [])) for h in range(1, 4)]
    r = run_hosts(lab, cpgperf, args)
    sender = next(x for x in r if x["sender"] == "1")
    return float(sender["own_med_us"]), float(sender["own_p99_us"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--lat-count", type=int, default=1000)
    ap.add_argument("--engines", default="aisexec,aisexec-aes,corosync-udpu,corosync-knet")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--perf", type=int, metavar="SIZE",
                    help="profile node 1's daemon (perf record -g) during the first 1-sender run of SIZE")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (ip netns)")
    tmp = tempfile.mkdtemp(prefix="bench-cpg-")
    cpgperf = os.path.join(tmp, "cpgperf")
    subprocess.run(["cc", "-O2", "-Wall", "-o", cpgperf, CPGPERF_SRC, "-lcpg"], check=True)
    sizes = [int(s) for s in a.sizes.split(",")]
    engines = a.engines.split(",")
    names = {"aisexec": "aisexec udpu, crypto off", "aisexec-aes": "aisexec udpu, AES-256-GCM",
             "corosync-udpu": "corosync 3.1.7 udpu, crypto off", "corosync-knet": "corosync 3.1.7 knet, crypto off"}
    tput_rows, lat_rows = {}, {}
    for engine in engines:
        lab = Lab(3, subnet="10.213.0", tag="cpgb")
        cluster = None
        try:
            cluster = Cluster(lab, engine, tmp)
            for size in sizes:
                for senders in (1, 3):
                    profile = None
                    if a.perf == size and senders == 1:
                        out = os.path.join(tmp, f"perf-{engine}-{size}.data")
                        profile = (cluster.engine_pid(1), out)
                        print(f"profiling into {out}", file=sys.stderr)
                    daemons = [cluster.engine_pid(n) for n in range(1, 4)]
                    runs = [tput(lab, cpgperf, size, senders, a.secs, rep, profile if rep == 0 else None, daemons)
                            for rep in range(a.reps)]
                    cell = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
                            statistics.median(r[2] for r in runs), all(r[3] for r in runs),
                            statistics.median(r[4] for r in runs), statistics.median(r[5] for r in runs))
                    tput_rows[(engine, size, senders)] = cell
                    print(f"{engine} size={size} senders={senders}: {cell[0]:.0f} msgs/s {cell[1]:.2f} MB/s "
                          f"tryagain={cell[2]} order={'ok' if cell[3] else 'MISMATCH'} "
                          f"daemon_cpu={cell[4]:.0f}% client_cpu={cell[5]:.0f}%", file=sys.stderr)
            for size in (64, 1024):
                runs = [lat(lab, cpgperf, size, a.lat_count, rep) for rep in range(a.reps)]
                lat_rows[(engine, size)] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
                print(f"{engine} lat size={size}: p50 {lat_rows[(engine, size)][0]:.0f} us "
                      f"p99 {lat_rows[(engine, size)][1]:.0f} us", file=sys.stderr)
        finally:
            if cluster:
                cluster.close()
            lab.close()
    print("\n### Throughput: delivered per node (median of %d runs of %gs; mean over the 3 hosts)\n" % (a.reps, a.secs))
    print("CPU a%+b%: a = one daemon, b = one cpgperf client, each in % of one core (means over hosts).\n")
    print("| size | senders | " + " | ".join(names[e] for e in engines) + " |")
    print("|---:|---:|" + "---:|" * len(engines))
    for size in sizes:
        for senders in (1, 3):
            cells = []
            for e in engines:
                m, mb, _, ok, dcpu, ccpu = tput_rows[(e, size, senders)]
                cells.append(f"{m:,.0f} msgs/s, {mb:.2f} MB/s, CPU {dcpu:.0f}%+{ccpu:.0f}%"
                             f"{'' if ok else ' (ORDER MISMATCH)'}")
            print(f"| {size} B | {senders} | " + " | ".join(cells) + " |")
    print("\n### Latency at low load: send -> own delivery, 5 ms apart (median of %d runs)\n" % a.reps)
    print("| size | " + " | ".join(names[e] for e in engines) + " |")
    print("|---:|" + "---:|" * len(engines))
    for size in (64, 1024):
        print(f"| {size} B | " + " | ".join(f"p50 {lat_rows[(e, size)][0]:.0f} µs, p99 {lat_rows[(e, size)][1]:.0f} µs" for e in engines) + " |")


if __name__ == "__main__":
    main()
