//! Unmodified corosync clients against `aisexec`: Debian's `corosync-cpgtool`, and a program
//! of ours built against Debian's libcpg (`tests/c/cpg_order.c`), on three real hosts
//! (network namespaces), in both IPC modes. Each host runs one daemon under corosync's own
//! IPC names, as a real cluster does.
//!
//! Needs root, `ip netns`, a C compiler and libcpg's headers (Debian's `libcpg-dev`); skips
//! with a message otherwise.

#![allow(clippy::disallowed_methods)] // Tests spawn processes and read the clock.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::lab::Lab;
use common::{Cluster, Layout, build_c_client, cannot_run};

fn hosts_layout(ipc_type: &'static str) -> Layout {
    Layout {
        ipc_type,
        ..Layout::hosts(3)
    }
}

fn in_host(lab: &Lab, h: u32, program: &Path, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &lab.host(h)])
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a client")
}

fn finish(child: Child) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "client failed ({status}): {stdout}{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

/// Three hosts, one daemon each in `ipc_type` mode: libcpg clients on every host join one
/// group, `corosync-cpgtool` lists it, every client multicasts, and all deliver the same
/// sequence.
fn libcpg_clients_agree(tag: &str, ipc_type: &'static str) {
    let Some(lab) = Lab::new(tag, 3, 1) else {
        return;
    };
    let mut c = Cluster::new(&hosts_layout(ipc_type));
    let Some(cpg_order) = build_c_client(c.dir.path(), "cpg_order", "cpg") else {
        return;
    };
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);

    // Two clients join and wait for a third member: the group is visible meanwhile.
    let count = "3000";
    let first: Vec<Child> = (1..=2)
        .map(|h| in_host(&lab, h, &cpg_order, &["ordertest", "3", count, "200"]))
        .collect();
    let cpgtool = Path::new("/usr/sbin/corosync-cpgtool");
    if cpgtool.exists() {
        let mut listed = String::new();
        for _ in 0..100 {
            let out = Command::new("ip")
                .args(["netns", "exec", &lab.host(3)])
                .arg(cpgtool)
                .output()
                .unwrap();
            listed = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "corosync-cpgtool failed: {listed}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            if listed.matches("ordertest").count() == 1 && members_listed(&listed) == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(listed.contains("ordertest"), "{listed}");
        assert_eq!(members_listed(&listed), 2, "{listed}");
        // Ours prints the same, byte for byte.
        match sibling_binary("ais-cpgtool") {
            Some(ours) => {
                let out = Command::new("ip")
                    .args(["netns", "exec", &lab.host(3)])
                    .arg(ours)
                    .output()
                    .unwrap();
                assert!(out.status.success());
                assert_eq!(String::from_utf8_lossy(&out.stdout), listed);
            }
            None => eprintln!("ais-cpgtool not built beside this test: comparison skipped"),
        }
    } else {
        eprintln!("corosync-cpgtool not installed: listing not checked");
    }
    let third = in_host(&lab, 3, &cpg_order, &["ordertest", "3", count, "200"]);
    let mut results: Vec<String> = first.into_iter().map(finish).collect();
    results.push(finish(third));
    for r in &results {
        assert!(r.contains("delivered=9000 senders=3"), "{r}");
        assert!(r.contains("fifo=ok"), "{r}");
    }
    assert_eq!(
        results[0], results[1],
        "nodes 1 and 2 delivered different sequences"
    );
    assert_eq!(
        results[0], results[2],
        "nodes 1 and 3 delivered different sequences"
    );

    // Messages above libcpg's IPC limit travel as PARTIAL_MCAST fragments and come back
    // whole, in one order. (Socket mode limits a datagram to the socket buffer instead.)
    if ipc_type == "native" {
        let big: Vec<Child> = (1..=3)
            .map(|h| in_host(&lab, h, &cpg_order, &["bigtest", "3", "3", "2500000"]))
            .collect();
        let results: Vec<String> = big.into_iter().map(finish).collect();
        for r in &results {
            assert!(r.contains("delivered=9 senders=3"), "{r}");
            assert!(r.contains("fifo=ok"), "{r}");
        }
        assert_eq!(results[0], results[1]);
        assert_eq!(results[0], results[2]);
    }
}

/// A binary of the workspace built into the same target directory as this test
/// (`cargo test --workspace` builds them all first).
fn sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join(name);
    bin.exists().then_some(bin)
}

/// Member lines of corosync-cpgtool's listing: they start with spaces and a pid.
fn members_listed(listing: &str) -> usize {
    listing
        .lines()
        .filter(|l| {
            l.starts_with(char::is_whitespace)
                && l.split_whitespace()
                    .next()
                    .is_some_and(|w| w.parse::<u32>().is_ok())
        })
        .count()
}

/// corosync-cpgtool's listing on host `h`, once it shows `members` member lines.
fn listing_with(lab: &Lab, h: u32, members: usize) -> String {
    let mut listed = String::new();
    for _ in 0..300 {
        let out = Command::new("ip")
            .args(["netns", "exec", &lab.host(h), "/usr/sbin/corosync-cpgtool"])
            .output()
            .unwrap();
        listed = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && members_listed(&listed) == members {
            return listed;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("host {h} never listed {members} members:\n{listed}");
}

/// A partition and its healing with libcpg clients joined on every host: each side sees the
/// other's processes leave (NODEDOWN), and after the merge every host lists the same group
/// membership again, rebuilt from the joinlists.
#[test]
fn group_membership_survives_a_partition_and_the_merge() {
    let Some(lab) = Lab::new("cp", 3, 1) else {
        return;
    };
    if !Path::new("/usr/sbin/corosync-cpgtool").exists() {
        cannot_run("corosync-cpgtool is not installed (apt install corosync)");
        return;
    }
    let mut c = Cluster::new(&hosts_layout("native"));
    let Some(cpg_order) = build_c_client(c.dir.path(), "cpg_order", "cpg") else {
        return;
    };
    for h in 1..=3 {
        lab.start(&mut c, h);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    // Members that wait for a 99th member: they stay joined until killed.
    let mut clients: Vec<Child> = (1..=3)
        .map(|h| in_host(&lab, h, &cpg_order, &["split", "99", "1", "64", "3600"]))
        .collect();
    let whole = listing_with(&lab, 1, 3);
    assert_eq!(listing_with(&lab, 2, 3), whole);
    assert_eq!(listing_with(&lab, 3, 3), whole);

    lab.set_link(3, 0, false);
    c.wait_members(&[1, 2], &[1, 2]);
    c.wait_members(&[3], &[3]);
    let majority = listing_with(&lab, 1, 2);
    assert_eq!(listing_with(&lab, 2, 2), majority);
    listing_with(&lab, 3, 1);

    lab.set_link(3, 0, true);
    c.wait_members(&[1, 2, 3], &[1, 2, 3]);
    let merged = listing_with(&lab, 1, 3);
    assert_eq!(merged, whole, "the merge restores the same membership");
    assert_eq!(listing_with(&lab, 2, 3), merged);
    assert_eq!(listing_with(&lab, 3, 3), merged);
    for client in &mut clients {
        let _ = client.kill();
        let _ = client.wait();
    }
    // Killed members are reported gone everywhere.
    for h in 1..=3 {
        listing_with(&lab, h, 0);
    }
}

#[test]
fn libcpg_clients_deliver_one_order_over_shared_memory() {
    libcpg_clients_agree("cs", "native");
}

#[test]
fn libcpg_clients_deliver_one_order_over_sockets() {
    libcpg_clients_agree("ck", "socket");
}
