//! A small network of real hosts for tests: each host a network namespace, wired by veth
//! pairs to bridges in a "switch" namespace, all created here and removed on drop. Needs
//! root and `ip netns`; `Lab::new` says why not and returns `None` otherwise.
//!
//! Addresses are 10.77.0.N (link 0) and 10.77.1.N (link 1), inside namespaces the test made.

use std::process::Command;

use super::{Cluster, Layout, cannot_run, node_name};

/// A switch namespace with one bridge per link and `hosts` host namespaces.
pub struct Lab {
    prefix: String,
    hosts: u32,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn must(args: &[&str]) {
    assert!(ip(args), "ip {} failed", args.join(" "));
}

impl Lab {
    /// Builds the lab, or says why it cannot and returns None.
    pub fn new(tag: &str, hosts: u32, links: u32) -> Option<Self> {
        if !rustix::process::geteuid().is_root() {
            cannot_run("network-namespace tests need root (ip netns, veth, bridges)");
            return None;
        }
        let prefix = format!("ais{tag}{}", std::process::id() % 100_000);
        let sw = format!("{prefix}sw");
        // Namespaces left by a crashed earlier run with the same pid would make `add` fail.
        for h in 1..=hosts {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("{prefix}h{h}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &sw])
            .stderr(std::process::Stdio::null())
            .status();
        if !ip(&["netns", "add", &sw]) {
            cannot_run("`ip netns add` is not permitted here");
            return None;
        }
        let lab = Self { prefix, hosts };
        for link in 0..links {
            let br = format!("br{link}");
            must(&["-n", &sw, "link", "add", &br, "type", "bridge"]);
            // Flood multicast: no IGMP querier lives on this little switch.
            must(&[
                "-n",
                &sw,
                "link",
                "set",
                &br,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ]);
            must(&["-n", &sw, "link", "set", &br, "up"]);
        }
        for h in 1..=hosts {
            let ns = lab.host(h);
            must(&["netns", "add", &ns]);
            must(&["-n", &ns, "link", "set", "lo", "up"]);
            for link in 0..links {
                let port = format!("h{h}l{link}");
                let eth = format!("eth{link}");
                must(&[
                    "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", &eth, "netns",
                    &ns,
                ]);
                must(&[
                    "-n",
                    &sw,
                    "link",
                    "set",
                    &port,
                    "master",
                    &format!("br{link}"),
                    "up",
                ]);
                must(&[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("10.77.{link}.{h}/24"),
                    "dev",
                    &eth,
                ]);
                let v6 = format!("fd77:{link}::{h}/64");
                must(&["-n", &ns, "addr", "add", &v6, "dev", &eth, "nodad"]);
                must(&["-n", &ns, "link", "set", &eth, "up"]);
            }
            must(&["-n", &ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
        }
        Some(lab)
    }

    pub fn host(&self, h: u32) -> String {
        format!("{}h{h}", self.prefix)
    }

    pub fn set_link(&self, h: u32, link: u32, up: bool) {
        must(&[
            "-n",
            &self.host(h),
            "link",
            "set",
            &format!("eth{link}"),
            if up { "up" } else { "down" },
        ]);
    }

    /// Splits the hosts into groups that cannot reach each other (blackhole routes to the
    /// other groups' link-0 addresses, both ways), replacing any earlier split.
    pub fn partition(&self, groups: &[&[u32]]) {
        self.heal();
        for (g, group) in groups.iter().enumerate() {
            for (o, other) in groups.iter().enumerate() {
                if g == o {
                    continue;
                }
                for &h in *group {
                    for &peer in *other {
                        must(&[
                            "-n",
                            &self.host(h),
                            "route",
                            "add",
                            "blackhole",
                            &format!("{}/32", link0(peer)),
                        ]);
                    }
                }
            }
        }
    }

    /// Removes every split made by [`Lab::partition`].
    pub fn heal(&self) {
        for h in 1..=self.hosts {
            for peer in 1..=self.hosts {
                let _ = Command::new("ip")
                    .args(["-n", &self.host(h), "route", "del", "blackhole"])
                    .arg(format!("{}/32", link0(peer)))
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }

    /// Runs `program` inside host `h` and returns its standard output and exit code.
    pub fn run(&self, h: u32, program: &str, args: &[&str]) -> (String, i32) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.host(h), program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }

    pub fn start(&self, c: &mut Cluster, h: u32) {
        let ns = self.host(h);
        c.start_with(h, &["ip", "netns", "exec", &ns]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for h in 1..=self.hosts {
            ip(&["netns", "del", &self.host(h)]);
        }
        ip(&["netns", "del", &format!("{}sw", self.prefix)]);
    }
}

/// Link-0 address of host `n`.
pub fn link0(n: u32) -> String {
    format!("10.77.0.{n}")
}

impl Layout {
    /// `count` lab hosts on link 0: each finds its own nodelist entry by its interface
    /// addresses, and serves corosync's own IPC names (each host has its own), as clients
    /// expect.
    pub fn hosts(count: u32) -> Self {
        Self {
            count,
            addr: link0,
            port: 5405,
            token_ms: 1000,
            totem_extra: String::new(),
            interface_extra: String::new(),
            addr1: None,
            explicit_nodeid: false,
            ipc_prefixed: false,
            ipc_type: "native",
            extra_sections: String::new(),
            name: node_name,
        }
    }
}
