//! The configuration as corosync's cmap shows it: one dotted key per item, in file order
//! (`exec/coroparse.c`). Repeated sections get an index (`nodelist.node.0.`), interfaces
//! their link number (`totem.interface.0.`), logger sections their subsystem
//! (`logging.logger_subsys.QUORUM.`). `uidgid {}` items are left out: corosync publishes
//! them as `uidgid.config.uid.<number>`, and only the daemon can turn a user or group name
//! into a number (through the system's name service), so it publishes them itself.
//! Values stay the text of the file except the keys corosync stores as numbers.

use crate::diagnostic::Diagnostics;
use crate::tree::{self, Entry, Section};

/// One key's value, typed as corosync types it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlatValue {
    /// Text (most keys).
    Str(String),
    /// An 8-bit flag or small number (`quorum.two_node`, …).
    U8(u8),
    /// A port.
    U16(u16),
    /// A count or a time in milliseconds.
    U32(u32),
    /// `totem.config_version`.
    U64(u64),
}

/// The flat keys of `text`. Meant for a configuration that parsed: items whose numeric
/// keys do not hold a number stay text.
pub fn flatten(text: &str) -> Vec<(String, FlatValue)> {
    let mut diagnostics = Diagnostics::new("");
    let root = tree::build(text, &mut diagnostics);
    let mut out = Vec::new();
    walk(&root, "", &mut out);
    out
}

fn walk(section: &Section<'_>, path: &str, out: &mut Vec<(String, FlatValue)>) {
    let mut node_index = 0;
    for entry in &section.entries {
        match entry {
            Entry::Item(item) => {
                if (path == "uidgid" && matches!(item.key, "uid" | "gid"))
                    || (path.starts_with("totem.interface.")
                        && matches!(item.key, "linknumber" | "ringnumber"))
                    || (path.starts_with("logging.logger_subsys.") && item.key == "subsys")
                {
                    continue;
                }
                let key = join(path, item.key);
                let value = typed(&key, item.value);
                out.push((key, value));
            }
            Entry::Section(sub) => {
                let sub_path = match (path, sub.name) {
                    ("nodelist", "node") => {
                        node_index += 1;
                        format!("nodelist.node.{}", node_index - 1)
                    }
                    ("totem", "interface") => {
                        let link = item_value(sub, &["linknumber", "ringnumber"]).unwrap_or("0");
                        format!("totem.interface.{link}")
                    }
                    ("logging", "logger_subsys") => {
                        let subsys = item_value(sub, &["subsys"]).unwrap_or("unknown");
                        format!("logging.logger_subsys.{subsys}")
                    }
                    _ => join(path, sub.name),
                };
                walk(sub, &sub_path, out);
            }
        }
    }
}

fn item_value<'a>(section: &Section<'a>, keys: &[&str]) -> Option<&'a str> {
    section.entries.iter().find_map(|e| match e {
        Entry::Item(item) if keys.contains(&item.key) => Some(item.value),
        _ => None,
    })
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// corosync's types for the keys it does not keep as text.
fn typed(key: &str, value: &str) -> FlatValue {
    let last = key.rsplit('.').next().unwrap_or(key);
    let kind = if key.starts_with("totem.interface.") {
        match last {
            "mcastport" => 'h',
            "ttl" | "knet_link_priority" => 'b',
            "knet_ping_interval"
            | "knet_ping_timeout"
            | "knet_ping_precision"
            | "knet_pong_count" => 'w',
            _ => 's',
        }
    } else if key.starts_with("nodelist.node.") {
        match last {
            "nodeid" | "quorum_votes" => 'w',
            _ => 's',
        }
    } else if key.starts_with("quorum.") {
        match last {
            "expected_votes"
            | "votes"
            | "last_man_standing_window"
            | "timeout"
            | "sync_timeout" => 'w',
            "two_node"
            | "wait_for_all"
            | "last_man_standing"
            | "auto_tie_breaker"
            | "allow_downscale"
            | "expected_votes_tracking" => 'b',
            _ => 's',
        }
    } else if let Some(totem_key) = key.strip_prefix("totem.") {
        match totem_key {
            "config_version" => 'q',
            "version"
            | "nodeid"
            | "threads"
            | "token"
            | "token_coefficient"
            | "token_retransmit"
            | "token_warning"
            | "hold"
            | "token_retransmits_before_loss_const"
            | "join"
            | "send_join"
            | "consensus"
            | "merge"
            | "downcheck"
            | "fail_recv_const"
            | "seqno_unchanged_const"
            | "heartbeat_failures_allowed"
            | "max_network_delay"
            | "window_size"
            | "max_messages"
            | "miss_count_const"
            | "knet_pmtud_interval"
            | "knet_mtu"
            | "knet_compression_threshold"
            | "netmtu" => 'w',
            _ => 's',
        }
    } else {
        's'
    };
    let text = || FlatValue::Str(value.to_owned());
    match kind {
        'b' => value.parse().map(FlatValue::U8).unwrap_or_else(|_| text()),
        'h' => value.parse().map(FlatValue::U16).unwrap_or_else(|_| text()),
        'w' => value.parse().map(FlatValue::U32).unwrap_or_else(|_| text()),
        'q' => value.parse().map(FlatValue::U64).unwrap_or_else(|_| text()),
        _ => text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_as_corosync_names_them() {
        let text = "totem {\n version: 2\n cluster_name: c\n interface {\n  linknumber: 1\n  \
                    mcastport: 5405\n }\n}\nnodelist {\n node {\n  nodeid: 1\n  ring0_addr: \
                    10.0.0.1\n }\n node {\n  nodeid: 2\n  name: b\n }\n}\nquorum {\n provider: \
                    corosync_votequorum\n two_node: 1\n}\nlogging {\n to_stderr: yes\n \
                    logger_subsys {\n  subsys: QUORUM\n  debug: on\n }\n}\nuidgid {\n gid: \
                    haclient\n}\n";
        let flat = flatten(text);
        let want = vec![
            ("totem.version", FlatValue::U32(2)),
            ("totem.cluster_name", FlatValue::Str("c".into())),
            ("totem.interface.1.mcastport", FlatValue::U16(5405)),
            ("nodelist.node.0.nodeid", FlatValue::U32(1)),
            (
                "nodelist.node.0.ring0_addr",
                FlatValue::Str("10.0.0.1".into()),
            ),
            ("nodelist.node.1.nodeid", FlatValue::U32(2)),
            ("nodelist.node.1.name", FlatValue::Str("b".into())),
            (
                "quorum.provider",
                FlatValue::Str("corosync_votequorum".into()),
            ),
            ("quorum.two_node", FlatValue::U8(1)),
            ("logging.to_stderr", FlatValue::Str("yes".into())),
            (
                "logging.logger_subsys.QUORUM.debug",
                FlatValue::Str("on".into()),
            ),
        ];
        let got: Vec<(&str, FlatValue)> =
            flat.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        assert_eq!(got, want);
    }
}
