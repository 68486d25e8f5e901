use ais_wire::ipc::{CfgLinkAddress, CfgLinkStatus};
use clap::Parser;

use super::*;

/// `corosync-cfgtool -s` 3.1.7 on node 1 of a three-node knet cluster
/// (shared/bench/corosync-baseline/results/tools/cfgtool-s.txt).
const COROSYNC_S_KNET: &str = "\
Local node ID 1, transport knet
LINK ID 0 udp
\taddr\t= 10.213.0.1
\tstatus:
\t\tnodeid:          1:\tlocalhost
\t\tnodeid:          2:\tconnected
\t\tnodeid:          3:\tconnected
";

/// `corosync-cfgtool -n` on the same cluster (cfgtool-n.txt).
const COROSYNC_N_KNET: &str = "\
Local node ID 1, transport knet
nodeid: 2 reachable
   LINK: 0 udp (10.213.0.1->10.213.0.2) enabled connected mtu: 1446

nodeid: 3 reachable
   LINK: 0 udp (10.213.0.1->10.213.0.3) enabled connected mtu: 1446

";

/// `corosync-cfgtool -s` on a udpu cluster (cfgtool-s-udpu.txt): udpu reports the peer's
/// address as the link's source, so the "addr" is the last other node's.
const COROSYNC_S_UDPU: &str = "\
Local node ID 1, transport udpu
LINK ID 0 \n\
\taddr\t= 10.213.0.3
\tstatus:
\t\tnodeid:          1:\tlocalhost
\t\tnodeid:          2:\tconnected
\t\tnodeid:          3:\tconnected
";

/// `corosync-cfgtool -n` on the udpu cluster (cfgtool-n-udpu.txt).
const COROSYNC_N_UDPU: &str = "\
Local node ID 1, transport udpu
nodeid: 2 reachable
   LINK: 0  (10.213.0.2) enabled connected mtu: 1410

nodeid: 3 reachable
   LINK: 0  (10.213.0.3) enabled connected mtu: 1410

";

fn addr(text: &str) -> CfgLinkAddress {
    CfgLinkAddress::new(text).unwrap()
}

/// Node `n`'s status as cfg reports it on node 1: `src`/`dst` of its link 0.
fn node(n: u32, src: &str, dst: &str, connected: bool, mtu: u32) -> CfgNodeStatus {
    let mut status = CfgNodeStatus {
        version: CfgNodeStatus::V1,
        nodeid: NodeId(n),
        reachable: connected,
        ..CfgNodeStatus::default()
    };
    status.links[0] = CfgLinkStatus {
        enabled: true,
        connected,
        dynconnected: false,
        mtu,
        src_ipaddr: addr(src),
        dst_ipaddr: addr(dst),
    };
    status
}

fn report(transport: &str, nodes: Vec<CfgNodeStatus>) -> Report {
    let link = if transport == "knet" { "udp" } else { "" };
    Report {
        transport: transport.into(),
        local: NodeId(1),
        link_transport: std::array::from_fn(|_| link.to_owned()),
        nodes: nodes.into_iter().map(|s| (s.nodeid, Ok(s))).collect(),
    }
}

fn knet() -> Report {
    report(
        "knet",
        vec![
            node(1, "10.213.0.1", "10.213.0.1", true, 65535),
            node(2, "10.213.0.1", "10.213.0.2", true, 1446),
            node(3, "10.213.0.1", "10.213.0.3", true, 1446),
        ],
    )
}

