//! Every rule between keys, with its exact text. Each points at the line to change and
//! names the other line involved.

use ais_config::parse;

fn errors(text: &str) -> Vec<String> {
    match parse(text, "c.conf") {
        Ok(parsed) => panic!("parsed: {parsed:?}"),
        Err(errors) => errors.errors.iter().map(ToString::to_string).collect(),
    }
}

/// `totem { <totem> }` on lines 1..; then a nodelist with one node per entry of `nodes`,
/// each `node {` on its own line followed by the entry's lines.
fn cluster(totem: &[&str], nodes: &[&[&str]]) -> String {
    let mut text = String::from("totem {\n");
    for line in totem {
        text.push_str(&format!("\t{line}\n"));
    }
    text.push_str("}\nnodelist {\n");
    for node in nodes {
        text.push_str("\tnode {\n");
        for line in *node {
            text.push_str(&format!("\t\t{line}\n"));
        }
        text.push_str("\t}\n");
    }
    text.push_str("}\n");
    text
}

const N1: &[&str] = &["nodeid: 1", "ring0_addr: 10.0.0.1"];
const N2: &[&str] = &["nodeid: 2", "ring0_addr: 10.0.0.2"];
const N3: &[&str] = &["nodeid: 3", "ring0_addr: 10.0.0.3"];
const N4: &[&str] = &["nodeid: 4", "ring0_addr: 10.0.0.4"];

#[test]
fn consensus_at_least_1_2_times_token() {
    assert_eq!(
        errors(&cluster(&["token: 3000", "consensus: 3000"], &[N1, N2])),
        [
            "c.conf:3:13: totem.consensus: consensus 3000 ms is below 1.2 × token: it must be at \
          least 3600 ms (token 3000 ms on line 2)"
        ]
    );
    assert_eq!(
        errors(&cluster(&["consensus: 1000"], &[N1, N2])),
        [
            "c.conf:2:13: totem.consensus: consensus 1000 ms is below 1.2 × token: it must be at \
          least 3600 ms (token 3000 ms by default)"
        ]
    );
    // With four nodes the token grows by two coefficients, as corosync computes it.
    assert_eq!(
        errors(&cluster(
            &["token: 1000", "token_coefficient: 500", "consensus: 2000"],
            &[N1, N2, N3, N4]
        )),
        [
            "c.conf:4:13: totem.consensus: consensus 2000 ms is below 1.2 × token: it must be at \
          least 2400 ms (effective token 2000 ms = token 1000 ms on line 2 + 2 × \
          token_coefficient 500 ms for 4 nodes)"
        ]
    );
    assert!(
        parse(
            &cluster(&["token: 1000", "consensus: 1200"], &[N1, N2]),
            "c.conf"
        )
        .is_ok()
    );
}

#[test]
fn join_below_consensus() {
    assert_eq!(
        errors(&cluster(&["join: 4000", "consensus: 4000"], &[N1, N2])),
        [
            "c.conf:2:8: totem.join: join 4000 ms must be below consensus 4000 ms (consensus on \
          line 3)"
        ]
    );
    assert_eq!(
        errors(&cluster(&["token: 100", "join: 120"], &[N1, N2])),
        [
            "c.conf:3:8: totem.join: join 120 ms must be below consensus 120 ms (consensus derived \
          as 1.2 × token 100 ms on line 2)"
        ]
    );
}

#[test]
fn node_ids_are_unique_and_totem_nodeid_names_one() {
    let twin: &[&str] = &["nodeid: 1", "ring0_addr: 10.0.0.9"];
    assert_eq!(
        errors(&cluster(&[], &[N1, N2, twin])),
        ["c.conf:13:11: nodelist.node.nodeid: nodeid 1 is already used by the node on line 4"]
    );
    assert_eq!(
        errors(&cluster(&["nodeid: 5"], &[N1, N2])),
        ["c.conf:2:10: totem.nodeid: nodeid 5 names no node of the nodelist (nodeids: 1, 2)"]
    );
}

#[test]
fn every_node_has_an_address_on_every_link() {
    let two_links: &[&str] = &["nodeid: 2", "ring0_addr: 10.0.0.2", "ring1_addr: 10.1.0.2"];
    assert_eq!(
        errors(&cluster(&[], &[N1, two_links])),
        [
            "c.conf:4:2: nodelist.node: node 1 has no ring1_addr, but node 2 (line 8) has one; \
          every node needs an address on every link"
        ]
    );
    let no_ring0: &[&str] = &["nodeid: 1", "ring1_addr: 10.1.0.1"];
    assert_eq!(
        errors(&cluster(&[], &[no_ring0])),
        ["c.conf:4:2: nodelist.node: node 1 has no ring0_addr; every node needs one"]
    );
}

#[test]
fn one_ip_family_per_link_and_the_one_ip_version_allows() {
    let v6: &[&str] = &["nodeid: 2", "ring0_addr: fd00::2"];
    assert_eq!(
        errors(&cluster(&[], &[N1, v6])),
        [
            "c.conf:10:15: nodelist.node.ring0_addr: fd00::2 is IPv6, but node 1 (line 6) has IPv4 \
          on link 0; a link carries one IP family"
        ]
    );
    assert_eq!(
        errors(&cluster(&["ip_version: ipv6"], &[N1])),
        [
            "c.conf:7:15: nodelist.node.ring0_addr: 10.0.0.1 is IPv4, but totem.ip_version is \
          ipv6 on line 2"
        ]
    );
    // Host names resolve later, so they satisfy either family.
    let named: &[&str] = &["nodeid: 2", "ring0_addr: node2.example"];
    assert!(parse(&cluster(&["ip_version: ipv4"], &[N1, named]), "c.conf").is_ok());
}

