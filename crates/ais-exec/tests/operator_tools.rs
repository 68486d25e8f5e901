//! The operator's tools against `aisexec` on real hosts (network namespaces this test
//! makes): Debian's unmodified `corosync-cmapctl`, `corosync-quorumtool` and
//! `corosync-cfgtool`, and ours (`ais-cmapctl`, `ais-quorumtool`, `ais-cfgtool`), which
//! must print the same thing. Also: cmap set/track across tools, configuration reload with
//! `ais-cfgtool -R` (a changed token and a sixth node joining; a broken file refused with
//! file:line and nothing changed), and a shutdown a tracking client vetoes.

#![allow(clippy::disallowed_methods)] // Tests read the clock and spawn processes.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::lab::Lab;
use common::{Cluster, Layout, PATIENCE, cannot_run, our_binary};

const CMAPCTL: &str = "/usr/sbin/corosync-cmapctl";
const QUORUMTOOL: &str = "/usr/sbin/corosync-quorumtool";
const CFGTOOL: &str = "/usr/sbin/corosync-cfgtool";

fn debian_tools() -> bool {
    for tool in [CMAPCTL, QUORUMTOOL, CFGTOOL] {
        if !Path::new(tool).exists() {
            cannot_run(&format!("{tool} is not installed (apt install corosync)"));
            return false;
        }
    }
    true
}

fn layout(count: u32) -> Layout {
    Layout {
        token_ms: 500,
        extra_sections: "quorum {\n    provider: corosync_votequorum\n}\n".to_owned(),
        ..Layout::hosts(count)
    }
}

