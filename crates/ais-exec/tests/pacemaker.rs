//! Pacemaker 2.1, Debian's package unmodified, on `aisexec` instead of corosync: three
//! network-namespace hosts, each with its own mount and UTS namespace (a private `/run`,
//! `/var/lib/pacemaker` and `/var/log/pacemaker`, hostname `n1`…`n3`), `aisexec` and then
//! `pacemakerd` started in each, and no `uidgid` section in the configuration: the cluster
//! daemons that run as `hacluster:haclient` are admitted because root's `pacemakerd` sets
//! `uidgid.gid.<haclient>` in cmap, as on corosync.
//!
//! Checked with `crm_mon --output-as=xml`: three nodes online with one DC; a Dummy resource
//! started; SIGKILL of `aisexec` under it moves it to a survivor, and that node's Pacemaker
//! daemons notice; the node restarted is online again; `ais-cfgtool -H` and
//! `corosync-cfgtool -H` are refused while `pacemakerd` runs. Every wait is bounded.
//!
//! Needs root, `ip netns`, `unshare`, `nsenter` and the `pacemaker` package: skips with a
//! message where they are missing, and fails under CI, where `.ci/run` installs them.

#![allow(clippy::disallowed_methods)] // Tests sleep, read the clock and spawn log readers.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::lab::Lab;
use common::{Cluster, Layout, cannot_run, our_binary};
use rustix::process::{Pid, Signal, kill_process};

/// Pacemaker's controllers wait for each other before electing a DC (`dc-deadtime`, 20 s by
/// default), so forming takes longer than anything the engine does.
const FORMING: Duration = Duration::from_secs(120);
/// Any other step: a failover or a rejoin takes seconds.
const STEP: Duration = Duration::from_secs(60);

const PACEMAKERD: &str = "/usr/sbin/pacemakerd";
const CRM_MON: &str = "/usr/sbin/crm_mon";
const CRM_ATTRIBUTE: &str = "/usr/sbin/crm_attribute";
const CIBADMIN: &str = "/usr/sbin/cibadmin";
const DUMMY: &str = "/usr/lib/ocf/resource.d/pacemaker/Dummy";
const COROSYNC_CFGTOOL: &str = "/usr/sbin/corosync-cfgtool";

/// One lab host as Pacemaker needs it: the lab's network namespace plus a mount and UTS
/// namespace of its own, held open by a sleeping process that every command of the host
/// joins (`nsenter`). Dropping it kills every process of the host.
struct Host {
    n: u32,
    /// The process that holds the namespaces.
    anchor: Child,
    /// `/var/lib/pacemaker` and `/var/log/pacemaker` of this host.
    lib: PathBuf,
    log: PathBuf,
}