fn udpu() -> Report {
    report(
        "udpu",
        vec![
            node(1, "10.213.0.1", "", true, 1410),
            node(2, "10.213.0.2", "", true, 1410),
            node(3, "10.213.0.3", "", true, 1410),
        ],
    )
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn link_status_matches_corosync_byte_for_byte() {
    let plain = LinkFormat::default();
    assert_eq!(text(links_text(&knet(), &plain)), COROSYNC_S_KNET);
    assert_eq!(text(links_text(&udpu(), &plain)), COROSYNC_S_UDPU);
}

#[test]
fn node_status_matches_corosync_byte_for_byte() {
    assert_eq!(text(nodes_text(&knet())), COROSYNC_N_KNET);
    assert_eq!(text(nodes_text(&udpu())), COROSYNC_N_UDPU);
}

#[test]
fn a_node_down_shows_disconnected_and_leaves_the_node_list() {
    let mut r = udpu();
    r.nodes[2].1 = Ok(node(3, "10.213.0.3", "", false, 1410));
    let s = text(links_text(&r, &LinkFormat::default()));
    assert!(
        s.ends_with("\t\tnodeid:          3:\tdisconnected\n"),
        "{s}"
    );
    let n = text(nodes_text(&r));
    assert!(!n.contains("nodeid: 3"), "{n}");
    let brief = LinkFormat {
        brief: true,
        filter: None,
    };
    assert_eq!(
        text(links_text(&r, &brief)),
        "Local node ID 1, transport udpu\nLINK ID 0 \n\taddr\t= 10.213.0.3\n\tstatus\t= n31\n"
    );
}

#[test]
fn a_node_without_status_prints_as_node_zero() {
    let mut r = knet();
    r.nodes[1].1 = Err(12);
    let s = text(links_text(&r, &LinkFormat::default()));
    assert!(s.contains("\t\tnodeid:          0:\tdisconnected\n"), "{s}");
    assert!(!text(nodes_text(&r)).contains("nodeid: 2"));
}

#[test]
fn remote_external_and_dynconnected_are_listed() {
    let mut r = knet();
    let status = r.nodes[1].1.as_mut().unwrap();
    status.remote = true;
    status.external = true;
    status.links[0].dynconnected = true;
    status.links[1] = status.links[0].clone();
    status.links[1].connected = false;
    let n = text(nodes_text(&r));
    assert!(
        n.contains(
            "nodeid: 2 reachable remote external\n\
             \x20  LINK: 0 udp (10.213.0.1->10.213.0.2) enabled connected dynconnected mtu: 1446\n\
             \x20  LINK: 1 udp (10.213.0.1->10.213.0.2) enabled dynconnected mtu: 1446\n\n"
        ),
        "{n}"
    );
}

#[test]
fn the_interface_filter_picks_a_link() {
    let mut r = knet();
    for (_, status) in &mut r.nodes {
        let status = status.as_mut().unwrap();
        status.links[1] = status.links[0].clone();
        status.links[1].src_ipaddr = addr("10.214.0.1");
    }
    let all = text(links_text(&r, &LinkFormat::default()));
    assert!(all.contains("LINK ID 0 udp") && all.contains("LINK ID 1 udp"));
    for filter in ["1", "10.214.0.1"] {
        let only = LinkFormat {
            brief: false,
            filter: Some(filter.into()),
        };
        let s = text(links_text(&r, &only));
        assert!(
            !s.contains("LINK ID 0") && s.contains("LINK ID 1 udp"),
            "{s}"
        );
    }
}

#[test]
fn reload_prints_done_and_the_daemons_error() {
    assert_eq!(
        reload_text(true, None),
        "Reloading corosync.conf...\nDone\n"
    );
    assert_eq!(
        reload_text(
            true,
            Some("corosync.conf:14:9: totem.token: expected milliseconds")
        ),
        "Reloading corosync.conf...\nDone\n\
         ERROR from reload: corosync.conf:14:9: totem.token: expected milliseconds \
         - see syslog for more information\n"
    );
    assert_eq!(reload_text(false, None), "Reloading corosync.conf...\n");
}

#[test]
fn json_reports_links_and_nodes() {
    let s = text(links_json(&udpu(), &LinkFormat::default()));
    assert_eq!(
        s,
        "{\"local_nodeid\":1,\"transport\":\"udpu\",\"links\":[{\"link\":0,\"transport\":\"\",\
         \"addr\":\"10.213.0.3\",\"nodes\":[{\"nodeid\":1,\"status\":\"localhost\"},\
         {\"nodeid\":2,\"status\":\"connected\"},{\"nodeid\":3,\"status\":\"connected\"}]}]}\n"
    );
    let n = text(nodes_json(&knet()));
    assert!(n.starts_with("{\"local_nodeid\":1,\"transport\":\"knet\",\"nodes\":[{\"nodeid\":1,"));
    assert!(n.contains(
        "{\"nodeid\":2,\"reachable\":true,\"remote\":false,\"external\":false,\"links\":[\
         {\"link\":0,\"transport\":\"udp\",\"src\":\"10.213.0.1\",\"dst\":\"10.213.0.2\",\
         \"connected\":true,\"dynconnected\":false,\"mtu\":1446}]}"
    ));
}

#[test]
fn keys_are_read_as_corosyncs_sscanf_reads_them() {
    assert!(is_nodeid_key("nodelist.node.0.nodeid"));
    assert!(is_nodeid_key("nodelist.node.12.nodeid"));
    assert!(!is_nodeid_key("nodelist.node.0.nodeidx"));
    assert!(!is_nodeid_key("nodelist.node..nodeid"));
    assert!(!is_nodeid_key("nodelist.node.0.name"));
    assert_eq!(
        interface_number("totem.interface.1.knet_transport"),
        Some(1)
    );
    assert_eq!(interface_number("totem.interface.0.bindnetaddr"), Some(0));
    assert_eq!(interface_number("totem.interface.x"), None);
}

#[test]
fn flags_parse_like_corosync() {
    let parse = |args: &[&str]| Action::from_args(&CfgtoolArgs::try_parse_from(args).unwrap());
    assert_eq!(parse(&["c"]), Ok(Action::Usage));
    assert_eq!(parse(&["c", "-s", "-b"]), Ok(Action::LinkStatus));
    assert_eq!(parse(&["c", "-n"]), Ok(Action::NodeStatus));
    assert_eq!(parse(&["c", "-a", "3"]), Ok(Action::Addresses(NodeId(3))));
    assert_eq!(parse(&["c", "-k", "2"]), Ok(Action::Kill(NodeId(2))));
    assert_eq!(
        parse(&["c", "-k", "0"]),
        Err("The nodeid was not valid, try a positive number".into())
    );
    assert_eq!(
        parse(&["c", "-H"]),
        Ok(Action::Shutdown {
            force: false,
            all: false
        })
    );
    assert_eq!(
        parse(&["c", "-H", "--force"]),
        Ok(Action::Shutdown {
            force: true,
            all: false
        })
    );
    assert_eq!(
        parse(&["c", "-H", "--all"]),
        Ok(Action::Shutdown {
            force: false,
            all: true
        })
    );
    assert!(
        CfgtoolArgs::try_parse_from(["c", "--all"]).is_err(),
        "--all needs -H"
    );
    assert_eq!(parse(&["c", "-R"]), Ok(Action::Reload));
    assert_eq!(parse(&["c", "--veto-shutdown"]), Ok(Action::VetoShutdown));
    assert_eq!(parse(&["c", "-L"]), Ok(Action::ReopenLogs));
    assert!(CfgtoolArgs::try_parse_from(["c", "-s", "-n"]).is_err());
}
