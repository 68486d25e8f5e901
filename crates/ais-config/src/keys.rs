//! THE TABLE: every section and every key of corosync.conf(5) and votequorum(5), plus our
//! extensions, with what we do with each. Audit here.
//!
//! A key is `implemented` (typed into [`crate::Config`]), an `extension` of ours (typed too),
//! or `ignored` (accepted so that corosync files keep working, with a warning naming it:
//! `totem.knet_mtu: accepted but not implemented; ignored`). A key or section missing from
//! these tables is an error that suggests the nearest known name. Each row carries a sample
//! value; a test sets every key to its sample and checks the row's status holds.

use crate::keyword::{
    Cipher, DebugLevel, Hash, IpVersion, KnetTransport, LinkMode, LogPriority, QuorumProvider,
    SyslogFacility, Timestamp, Transport,
};
use crate::lower::Draft;
use crate::value::{
    Read, account, boolean, count, integer, ip, ipc_type, keyword, millis, millis_nonzero,
    multicast, node_addr, node_id, nonzero, nonzero_up_to, process_priority, small, text,
    tie_breaker,
};

/// Every section we know, by where it may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SectionId {
    Totem,
    Interface,
    Nodelist,
    Node,
    Quorum,
    Device,
    Logging,
    LoggerSubsys,
    System,
    Resources,
    Nozzle,
    Uidgid,
}

/// What a repeated section means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Repeats merge into one, as corosync merges keys into one cmap path.
    Merge,
    /// Each occurrence is a new entry (a link, a node, a subsystem).
    Each,
    /// Accepted with one warning; nothing inside is read.
    Ignore,
}

/// One section: its dotted path (the parent's path, a dot, its name).
pub(crate) struct SectionSpec {
    pub(crate) id: SectionId,
    pub(crate) path: &'static str,
    pub(crate) repeat: Repeat,
}

/// Every section, parents before children.
pub(crate) const SECTIONS: &[SectionSpec] = &[
    SectionSpec {
        id: SectionId::Totem,
        path: "totem",
        repeat: Repeat::Merge,
    },
    SectionSpec {
        id: SectionId::Interface,
        path: "totem.interface",
        repeat: Repeat::Each,
    },
    SectionSpec {
        id: SectionId::Nodelist,
        path: "nodelist",
        repeat: Repeat::Merge,
    },
    SectionSpec {
        id: SectionId::Node,
        path: "nodelist.node",
        repeat: Repeat::Each,
    },
    SectionSpec {
        id: SectionId::Quorum,
        path: "quorum",
        repeat: Repeat::Merge,
    },
    // corosync-qdevice's settings (model, net {}, heuristics {}): not implemented.
    SectionSpec {
        id: SectionId::Device,
        path: "quorum.device",
        repeat: Repeat::Ignore,
    },
    SectionSpec {
        id: SectionId::Logging,
        path: "logging",
        repeat: Repeat::Merge,
    },
    SectionSpec {
        id: SectionId::LoggerSubsys,
        path: "logging.logger_subsys",
        repeat: Repeat::Each,
    },
    SectionSpec {
        id: SectionId::System,
        path: "system",
        repeat: Repeat::Merge,
    },
    SectionSpec {
        id: SectionId::Resources,
        path: "resources",
        repeat: Repeat::Merge,
    },
    SectionSpec {
        id: SectionId::Nozzle,
        path: "nozzle",
        repeat: Repeat::Merge,
    },
    SectionSpec {
        id: SectionId::Uidgid,
        path: "uidgid",
        repeat: Repeat::Merge,
    },
];

/// Writes one value into the draft configuration, or says what was expected.
pub(crate) type Setter = fn(&mut Draft, &str) -> Read<()>;

/// What we do with a key.
#[derive(Clone, Copy)]
pub(crate) enum Status {
    /// corosync's key, typed into `Config`.
    Implemented(Setter),
    /// Our own key, typed into `Config`.
    Extension(Setter),
    /// corosync's key, accepted with a warning and otherwise ignored.
    Ignored,
}

/// One key: its full dotted path, a valid sample value and what we do with it.
pub(crate) struct KeySpec {
    pub(crate) path: &'static str,
    pub(crate) sample: &'static str,
    pub(crate) status: Status,
}

