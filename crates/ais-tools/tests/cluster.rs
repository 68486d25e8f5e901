//! `ais-cpgtool` and `ais-bench` against a real local cluster (`aisexec --local-cluster`).
//!
//! Needs the daemon binary: `AISEXEC=/path/to/aisexec`, or the `aisexec` that
//! `cargo test --workspace` builds into the same target directory. Skipped, with a message,
//! without it (e.g. `cargo test -p ais-tools` alone).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Give-up bound for the cluster to start (never an assertion on speed).
const GIVE_UP: Duration = Duration::from_secs(120);

struct Cluster {
    child: Child,
    port: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the launcher then stops the daemons it started.
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

impl Cluster {
    fn prefix(&self, node: u32) -> String {
        format!("ais-{}-n{node}-", self.port)
    }
}

/// `$AISEXEC`, else the `aisexec` built beside this test (same target directory and
/// profile: `cargo test --workspace` builds it before running any test).
fn aisexec() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AISEXEC") {
        return Some(p.into());
    }
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/cluster-<hash> -> target/<profile>/aisexec
    let bin = exe.parent()?.parent()?.join("aisexec");
    bin.exists().then_some(bin)
}

/// Starts a 3-node local cluster and waits until it runs steadily.
fn start() -> Option<Cluster> {
    let Some(bin) = aisexec() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test must run under CI, but aisexec is not built beside it"
        );
        eprintln!(
            "SKIPPED: no aisexec binary beside this test (set AISEXEC, or run cargo test --workspace)"
        );
        return None;
    };
    // A port of our own, away from the default and from other test processes.
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let mut child = Command::new(bin)
        .args(["--local-cluster", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("aisexec starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let cluster = Cluster { child, port };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("keeps running") {
                    let _ = tx.send(());
                }
            }
        })
        .expect("reader thread");
    rx.recv_timeout(GIVE_UP)
        .expect("the local cluster reached steady state");
    Some(cluster)
}

#[test]
fn bench_agrees_on_order_and_cpgtool_lists_the_group() {
    let Some(cluster) = start() else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_ais-bench"))
        .args([
            "--ipc-prefix",
            &cluster.prefix(1),
            "--ipc-prefix",
            &cluster.prefix(2),
        ])
        .args(["--size", "64,2000000"])
        .args(["--duration", "0.5", "--json", "--quiet"])
        .output()
        .expect("ais-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "2 MB exceeds the message limit and is refused before connecting: {stdout}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ais-bench"))
        .args([
            "--ipc-prefix",
            &cluster.prefix(1),
            "--ipc-prefix",
            &cluster.prefix(2),
        ])
        .args([
            "--size",
            "64,1048576",
            "--duration",
            "0.5",
            "--json",
            "--quiet",
        ])
        .output()
        .expect("ais-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.lines().all(|l| l.contains("\"order_ok\":true")),
        "{stdout}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_ais-cpgtool"))
        .args(["--ipc-prefix", &cluster.prefix(3)])
        .output()
        .expect("ais-cpgtool runs");
    assert!(out.status.success());
    assert!(
        out.stdout
            .starts_with(b"Group Name\t       PID\t   Node ID\n")
    );
}

#[test]
fn cpgtool_without_a_daemon_fails_with_a_hint() {
    let out = Command::new(env!("CARGO_BIN_EXE_ais-cpgtool"))
        .args(["--ipc-prefix", "ais-no-such-daemon-"])
        .output()
        .expect("ais-cpgtool runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is aisexec running?"), "{stderr}");
}
