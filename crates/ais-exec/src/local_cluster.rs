//! `aisexec --local-cluster`: a whole cluster on loopback in one command. It writes a key and
//! one configuration per node into a fresh directory, starts the daemons on 127.0.0.1…N,
//! and narrates: the ring forming, messages flowing, a node killed and the others
//! re-forming, the node restarted and rejoining. Then it keeps the cluster running until
//! interrupted and stops the daemons with SIGTERM (they leave the ring gracefully).

#![allow(clippy::disallowed_methods)] // A supervisor, not the core: it reads the clock and spawns a reader thread per child.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};

use ais_tools::bench::BenchArgs;

use crate::cli::Args;

/// Longest wait for any one step before the demonstration gives up.
const STEP_LIMIT: Duration = Duration::from_secs(60);

/// Longest wait for the daemons to leave after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(10);

struct Node {
    id: u32,
    config: PathBuf,
    child: Option<Child>,
    /// Members of the last membership this node logged.
    members: usize,
}

struct Cluster {
    nodes: Vec<Node>,
    exe: PathBuf,
    lines: Receiver<(u32, String)>,
    sender: Sender<(u32, String)>,
    stop: Arc<AtomicBool>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let count = args.nodes;
    // A fresh, private (0700) directory: another user cannot plant files in it.
    let tmp = tempfile::Builder::new()
        .prefix("ais-local-cluster-")
        .tempdir()
        .context("cannot create a directory for the local cluster")?;
    let dir = tmp.path().to_owned();
    let key = dir.join("authkey");
    write_key(&key)?;
    let mut nodes = Vec::new();
    for id in 1..=count {
        let config = dir.join(format!("node{id}.conf"));
        std::fs::write(&config, node_config(id, count, args.port, &dir, &key))?;
        nodes.push(Node {
            id,
            config,
            child: None,
            members: 0,
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let (sender, lines) = mpsc::channel();
    let mut cluster = Cluster {
        nodes,
        exe: std::env::current_exe().context("cannot find the aisexec binary")?,
        lines,
        sender,
        stop,
    };
    let result = cluster.demonstrate(args, &dir, count);
    cluster.shutdown();
    drop(tmp);
    result
}

impl Cluster {
    fn demonstrate(&mut self, args: &Args, dir: &Path, count: u32) -> anyhow::Result<ExitCode> {
        say(&format!(
            "starting {count} aisexec daemons on 127.0.0.1-{count}, UDP port {}; configuration, \
             state and authkey in {}",
            args.port,
            dir.display()
        ));
        let start = Instant::now();
        for i in 0..self.nodes.len() {
            self.spawn(i)?;
        }
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        if !self.wait_for(&all, count as usize)? {
            return Ok(ExitCode::from(1));
        }
        say(&format!(
            "the ring formed: {count} members, {:.2} s after start",
            start.elapsed().as_secs_f64()
        ));
        for node in &self.nodes {
            say(&format!(
                "node {}: clients reach it with AIS_IPC_PREFIX={} (e.g. ais-cpgtool, \
                 ais-quorumtool -s, ais-cfgtool -s, ais-cmapctl)",
                node.id,
                ipc_prefix(args.port, node.id)
            ));
        }
        if !self.bench(args)? {
            return Ok(ExitCode::from(1));
        }
        let victim = self.nodes.len() - 1;
        let victim_id = self.nodes[victim].id;
        say(&format!("SIGKILL node {victim_id}"));
        let killed = Instant::now();
        if let Some(mut child) = self.nodes[victim].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.nodes[victim].members = 0;
        let survivors: Vec<usize> = (0..victim).collect();
        if !self.wait_for(&survivors, count as usize - 1)? {
            return Ok(ExitCode::from(1));
        }
        say(&format!(
            "the survivors re-formed the ring without node {victim_id} in {:.2} s",
            killed.elapsed().as_secs_f64()
        ));
        say(&format!("restarting node {victim_id}"));
        let restarted = Instant::now();
        self.spawn(victim)?;
        if !self.wait_for(&all, count as usize)? {
            return Ok(ExitCode::from(1));
        }
        say(&format!(
            "node {victim_id} rejoined: {count} members again, {:.2} s after its restart",
            restarted.elapsed().as_secs_f64()
        ));
        if args.once {
            self.pump_for(Duration::from_secs(1));
            return Ok(ExitCode::SUCCESS);
        }
        say("the cluster keeps running; press Ctrl-C to stop it");
        while self.pump_for(Duration::from_secs(3600)) {}
        Ok(ExitCode::SUCCESS)
    }

    /// A short `ais-bench`: one CPG client per daemon, all sending; every client checks
    /// that all delivered the same messages in the same order. Log lines are forwarded
    /// meanwhile. False if the check failed.
    fn bench(&mut self, args: &Args) -> anyhow::Result<bool> {
        say(
            "ais-bench: a CPG client on every node multicasts for 1 s per message size; every \
             client checks one agreed order and no loss",
        );
        let bench = BenchArgs {
            ipc_prefix: self
                .nodes
                .iter()
                .map(|n| ipc_prefix(args.port, n.id))
                .collect(),
            sizes: vec![64, 1024, 8192, 65536],
            senders: None,
            members: None,
            duration: 1.0,
            latency: false,
            interval_ms: 1,
            count: 0,
            group: "ais-local-cluster".to_owned(),
            json: false,
            quiet: true,
        };
        let running = std::thread::spawn(move || ais_tools::bench::measure(&bench));
        while !running.is_finished() {
            if !self.pump_for(Duration::from_millis(200)) {
                return Ok(true);
            }
        }
        let outcome = running
            .join()
            .map_err(|_| anyhow::anyhow!("ais-bench panicked"))??;
        if let Some(rows) = &outcome.rows {
            print!("{}", ais_tools::bench::table(rows));
        }
        for e in &outcome.errors {
            say(&format!("ais-bench failed: {e:#}"));
        }
        if outcome.ok() {
            say("ais-bench: every node delivered the same messages in the same order");
        }
        Ok(outcome.ok())
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let node = &mut self.nodes[i];
        let mut command = Command::new(&self.exe);
        // SAFETY: between fork and exec only async-signal-safe prctl(2) runs; it touches no
        // memory of the parent. The daemons then die with this supervisor, even on SIGKILL.
        unsafe {
            command.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
                Ok(())
            });
        }
        let mut child = command
            .arg("-f")
            .arg("-c")
            .arg(&node.config)
            .args(["--log-tag", &format!("[node {}]", node.id)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        let stderr = child.stderr.take().expect("piped");
        let sender = self.sender.clone();
        let id = node.id;
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send((id, line)).is_err() {
                    break;
                }
            }
        });
        node.child = Some(child);
        Ok(())
    }

