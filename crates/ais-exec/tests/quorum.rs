//! votequorum on real hosts (network namespaces this test makes): which side of a split
//! keeps quorum, `two_node`, `wait_for_all` at cold start, `last_man_standing` shrinking the
//! cluster, and `auto_tie_breaker` on an even split. The state is read the way operators
//! read it, with Debian's unmodified `corosync-quorumtool -s` and with ours; tracking
//! clients (`corosync-quorumtool -m` and `ais-quorumtool -m --json`) must be told.

#![allow(clippy::disallowed_methods)] // Tests read the clock and spawn processes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::lab::Lab;
use common::{Cluster, Layout, PATIENCE, cannot_run, our_binary};

const QUORUMTOOL: &str = "/usr/sbin/corosync-quorumtool";

fn layout(count: u32, quorum: &str) -> Layout {
    Layout {
        token_ms: 500,
        extra_sections: format!("quorum {{\n    provider: corosync_votequorum\n{quorum}}}\n"),
        ..Layout::hosts(count)
    }
}

fn debian_tools() -> bool {
    if Path::new(QUORUMTOOL).exists() {
        true
    } else {
        cannot_run(&format!(
            "{QUORUMTOOL} is not installed (apt install corosync)"
        ));
        false
    }
}

/// `Key: value` of quorumtool's status listing.
fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// Polls `corosync-quorumtool -s` on host `h` until `check` accepts its output.
fn wait_status(lab: &Lab, c: &Cluster, h: u32, what: &str, check: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < PATIENCE {
        let (out, _) = lab.run(h, QUORUMTOOL, &["-s"]);
        if check(&out) {
            return out;
        }
        last = out;
        std::thread::sleep(Duration::from_millis(200));
    }
    for n in &c.nodes {
        let log: Vec<String> = c
            .lines(n.id)
            .into_iter()
            .filter(|l| l.contains("quorum") || l.contains("membership"))
            .collect();
        eprintln!(
            "--- node {} (quorum and membership lines):\n{}",
            n.id,
            log.join("\n")
        );
    }
    panic!("host {h} never showed {what}; last corosync-quorumtool -s:\n{last}");
}

fn quorate(lab: &Lab, c: &Cluster, h: u32, yes: bool, nodes: usize) -> String {
    let want = if yes { "Yes" } else { "No" };
    wait_status(
        lab,
        c,
        h,
        &format!("Quorate: {want} with {nodes} nodes"),
        |s| field(s, "Quorate") == Some(want) && field(s, "Nodes") == Some(&nodes.to_string()),
    )
}

/// A tracking client's output, collected line by line.
struct Monitor {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Monitor {
    fn start(lab: &Lab, h: u32, program: &Path, args: &[&str]) -> Self {
        // Line-buffered: corosync's tool writes through stdio, which would hold the lines.
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.host(h), "stdbuf", "-oL"])
            .arg(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start monitor");
        let out = child.stdout.take().expect("stdout");
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Self { child, lines }
    }

    fn mark(&self) -> usize {
        self.lines.lock().expect("lines").len()
    }

    /// Waits for a line after `mark` that `check` accepts.
    fn wait(&self, mark: usize, what: &str, check: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if self
                .lines
                .lock()
                .expect("lines")
                .iter()
                .skip(mark)
                .any(|l| check(l))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the tracking client never reported {what}; it printed:\n{}",
            self.lines.lock().expect("lines").join("\n")
        );
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Five nodes split 3/2: the three keep quorum, the two lose it, and a tracking client on
/// each side is told; after the heal, one quorate cluster of five.
#[test]
fn a_three_two_split_leaves_only_the_majority_quorate() {
    if !debian_tools() {
        return;
    }
    let Some(lab) = Lab::new("q5", 5, 1) else {
        return;
    };
    let mut c = Cluster::new(&layout(5, ""));
    for h in 1..=5 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5]);
    for h in 1..=5 {
        let s = quorate(&lab, &c, h, true, 5);
        assert_eq!(field(&s, "Expected votes"), Some("5"));
        assert_eq!(field(&s, "Quorum"), Some("3"));
    }
    // Corosync's own monitor on the majority side, ours on the minority side.
    let theirs = Monitor::start(&lab, 1, Path::new(QUORUMTOOL), &["-m"]);
    let ours = Monitor::start(
        &lab,
        5,
        Path::new(&our_binary("ais-quorumtool")),
        &["-m", "--json"],
    );
    let (their_mark, our_mark) = (theirs.mark(), ours.mark());

    lab.partition(&[&[1, 2, 3], &[4, 5]]);
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    c.wait_members(&[4, 5], &[4, 5]);
    for h in 1..=3 {
        quorate(&lab, &c, h, true, 3);
    }
    for h in 4..=5 {
        let s = quorate(&lab, &c, h, false, 2);
        assert_eq!(field(&s, "Total votes"), Some("2"));
    }
    theirs.wait(their_mark, "3 members", |l| {
        l.starts_with("Nodes:") && l.ends_with(" 3")
    });
    ours.wait(our_mark, "not quorate", |l| {
        l.contains("\"quorate\":false") && l.contains("\"members\":[4,5]")
    });

    let (their_mark, our_mark) = (theirs.mark(), ours.mark());
    lab.heal();
    c.wait_members(&[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5]);
    for h in 1..=5 {
        quorate(&lab, &c, h, true, 5);
    }
    theirs.wait(their_mark, "5 members", |l| {
        l.starts_with("Nodes:") && l.ends_with(" 5")
    });
    ours.wait(our_mark, "quorate again", |l| {
        l.contains("\"quorate\":true") && l.contains("\"members\":[1,2,3,4,5]")
    });
}