impl KeySpec {
    /// The section part of the path: `totem.interface` for `totem.interface.ttl`.
    pub(crate) fn section(&self) -> &'static str {
        self.path
            .rsplit_once('.')
            .map_or("", |(section, _)| section)
    }

    /// The key as written in the file: `ttl`.
    pub(crate) fn name(&self) -> &'static str {
        self.path
            .rsplit_once('.')
            .map_or(self.path, |(_, name)| name)
    }
}

/// `implemented!("totem.token", "3000", |d, v| d.config.totem.token = millis_nonzero(v)?)`
macro_rules! implemented {
    ($path:literal, $sample:literal, |$d:ident, $v:ident| $set:expr) => {
        KeySpec {
            path: $path,
            sample: $sample,
            status: Status::Implemented(|$d, $v| {
                $set;
                Ok(())
            }),
        }
    };
}

/// As `implemented!`, for our own keys.
macro_rules! extension {
    ($path:literal, $sample:literal, |$d:ident, $v:ident| $set:expr) => {
        KeySpec {
            path: $path,
            sample: $sample,
            status: Status::Extension(|$d, $v| {
                $set;
                Ok(())
            }),
        }
    };
}

/// `ignored!("totem.knet_mtu", "0")`
macro_rules! ignored {
    ($path:literal, $sample:literal) => {
        KeySpec {
            path: $path,
            sample: $sample,
            status: Status::Ignored,
        }
    };
}

/// Reads a keyword enum, listing its spellings on error.
macro_rules! kw {
    ($ty:ty, $v:expr) => {
        keyword($v, <$ty>::from_keyword, <$ty>::ALL, <$ty>::keyword)
    };
}

