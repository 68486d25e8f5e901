//! Real hosts: each node in its own network namespace, wired by veth pairs to bridges in a
//! "switch" namespace, all created by the test and removed afterwards. Needs root and
//! `ip netns`; skips with a message otherwise.
//!
//! Addresses are 10.77.0.N (link 0) and 10.77.1.N (link 1), inside namespaces the test made.

#![allow(clippy::disallowed_methods)] // Tests sleep and read the clock.

mod common;

use std::time::Duration;

use common::lab::Lab;
use common::{Cluster, Layout};

fn link1(n: u32) -> String {
    format!("10.77.1.{n}")
}

fn link0_v6(n: u32) -> String {
    format!("fd77:0::{n}")
}

#[test]
fn three_hosts_with_udpu_form_a_ring_and_survive_a_kill() {
    let Some(lab) = Lab::new("u", 3, 1) else {
        return;
    };
    let mut c = Cluster::new(&Layout::hosts(3));
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    c.kill(2);
    c.wait_members(&[1, 3], &[1, 3]);
    lab.start(&mut c, 2);
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
}

#[test]
fn three_hosts_with_multicast_form_a_ring() {
    let Some(lab) = Lab::new("m", 3, 1) else {
        return;
    };
    let mut layout = Layout::hosts(3);
    layout.totem_extra = "    transport: udp\n".into();
    layout.interface_extra = "        mcastaddr: 239.192.77.1\n".into();
    let mut c = Cluster::new(&layout);
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    c.kill(3);
    c.wait_members(&[1, 2], &[1, 2]);
}

#[test]
fn two_links_one_down_changes_nothing_both_down_drops_the_node() {
    let Some(lab) = Lab::new("l", 3, 2) else {
        return;
    };
    let mut layout = Layout::hosts(3);
    layout.addr1 = Some(link1);
    let mut c = Cluster::new(&layout);
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    c.wait_line(1, "link 1 to node 3 is up");
    let formed = c.membership_count(1);

    // Link 0 of host 3 fails: the ring moves to link 1 and nobody notices but the log.
    let mark = c.mark(1);
    lab.set_link(3, 0, false);
    c.wait_line_after(
        1,
        mark,
        "link 0 to node 3 is down; node 3 is reachable on another link",
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        c.membership_count(1),
        formed,
        "one link down must not change membership"
    );
    assert_eq!(c.members(1).unwrap(), [1, 2, 3]);

    // Both links down: host 3 is gone.
    lab.set_link(3, 1, false);
    c.wait_members(&[1, 2], &[1, 2]);

    // Both back: host 3 returns.
    lab.set_link(3, 0, true);
    lab.set_link(3, 1, true);
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
}

#[test]
fn three_hosts_over_ipv6_form_a_ring() {
    let Some(lab) = Lab::new("6", 3, 1) else {
        return;
    };
    let mut layout = Layout::hosts(3);
    layout.addr = link0_v6;
    let mut c = Cluster::new(&layout);
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
}

#[test]
fn active_link_mode_survives_the_loss_of_either_link() {
    let Some(lab) = Lab::new("a", 3, 2) else {
        return;
    };
    let mut layout = Layout::hosts(3);
    layout.addr1 = Some(link1);
    layout.totem_extra = "    link_mode: active\n".into();
    let mut c = Cluster::new(&layout);
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    c.wait_line(1, "link 1 to node 2 is up");
    let formed = c.membership_count(1);
    let mark = c.mark(1);
    lab.set_link(2, 1, false);
    c.wait_line_after(
        1,
        mark,
        "link 1 to node 2 is down; node 2 is reachable on another link",
    );
    let mark = c.mark(1);
    lab.set_link(2, 1, true);
    c.wait_line_after(1, mark, "link 1 to node 2 is up");
    let mark = c.mark(1);
    lab.set_link(2, 0, false);
    c.wait_line_after(
        1,
        mark,
        "link 0 to node 2 is down; node 2 is reachable on another link",
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        c.membership_count(1),
        formed,
        "losing one link at a time changes no membership"
    );
}

#[test]
fn three_hosts_with_multicast_and_no_nodelist_find_each_other() {
    let Some(lab) = Lab::new("n", 3, 1) else {
        return;
    };
    let mut c = Cluster::new(&Layout::hosts(3));
    // corosync 2 style: no nodelist; the interface comes from bindnetaddr, the node id from
    // the IPv4 address, and peers are learned from authenticated packets.
    for h in 1..=3 {
        let text = format!(
            "totem {{\n    version: 2\n    cluster_name: test\n    token: 1000\n    transport: udp\n    \
             keyfile: {key}\n    interface {{\n        linknumber: 0\n        bindnetaddr: 10.77.0.0\n        \
             mcastaddr: 239.192.77.2\n        mcastport: 5405\n    }}\n}}\n\
             logging {{\n    to_stderr: yes\n}}\nsystem {{\n    state_dir: {state}\n}}\n",
            key = c.key().display(),
            state = c.dir.path().join(format!("state{h}")).display(),
        );
        std::fs::write(c.config(h), text).unwrap();
    }
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    let ids: Vec<u32> = (1..=3)
        .map(|h| u32::from(std::net::Ipv4Addr::new(10, 77, 0, h as u8)))
        .collect();
    c.wait_members(&[1, 2, 3], &ids);
    c.kill(3);
    c.wait_members(&[1, 2], &ids[..2]);
}