    /// Forwards log lines until every node in `which` reports `members` members; false if
    /// interrupted.
    fn wait_for(&mut self, which: &[usize], members: usize) -> anyhow::Result<bool> {
        let deadline = Instant::now() + STEP_LIMIT;
        while !which.iter().all(|&i| self.nodes[i].members == members) {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            if Instant::now() > deadline {
                bail!(
                    "no membership of {members} within {} s",
                    STEP_LIMIT.as_secs()
                );
            }
            self.pump_one(Duration::from_millis(100));
        }
        Ok(true)
    }

    /// Forwards log lines for `span`; false if interrupted.
    fn pump_for(&mut self, span: Duration) -> bool {
        let end = Instant::now() + span;
        while Instant::now() < end {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            self.pump_one(Duration::from_millis(100));
        }
        !self.stop.load(Ordering::Relaxed)
    }

    fn pump_one(&mut self, wait: Duration) {
        match self.lines.recv_timeout(wait) {
            Ok((id, line)) => {
                if let Some(n) = members_in(&line)
                    && let Some(node) = self.nodes.iter_mut().find(|n| n.id == id)
                {
                    node.members = n;
                }
                println!("{line}");
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
    }

    fn shutdown(&mut self) {
        say("stopping the daemons (SIGTERM: each leaves the ring gracefully)");
        for node in &mut self.nodes {
            if let Some(child) = &node.child
                && let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw)
            {
                let _ = kill_process(pid, Signal::TERM);
            }
        }
        // A daemon that does not leave within STOP_LIMIT is killed.
        let deadline = Instant::now() + STOP_LIMIT;
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if matches!(child.try_wait(), Ok(None)) {
                    say(&format!("node {} did not stop; SIGKILL", node.id));
                    let _ = child.kill();
                }
                let _ = child.wait();
            }
        }
        while let Ok((_, line)) = self.lines.try_recv() {
            println!("{line}");
        }
    }
}

/// `Members[N]` from a membership line.
pub(crate) fn members_in(line: &str) -> Option<usize> {
    let rest = &line[line.find("was formed. Members[")? + "was formed. Members[".len()..];
    rest[..rest.find(']')?].parse().ok()
}

fn say(text: &str) {
    println!("==> {text}");
    let _ = std::io::stdout().flush();
}

fn write_key(path: &Path) -> anyhow::Result<()> {
    let mut key = [0u8; 256];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(&key)?;
    Ok(())
}

/// The IPC name prefix of node `id` of the local cluster on `port`.
pub(crate) fn ipc_prefix(port: u16, id: u32) -> String {
    format!("ais-{port}-n{id}-")
}

fn node_config(id: u32, count: u32, port: u16, dir: &Path, key: &Path) -> String {
    let mut nodes = String::new();
    for n in 1..=count {
        let _ = writeln!(
            nodes,
            "    node {{\n        nodeid: {n}\n        ring0_addr: 127.0.0.{n}\n    }}"
        );
    }
    format!(
        "# Node {id} of a local cluster started by `aisexec --local-cluster`.
totem {{
    version: 2
    cluster_name: local
    # Several nodes share this host, so the address alone does not say which one I am.
    nodeid: {id}
    transport: udpu
    token: 1000
    crypto_cipher: aes256
    crypto_hash: sha256
    keyfile: {key}
    interface {{
        linknumber: 0
        mcastport: {port}
    }}
}}
nodelist {{
{nodes}}}
quorum {{
    # One vote per node: a partition acts only with a majority.
    provider: corosync_votequorum
}}
logging {{
    to_stderr: yes
    timestamp: off
}}
system {{
    state_dir: {state}
    # Several daemons share this host's IPC names: each takes its own prefix. Clients
    # choose one with AIS_IPC_PREFIX or --ipc-prefix.
    ipc_prefix: {prefix}
}}
",
        key = key.display(),
        state = dir.join(format!("node{id}")).display(),
        prefix = ipc_prefix(port, id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_from_the_membership_line() {
        let line = "[node 2]  INFO ais_exec: A new membership (1.2f) was formed. Members[3]: 1 2 3";
        assert_eq!(members_in(line), Some(3));
        assert_eq!(members_in("link 0 to node 3 is up"), None);
    }
}
