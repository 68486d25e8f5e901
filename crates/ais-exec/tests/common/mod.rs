//! A cluster of real `aisexec` processes for the integration tests: a temp directory with a
//! key and one configuration per node, processes started and killed at will, and their log
//! lines collected so that tests can wait for what the daemons say.

#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)] // Shared by several test binaries; tests read the clock and spawn log readers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

pub mod lab;

/// How long any one expected event may take before the test fails: generous, because CI
/// machines are small; the events themselves take milliseconds to a few seconds.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Node {
    pub id: u32,
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
    /// `AIS_LOG` for the daemons started from now on; `None` logs as the files say.
    pub log_filter: Option<&'static str>,
}

/// Per-node settings for [`Cluster::write_config`].
pub struct Layout {
    /// Nodes in the nodelist.
    pub count: u32,
    /// Link-0 address of node `n` (1-based).
    pub addr: fn(u32) -> String,
    pub port: u16,
    pub token_ms: u32,
    /// Extra lines inside `totem {}`.
    pub totem_extra: String,
    /// Extra lines inside `interface { linknumber: 0 }`.
    pub interface_extra: String,
    /// Link-1 address of node `n`, for two-link layouts.
    pub addr1: Option<fn(u32) -> String>,
    /// Write `totem { nodeid }`: needed when several nodes share a host; real hosts find
    /// their entry by their interface addresses.
    pub explicit_nodeid: bool,
    /// Give each node its own IPC name prefix: needed when several nodes share a host.
    pub ipc_prefixed: bool,
    /// `system.qb_ipc_type`.
    pub ipc_type: &'static str,
    /// Whole sections appended to the file (`quorum {}`, …).
    pub extra_sections: String,
    /// `nodelist.node.name` of node `n` (Pacemaker takes its node names from there).
    pub name: fn(u32) -> String,
}

/// The node names tests use unless they need others: `node1`, `node2`, …
pub fn node_name(n: u32) -> String {
    format!("node{n}")
}

/// When a test cannot run here (no root, no namespaces, a missing package): under CI
/// (`CI` set) it fails, since there it must run; elsewhere it says why and skips.
pub fn cannot_run(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "this test must run under CI, but {why}"
    );
    eprintln!("SKIPPED: {why}");
}

/// Builds `tests/c/<name>.c` against Debian's `lib<library>` (the `lib<library>-dev`
/// package), or says why it cannot (and fails under CI).
pub fn build_c_client(dir: &Path, name: &str, library: &str) -> Option<PathBuf> {
    let header = format!("/usr/include/corosync/{library}.h");
    if !Path::new(&header).exists() {
        cannot_run(&format!(
            "{header} is missing (apt-get install lib{library}-dev)"
        ));
        return None;
    }
    Some(build_c(dir, name, &[&format!("-l{library}")]))
}

