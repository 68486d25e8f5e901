//! The README's first command: `aisexec --local-cluster` forms a ring, shows messages, loses a
//! node and takes it back. `--once` ends it after the demonstration.

use std::process::Command;

#[test]
fn the_local_cluster_demonstration_runs_to_the_end() {
    let out = Command::new(env!("CARGO_BIN_EXE_aisexec"))
        .args(["--local-cluster", "--once", "--port", "25475"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "the ring formed: 3 members",
        "ais-bench: every node delivered the same messages in the same order",
        "SIGKILL node 3",
        "the survivors re-formed the ring without node 3",
        "node 3 rejoined: 3 members again",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("VIOLATION"), "{stdout}");
}