/// Runs a tool in host `h` until it succeeds and `check` accepts its output.
fn run_until(lab: &Lab, h: u32, tool: &str, args: &[&str], check: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let (out, code) = lab.run(h, tool, args);
        if check(&out) {
            return out;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{tool} {args:?} on host {h} never printed what was expected (exit {code}):\n{out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// quorumtool's status without its `Date:` line, which differs between two runs.
fn without_date(status: &str) -> String {
    status
        .lines()
        .filter(|l| !l.starts_with("Date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key (type) = value` lines of cmapctl: every line must have that shape.
fn cmap_listing(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .map(|line| {
            let (key, rest) = line
                .split_once(" (")
                .unwrap_or_else(|| panic!("not a cmapctl line: {line:?}"));
            let (kind, value) = rest
                .split_once(") = ")
                .unwrap_or_else(|| panic!("not a cmapctl line: {line:?}"));
            (key.to_owned(), kind.to_owned(), value.to_owned())
        })
        .collect()
}

/// Three namespace hosts, each running aisexec, in one ring; `None` (skipped) where
/// namespaces are not permitted.
fn three_hosts(tag: &str) -> Option<(Lab, Cluster)> {
    let lab = Lab::new(tag, 3, 1)?;
    let mut c = Cluster::new(&layout(3));
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    Some((lab, c))
}

/// `ais-cfgtool --veto-shutdown` on a host, refusing every shutdown until dropped.
struct Veto(std::process::Child);

impl Veto {
    fn start(lab: &Lab, h: u32) -> Self {
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &lab.host(h)])
            .arg(our_binary("ais-cfgtool"))
            .args(["--veto-shutdown"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the vetoing client");
        // Time to connect and start tracking.
        std::thread::sleep(Duration::from_millis(500));
        Self(child)
    }
}

impl Drop for Veto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn corosync_tools_and_ours_agree_on_a_three_node_cluster() {
    if !debian_tools() {
        return;
    }
    let Some((lab, c)) = three_hosts("ot") else {
        return;
    };

    // cmap: the configuration, runtime and statistics keys, typed as corosync types them.
    let theirs = run_until(&lab, 1, CMAPCTL, &[], |o| {
        o.contains("runtime.votequorum.this_node_id")
    });
    let listing = cmap_listing(&theirs);
    let find = |k: &str| listing.iter().find(|(key, ..)| key == k).cloned();
    assert_eq!(
        find("totem.cluster_name"),
        Some(("totem.cluster_name".into(), "str".into(), "test".into()))
    );
    assert_eq!(
        find("nodelist.node.1.nodeid").map(|e| (e.1, e.2)),
        Some(("u32".into(), "2".into()))
    );
    assert_eq!(
        find("nodelist.local_node_pos").map(|e| e.2),
        Some("0".into())
    );
    assert_eq!(
        find("runtime.votequorum.this_node_id").map(|e| e.2),
        Some("1".into())
    );
    assert_eq!(
        find("runtime.members.3.status").map(|e| e.2),
        Some("joined".into())
    );
    assert_eq!(
        find("runtime.config.totem.token").map(|e| e.1),
        Some("u32".into())
    );
    let our_listing = run_until(&lab, 1, &our_binary("ais-cmapctl"), &[], |o| !o.is_empty());
    assert_eq!(
        cmap_listing(&our_listing)
            .iter()
            .map(|e| &e.0)
            .collect::<Vec<_>>(),
        listing.iter().map(|e| &e.0).collect::<Vec<_>>(),
        "ais-cmapctl lists the same keys as corosync-cmapctl"
    );
    let stats = run_until(&lab, 1, CMAPCTL, &["-m", "stats"], |o| {
        o.contains("stats.knet.node2.link0.connected (u8) = 1")
    });
    cmap_listing(&stats);
    for key in [
        "stats.srp.mcast_tx",
        "stats.srp.orf_token_rx",
        "stats.srp.memb_join_tx",
        "stats.srp.operational_entered",
        "stats.srp.continuous_gather (u32) = 0",
        "stats.srp.firewall_enabled_or_nic_failure (u8) = 0",
        "stats.srp.mtt_rx_token (u32)",
        "stats.transport.rx_invalid_digest",
        "stats.ipcs.global.active",
    ] {
        assert!(
            stats.contains(key),
            "{key} missing from the stats map:\n{stats}"
        );
    }
    // Each client connection has its keys, named as corosync names them: a quorum monitor
    // (service 3) shows up with its process name while it is connected.
    let script = format!(
        "{QUORUMTOOL} -m >/dev/null 2>&1 & sleep 2.5; {CMAPCTL} -m stats stats.ipcs.service3.; kill $!"
    );
    let conns = run_until(&lab, 1, "sh", &["-c", &script], |o| {
        o.contains(".procname (str) = corosync-quorum")
    });
    for key in [
        ".requests (u64) = ",
        ".dispatched (u64) = ",
        ".queued (u32) = ",
    ] {
        assert!(conns.contains(key), "{key} missing:\n{conns}");
    }
    // Statistics are refreshed when cmap is read, as corosync computes them on each read:
    // the listing includes the listing tool's own connection (its name cut to 15 bytes).
    let (own, _) = lab.run(1, CMAPCTL, &["-m", "stats", "stats.ipcs.service0."]);
    assert!(
        own.contains(".procname (str) = corosync-cmapct"),
        "the reading tool's own connection is listed:\n{own}"
    );
    let (got, _) = lab.run(1, CMAPCTL, &["-g", "totem.cluster_name"]);
    assert_eq!(got.trim(), "totem.cluster_name (str) = test");
    let (got, _) = lab.run(1, &our_binary("ais-cmapctl"), &["-g", "totem.cluster_name"]);
    assert_eq!(got.trim(), "totem.cluster_name (str) = test");

    // A key set with corosync's tool is seen by ours, and read-only keys are refused.
    let (_, code) = lab.run(1, CMAPCTL, &["-s", "test.key", "u32", "42"]);
    assert_eq!(code, 0);
    let (got, _) = lab.run(1, &our_binary("ais-cmapctl"), &["-g", "test.key"]);
    assert_eq!(got.trim(), "test.key (u32) = 42");
    let (_, code) = lab.run(
        1,
        &our_binary("ais-cmapctl"),
        &["-s", "runtime.votequorum.this_node_id", "u32", "9"],
    );
    assert_ne!(code, 0, "a read-only key must be refused");
    let (_, code) = lab.run(1, &our_binary("ais-cmapctl"), &["-d", "test.key"]);
    assert_eq!(code, 0);
    let (got, code) = lab.run(1, CMAPCTL, &["-g", "test.key"]);
    assert_ne!(
        code, 0,
        "deleted, but corosync-cmapctl still finds it: {got}"
    );

    // quorumtool: same status, same membership list.
    for h in 1..=3 {
        let theirs = run_until(&lab, h, QUORUMTOOL, &["-s"], |o| {
            o.contains("Quorate:          Yes")
        });
        let mine = run_until(&lab, h, &our_binary("ais-quorumtool"), &["-s"], |o| {
            o.contains("Quorate:")
        });
        assert_eq!(
            without_date(&mine),
            without_date(&theirs),
            "ais-quorumtool -s on host {h}"
        );
        assert!(theirs.contains(&format!("Node ID:          {h}")));
        let (theirs, _) = lab.run(h, QUORUMTOOL, &["-l"]);
        let (mine, _) = lab.run(h, &our_binary("ais-quorumtool"), &["-l"]);
        assert_eq!(mine, theirs, "ais-quorumtool -l on host {h}");
    }

    // cfgtool: links and nodes.
    let theirs = run_until(&lab, 2, CFGTOOL, &["-s"], |o| {
        o.matches("connected").count() == 2
    });
    assert!(
        theirs.starts_with("Local node ID 2, transport udpu\nLINK ID 0"),
        "{theirs}"
    );
    assert!(
        theirs.contains("nodeid:          2:\tlocalhost"),
        "{theirs}"
    );
    let (mine, _) = lab.run(2, &our_binary("ais-cfgtool"), &["-s"]);
    assert_eq!(mine, theirs, "ais-cfgtool -s");
    let (theirs, _) = lab.run(2, CFGTOOL, &["-n"]);
    let (mine, _) = lab.run(2, &our_binary("ais-cfgtool"), &["-n"]);
    assert_eq!(mine, theirs, "ais-cfgtool -n");
    let (theirs, _) = lab.run(2, CFGTOOL, &["-a", "3"]);
    assert_eq!(theirs.trim(), "10.77.0.3");
    let (mine, _) = lab.run(2, &our_binary("ais-cfgtool"), &["-a", "3"]);
    assert_eq!(mine, theirs, "ais-cfgtool -a");

    // Host 3 is cut off: the others show it down.
    lab.set_link(3, 0, false);
    c.wait_members(&[1, 2], &[1, 2]);
    let theirs = run_until(&lab, 1, CFGTOOL, &["-s"], |o| {
        o.contains("nodeid:          3:\tdisconnected")
    });
    let (mine, _) = lab.run(1, &our_binary("ais-cfgtool"), &["-s"]);
    assert_eq!(mine, theirs, "ais-cfgtool -s with a node down");
    lab.set_link(3, 0, true);
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);

    // Side by side, for the notes.
    for (tool, args) in [
        (QUORUMTOOL, vec!["-s"]),
        (CFGTOOL, vec!["-s"]),
        (CFGTOOL, vec!["-n"]),
    ] {
        let (out, _) = lab.run(1, tool, &args);
        eprintln!("# {tool} {} against aisexec\n{out}", args.join(" "));
    }
}

/// `ais-cfgtool -R`: every node re-reads its file. A shorter token applies everywhere and a
/// sixth node added to the nodelists joins without a restart; then a broken file on one
/// node is refused there with its file:line, and nothing changes.
#[test]
fn reload_applies_a_new_token_and_a_new_node_and_refuses_a_broken_file() {
    if !debian_tools() {
        return;
    }
    let Some(lab) = Lab::new("rl", 6, 1) else {
        return;
    };
    let five = layout(5);
    let mut c = Cluster::new(&layout(6));
    // Levels as the files say, so that a reload can turn debug on.
    c.log_filter = None;
    let key = c.key();
    for id in 1..=5 {
        c.write_config(id, &five, &key);
    }
    for h in 1..=5 {
        lab.start(&mut c, h);
    }
    let five_ids = [1, 2, 3, 4, 5];
    c.wait_members(&five_ids, &five_ids);
    // token 500 + 3 × the 650 ms coefficient for five nodes.
    let (token, _) = lab.run(3, CMAPCTL, &["-g", "runtime.config.totem.token"]);
    assert_eq!(token.trim(), "runtime.config.totem.token (u32) = 2450");

    // A client (Pacemaker does this) admits a group at runtime; the reload must keep it.
    let (out, code) = lab.run(3, CMAPCTL, &["-s", "uidgid.gid.4242", "u8", "1"]);
    assert_eq!(code, 0, "{out}");

    let six = Layout {
        token_ms: 300,
        extra_sections: format!(
            "{}uidgid {{\n    uid: 1000\n    gid: root\n}}\n",
            layout(6).extra_sections
        ),
        ..layout(6)
    };
    for id in 1..=6 {
        c.write_config(id, &six, &key);
    }
    lab.start(&mut c, 6);
    let (out, code) = lab.run(1, &our_binary("ais-cfgtool"), &["-R"]);
    assert_eq!(code, 0, "ais-cfgtool -R: {out}");
    let all = [1, 2, 3, 4, 5, 6];
    c.wait_members(&all, &all);
    // The new uidgid section, under corosync's numeric read-only names, beside the
    // runtime entry.
    let admitted = run_until(&lab, 3, CMAPCTL, &["uidgid"], |o| {
        o.contains("uidgid.config.")
    });
    assert_eq!(
        admitted,
        "uidgid.config.gid.0 (u8) = 1\nuidgid.config.uid.1000 (u8) = 1\nuidgid.gid.4242 (u8) = 1\n"
    );
    for h in 1..=6 {
        // token 300 + 4 × 650 for six nodes, on the reloaded nodes and the new one alike.
        let (token, _) = lab.run(h, CMAPCTL, &["-g", "runtime.config.totem.token"]);
        assert_eq!(
            token.trim(),
            "runtime.config.totem.token (u32) = 2900",
            "host {h}"
        );
        let (node, _) = lab.run(h, CMAPCTL, &["-g", "nodelist.node.5.nodeid"]);
        assert_eq!(node.trim(), "nodelist.node.5.nodeid (u32) = 6", "host {h}");
    }

    // A broken file on node 2: refused there, with where the mistake is.
    let path = c.config(2);
    let good = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        good.replace("token: 300", "token: 300\n    tokken: 5"),
    )
    .expect("write");
    let before = c.membership_count(2);
    let (out, code) = lab.run(1, &our_binary("ais-cfgtool"), &["-R"]);
    assert_eq!(code, 0, "node 1's own reload worked: {out}");
    let message = run_until(
        &lab,
        2,
        CMAPCTL,
        &["-g", "config.reload_error_message"],
        |o| o.contains("tokken"),
    );
    assert!(
        message.contains(&format!("{}:5:", path.display())),
        "the refusal names file:line: {message}"
    );
    let (out, code) = lab.run(2, &our_binary("ais-cfgtool"), &["-R"]);
    assert_ne!(code, 0);
    assert!(
        out.contains("ERROR from reload:") && out.contains("tokken"),
        "{out}"
    );
    let (token, _) = lab.run(2, CMAPCTL, &["-g", "runtime.config.totem.token"]);
    assert_eq!(token.trim(), "runtime.config.totem.token (u32) = 2900");
    assert_eq!(c.membership_count(2), before, "nothing changed on node 2");
    std::fs::write(&path, good).expect("write");
    let (_, code) = lab.run(2, &our_binary("ais-cfgtool"), &["-R"]);
    assert_eq!(code, 0);
    let (gone, code) = lab.run(2, CMAPCTL, &["-g", "config.reload_error_message"]);
    assert_ne!(code, 0, "the error is cleared by a good reload: {gone}");

    // Logging changes apply too: node 4 starts writing a logfile, with debug lines.
    let path = c.config(4);
    let logfile = path.with_file_name("node4-reloaded.log");
    let text = std::fs::read_to_string(&path).expect("config");
    let with_file = text.replacen(
        "logging {\n",
        &format!(
            "logging {{\n    to_logfile: yes\n    logfile: {}\n    debug: on\n",
            logfile.display()
        ),
        1,
    );
    assert_ne!(with_file, text, "the layout has a logging section");
    std::fs::write(&path, with_file).expect("write");
    let (out, code) = lab.run(4, &our_binary("ais-cfgtool"), &["-R"]);
    assert_eq!(code, 0, "{out}");
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(&logfile).unwrap_or_default();
        if log.contains("reloaded") && log.contains("DEBUG") {
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{} never got the reload line and debug lines:\n{log}\nnode 4 said:\n{}",
            logfile.display(),
            c.lines(4).join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // logrotate renames the file, then `-L` (as corosync's logrotate script does): a new
    // file is opened under the configured name.
    let rotated = logfile.with_extension("log.1");
    std::fs::rename(&logfile, &rotated).expect("rotate");
    let (out, code) = lab.run(4, &our_binary("ais-cfgtool"), &["-L"]);
    assert_eq!(code, 0, "{out}");
    let start = Instant::now();
    while !std::fs::read_to_string(&logfile)
        .unwrap_or_default()
        .contains("log files reopened")
    {
        assert!(start.elapsed() < PATIENCE, "no new logfile after -L");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::write(&path, text).expect("write");
    let (_, code) = lab.run(4, &our_binary("ais-cfgtool"), &["-R"]);
    assert_eq!(code, 0);
    let before = std::fs::read_to_string(&logfile).expect("logfile").len();
    let (_, code) = lab.run(4, &our_binary("ais-cfgtool"), &["-R"]);
    assert_eq!(code, 0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&logfile).expect("logfile").len(),
        before,
        "the logfile is no longer written once the file says so"
    );
}

/// `ais-cfgtool -H` asks the tracking clients first: a veto (corosync's own test client
/// answering no) refuses it, `--force` goes anyway; `-k` kills another node.
#[test]
fn shutdown_honours_a_veto_unless_forced_and_kill_stops_a_node() {
    let Some((lab, c)) = three_hosts("sd") else {
        return;
    };
    let veto = Veto::start(&lab, 2);
    let (out, code) = lab.run(2, &our_binary("ais-cfgtool"), &["-H"]);
    assert_ne!(code, 0, "vetoed: {out}");
    assert_eq!(c.members(2).as_deref(), Some(&[1, 2, 3][..]));
    let (out, code) = lab.run(2, &our_binary("ais-cfgtool"), &["-H", "--force"]);
    assert_eq!(code, 0, "{out}");
    c.wait_members(&[1, 3], &[1, 3]);
    drop(veto);
    let (out, code) = lab.run(1, &our_binary("ais-cfgtool"), &["-k", "3"]);
    assert_eq!(code, 0, "{out}");
    c.wait_members(&[1], &[1]);
}

/// `ais-cfgtool -H --all` (ours): every node asks its own tracking clients; the nodes whose
/// clients agree leave, the one whose client refuses stays and runs on alone.
#[test]
fn a_cluster_wide_shutdown_stops_every_node_whose_clients_agree() {
    let Some((lab, mut c)) = three_hosts("sa") else {
        return;
    };
    let veto = Veto::start(&lab, 3);
    let (out, code) = lab.run(1, &our_binary("ais-cfgtool"), &["-H", "--all"]);
    assert_eq!(code, 0, "node 1 had no objection: {out}");
    assert!(out.contains("on every node"), "{out}");
    for h in [1, 2] {
        c.wait_line(
            h,
            "cfg shutdown requested: leaving the ring and shutting down",
        );
    }
    c.wait_line(3, "cluster-wide shutdown requested");
    c.wait_line(3, "shutdown refused: a client said no");
    c.wait_members(&[3], &[3]);
    drop(veto);
    assert!(c.term(3), "node 3 still runs and stops on SIGTERM");
}