/// Builds `tests/c/<name>.c` into `dir` with the C compiler, linking `libs`.
pub fn build_c(dir: &Path, name: &str, libs: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let status = Command::new("cc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(&source)
        .args(libs)
        .status()
        .expect("run cc");
    assert!(status.success(), "{name}.c does not build");
    out
}

/// One of this workspace's binaries, built beside the test executable (`target/<profile>/`).
pub fn our_binary(name: &str) -> String {
    let exe = std::env::current_exe().expect("test executable");
    let bin: PathBuf = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(name);
    assert!(bin.exists(), "{} is not built", bin.display());
    bin.display().to_string()
}

impl Layout {
    /// `count` nodes on 127.0.0.1…, one link.
    pub fn loopback(count: u32, port: u16, token_ms: u32) -> Self {
        Self {
            count,
            addr: loopback,
            port,
            token_ms,
            totem_extra: String::new(),
            interface_extra: String::new(),
            addr1: None,
            explicit_nodeid: true,
            ipc_prefixed: true,
            ipc_type: "native",
            extra_sections: String::new(),
            name: node_name,
        }
    }
}

pub fn loopback(n: u32) -> String {
    format!("127.0.0.{n}")
}

impl Cluster {
    /// Writes a key and `count` configurations; starts nothing.
    pub fn new(layout: &Layout) -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_key(&dir.path().join("authkey"), 7);
        let cluster = Self {
            dir,
            nodes: (1..=layout.count)
                .map(|id| Node {
                    id,
                    child: None,
                    lines: Arc::default(),
                })
                .collect(),
            log_filter: Some("info,ais_exec=info,ais_transport=info"),
        };
        for id in 1..=layout.count {
            cluster.write_config(id, layout, &cluster.key());
        }
        cluster
    }

    /// Node `id`'s IPC name prefix in a loopback layout: unique per test cluster.
    pub fn ipc_prefix(&self, id: u32) -> String {
        let dir = self.dir.path().file_name().unwrap().to_string_lossy();
        format!("{dir}-n{id}-")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("authkey")
    }

    pub fn config(&self, id: u32) -> PathBuf {
        self.dir.path().join(format!("node{id}.conf"))
    }

    pub fn write_config(&self, id: u32, layout: &Layout, key: &Path) {
        let mut nodes = String::new();
        for n in 1..=layout.count {
            let ring1 = layout
                .addr1
                .map(|a| format!("        ring1_addr: {}\n", a(n)))
                .unwrap_or_default();
            nodes += &format!(
                "    node {{\n        nodeid: {n}\n        name: {}\n        ring0_addr: {}\n{ring1}    }}\n",
                (layout.name)(n),
                (layout.addr)(n)
            );
        }
        let link1 = if layout.addr1.is_some() {
            format!(
                "    interface {{\n        linknumber: 1\n        mcastport: {}\n    }}\n",
                layout.port
            )
        } else {
            String::new()
        };
        let text = format!(
            "totem {{\n    version: 2\n    cluster_name: test\n{nodeid}    token: {token}\n    \
             keyfile: {key}\n{extra}    interface {{\n        linknumber: 0\n        mcastport: {port}\n{iface}    }}\n{link1}}}\n\
             nodelist {{\n{nodes}}}\nlogging {{\n    to_stderr: yes\n    timestamp: on\n}}\n\
             system {{\n    state_dir: {state}\n{ipc}    qb_ipc_type: {ipc_type}\n}}\n{sections}",
            token = layout.token_ms,
            key = key.display(),
            nodeid = if layout.explicit_nodeid {
                format!("    nodeid: {id}\n")
            } else {
                String::new()
            },
            extra = layout.totem_extra,
            iface = layout.interface_extra,
            port = layout.port,
            state = self.dir.path().join(format!("state{id}")).display(),
            ipc = if layout.ipc_prefixed {
                format!("    ipc_prefix: {}\n", self.ipc_prefix(id))
            } else {
                String::new()
            },
            ipc_type = layout.ipc_type,
            sections = layout.extra_sections,
        );
        std::fs::write(self.config(id), text).unwrap();
    }

    fn node(&mut self, id: u32) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.id == id).unwrap()
    }

    /// Starts node `id` with its configuration (`wrap` may prefix a command, e.g. `ip netns
    /// exec host1`).
    pub fn start(&mut self, id: u32) {
        self.start_with(id, &[]);
    }

    pub fn start_with(&mut self, id: u32, prefix: &[&str]) {
        let config = self.config(id);
        let exe = env!("CARGO_BIN_EXE_aisexec");
        let mut command = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        match self.log_filter {
            Some(filter) => command.env("AIS_LOG", filter),
            None => command.env_remove("AIS_LOG"),
        };
        command
            .arg("-f")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start aisexec");
        let stderr = child.stderr.take().unwrap();
        let node = self.node(id);
        // A fresh buffer: the reader of a previous, killed process may still push lines.
        node.lines = Arc::default();
        let lines = Arc::clone(&node.lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        node.child = Some(child);
    }

    pub fn kill(&mut self, id: u32) {
        self.signal(id, Signal::KILL);
        let mut child = self.node(id).child.take().unwrap();
        child.wait().unwrap();
    }

    /// The pid of node `id`'s running process.
    pub fn pid(&self, id: u32) -> u32 {
        let node = self.nodes.iter().find(|n| n.id == id).unwrap();
        node.child.as_ref().unwrap().id()
    }

    pub fn signal(&mut self, id: u32, signal: Signal) {
        let pid = self.node(id).child.as_ref().unwrap().id();
        let pid = Pid::from_raw(pid as i32).expect("a child's pid is positive");
        kill_process(pid, signal).expect("signal our own child");
    }

    /// Waits for the child to exit after SIGTERM; returns its exit status success.
    pub fn term(&mut self, id: u32) -> bool {
        self.signal(id, Signal::TERM);
        let mut child = self.node(id).child.take().unwrap();
        child.wait().unwrap().success()
    }

    pub fn lines(&self, id: u32) -> Vec<String> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap()
            .lines
            .lock()
            .unwrap()
            .clone()
    }

    /// Node `id`'s current members per its last membership line.
    pub fn members(&self, id: u32) -> Option<Vec<u32>> {
        self.lines(id).iter().rev().find_map(|l| members_of(l))
    }

    /// The ring sequence numbers of node `id`'s membership lines so far, in order
    /// (`A new membership (rep.seq) was formed`, both in hex).
    pub fn ring_seqs(&self, id: u32) -> Vec<u64> {
        self.lines(id)
            .iter()
            .filter_map(|l| {
                let rest = &l[l.find("A new membership (")? + "A new membership (".len()..];
                let ring = &rest[..rest.find(')')?];
                u64::from_str_radix(ring.split_once('.')?.1, 16).ok()
            })
            .collect()
    }

    /// Number of membership lines node `id` logged so far.
    pub fn membership_count(&self, id: u32) -> usize {
        self.lines(id)
            .iter()
            .filter(|l| members_of(l).is_some())
            .count()
    }

    /// Waits until every node in `ids` reports exactly `members`.
    pub fn wait_members(&self, ids: &[u32], members: &[u32]) {
        let start = Instant::now();
        loop {
            if ids
                .iter()
                .all(|&id| self.members(id).as_deref() == Some(members))
            {
                return;
            }
            if start.elapsed() > PATIENCE {
                for &id in ids {
                    eprintln!("--- node {id} log:\n{}", self.lines(id).join("\n"));
                }
                panic!("nodes {ids:?} did not all reach membership {members:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until node `id` logs a line containing `text`; returns the line.
    pub fn wait_line(&self, id: u32, text: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.lines(id).into_iter().find(|l| l.contains(text)) {
                return line;
            }
            if start.elapsed() > PATIENCE {
                panic!(
                    "node {id} never logged {text:?}; log:\n{}",
                    self.lines(id).join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Lines logged so far by node `id`, to wait for what comes after.
    pub fn mark(&self, id: u32) -> usize {
        self.lines(id).len()
    }

    /// Waits until node `id` logs, after line `mark`, a line containing `text`.
    pub fn wait_line_after(&self, id: u32, mark: usize, text: &str) {
        let start = Instant::now();
        while !self.lines(id).iter().skip(mark).any(|l| l.contains(text)) {
            if start.elapsed() > PATIENCE {
                panic!(
                    "node {id} never logged {text:?} after line {mark}; log:\n{}",
                    self.lines(id).join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asks node `id` for its counters (SIGUSR1) and returns them as `name=value` pairs.
    pub fn stats(&mut self, id: u32) -> Vec<(String, u64)> {
        let before = self
            .lines(id)
            .iter()
            .filter(|l| l.contains("stats:"))
            .count();
        self.signal(id, Signal::USR1);
        let start = Instant::now();
        loop {
            let lines = self.lines(id);
            let stats: Vec<&String> = lines.iter().filter(|l| l.contains("stats:")).collect();
            if stats.len() > before {
                return stats[stats.len() - 1]
                    .split_whitespace()
                    .filter_map(|w| {
                        let (k, v) = w.split_once('=')?;
                        Some((k.to_owned(), v.parse().ok()?))
                    })
                    .collect();
            }
            assert!(start.elapsed() < PATIENCE, "node {id} printed no stats");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

pub fn stat(stats: &[(String, u64)], name: &str) -> u64 {
    stats
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| *v)
        .next()
        .unwrap_or_else(|| panic!("no counter {name} in {stats:?}"))
}

/// Members listed in a line `A new membership (r.s) was formed. Members[N]: a b c`.
pub fn members_of(line: &str) -> Option<Vec<u32>> {
    let rest = &line[line.find("was formed. Members[")?..];
    let list = &rest[rest.find("]: ")? + 3..];
    list.split_whitespace().map(|w| w.parse().ok()).collect()
}

pub fn write_key(path: &Path, seed: u8) {
    use std::os::unix::fs::PermissionsExt;
    let key: Vec<u8> = (0..256u32)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(path, key).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o400)).unwrap();
}
