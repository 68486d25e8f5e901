//! What the daemon publishes in cmap: the configuration as corosync's parser flattens it,
//! the settings in use (`runtime.config.*`), the members (`runtime.members.*`), and the
//! statistics map (`stats.*`: Totem, links, rejected packets, IPC, the sync layer).
//! Names and types follow corosync's where a key means the same thing, so operators'
//! scripts and `corosync-cmapctl` habits carry over; keys of ours use their own names.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ais_config::FlatValue;
use ais_ipc::{ConnStats, IpcStats};
use ais_services::votequorum::QuorumStatus;
use ais_services::{Keys, ServiceId, ServicesStats};
use ais_totem::{TotemConfig, TotemStats};
use ais_transport::{LinkStatus, TransportStats};
use ais_types::Instant;
use ais_wire::ipc::{CmapValue, CsStatus};

/// The services corosync lists under `internal_configuration.service.*` and
/// `runtime.services.*`, with their numbers.
const SERVICES: [(&str, ServiceId); 5] = [
    ("cmap", ServiceId::CMAP),
    ("cfg", ServiceId::CFG),
    ("cpg", ServiceId::CPG),
    ("quorum", ServiceId(3)),
    ("votequorum", ServiceId(5)),
];

/// The keys that come from the configuration file (replaced whole on reload).
pub(crate) fn config_keys(text: &str) -> Vec<(String, CmapValue)> {
    ais_config::flatten(text)
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                FlatValue::Str(s) => CmapValue::Str(s.into_bytes()),
                FlatValue::U8(n) => CmapValue::U8(n),
                FlatValue::U16(n) => CmapValue::U16(n),
                FlatValue::U32(n) => CmapValue::U32(n),
                FlatValue::U64(n) => CmapValue::U64(n),
            };
            (k, v)
        })
        .collect()
}

/// The prefixes [`config_keys`] fills, cleared on reload before the new file's keys go in.
/// Not `uidgid.`: its runtime keys are clients' (Pacemaker's), and the configuration's
/// `uidgid.config.` entries are published by [`uidgid_keys`].
pub(crate) const CONFIG_PREFIXES: [&str; 6] = [
    "totem.",
    "nodelist.node.",
    "quorum.",
    "logging.",
    "system.",
    "resources.",
];

/// Replaces the `uidgid.config.*` keys with the access policy's resolved entries (at start,
/// on reload, and when the `uidgid.d` directory changed); `uidgid.uid.*` and
/// `uidgid.gid.*`, which clients set, are left alone.
pub(crate) fn uidgid_keys(keys: &mut Keys, entries: &[(String, CmapValue)]) {
    keys.default
        .retain_prefixed(ais_services::cmap::ACCESS_CONFIG_PREFIX, |k| {
            entries.iter().any(|(key, _)| key == k)
        });
    for (key, value) in entries {
        keys.default.set(key, value.clone());
    }
}

/// Replaces the configuration keys with `text`'s: keys gone from the file are deleted,
/// changed ones modified (trackers hear of each), the rest left alone.
pub(crate) fn load_config_keys(keys: &mut Keys, text: &str, local_node_pos: Option<usize>) {
    let fresh: BTreeMap<String, CmapValue> = config_keys(text).into_iter().collect();
    for prefix in CONFIG_PREFIXES {
        keys.default
            .retain_prefixed(prefix, |k| fresh.contains_key(k));
    }
    for (k, v) in fresh {
        keys.default.set(&k, v);
    }
    match local_node_pos {
        Some(pos) => keys
            .default
            .set("nodelist.local_node_pos", CmapValue::U32(pos as u32)),
        None => {
            keys.default.delete("nodelist.local_node_pos");
        }
    }
}

/// Keys clients read that a file may leave out, set to the defaults in effect
/// (`corosync-cfgtool -s` prints `totem.transport`).
pub(crate) fn default_keys(keys: &mut Keys, transport: &str) {
    if keys.default.get("totem.transport").is_none() {
        keys.default.set(
            "totem.transport",
            CmapValue::Str(transport.as_bytes().to_vec()),
        );
    }
}

/// The keys that describe this build's services.
pub(crate) fn service_keys(keys: &mut Keys) {
    for (name, id) in SERVICES {
        let base = format!("internal_configuration.service.{}", id.0);
        keys.default.set(
            &format!("{base}.name"),
            CmapValue::Str(format!("corosync_{name}").into_bytes()),
        );
        keys.default.set(&format!("{base}.ver"), CmapValue::U32(0));
        keys.default.set(
            &format!("runtime.services.{name}.service_id"),
            CmapValue::U16(u16::from(id.0)),
        );
    }
}

