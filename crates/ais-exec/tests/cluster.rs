//! Real `aisexec` processes on 127.0.0.x: a ring forms, survives SIGKILL and SIGTERM, takes
//! a restarted node back, keeps a node with the wrong key out, and shrugs off garbage.

#![allow(clippy::disallowed_methods)] // Tests sleep and read the clock.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{Cluster, Layout, stat};
use rustix::process::Signal;

fn layout(count: u32, port: u16, token_ms: u32) -> Layout {
    Layout::loopback(count, port, token_ms)
}

#[test]
fn five_nodes_form_a_ring_survive_a_kill_and_take_the_node_back() {
    let mut c = Cluster::new(&layout(5, 25405, 1000));
    for id in 1..=5 {
        c.start(id);
    }
    c.wait_members(&[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5]);

    // SIGKILL: no goodbye; the others notice the silence and re-form.
    let before = c.ring_seqs(4);
    let highest = *before.iter().max().expect("node 4 logged its ring");
    c.kill(4);
    c.wait_members(&[1, 2, 3, 5], &[1, 2, 3, 5]);

    // The restarted node comes back with a higher ring id than it ever had.
    c.start(4);
    c.wait_members(&[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5]);
    let after = c.ring_seqs(4);
    let rejoined = *after.last().expect("node 4 logged its new ring");
    assert!(
        rejoined > highest,
        "node 4 rejoined on ring seq {rejoined:#x}, not above its old {highest:#x}: {after:?}"
    );
}

