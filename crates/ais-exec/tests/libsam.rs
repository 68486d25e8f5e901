//! Debian's libsam (corosync's Simple Availability Manager, `libsam-dev`), unmodified,
//! against `aisexec` on three namespace hosts with votequorum. libsam keeps a process alive
//! from a manager it forks off: it restarts the process when it misses a health check or
//! dies, hands the data it stored to the next instance, records the process in cmap
//! (`resources.process.<pid>.*`), and with the QUORUM policy stops the process while the
//! node is not quorate and starts it again when quorum returns. The client is
//! `tests/c/sam_check.c`; it says on stdout what each instance does.

#![allow(clippy::disallowed_methods)] // Tests sleep, read the clock and spawn log readers.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::lab::Lab;
use common::{Cluster, Layout, PATIENCE, build_c_client, our_binary};
use rustix::process::{Pid, Signal, kill_process_group};

fn layout() -> Layout {
    Layout {
        token_ms: 500,
        extra_sections: "quorum {\n    provider: corosync_votequorum\n}\n".to_owned(),
        ..Layout::hosts(3)
    }
}

/// A running `sam_check` and the lines it printed so far.
struct SamClient {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl SamClient {
    fn start(lab: &Lab, h: u32, program: &Path, scenario: &str) -> Self {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.host(h)])
            .arg(program)
            .arg(scenario)
            // Its own process group, which its instances join: dropped, all of them go.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sam_check");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::<Mutex<Vec<String>>>::default();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits for a line that starts with `instance N` and ends with `what`; returns the pid
    /// it names.
    fn wait_for(&self, instance: u32, what: &str) -> u32 {
        let start = Instant::now();
        loop {
            if let Some(pid) = self.lines().iter().find_map(|l| said(l, instance, what)) {
                return pid;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "instance {instance} never said {what:?}: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn has_said(&self, instance: u32, what: &str) -> bool {
        self.lines()
            .iter()
            .any(|l| said(l, instance, what).is_some())
    }
}

impl Drop for SamClient {
    fn drop(&mut self) {
        // An instance outlives its manager until it next writes to it: take the whole group.
        if let Some(group) = Pid::from_raw(self.child.id() as i32) {
            let _ = kill_process_group(group, Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// `instance N pid P <what>` → P.
fn said(line: &str, instance: u32, what: &str) -> Option<u32> {
    let rest = line.strip_prefix(&format!("instance {instance} pid "))?;
    let (pid, tail) = rest.split_once(' ')?;
    (tail == what).then(|| pid.parse().ok()).flatten()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn three_hosts(tag: &str) -> Option<(Lab, Cluster, std::path::PathBuf)> {
    let lab = Lab::new(tag, 3, 1)?;
    let mut c = Cluster::new(&layout());
    let program = build_c_client(c.dir.path(), "sam_check", "sam")?;
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    c.wait_line(1, "quorum: quorate");
    Some((lab, c, program))
}

/// A missed health check and a crash each restart the process with the data it stored; a
/// process that marks itself failed is stopped for good and cmap says so.
#[test]
fn libsam_restarts_a_failed_process_with_its_data() {
    let Some((lab, _c, program)) = three_hosts("sr") else {
        return;
    };
    let mut client = SamClient::start(&lab, 1, &program, "restart");
    let manager = client.child.id();
    client.wait_for(1, "restored \"\"");
    client.wait_for(1, "stops sending health checks");
    client.wait_for(2, "restored \"state of instance 1\"");
    client.wait_for(2, "crashes");
    client.wait_for(3, "restored \"state of instance 2\"");
    client.wait_for(3, "marks itself failed");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = client.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < PATIENCE, "the SAM manager did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the SAM manager exited with {status}");
    assert!(
        !client.lines().iter().any(|l| l.contains("FAILED")),
        "{:#?}",
        client.lines()
    );

    let (keys, code) = lab.run(
        1,
        &our_binary("ais-cmapctl"),
        &[&format!("resources.process.{manager}.")],
    );
    assert_eq!(code, 0, "ais-cmapctl: {keys}");
    for expected in [
        format!("resources.process.{manager}.state (str) = failed"),
        format!("resources.process.{manager}.recovery (str) = restart"),
        format!("resources.process.{manager}.poll_period (u64) = 500"),
    ] {
        assert!(keys.contains(&expected), "missing {expected:?} in:\n{keys}");
    }
}

/// QUORUM_RESTART: losing quorum stops the process (its manager kills it, and the next
/// instance waits in `sam_start`); quorum back, the next instance runs.
#[test]
fn libsam_stops_a_process_without_quorum_and_restarts_it_with_quorum() {
    let Some((lab, mut c, program)) = three_hosts("sq") else {
        return;
    };
    let client = SamClient::start(&lab, 1, &program, "quorum");
    let first = client.wait_for(1, "runs");

    c.kill(2);
    c.kill(3);
    c.wait_members(&[1], &[1]);
    c.wait_line(1, "quorum: NOT quorate");
    client.wait_for(2, "waits for quorum");
    let start = Instant::now();
    while alive(first) {
        assert!(
            start.elapsed() < PATIENCE,
            "instance 1 still runs without quorum"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) = lab.run(1, &our_binary("ais-quorumtool"), &["-s"]);
    assert!(status.contains("Quorate:          No"), "{status}");
    assert!(
        !client.has_said(2, "runs"),
        "instance 2 ran without quorum: {:#?}",
        client.lines()
    );

    lab.start(&mut c, 2);
    lab.start(&mut c, 3);
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    let second = client.wait_for(2, "runs");
    assert!(alive(second));
    assert!(
        !client.has_said(3, "waits for quorum"),
        "{:#?}",
        client.lines()
    );
}
