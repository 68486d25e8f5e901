//! Real-world files: what Debian ships, what pcs writes, and a corosync 2 multicast cluster.
//! Each parses with warnings only, and the warnings are exactly the expected ones.

use std::net::IpAddr;
use std::time::Duration;

use ais_config::{
    Account, Cipher, CryptoMode, Hash, KnetTransport, NodeAddr, Parsed, Timestamp, Transport, parse,
};

fn parse_ok(text: &str, file: &str) -> Parsed {
    parse(text, file).unwrap_or_else(|errors| panic!("{file}:\n{errors}"))
}

fn warnings(parsed: &Parsed) -> Vec<String> {
    parsed.warnings.iter().map(ToString::to_string).collect()
}

#[test]
fn debian_default_corosync_conf() {
    let parsed = parse_ok(
        include_str!("fixtures/debian-corosync.conf"),
        "corosync.conf",
    );
    // Debian's file asks for no crypto explicitly; we only warn.
    assert_eq!(
        warnings(&parsed),
        [
            "corosync.conf:15:17: totem.crypto_cipher: packets are neither authenticated nor \
             encrypted"
        ]
    );
    let c = parsed.config;
    assert_eq!(c.totem.cluster_name.as_deref(), Some("debian"));
    assert_eq!(c.totem.crypto(), CryptoMode::None);
    assert_eq!(c.totem.transport, Transport::Udpu);
    assert_eq!(c.nodelist.len(), 1);
    assert_eq!(c.nodelist[0].name.as_deref(), Some("node1"));
    assert_eq!(
        c.nodelist[0].ring_addrs[0],
        Some(NodeAddr::Ip([127, 0, 0, 1].into()))
    );
    assert_eq!(
        c.logging.logfile.as_deref(),
        Some("/var/log/corosync/corosync.log")
    );
    assert_eq!(c.logging.logger_subsys[0].subsys, "QUORUM");
    assert_eq!(
        c.local_node(&[[127, 0, 0, 1].into()]).map(|n| n.nodeid),
        Ok(1)
    );
}

#[test]
fn pcs_two_node_knet_cluster_with_host_names() {
    let parsed = parse_ok(
        include_str!("fixtures/pcs-two-node-knet.conf"),
        "corosync.conf",
    );
    assert_eq!(
        warnings(&parsed),
        ["corosync.conf:7:5: totem.cluster_uuid: accepted but not implemented; ignored"]
    );
    let c = parsed.config;
    assert_eq!(c.totem.transport, Transport::Knet);
    assert_eq!(
        (c.totem.crypto_cipher, c.totem.crypto_hash),
        (Cipher::Aes256, Hash::Sha256)
    );
    assert_eq!(
        c.totem.effective_consensus(2),
        Duration::from_millis(12_000)
    );
    assert_eq!(c.totem.interfaces.len(), 2);
    assert_eq!(
        c.totem.interfaces[1].knet_transport,
        Some(KnetTransport::Sctp)
    );
    let name = NodeAddr::Name("pcs-02.mydomain.test".into());
    assert_eq!(c.nodelist[1].ring_addrs[0], Some(name));
    assert!(
        c.quorum.two_node && c.quorum.wait_for_all,
        "two_node implies wait_for_all"
    );
    assert_eq!(c.logging.timestamp, Timestamp::On);
    // Only the literal link-1 address can match before names are resolved.
    let host: IpAddr = [192, 168, 100, 2].into();
    assert_eq!(c.local_node(&[host]).map(|n| n.nodeid), Ok(2));
}

#[test]
fn corosync_2_multicast_cluster_without_nodelist() {
    let parsed = parse_ok(
        include_str!("fixtures/udp-multicast-legacy.conf"),
        "legacy.conf",
    );
    assert_eq!(
        warnings(&parsed),
        ["legacy.conf:41:2: resources.watchdog_device: accepted but not implemented; ignored"]
    );
    let c = parsed.config;
    assert_eq!(c.totem.transport, Transport::Udp);
    assert_eq!(
        c.totem.crypto(),
        CryptoMode::Encrypted {
            cipher: Cipher::Aes256
        },
        "secauth: on"
    );
    assert!(c.nodelist.is_empty());
    assert_eq!(
        c.totem.interfaces[0].mcastaddr,
        Some([239, 255, 1, 1].into())
    );
    assert_eq!(c.quorum.expected_votes.map(|v| v.get()), Some(3));
    assert_eq!(c.uidgid.uids, [Account::Name("hacluster".into())]);
    let t = c.totem_config(ais_types::NodeId(7));
    assert_eq!(
        (t.token, t.consensus, t.join),
        (
            Duration::from_millis(5000),
            Duration::from_millis(6000),
            Duration::from_millis(60)
        )
    );
    assert_eq!(t.token_retransmits_before_loss_const, 10);
}