#[test]
fn sigterm_leaves_the_ring_at_once() {
    // A long token timeout (30 s): had the survivors detected the loss themselves, they would
    // have logged corosync's token-timeout line first. A graceful leave needs no timeout.
    let mut c = Cluster::new(&layout(3, 25415, 30_000));
    for id in 1..=3 {
        c.start(id);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    assert!(c.term(2), "aisexec exits 0 after SIGTERM");
    c.wait_members(&[1, 3], &[1, 3]);
    c.wait_line(1, "Members left: 2");
    for id in [1, 3] {
        assert!(
            !c.lines(id).iter().any(|l| l.contains("token timed out")),
            "node {id} waited for a token timeout instead of honouring the leave"
        );
    }
}

#[test]
fn a_node_with_the_wrong_key_never_joins_and_disturbs_nothing() {
    let mut c = Cluster::new(&layout(4, 25425, 1000));
    for id in 1..=3 {
        c.start(id);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    let formed: Vec<usize> = (1..=3).map(|id| c.membership_count(id)).collect();

    // Node 4 is in the nodelist but holds another key.
    let other_key = c.dir.path().join("other-key");
    common::write_key(&other_key, 99);
    c.write_config(4, &layout(4, 25425, 1000), &other_key);
    c.start(4);
    c.wait_line(1, "Invalid digest");
    // The stranger forms its own one-node ring once its consensus timeout passes.
    c.wait_members(&[4], &[4]);
    // Several token rotations and join attempts later, nothing changed.
    std::thread::sleep(Duration::from_secs(4));
    for id in 1..=3 {
        assert_eq!(
            c.membership_count(id),
            formed[id as usize - 1],
            "node {id} saw a membership change"
        );
        assert_eq!(c.members(id).unwrap(), [1, 2, 3]);
    }
    assert_eq!(c.members(4).unwrap(), [4], "the stranger stays alone");
    assert!(stat(&c.stats(1), "rx_invalid_digest") > 0);
}

/// Nodes 1–3 in a ring of a four-node nodelist, and a socket at node 4's address: node 4
/// never runs, so the test receives the real sealed packets the ring sends it.
fn three_nodes_and_a_spy(port: u16) -> (Cluster, UdpSocket) {
    let mut c = Cluster::new(&layout(4, port, 1000));
    let spy = UdpSocket::bind(("127.0.0.4", port)).unwrap();
    spy.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for id in 1..=3 {
        c.start(id);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    (c, spy)
}

#[test]
fn garbage_truncated_corrupted_and_replayed_packets_change_only_counters() {
    // Captured packets are replayed and mangled.
    let port = 25435;
    let (mut c, spy) = three_nodes_and_a_spy(port);
    let formed: Vec<usize> = (1..=3).map(|id| c.membership_count(id)).collect();

    let mut captured = Vec::new();
    let mut buf = [0u8; 65536];
    while captured.len() < 20 {
        let (len, _) = spy.recv_from(&mut buf).expect("the ring probes node 4");
        captured.push(buf[..len].to_vec());
    }
    let target = ("127.0.0.1", port);
    let mut seed = 0x1234_5678_u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for round in 0..200 {
        let real = &captured[round % captured.len()];
        // Replayed as is.
        spy.send_to(real, target).unwrap();
        // Truncated.
        let cut = next() as usize % real.len();
        spy.send_to(&real[..cut], target).unwrap();
        // One byte flipped.
        let mut flipped = real.clone();
        let at = next() as usize % flipped.len();
        flipped[at] ^= 1 << (next() % 8);
        spy.send_to(&flipped, target).unwrap();
        // Random bytes.
        let garbage: Vec<u8> = (0..(next() % 1400)).map(|_| next() as u8).collect();
        spy.send_to(&garbage, target).unwrap();
    }
    std::thread::sleep(Duration::from_secs(3));
    let stats = c.stats(1);
    assert!(stat(&stats, "rx_duplicate") > 0, "{stats:?}");
    assert!(stat(&stats, "rx_invalid_digest") > 0, "{stats:?}");
    assert!(stat(&stats, "rx_malformed") > 0, "{stats:?}");
    // Pings sealed for node 4, replayed at node 1: refused, not taken as node 1's own.
    assert!(stat(&stats, "rx_misdirected") > 0, "{stats:?}");
    for id in 1..=3 {
        assert_eq!(
            c.membership_count(id),
            formed[id as usize - 1],
            "node {id} saw a membership change"
        );
        assert_eq!(c.members(id).unwrap(), [1, 2, 3]);
    }
}

/// Packets captured while the ring ran, replayed at a node that restarted since, from
/// senders that have gone quiet: authentic, and fresh to a new replay window, but from
/// epochs that never answered the new boot's challenge. None reaches Totem; once the
/// senders wake and answer, the ring forms again.
#[test]
fn a_restarted_node_accepts_no_packet_captured_before_it_started() {
    let port = 25475;
    let (mut c, spy) = three_nodes_and_a_spy(port);
    // Nodes 2 and 3 send node 4 the ring's multicasts and their pings.
    let mut captured = Vec::new();
    let mut buf = [0u8; 65536];
    while captured.len() < 60 {
        let (len, from) = spy.recv_from(&mut buf).expect("the ring sends to node 4");
        if from.ip() != std::net::Ipv4Addr::new(127, 0, 0, 1) {
            captured.push(buf[..len].to_vec());
        }
    }
    // Nodes 2 and 3 fall silent; node 1 restarts and is alone.
    c.signal(2, Signal::STOP);
    c.signal(3, Signal::STOP);
    c.kill(1);
    c.start(1);
    c.wait_members(&[1], &[1]);
    let alone = c.membership_count(1);
    for _ in 0..5 {
        for packet in &captured {
            spy.send_to(packet, ("127.0.0.1", port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let stats = c.stats(1);
    assert_eq!(
        stat(&stats, "rx_totem"),
        0,
        "replayed packets reached Totem: {stats:?}"
    );
    assert!(stat(&stats, "rx_unproven") > 0, "{stats:?}");
    assert_eq!(
        c.membership_count(1),
        alone,
        "the replay moved the membership"
    );
    // The senders wake, answer the challenge, and the ring forms again.
    c.signal(2, Signal::CONT);
    c.signal(3, Signal::CONT);
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
}

#[test]
fn a_second_daemon_on_the_same_state_directory_is_refused() {
    let mut c = Cluster::new(&layout(1, 25445, 1000));
    c.start(1);
    c.wait_members(&[1], &[1]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aisexec"))
        .arg("-f")
        .arg("-c")
        .arg(c.config(1))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another aisexec"), "{stderr}");
}

#[test]
fn a_paused_daemon_says_it_was_not_scheduled() {
    let mut c = Cluster::new(&layout(1, 25465, 1000));
    c.start(1);
    c.wait_members(&[1], &[1]);
    // Stopped for longer than 80 % of the token timeout (1000 ms here): corosync's warning.
    c.signal(1, Signal::STOP);
    std::thread::sleep(Duration::from_millis(2500));
    c.signal(1, Signal::CONT);
    c.wait_line(1, "was not scheduled for");
}

/// Field `n` (1-based, as proc(5) numbers them) of `/proc/<pid>/stat`.
fn proc_stat_field(pid: u32, n: usize) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(n - 3).unwrap().parse().unwrap()
}

#[test]
fn sched_rr_asks_for_real_time_scheduling_and_locked_memory_or_says_why_not() {
    let mut c = Cluster::new(&layout(1, 25495, 1000));
    let text = std::fs::read_to_string(c.config(1)).unwrap();
    std::fs::write(
        c.config(1),
        text.replace("system {\n", "system {\n    sched_rr: yes\n"),
    )
    .unwrap();
    c.start(1);
    c.wait_members(&[1], &[1]);
    let pid = c.pid(1);
    // proc(5): field 41 is the scheduling policy; SCHED_RR is 2.
    let rr = proc_stat_field(pid, 41) == 2;
    assert!(
        rr || c
            .lines(1)
            .iter()
            .any(|l| l.contains("could not set SCHED_RR"))
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let locked = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().unwrap())
        .unwrap();
    assert!(
        locked > 0
            || c.lines(1)
                .iter()
                .any(|l| l.contains("could not lock memory"))
    );
}

#[test]
fn without_f_the_daemon_detaches_into_its_own_session() {
    let c = Cluster::new(&layout(1, 25505, 1000));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aisexec"))
        .arg("-c")
        .arg(c.config(1))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pid: u32 = stdout
        .trim()
        .strip_prefix("aisexec running in the background (pid ")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap();
    let pid_file = c.dir.path().join("state1/aisexec.pid");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&pid_file)
        .unwrap_or_default()
        .trim()
        != pid.to_string()
    {
        assert!(
            start.elapsed() < common::PATIENCE,
            "the daemon never took its state directory"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // proc(5): field 6 is the session id; setsid made the daemon its leader.
    assert_eq!(proc_stat_field(pid, 6), i64::from(pid));
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process(pid, Signal::TERM).unwrap();
}