/// `runtime.config.totem.*`: the Totem settings in effect (`token` is the effective
/// timeout, `token_coefficient` included, as corosync shows it).
pub(crate) fn totem_runtime_keys(keys: &mut Keys, t: &TotemConfig) {
    let ms = |d: Duration| CmapValue::U32(u32::try_from(d.as_millis()).unwrap_or(u32::MAX));
    let entries = [
        ("token", ms(t.token_timeout())),
        ("token_retransmit", ms(t.token_retransmit)),
        ("hold", ms(t.hold)),
        (
            "token_retransmits_before_loss_const",
            CmapValue::U32(t.token_retransmits_before_loss_const),
        ),
        ("join", ms(t.join)),
        ("send_join", ms(t.send_join)),
        ("consensus", ms(t.consensus)),
        ("merge", ms(t.merge)),
        ("downcheck", ms(t.downcheck)),
        ("fail_recv_const", CmapValue::U32(t.fail_recv_const)),
        (
            "seqno_unchanged_const",
            CmapValue::U32(t.seqno_unchanged_const),
        ),
        ("miss_count_const", CmapValue::U32(t.miss_count_const)),
        ("window_size", CmapValue::U32(t.window_size)),
        ("max_messages", CmapValue::U32(t.max_messages)),
        ("netmtu", CmapValue::U32(t.netmtu as u32)),
    ];
    for (name, value) in entries {
        keys.default
            .set(&format!("runtime.config.totem.{name}"), value);
    }
}

/// `runtime.votequorum.*` (corosync's keys, and the decision itself for scripts that
/// track it: `quorate`, `expected_votes`, `total_votes`, `quorum`).
pub(crate) fn votequorum_keys(keys: &mut Keys, status: &QuorumStatus) {
    let flag = |b: bool| CmapValue::U8(u8::from(b));
    let mut entries = vec![
        ("this_node_id", CmapValue::U32(status.this_node.0)),
        ("two_node", flag(status.flags.two_node)),
        ("ev_barrier", CmapValue::U32(status.ev_barrier)),
        ("quorate", flag(status.quorate)),
        ("expected_votes", CmapValue::U32(status.expected_votes)),
        ("total_votes", CmapValue::U32(status.total_votes)),
        ("quorum", CmapValue::U32(status.quorum)),
    ];
    if let Some(low) = status.lowest_node_id {
        entries.push(("lowest_node_id", CmapValue::U32(low.0)));
    }
    if let Some(high) = status.highest_node_id {
        entries.push(("highest_node_id", CmapValue::U32(high.0)));
    }
    if status.flags.wait_for_all {
        entries.push(("wait_for_all_status", flag(status.wait_for_all_status)));
    }
    for (name, value) in entries {
        keys.default
            .set(&format!("runtime.votequorum.{name}"), value);
    }
}

/// `config.reload_status` (the `cs_error_t` of the last reload) and
/// `config.reload_error_message`: set when a reload was refused, gone when one worked;
/// `corosync-cfgtool -R` prints it ("ERROR from reload: …").
pub(crate) fn reload_status(keys: &mut Keys, error: Option<&str>) {
    let status = if error.is_some() {
        CsStatus::ERR_INVALID_PARAM
    } else {
        CsStatus::OK
    };
    keys.default
        .set("config.reload_status", CmapValue::I32(status.0));
    match error {
        Some(why) => keys.default.set(
            "config.reload_error_message",
            CmapValue::Str(why.as_bytes().to_vec()),
        ),
        None => {
            keys.default.delete("config.reload_error_message");
        }
    }
}

/// What `runtime.members.<id>.*` tracks per node across configurations.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemberRecord {
    joins: BTreeMap<u32, u32>,
}

impl MemberRecord {
    /// A new regular configuration: members are `joined`, the others that were seen
    /// before `left`; a node's `join_count` counts the configurations it joined.
    pub(crate) fn update(
        &mut self,
        keys: &mut Keys,
        members: &[u32],
        joined: &[u32],
        addrs: &BTreeMap<u32, Vec<IpAddr>>,
    ) {
        for &m in members {
            let count = self.joins.entry(m).or_insert(0);
            if joined.contains(&m) || *count == 0 {
                *count += 1;
            }
        }
        for (&node, &count) in &self.joins {
            let base = format!("runtime.members.{node}");
            let ip: String = addrs
                .get(&node)
                .map(|a| {
                    a.iter()
                        .enumerate()
                        .map(|(i, ip)| format!("r({i}) ip({ip}) "))
                        .collect()
                })
                .unwrap_or_default();
            let status = if members.contains(&node) {
                "joined"
            } else {
                "left"
            };
            keys.default
                .set(&format!("{base}.config_version"), CmapValue::U64(0));
            keys.default
                .set(&format!("{base}.ip"), CmapValue::Str(ip.into_bytes()));
            keys.default
                .set(&format!("{base}.join_count"), CmapValue::U32(count));
            keys.default.set(
                &format!("{base}.status"),
                CmapValue::Str(status.as_bytes().to_vec()),
            );
        }
    }
}