#[test]
fn unicast_transports_need_a_nodelist_and_multicast_needs_a_group() {
    assert_eq!(
        errors("totem {\n\ttransport: knet\n}\n"),
        [
            "c.conf:2:13: totem.transport: transport knet on line 2 needs a nodelist with at least \
          one node"
        ]
    );
    assert_eq!(
        errors("logging {\n}\n"),
        [
            "c.conf:1:1: totem.transport: transport udpu by default needs a nodelist with at least \
          one node"
        ]
    );
    assert_eq!(
        errors("totem {\n\ttransport: udp\n}\n"),
        [
            "c.conf:2:13: totem.transport: transport udp on line 2 without a nodelist needs an \
          interface with mcastaddr or bindnetaddr"
        ]
    );
    let multicast = "totem {\n\ttransport: udp\n\tinterface {\n\t\tmcastaddr: 239.1.1.1\n\t}\n}\n";
    assert!(parse(multicast, "c.conf").is_ok());
}

#[test]
fn udp_has_a_single_link() {
    let text = "totem {\n\ttransport: udp\n\tinterface {\n\t\tlinknumber: 1\n\t}\n}\n\
                nodelist {\n\tnode {\n\t\tnodeid: 1\n\t\tring0_addr: 10.0.0.1\n\t\t\
                ring1_addr: 10.1.0.1\n\t}\n}\n";
    assert_eq!(
        errors(text),
        [
            "c.conf:4:15: totem.interface.linknumber: transport udp on line 2 has one link: \
             linknumber must be 0",
            "c.conf:11:15: nodelist.node.ring1_addr: transport udp on line 2 has one link: only \
             ring0_addr is allowed",
        ]
    );
}

#[test]
fn one_interface_per_link_and_at_most_eight() {
    let text = cluster(
        &[
            "interface {",
            "\tlinknumber: 2",
            "}",
            "interface {",
            "\tlinknumber: 2",
            "}",
        ],
        &[N1],
    );
    assert_eq!(
        errors(&text),
        [
            "c.conf:6:15: totem.interface.linknumber: linknumber 2 is already used by the \
             interface on line 2"
        ]
    );
    let nine: Vec<String> = (0..9)
        .map(|n| format!("interface {{\n\tlinknumber: {}\n}}", n % 8))
        .collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    assert_eq!(
        errors(&cluster(&nine, &[N1])),
        [
            "c.conf:26:2: totem.interface: at most 8 interface sections (links 0 to 7)",
            "c.conf:27:14: totem.interface.linknumber: linknumber 0 is already used by the \
             interface on line 2",
        ]
    );
}

#[test]
fn a_logfile_is_needed_to_log_to_a_file() {
    let text = format!("{}logging {{\n\tto_logfile: yes\n}}\n", cluster(&[], &[N1]));
    assert_eq!(
        errors(&text),
        ["c.conf:10:14: logging.to_logfile: to_logfile is on but logfile is not set"]
    );
}

#[test]
fn the_protocol_s_own_check_backs_the_rules_up() {
    assert_eq!(
        errors(&cluster(&["token: 1", "join: 1"], &[N1])),
        [
            "c.conf:1:1: totem: invalid Totem configuration: token, token_retransmit and hold must \
          be at least 1 ms"
        ]
    );
}

#[test]
fn cross_field_rules_wait_for_values_to_be_valid() {
    // consensus is below 1.2 × token, but the bad token is the only thing reported.
    assert_eq!(
        errors(&cluster(&["token: slow", "consensus: 10"], &[N1])),
        ["c.conf:2:9: totem.token: expected milliseconds, found \"slow\""]
    );
}

/// fail_fast: off (0), or at least 4 × join and below consensus.
#[test]
fn fail_fast_between_four_joins_and_consensus() {
    assert_eq!(
        errors(&cluster(&["fail_fast: 10"], &[N1, N2])),
        [
            "c.conf:2:13: totem.fail_fast: fail_fast 10 ms is below 4 × join (50 ms by \
             default): a processor would be failed before it could miss four join rounds; it \
             must be at least 200 ms, or 0 to turn it off"
        ]
    );
    assert_eq!(
        errors(&cluster(&["token: 1000", "fail_fast: 1200"], &[N1, N2])),
        [
            "c.conf:3:13: totem.fail_fast: fail_fast 1200 ms is not below consensus 1200 ms \
             derived as 1.2 × token: consensus would fail the processor first; set it below, \
             or 0 to turn it off"
        ]
    );
    for ok in [
        &["fail_fast: 0"][..],
        &["fail_fast: 200"],
        &["token: 1000", "consensus: 2000", "fail_fast: 1999"],
    ] {
        assert!(parse(&cluster(ok, &[N1, N2]), "c.conf").is_ok(), "{ok:?}");
    }
    // The default is off, whatever the timers.
    let short = cluster(&["token: 300", "consensus: 400"], &[N1, N2]);
    assert!(parse(&short, "c.conf").is_ok());
}