/// Every key, grouped by section in corosync.conf(5) order.
pub(crate) const KEYS: &[KeySpec] = &[
    // totem {}: identity and crypto.
    implemented!("totem.version", "2", |_d, v| integer(v, 2, 2, "2")?),
    implemented!("totem.cluster_name", "ais", |d, v| {
        d.config.totem.cluster_name = Some(text(v, "a cluster name")?)
    }),
    implemented!("totem.nodeid", "1", |d, v| d.config.totem.nodeid =
        Some(node_id(v)?)),
    implemented!("totem.transport", "udpu", |d, v| {
        d.config.totem.transport = kw!(Transport, v)?
    }),
    implemented!("totem.ip_version", "ipv4-6", |d, v| d.ip_version =
        Some(kw!(IpVersion, v)?)),
    implemented!("totem.link_mode", "passive", |d, v| {
        d.config.totem.link_mode = kw!(LinkMode, v)?
    }),
    implemented!("totem.crypto_cipher", "aes256", |d, v| d.cipher =
        Some(kw!(Cipher, v)?)),
    implemented!("totem.crypto_hash", "sha256", |d, v| d.hash =
        Some(kw!(Hash, v)?)),
    implemented!("totem.secauth", "on", |d, v| d.secauth = Some(boolean(v)?)),
    implemented!("totem.keyfile", "/etc/corosync/authkey", |d, v| {
        d.config.totem.keyfile = Some(text(v, "a file path")?)
    }),
    implemented!("totem.netmtu", "1500", |d, v| d.config.totem.netmtu =
        count(v, 256, 65536)?),
    ignored!("totem.clear_node_high_bit", "yes"), // every node needs a nodeid here
    ignored!("totem.crypto_model", "nss"),
    ignored!("totem.key", "0123456789abcdef"), // the key lives in keyfile only
    ignored!("totem.config_version", "0"),
    ignored!("totem.cluster_uuid", "9fadb935ecf84231a8672d3291c9d5d6"), // written by pcs
    // totem {}: timers and constants of the protocol.
    implemented!("totem.token", "3000", |d, v| d.config.totem.token =
        millis_nonzero(v)?),
    implemented!("totem.token_coefficient", "650", |d, v| {
        d.config.totem.token_coefficient = millis(v)?
    }),
    implemented!("totem.token_retransmit", "700", |d, v| {
        d.config.totem.token_retransmit = Some(millis_nonzero(v)?)
    }),
    implemented!("totem.hold", "500", |d, v| d.config.totem.hold =
        Some(millis_nonzero(v)?)),
    implemented!("totem.token_retransmits_before_loss_const", "4", |d, v| {
        d.config.totem.token_retransmits_before_loss_const = nonzero(v)?.get()
    }),
    implemented!("totem.join", "50", |d, v| d.config.totem.join =
        millis_nonzero(v)?),
    implemented!("totem.send_join", "0", |d, v| d.config.totem.send_join =
        millis(v)?),
    implemented!("totem.consensus", "4000", |d, v| {
        d.config.totem.consensus = Some(millis_nonzero(v)?)
    }),
    implemented!("totem.merge", "200", |d, v| d.config.totem.merge =
        millis_nonzero(v)?),
    implemented!("totem.downcheck", "1000", |d, v| d.config.totem.downcheck =
        millis(v)?),
    implemented!("totem.fail_recv_const", "2500", |d, v| {
        d.config.totem.fail_recv_const = nonzero(v)?
    }),
    implemented!("totem.seqno_unchanged_const", "30", |d, v| {
        d.config.totem.seqno_unchanged_const = count(v, 0, u32::MAX)?
    }),
    implemented!("totem.miss_count_const", "5", |d, v| {
        d.config.totem.miss_count_const = nonzero(v)?
    }),
    implemented!("totem.window_size", "50", |d, v| {
        d.config.totem.window_size = nonzero_up_to(v, 8192)?
    }),
    implemented!("totem.max_messages", "17", |d, v| d
        .config
        .totem
        .max_messages =
        nonzero(v)?),
    extension!("totem.fail_fast", "0", |d, v| d.config.totem.fail_fast =
        millis(v)?),
    ignored!("totem.token_warning", "75"),
    ignored!("totem.heartbeat_failures_allowed", "0"),
    ignored!("totem.max_network_delay", "50"),
    ignored!("totem.cancel_token_hold_on_retransmit", "no"),
    ignored!("totem.block_unlisted_ips", "yes"),
    // totem {}: kronosnet tuning.
    ignored!("totem.knet_compression_model", "none"),
    ignored!("totem.knet_compression_threshold", "100"),
    ignored!("totem.knet_compression_level", "1"),
    ignored!("totem.knet_pmtud_interval", "30"),
    ignored!("totem.knet_mtu", "0"),
    // totem { interface {} }: one per link.
    implemented!("totem.interface.linknumber", "0", |d, v| {
        d.interface().linknumber = small(v, 0, 7, "a link number")?
    }),
    implemented!("totem.interface.bindnetaddr", "127.0.0.1", |d, v| {
        d.interface().bindnetaddr = Some(ip(v)?)
    }),
    implemented!("totem.interface.mcastaddr", "239.255.1.1", |d, v| {
        d.interface().mcastaddr = Some(multicast(v)?)
    }),
    implemented!("totem.interface.mcastport", "5405", |d, v| {
        d.interface().mcastport = port(v)?
    }),
    implemented!("totem.interface.ttl", "1", |d, v| {
        d.interface().ttl = small(v, 0, 255, "a TTL")?
    }),
    implemented!("totem.interface.knet_link_priority", "1", |d, v| {
        d.interface().knet_link_priority = Some(small(v, 0, 255, "a priority")?)
    }),
    implemented!("totem.interface.knet_ping_interval", "200", |d, v| {
        d.interface().knet_ping_interval = Some(millis_nonzero(v)?)
    }),
    implemented!("totem.interface.knet_ping_timeout", "1000", |d, v| {
        d.interface().knet_ping_timeout = Some(millis_nonzero(v)?)
    }),
    implemented!("totem.interface.knet_ping_precision", "2048", |d, v| {
        d.interface().knet_ping_precision = Some(nonzero(v)?.get())
    }),
    implemented!("totem.interface.knet_pong_count", "2", |d, v| {
        d.interface().knet_pong_count = Some(nonzero(v)?.get())
    }),
    implemented!("totem.interface.knet_transport", "udp", |d, v| {
        d.interface().knet_transport = Some(kw!(KnetTransport, v)?)
    }),
    ignored!("totem.interface.broadcast", "yes"),
    // nodelist { node {} }
    implemented!("nodelist.node.nodeid", "1", |d, v| d.node().nodeid =
        node_id(v)?),
    implemented!("nodelist.node.name", "node1", |d, v| {
        d.node().name = Some(text(v, "a node name")?)
    }),
    implemented!("nodelist.node.ring0_addr", "127.0.0.1", |d, v| {
        d.node().ring_addrs[0] = Some(node_addr(v)?)
    }),
    implemented!("nodelist.node.ring1_addr", "127.0.0.1", |d, v| {
        d.node().ring_addrs[1] = Some(node_addr(v)?)
    }),
    implemented!("nodelist.node.ring2_addr", "127.0.0.1", |d, v| {
        d.node().ring_addrs[2] = Some(node_addr(v)?)
    }),
    implemented!("nodelist.node.ring3_addr", "127.0.0.1", |d, v| {
        d.node().ring_addrs[3] = Some(node_addr(v)?)
    }),
    implemented!("nodelist.node.ring4_addr", "127.0.0.1", |d, v| {
        d.node().ring_addrs[4] = Some(node_addr(v)?)
    }),
    implemented!("nodelist.node.ring5_addr", "127.0.0.1", |d, v| {
        d.node().ring_addrs[5] = Some(node_addr(v)?)
    }),
    implemented!("nodelist.node.ring6_addr", "127.0.0.1", |d, v| {
        d.node().ring_addrs[6] = Some(node_addr(v)?)
    }),
    implemented!("nodelist.node.ring7_addr", "127.0.0.1", |d, v| {
        d.node().ring_addrs[7] = Some(node_addr(v)?)
    }),
    implemented!("nodelist.node.quorum_votes", "1", |d, v| {
        d.node().quorum_votes = Some(count(v, 0, u32::MAX)?)
    }),
    // quorum {} (votequorum(5))
    implemented!("quorum.provider", "corosync_votequorum", |d, v| {
        d.config.quorum.provider = Some(kw!(QuorumProvider, v)?)
    }),
    implemented!("quorum.expected_votes", "2", |d, v| {
        d.config.quorum.expected_votes = Some(nonzero(v)?)
    }),
    implemented!("quorum.two_node", "1", |d, v| d.config.quorum.two_node =
        boolean(v)?),
    implemented!("quorum.wait_for_all", "1", |d, v| d.wait_for_all =
        Some(boolean(v)?)),
    implemented!("quorum.last_man_standing", "1", |d, v| {
        d.config.quorum.last_man_standing = boolean(v)?
    }),
    implemented!("quorum.last_man_standing_window", "10000", |d, v| {
        d.config.quorum.last_man_standing_window = millis_nonzero(v)?
    }),
    implemented!("quorum.auto_tie_breaker", "1", |d, v| {
        d.config.quorum.auto_tie_breaker = boolean(v)?
    }),
    implemented!("quorum.auto_tie_breaker_node", "1 3", |d, v| {
        d.config.quorum.auto_tie_breaker_node = tie_breaker(v)?
    }),
    implemented!("quorum.allow_downscale", "1", |d, v| {
        d.config.quorum.allow_downscale = boolean(v)?
    }),
    implemented!("quorum.expected_votes_tracking", "1", |d, v| {
        d.config.quorum.expected_votes_tracking = boolean(v)?
    }),
    implemented!("quorum.votes", "1", |d, v| {
        d.config.quorum.votes = Some(count(v, 0, u32::MAX)?)
    }),
    // logging {}
    implemented!("logging.to_stderr", "yes", |d, v| d
        .config
        .logging
        .to_stderr =
        boolean(v)?),
    implemented!("logging.to_logfile", "no", |d, v| d
        .config
        .logging
        .to_logfile =
        boolean(v)?),
    implemented!(
        "logging.logfile",
        "/var/log/corosync/corosync.log",
        |d, v| { d.config.logging.logfile = Some(text(v, "a file path")?) }
    ),
    implemented!("logging.to_syslog", "yes", |d, v| d
        .config
        .logging
        .to_syslog =
        boolean(v)?),
    implemented!("logging.syslog_facility", "local0", |d, v| {
        d.config.logging.syslog_facility = kw!(SyslogFacility, v)?
    }),
    implemented!("logging.syslog_priority", "info", |d, v| {
        d.config.logging.syslog_priority = kw!(LogPriority, v)?
    }),
    implemented!("logging.logfile_priority", "notice", |d, v| {
        d.config.logging.logfile_priority = kw!(LogPriority, v)?
    }),
    implemented!("logging.debug", "off", |d, v| d.config.logging.debug =
        kw!(DebugLevel, v)?),
    implemented!("logging.timestamp", "hires", |d, v| {
        d.config.logging.timestamp = kw!(Timestamp, v)?
    }),
    implemented!("logging.fileline", "off", |d, v| d
        .config
        .logging
        .fileline =
        boolean(v)?),
    implemented!("logging.function_name", "off", |d, v| {
        d.config.logging.function_name = boolean(v)?
    }),
    ignored!("logging.blackbox", "on"),
    // logging { logger_subsys {} }: overrides for one subsystem.
    implemented!("logging.logger_subsys.subsys", "QUORUM", |d, v| {
        d.subsys().subsys = text(v, "a subsystem name")?
    }),
    implemented!("logging.logger_subsys.to_stderr", "yes", |d, v| {
        d.subsys().to_stderr = Some(boolean(v)?)
    }),
    implemented!("logging.logger_subsys.to_logfile", "no", |d, v| {
        d.subsys().to_logfile = Some(boolean(v)?)
    }),
    implemented!("logging.logger_subsys.logfile", "/var/log/q.log", |d, v| {
        d.subsys().logfile = Some(text(v, "a file path")?)
    }),
    implemented!("logging.logger_subsys.to_syslog", "no", |d, v| {
        d.subsys().to_syslog = Some(boolean(v)?)
    }),
    implemented!("logging.logger_subsys.syslog_facility", "local1", |d, v| {
        d.subsys().syslog_facility = Some(kw!(SyslogFacility, v)?)
    }),
    implemented!(
        "logging.logger_subsys.syslog_priority",
        "warning",
        |d, v| { d.subsys().syslog_priority = Some(kw!(LogPriority, v)?) }
    ),
    implemented!("logging.logger_subsys.logfile_priority", "debug", |d, v| {
        d.subsys().logfile_priority = Some(kw!(LogPriority, v)?)
    }),
    implemented!("logging.logger_subsys.debug", "trace", |d, v| {
        d.subsys().debug = Some(kw!(DebugLevel, v)?)
    }),
    // system {}
    implemented!("system.state_dir", "/var/lib/corosync", |d, v| {
        d.config.system.state_dir = Some(text(v, "a directory path")?)
    }),
    // corosync's older name of state_dir.
    implemented!("system.run_dir", "/var/lib/corosync", |d, v| {
        d.config.system.state_dir = Some(text(v, "a directory path")?)
    }),
    implemented!("system.sched_rr", "yes", |d, v| d.config.system.sched_rr =
        boolean(v)?),
    implemented!("system.priority", "max", |d, v| {
        d.config.system.priority = Some(process_priority(v)?)
    }),
    extension!("system.ipc_prefix", "ais-a", |d, v| {
        d.config.system.ipc_prefix = Some(text(v, "a socket name prefix")?)
    }),
    implemented!("system.qb_ipc_type", "native", |d, v| {
        d.config.system.ipc_type = ipc_type(v)?
    }),
    ignored!("system.move_to_root_cgroup", "auto"),
    ignored!("system.allow_knet_handle_fallback", "no"),
    // resources {}, nozzle {}: not implemented.
    ignored!("resources.watchdog_device", "off"),
    ignored!("nozzle.name", "nozzle0"),
    ignored!("nozzle.ipaddr", "192.168.1.0"),
    ignored!("nozzle.ipprefix", "24"),
    ignored!("nozzle.macaddr", "54:54:12:24:12:12"),
    // uidgid {}: each line adds one entry.
    implemented!("uidgid.uid", "hacluster", |d, v| d
        .config
        .uidgid
        .uids
        .push(account(v)?)),
    implemented!("uidgid.gid", "haclient", |d, v| d
        .config
        .uidgid
        .gids
        .push(account(v)?)),
];