impl Host {
    fn new(lab: &Lab, n: u32, dir: &Path) -> Self {
        let root = dir.join(format!("h{n}"));
        let lib = root.join("lib");
        let log = root.join("log");
        for sub in ["cib", "pengine", "blackbox", "cores"] {
            std::fs::create_dir_all(lib.join(sub)).unwrap();
        }
        std::fs::create_dir_all(&log).unwrap();
        // As the package lays them out: the cluster daemons run as hacluster:haclient.
        let status = Command::new("chown")
            .args(["-R", "hacluster:haclient"])
            .arg(&lib)
            .arg(&log)
            .status()
            .unwrap();
        assert!(status.success(), "chown hacluster:haclient failed");
        let script = format!(
            "set -e; hostname n{n}; mount -t tmpfs -o mode=0755 tmpfs /run; \
             mount --bind {lib} /var/lib/pacemaker; mount --bind {log} /var/log/pacemaker; \
             echo ready; exec sleep 100000",
            lib = lib.display(),
            log = log.display()
        );
        let mut anchor = Command::new("ip")
            .args(["netns", "exec", &lab.host(n)])
            .args(["unshare", "--mount", "--uts", "--propagation", "private"])
            .args(["sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the host's namespace holder");
        let mut ready = String::new();
        BufReader::new(anchor.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready", "host n{n}: private mounts failed");
        Self {
            n,
            anchor,
            lib,
            log,
        }
    }

    /// `nsenter` into this host: its network, mounts and hostname.
    fn enter(&self) -> Vec<String> {
        [
            "nsenter",
            "-t",
            &self.anchor.id().to_string(),
            "-n",
            "-m",
            "-u",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn command(&self, program: &str) -> Command {
        let enter = self.enter();
        let mut command = Command::new(&enter[0]);
        command.args(&enter[1..]).arg(program);
        command
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// Starts `pacemakerd` here (it logs to this host's `/var/log/pacemaker`).
    fn start_pacemaker(&self) -> Child {
        let out = File::create(self.log.join("pacemakerd.out")).unwrap();
        self.command(PACEMAKERD)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start pacemakerd")
    }

    /// The pids of this host's processes (those in its UTS namespace), the holder aside.
    fn processes(&self) -> Vec<(u32, String)> {
        let uts = |pid: u32| std::fs::metadata(format!("/proc/{pid}/ns/uts")).map(|m| m.ino());
        let Ok(mine) = uts(self.anchor.id()) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if pid != self.anchor.id() && uts(pid).is_ok_and(|ino| ino == mine) {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                found.push((pid, comm.trim().to_owned()));
            }
        }
        found
    }

    fn runs(&self, comm: &str) -> bool {
        self.processes().iter().any(|(_, c)| c == comm)
    }

    /// Pacemaker's log on this host.
    fn pacemaker_log(&self) -> String {
        std::fs::read_to_string(self.log.join("pacemaker.log")).unwrap_or_default()
    }

    /// Kills every process of the host (Pacemaker's daemons, resource agents, aisexec).
    fn kill_all(&mut self) {
        for _ in 0..50 {
            let left = self.processes();
            if left.is_empty() {
                break;
            }
            for (pid, _) in left {
                if let Some(pid) = Pid::from_raw(pid as i32) {
                    let _ = kill_process(pid, Signal::KILL);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill_all();
        let _ = self.anchor.kill();
        let _ = self.anchor.wait();
    }
}

/// What `crm_mon --output-as=xml` says, as far as these tests look.
#[derive(Debug, Default)]
struct Status {
    dc: Option<String>,
    quorate: bool,
    online: Vec<String>,
    offline: Vec<String>,
    /// Where the resource `dummy` runs, if it is started.
    dummy_on: Option<String>,
}

impl Status {
    fn parse(xml: &str) -> Option<Self> {
        let doc = roxmltree::Document::parse(xml).ok()?;
        let mut status = Self::default();
        for node in doc.descendants() {
            match node.tag_name().name() {
                "current_dc" if node.attribute("present") == Some("true") => {
                    status.dc = node.attribute("name").map(str::to_owned);
                    status.quorate = node.attribute("with_quorum") == Some("true");
                }
                "node" if node.parent().is_some_and(|p| p.has_tag_name("nodes")) => {
                    let name = node.attribute("name")?.to_owned();
                    if node.attribute("online") == Some("true") {
                        status.online.push(name);
                    } else {
                        status.offline.push(name);
                    }
                }
                "resource"
                    if node.attribute("id") == Some("dummy")
                        && node.attribute("role") == Some("Started") =>
                {
                    status.dummy_on = node
                        .children()
                        .find(|c| c.has_tag_name("node"))
                        .and_then(|c| c.attribute("name"))
                        .map(str::to_owned);
                }
                _ => {}
            }
        }
        Some(status)
    }
}

/// The three hosts, their engines and their Pacemakers.
struct PacemakerCluster {
    // Field order is drop order: Pacemaker and the hosts go before the namespaces.
    pacemakers: Vec<Option<Child>>,
    hosts: Vec<Host>,
    cluster: Cluster,
    _lab: Lab,
}

impl PacemakerCluster {
    fn host(&self, n: u32) -> &Host {
        &self.hosts[n as usize - 1]
    }

    fn start_aisexec(&mut self, n: u32) {
        let enter = self.hosts[n as usize - 1].enter();
        let enter: Vec<&str> = enter.iter().map(String::as_str).collect();
        self.cluster.start_with(n, &enter);
    }

    fn start_pacemaker(&mut self, n: u32) {
        let child = self.hosts[n as usize - 1].start_pacemaker();
        self.pacemakers[n as usize - 1] = Some(child);
    }

    /// `crm_mon` on host `n`, parsed; `None` while it cannot answer.
    fn status(&self, n: u32) -> Option<Status> {
        let out = self.host(n).run(CRM_MON, &["-1", "--output-as=xml"]);
        Status::parse(&String::from_utf8_lossy(&out.stdout))
    }

    /// Waits until host `n`'s `crm_mon` satisfies `check`; on time-out, says what the
    /// cluster showed and logged.
    fn wait(&self, n: u32, what: &str, limit: Duration, check: impl Fn(&Status) -> bool) -> Status {
        let start = Instant::now();
        loop {
            if let Some(status) = self.status(n).filter(|s| check(s)) {
                return status;
            }
            if start.elapsed() > limit {
                self.report();
                panic!(
                    "host n{n}: {what} not seen within {limit:?}; last: {:?}",
                    self.status(n)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Everything that helps to understand a failure.
    fn report(&self) {
        for host in &self.hosts {
            let n = host.n;
            let text = host.run(CRM_MON, &["-1"]);
            eprintln!(
                "--- n{n} crm_mon:\n{}{}",
                String::from_utf8_lossy(&text.stdout),
                String::from_utf8_lossy(&text.stderr)
            );
            eprintln!("--- n{n} processes: {:?}", host.processes());
            let log = host.pacemaker_log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- n{n} pacemaker.log (last lines):\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
            eprintln!("--- n{n} aisexec:\n{}", self.cluster.lines(n).join("\n"));
        }
    }
}

/// What a test needs before it starts, or why it cannot run.
fn prerequisites() -> Result<(), String> {
    for (path, package) in [
        (PACEMAKERD, "pacemaker"),
        (DUMMY, "pacemaker-resource-agents"),
        (CRM_MON, "pacemaker-cli-utils"),
        (CRM_ATTRIBUTE, "pacemaker-cli-utils"),
        (CIBADMIN, "pacemaker-cli-utils"),
        (COROSYNC_CFGTOOL, "corosync"),
    ] {
        if !Path::new(path).exists() {
            return Err(format!("{path} is not installed (apt install {package})"));
        }
    }
    for tool in ["unshare", "nsenter"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!("{tool} is not available (util-linux)"));
        }
    }
    Ok(())
}

fn hostname(n: u32) -> String {
    format!("n{n}")
}

fn start() -> Option<PacemakerCluster> {
    if let Err(why) = prerequisites() {
        cannot_run(&why);
        return None;
    }
    let lab = Lab::new("pm", 3, 1)?;
    let layout = Layout {
        name: hostname,
        extra_sections: "quorum {\n    provider: corosync_votequorum\n}\n".to_owned(),
        ..Layout::hosts(3)
    };
    let cluster = Cluster::new(&layout);
    let hosts = (1..=3)
        .map(|n| Host::new(&lab, n, cluster.dir.path()))
        .collect();
    let mut pm = PacemakerCluster {
        pacemakers: vec![None, None, None],
        hosts,
        cluster,
        _lab: lab,
    };
    for n in 1..=3 {
        pm.start_aisexec(n);
    }
    pm.cluster.wait_members(&[1, 2, 3], &[1, 2, 3]);
    for n in 1..=3 {
        pm.start_pacemaker(n);
    }
    Some(pm)
}

const ALL: [&str; 3] = ["n1", "n2", "n3"];

fn all_online(s: &Status) -> bool {
    s.dc.is_some() && s.quorate && ALL.iter().all(|n| s.online.iter().any(|o| o == n))
}

#[test]
fn pacemaker_runs_unchanged_on_aisexec() {
    let Some(mut pm) = start() else {
        return;
    };
    // All three online, one DC, with no uidgid section anywhere.
    let status = pm.wait(1, "three nodes online with a DC", FORMING, all_online);
    let dc = status.dc.clone().unwrap();
    for n in 2..=3 {
        let other = pm.wait(n, "three nodes online with a DC", STEP, all_online);
        assert_eq!(
            other.dc.as_deref(),
            Some(dc.as_str()),
            "n{n} sees another DC"
        );
    }
    let (admitted, _) = run_ok(pm.host(1), &our_binary("ais-cmapctl"), &["uidgid."]);
    let haclient_gid = std::fs::metadata(&pm.host(1).lib).unwrap().gid();
    assert!(
        admitted.contains(&format!("uidgid.gid.{haclient_gid} (u8) = 1")),
        "pacemakerd did not admit haclient through cmap: {admitted}"
    );

    // No fencing device here: disable STONITH, as one does for a test cluster, and add a
    // resource.
    run_ok(
        pm.host(1),
        CRM_ATTRIBUTE,
        &["-t", "crm_config", "-n", "stonith-enabled", "-v", "false"],
    );
    run_ok(
        pm.host(1),
        CIBADMIN,
        &[
            "-C",
            "-o",
            "resources",
            "-X",
            "<primitive id=\"dummy\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
             <operations><op id=\"dummy-monitor\" name=\"monitor\" interval=\"10s\"/>\
             </operations></primitive>",
        ],
    );
    let status = pm.wait(1, "dummy started", STEP, |s| s.dummy_on.is_some());
    let victim_name = status.dummy_on.unwrap();
    let victim: u32 = victim_name[1..].parse().unwrap();
    let survivor = if victim == 1 { 2 } else { 1 };

    // SIGKILL of the engine under the resource: the survivors see the node go and start the
    // resource on one of them; the victim's Pacemaker notices it lost the cluster.
    pm.cluster.kill(victim);
    pm.wait(survivor, "the victim offline and dummy moved", STEP, |s| {
        s.offline.contains(&victim_name)
            && s.dc.is_some()
            && s.dummy_on.as_ref().is_some_and(|on| *on != victim_name)
    });
    let noticed = wait_until(STEP, || {
        pm.host(victim)
            .pacemaker_log()
            .contains("Lost connection to cluster layer")
            && !pm.host(victim).runs("pacemaker-contr")
    });
    if !noticed {
        pm.report();
        panic!("n{victim}'s Pacemaker did not notice that aisexec was killed");
    }

    // The node comes back: aisexec again, and pacemakerd again if it gave up.
    pm.start_aisexec(victim);
    let gone = pm.pacemakers[victim as usize - 1]
        .as_mut()
        .is_none_or(|p| p.try_wait().unwrap().is_some());
    if gone {
        pm.start_pacemaker(victim);
    }
    pm.wait(survivor, "the victim online again", STEP, all_online);
    pm.wait(
        victim,
        "the cluster from the victim's side",
        STEP,
        all_online,
    );

    // A shutdown request is refused while pacemakerd runs (it tracks shutdowns and says no).
    for tool in [our_binary("ais-cfgtool"), COROSYNC_CFGTOOL.to_owned()] {
        let out = pm.host(survivor).run(&tool, &["-H"]);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains("Could not shutdown"), "{tool} -H: {said}");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        pm.host(survivor).runs("aisexec"),
        "aisexec on n{survivor} exited on a vetoed shutdown"
    );
    pm.wait(
        victim,
        "three nodes after the vetoed shutdowns",
        STEP,
        all_online,
    );

    // Nothing was refused on the way.
    for n in 1..=3 {
        let refused: Vec<String> = pm
            .cluster
            .lines(n)
            .into_iter()
            .filter(|l| l.contains("refused IPC client"))
            .collect();
        assert!(refused.is_empty(), "n{n} refused clients: {refused:#?}");
    }
}

/// Runs a command in a host; it must succeed.
fn run_ok(host: &Host, program: &str, args: &[&str]) -> (String, String) {
    let out = host.run(program, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "n{}: {program} {args:?} failed ({}): {stdout}{stderr}",
        host.n,
        out.status
    );
    (stdout, stderr)
}

/// Whether `check` came true within `limit`.
fn wait_until(limit: Duration, check: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    true
}