/// One counter or gauge for the statistics map.
pub(crate) type Stat = (String, CmapValue);

/// Replaces the statistics map's keys under `prefix` with `stats`: keys no longer
/// reported (a closed connection, a removed node) are deleted.
pub(crate) fn publish_stats(keys: &mut Keys, prefix: &str, stats: Vec<Stat>) {
    let names: std::collections::BTreeSet<&str> = stats.iter().map(|(k, _)| k.as_str()).collect();
    keys.stats.retain_prefixed(prefix, |k| names.contains(k));
    for (k, v) in stats {
        keys.stats.set(&k, v);
    }
}

/// After this many entries into gather without forming a ring, corosync sets
/// `firewall_enabled_or_nic_failure` (its `MAX_NO_CONT_GATHER`).
const CONTINUOUS_GATHER_SUSPECT: u32 = 3;

/// `stats.srp.*`: Totem's counters, under corosync's names and types where the meaning is
/// the same; ours after them. corosync's `avg_token_workload`, `avg_backlog_calc` and
/// `continuous_sendmsg_failures` are not measured and not published.
pub(crate) fn totem_stats(
    t: &TotemStats,
    now: Instant,
    send_queue_bytes: usize,
    retained: usize,
) -> Vec<Stat> {
    let u = |n: u64| CmapValue::U64(n);
    let ms = |us: u64| u32::try_from(us / 1000).unwrap_or(u32::MAX);
    let since_token = t
        .last_token_received
        .map_or(0, |at| now.saturating_duration_since(at).as_millis());
    [
        ("orf_token_tx", u(t.orf_token_tx)),
        ("orf_token_rx", u(t.orf_token_rx)),
        ("memb_merge_detect_tx", u(t.memb_merge_detect_tx)),
        ("memb_merge_detect_rx", u(t.memb_merge_detect_rx)),
        ("memb_join_tx", u(t.memb_join_tx)),
        ("memb_join_rx", u(t.memb_join_rx)),
        ("mcast_tx", u(t.frames_sent)),
        ("mcast_retx", u(t.retransmits_sent)),
        ("mcast_rx", u(t.mcast_rx)),
        ("memb_commit_token_tx", u(t.memb_commit_token_tx)),
        ("memb_commit_token_rx", u(t.memb_commit_token_rx)),
        ("token_hold_cancel_tx", u(t.token_hold_cancel_tx)),
        ("token_hold_cancel_rx", u(t.token_hold_cancel_rx)),
        // Every regular configuration but the singleton a node boots into.
        ("operational_entered", u(t.configurations.saturating_sub(1))),
        ("operational_token_lost", u(t.operational_token_lost)),
        ("gather_entered", u(t.gather_entered)),
        // The token timer does not run in gather: consensus_timeouts counts those waits.
        ("gather_token_lost", u(0)),
        ("commit_entered", u(t.commit_entered)),
        ("commit_token_lost", u(t.commit_token_lost)),
        ("recovery_entered", u(t.recovery_entered)),
        ("recovery_token_lost", u(t.recovery_token_lost)),
        ("consensus_timeouts", u(t.consensus_timeouts)),
        ("rx_msg_dropped", u(t.rx_malformed)),
        (
            "time_since_token_last_received",
            u(u64::try_from(since_token).unwrap_or(u64::MAX)),
        ),
        ("continuous_gather", CmapValue::U32(t.continuous_gather)),
        (
            "firewall_enabled_or_nic_failure",
            CmapValue::U8(u8::from(t.continuous_gather > CONTINUOUS_GATHER_SUSPECT)),
        ),
        (
            "mtt_rx_token",
            CmapValue::U32(t.mean_token_rotation_us().map_or(0, ms)),
        ),
        ("delivered", u(t.delivered)),
        ("configurations", u(t.configurations)),
        ("tokens_discarded", u(t.tokens_discarded)),
        ("retransmits_requested", u(t.retransmits_requested)),
        ("fast_failed", u(t.fast_failed)),
        ("failed_to_receive", u(t.failed_to_receive)),
        ("send_queue_bytes", u(send_queue_bytes as u64)),
        ("retained_frames", u(retained as u64)),
    ]
    .into_iter()
    .map(|(k, v)| (format!("stats.srp.{k}"), v))
    .collect()
}