fn port(v: &str) -> Read<u16> {
    let n = integer(v, 1, 65535, "a UDP port")?;
    Ok(u16::try_from(n).unwrap_or(u16::MAX))
}

/// The row for `key` written directly in section `section` (a dotted path).
pub(crate) fn find_key(section: &str, key: &str) -> Option<&'static KeySpec> {
    KEYS.iter()
        .find(|k| k.section() == section && k.name() == key)
}

/// The section named `name` directly inside `parent` ("" for the top level).
pub(crate) fn find_section(parent: &str, name: &str) -> Option<&'static SectionSpec> {
    SECTIONS
        .iter()
        .find(|s| parent_of(s.path) == parent && name_of(s.path) == name)
}

/// The dotted path without its last component.
pub(crate) fn parent_of(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(parent, _)| parent)
}

/// The last component of a dotted path.
pub(crate) fn name_of(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, name)| name)
}

/// What this crate does with a key, as [`known_keys`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// corosync's key, typed into [`crate::Config`].
    Implemented,
    /// Our own key, typed into [`crate::Config`].
    Extension,
    /// corosync's key, accepted with a warning and ignored.
    Ignored,
}

/// One row of the key table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownKey {
    /// Dotted path: `totem.interface.mcastport`.
    pub path: &'static str,
    /// What this crate does with it.
    pub status: KeyStatus,
    /// A valid value, for documentation and tests.
    pub sample: &'static str,
}