/// `two_node`: a cold start waits for both nodes (wait_for_all is implied); after that the
/// survivor of a failure stays quorate.
#[test]
fn two_node_waits_for_both_then_survives_one() {
    if !debian_tools() {
        return;
    }
    let Some(lab) = Lab::new("q2", 2, 1) else {
        return;
    };
    let mut c = Cluster::new(&layout(2, "    two_node: 1\n"));
    lab.start(&mut c, 1);
    c.wait_members(&[1], &[1]);
    let s = quorate(&lab, &c, 1, false, 1);
    assert!(field(&s, "Flags").is_some_and(|f| f.contains("2Node") && f.contains("WaitForAll")));
    lab.start(&mut c, 2);
    c.wait_members(&[1, 2], &[1, 2]);
    quorate(&lab, &c, 1, true, 2);
    quorate(&lab, &c, 2, true, 2);
    c.kill(2);
    c.wait_members(&[1], &[1]);
    let s = quorate(&lab, &c, 1, true, 1);
    assert_eq!(field(&s, "Quorum"), Some("1"));
}

/// `wait_for_all` with three nodes: two of three would be a majority, but a cold start waits
/// until all three were seen together; after that losing one keeps quorum.
#[test]
fn wait_for_all_holds_a_cold_start_until_every_node_was_seen() {
    if !debian_tools() {
        return;
    }
    let Some(lab) = Lab::new("qw", 3, 1) else {
        return;
    };
    let mut c = Cluster::new(&layout(3, "    wait_for_all: 1\n"));
    lab.start(&mut c, 1);
    lab.start(&mut c, 2);
    c.wait_members(&[1, 2], &[1, 2]);
    quorate(&lab, &c, 1, false, 2);
    quorate(&lab, &c, 2, false, 2);
    lab.start(&mut c, 3);
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    quorate(&lab, &c, 1, true, 3);
    c.kill(3);
    c.wait_members(&[1, 2], &[1, 2]);
    quorate(&lab, &c, 1, true, 2);
    quorate(&lab, &c, 2, true, 2);
}

/// `last_man_standing`: nodes fail one at a time, each after the window; expected votes
/// follow the survivors down, so the last two are still quorate.
#[test]
fn last_man_standing_shrinks_five_to_two() {
    if !debian_tools() {
        return;
    }
    let Some(lab) = Lab::new("ql", 5, 1) else {
        return;
    };
    let mut c = Cluster::new(&layout(
        5,
        "    last_man_standing: 1\n    last_man_standing_window: 1000\n",
    ));
    for h in 1..=5 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5]);
    quorate(&lab, &c, 1, true, 5);
    for gone in (3..=5).rev() {
        c.kill(gone);
        let left: Vec<u32> = (1..gone).collect();
        c.wait_members(&left, &left);
        let expected = (gone - 1).to_string();
        wait_status(&lab, &c, 1, &format!("expected votes {expected}"), |s| {
            field(s, "Quorate") == Some("Yes") && field(s, "Expected votes") == Some(&expected)
        });
    }
    let s = quorate(&lab, &c, 2, true, 2);
    assert!(field(&s, "Flags").is_some_and(|f| f.contains("LastManStanding")));
}

/// `auto_tie_breaker`: an even split keeps quorum on the side with the lowest node id.
#[test]
fn auto_tie_breaker_picks_the_side_of_the_lowest_node() {
    if !debian_tools() {
        return;
    }
    let Some(lab) = Lab::new("qa", 4, 1) else {
        return;
    };
    let mut c = Cluster::new(&layout(4, "    auto_tie_breaker: 1\n"));
    for h in 1..=4 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3, 4], &[1, 2, 3, 4]);
    quorate(&lab, &c, 1, true, 4);
    lab.partition(&[&[1, 2], &[3, 4]]);
    c.wait_members(&[1, 2], &[1, 2]);
    c.wait_members(&[3, 4], &[3, 4]);
    quorate(&lab, &c, 1, true, 2);
    quorate(&lab, &c, 2, true, 2);
    quorate(&lab, &c, 3, false, 2);
    quorate(&lab, &c, 4, false, 2);
    lab.heal();
    c.wait_members(&[1, 2, 3, 4], &[1, 2, 3, 4]);
    quorate(&lab, &c, 4, true, 4);
}