/// `stats.transport.*`: packets sent and received, and every kind of rejected packet.
pub(crate) fn transport_stats(t: &TransportStats) -> Vec<Stat> {
    [
        ("tx_packets", t.tx_packets),
        ("tx_errors", t.tx_errors),
        ("rx_packets", t.rx_packets),
        ("rx_totem", t.rx_totem),
        ("rx_invalid_digest", t.rx_invalid_digest),
        ("rx_malformed", t.rx_malformed),
        ("rx_duplicate", t.rx_duplicate),
        ("rx_misdirected", t.rx_misdirected),
        ("rx_stale_epoch", t.rx_stale_epoch),
        ("rx_unknown_node", t.rx_unknown_node),
        ("rx_unproven", t.rx_unproven),
        ("link_up", t.link_up),
        ("link_down", t.link_down),
    ]
    .into_iter()
    .map(|(k, v)| (format!("stats.transport.{k}"), CmapValue::U64(v)))
    .collect()
}

/// `stats.knet.node<N>.link<L>.*`: each peer's link state, as corosync publishes knet's
/// (connected, enabled, latency in microseconds); this node's own links are always up.
pub(crate) fn link_stats(me: u32, links: &[LinkStatus], own_links: &[u8]) -> Vec<Stat> {
    let mut out = Vec::new();
    let mut push = |node: u32, link: u8, up: bool, rtt: Option<Duration>| {
        let base = format!("stats.knet.node{node}.link{link}");
        out.push((format!("{base}.connected"), CmapValue::U8(u8::from(up))));
        out.push((format!("{base}.enabled"), CmapValue::U8(1)));
        let latency = rtt.map_or(0, |d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
        out.push((format!("{base}.latency_ave"), CmapValue::U32(latency)));
    };
    for &link in own_links {
        push(me, link, true, None);
    }
    for l in links {
        push(l.node, l.link, l.up, l.rtt);
    }
    out
}

/// `stats.ipcs.service<S>.<pid>.<conn>.*`: each client connection, named as corosync 3.1
/// names it (service number, client pid, connection) with the counters corosync has and we
/// keep. corosync's `overload`, `sent` and `recv_retries` are not kept and not published.
pub(crate) fn conn_stats(conns: &[ConnStats]) -> Vec<Stat> {
    let mut out = Vec::new();
    for c in conns {
        let Some(&(_, id)) = crate::clients::SERVICE_NAMES
            .get(c.service)
            .and_then(|name| SERVICES.iter().find(|(n, _)| n == name))
        else {
            continue;
        };
        let base = format!("stats.ipcs.service{}.{}.{:#x}", id.0, c.pid, c.conn.0);
        let mut push = |k: &str, v: CmapValue| out.push((format!("{base}.{k}"), v));
        push("procname", CmapValue::Str(c.procname.clone().into_bytes()));
        push("queueing", CmapValue::I32(i32::from(c.queued > 0)));
        push("queued", CmapValue::U32(c.queued));
        // A connection that sends an invalid request is dropped: a live one has none.
        push("invalid_request", CmapValue::U64(0));
        push("requests", CmapValue::U64(c.requests));
        push("responses", CmapValue::U64(c.responses));
        push("dispatched", CmapValue::U64(c.dispatched));
        push("send_retries", CmapValue::U64(c.send_retries));
        push("flow_control", CmapValue::U32(c.flow_control));
        push("flow_control_count", CmapValue::U64(c.flow_control_count));
    }
    out
}

/// `stats.ipcs.*` and `stats.services.*`.
pub(crate) fn ipc_stats(ipc: &IpcStats, active: usize, services: &ServicesStats) -> Vec<Stat> {
    let u = CmapValue::U64;
    vec![
        ("stats.ipcs.global.active".to_owned(), u(active as u64)),
        ("stats.ipcs.global.closed".to_owned(), u(ipc.disconnected)),
        ("stats.ipcs.global.accepted".to_owned(), u(ipc.accepted)),
        ("stats.ipcs.global.refused".to_owned(), u(ipc.refused)),
        ("stats.ipcs.global.malformed".to_owned(), u(ipc.malformed)),
        (
            "stats.ipcs.global.disconnected_slow".to_owned(),
            u(ipc.disconnected_slow),
        ),
        ("stats.ipcs.global.requests".to_owned(), u(ipc.requests)),
        ("stats.ipcs.global.responses".to_owned(), u(ipc.responses)),
        ("stats.ipcs.global.events".to_owned(), u(ipc.events)),
        (
            "stats.services.syncs_completed".to_owned(),
            u(services.syncs_completed),
        ),
        (
            "stats.services.syncs_aborted".to_owned(),
            u(services.syncs_aborted),
        ),
        ("stats.services.held".to_owned(), u(services.held)),
        (
            "stats.services.rx_malformed".to_owned(),
            u(services.rx_malformed),
        ),
        (
            "stats.services.rx_stale_sync".to_owned(),
            u(services.rx_stale_sync),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_named_by_service_number_pid_and_connection() {
        let conn = ConnStats {
            conn: ais_ipc::ConnId(0x2a),
            service: crate::clients::CMAP_ENDPOINT,
            pid: 4242,
            procname: "proc4242".to_owned(),
            requests: 7,
            responses: 7,
            dispatched: 3,
            send_retries: 1,
            queued: 2,
            flow_control: 0,
            flow_control_count: 0,
        };
        let stats = conn_stats(&[conn]);
        let get = |k: &str| {
            stats
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            get("stats.ipcs.service0.4242.0x2a.procname"),
            Some(CmapValue::Str(b"proc4242".to_vec()))
        );
        assert_eq!(
            get("stats.ipcs.service0.4242.0x2a.requests"),
            Some(CmapValue::U64(7))
        );
        assert_eq!(
            get("stats.ipcs.service0.4242.0x2a.queued"),
            Some(CmapValue::U32(2))
        );
        assert_eq!(
            get("stats.ipcs.service0.4242.0x2a.queueing"),
            Some(CmapValue::I32(1))
        );
    }

    #[test]
    fn reload_replaces_the_config_keys_and_keeps_runtime_ones() {
        let mut keys = Keys::default();
        service_keys(&mut keys);
        load_config_keys(
            &mut keys,
            "totem {\n token: 1000\n}\nnodelist {\n node {\n  nodeid: 1\n }\n node {\n  nodeid: 2\n }\n}\n",
            Some(0),
        );
        assert_eq!(keys.default.get("totem.token"), Some(&CmapValue::U32(1000)));
        assert!(keys.default.get("nodelist.node.1.nodeid").is_some());
        // Pacemaker's runtime admission and the configuration's entries.
        keys.default.set("uidgid.gid.105", CmapValue::U8(1));
        let entry = |key: &str| (key.to_owned(), CmapValue::U8(1));
        uidgid_keys(
            &mut keys,
            &[entry("uidgid.config.uid.107"), entry("uidgid.config.gid.5")],
        );
        load_config_keys(
            &mut keys,
            "totem {\n token: 3000\n}\nnodelist {\n node {\n  nodeid: 1\n }\n}\n",
            Some(0),
        );
        assert_eq!(keys.default.get("totem.token"), Some(&CmapValue::U32(3000)));
        assert_eq!(keys.default.get("nodelist.node.1.nodeid"), None);
        uidgid_keys(&mut keys, &[entry("uidgid.config.gid.5")]);
        assert_eq!(keys.default.get("uidgid.config.uid.107"), None);
        assert_eq!(
            keys.default.get("uidgid.config.gid.5"),
            Some(&CmapValue::U8(1))
        );
        // A reload leaves what clients set at runtime alone.
        assert_eq!(keys.default.get("uidgid.gid.105"), Some(&CmapValue::U8(1)));
        assert_eq!(
            keys.default.get("runtime.services.cpg.service_id"),
            Some(&CmapValue::U16(2))
        );
    }

    #[test]
    fn members_keep_their_join_counts() {
        let mut keys = Keys::default();
        let mut record = MemberRecord::default();
        let addrs = BTreeMap::from([(1, vec!["10.0.0.1".parse().expect("ip")])]);
        record.update(&mut keys, &[1, 2], &[1, 2], &addrs);
        record.update(&mut keys, &[1], &[], &addrs);
        record.update(&mut keys, &[1, 2], &[2], &addrs);
        assert_eq!(
            keys.default.get("runtime.members.1.ip"),
            Some(&CmapValue::Str(b"r(0) ip(10.0.0.1) ".to_vec()))
        );
        assert_eq!(
            keys.default.get("runtime.members.1.join_count"),
            Some(&CmapValue::U32(1))
        );
        assert_eq!(
            keys.default.get("runtime.members.2.join_count"),
            Some(&CmapValue::U32(2))
        );
    }
}