/// Every key this crate knows, in table order, for tools and audits.
pub fn known_keys() -> impl Iterator<Item = KnownKey> {
    KEYS.iter().map(|k| {
        let status = match k.status {
            Status::Implemented(_) => KeyStatus::Implemented,
            Status::Extension(_) => KeyStatus::Extension,
            Status::Ignored => KeyStatus::Ignored,
        };
        KnownKey {
            path: k.path,
            status,
            sample: k.sample,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_key_lives_in_a_known_section_and_appears_once() {
        let mut seen = BTreeSet::new();
        for key in KEYS {
            assert!(
                SECTIONS.iter().any(|s| s.path == key.section()),
                "{}",
                key.path
            );
            assert!(seen.insert(key.path), "{} listed twice", key.path);
        }
        for section in SECTIONS {
            let parent = parent_of(section.path);
            assert!(parent.is_empty() || SECTIONS.iter().any(|s| s.path == parent));
        }
    }

    #[test]
    fn lookups_use_the_section_path() {
        assert_eq!(
            find_key("totem.interface", "ttl").map(|k| k.path),
            Some("totem.interface.ttl")
        );
        assert!(find_key("totem", "ttl").is_none());
        assert_eq!(
            find_section("quorum", "device").map(|s| s.id),
            Some(SectionId::Device)
        );
    }

    /// A file with `key: sample` in its section, beside a minimal one-node cluster.
    fn file_setting(key: &KnownKey) -> String {
        let (section, name) = key.path.rsplit_once('.').unwrap_or(("", key.path));
        let line = format!("{name}: {}", key.sample);
        let mut node = vec!["nodeid: 1".to_owned(), "ring0_addr: 127.0.0.1".to_owned()];
        if section == "nodelist.node" {
            node.retain(|l| !l.starts_with(&format!("{name}:")));
        }
        let mut totem = String::new();
        let mut other = String::new();
        match section {
            "totem" => totem = line,
            "totem.interface" => totem = format!("interface {{\n{line}\n}}"),
            "nodelist.node" => node.push(line),
            "logging.logger_subsys" => {
                let subsys = if name == "subsys" {
                    String::new()
                } else {
                    "subsys: X".into()
                };
                other = format!("logging {{\nlogger_subsys {{\n{subsys}\n{line}\n}}\n}}");
            }
            _ => other = format!("{section} {{\n{line}\n}}"),
        }
        let node = node.join("\n");
        format!("totem {{\n{totem}\n}}\nnodelist {{\nnode {{\n{node}\n}}\n}}\n{other}\n")
    }

    #[test]
    fn every_key_set_to_its_sample_behaves_as_its_row_says() {
        const IGNORED: &str = "accepted but not implemented; ignored";
        for key in known_keys() {
            let text = file_setting(&key);
            let parsed = crate::parse(&text, "audit.conf")
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", key.path));
            let ignored = parsed
                .warnings
                .iter()
                .any(|w| w.path == key.path && w.message == IGNORED);
            assert_eq!(ignored, key.status == KeyStatus::Ignored, "{}", key.path);
        }
    }
}
