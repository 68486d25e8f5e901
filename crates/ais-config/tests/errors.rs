//! Every kind of error, with its exact `file:line:column: path: message` text.

use ais_config::parse;

/// The errors of `text`, one string each; panics if it parses.
fn errors(text: &str) -> Vec<String> {
    match parse(text, "corosync.conf") {
        Ok(parsed) => panic!("parsed: {parsed:?}"),
        Err(errors) => errors.errors.iter().map(ToString::to_string).collect(),
    }
}

/// The single error of `body` placed in `section {}` on line 2.
fn error_in(section: &str, body: &str) -> String {
    let text = format!("{section} {{\n{body}\n}}\n");
    let all = errors(&text);
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

#[test]
fn the_style_guide_example() {
    assert_eq!(
        errors("totem {\n\tversion: 2\n\ttoken: fast\n}\n"),
        ["corosync.conf:3:9: totem.token: expected milliseconds, found \"fast\""]
    );
}

#[test]
fn syntax_errors() {
    assert_eq!(
        errors("totem {\n\ttoken 3000\n\t: 5\n\t{\n\tinterface { x\n}\n}\n"),
        [
            "corosync.conf:2:2: totem: expected \"key: value\", \"name {\" or \"}\", found \
             \"token 3000\"",
            "corosync.conf:3:2: totem: missing key before \":\"",
            "corosync.conf:4:2: totem: missing section name before \"{\"",
            "corosync.conf:5:14: totem: unexpected text after \"{\": \"x\"",
            // The malformed openers opened nothing, so line 6 closes totem.
            "corosync.conf:7:1: unexpected \"}\": no section is open",
        ]
    );
    // A "}" after a value is part of the value, as in corosync; the section stays open.
    assert_eq!(
        errors("logging {\n  to_stderr: yes } \n"),
        [
            "corosync.conf:1:1: section \"logging\" is never closed",
            "corosync.conf:2:14: logging.to_stderr: expected yes or no (also on/off, \
             true/false, 1/0), found \"yes }\"",
        ]
    );
    assert_eq!(
        errors("quorum {\n } x\n}\n"),
        ["corosync.conf:2:2: quorum: unexpected text around \"}\": \"} x\""]
    );
}

#[test]
fn unbalanced_braces() {
    assert_eq!(
        errors("nodelist {\n  node {\n    nodeid: 1\n"),
        [
            "corosync.conf:1:1: section \"nodelist\" is never closed",
            "corosync.conf:2:3: nodelist: section \"node\" is never closed",
        ]
    );
    assert_eq!(
        errors("}\n"),
        ["corosync.conf:1:1: unexpected \"}\": no section is open"]
    );
}

#[test]
fn keys_and_sections_in_the_wrong_place() {
    assert_eq!(
        errors("token: 3000\ncluster: x\n"),
        [
            "corosync.conf:1:1: token: key \"token\" outside any section; it belongs in totem",
            "corosync.conf:2:1: cluster: key \"cluster\" outside any section",
        ]
    );
    assert_eq!(
        error_in("totem", "  tokn: 3000"),
        "corosync.conf:2:3: totem.tokn: unknown key \"tokn\" in totem; did you mean \"token\"?"
    );
    assert_eq!(
        error_in("totem", "  rrp_mode: passive"),
        "corosync.conf:2:3: totem.rrp_mode: unknown key \"rrp_mode\" in totem"
    );
    assert_eq!(
        error_in("quorum", "  token: 3000"),
        "corosync.conf:2:3: quorum.token: unknown key \"token\" in quorum; it belongs in totem"
    );
    assert_eq!(
        error_in(
            "logging",
            "  logger_subsys {\n    subsys: CPG\n    timestamp: on\n  }"
        ),
        "corosync.conf:4:5: logging.logger_subsys.timestamp: unknown key \"timestamp\" in \
         logging.logger_subsys; it belongs in logging"
    );
    assert_eq!(
        error_in("nodelist", "  ring0_addr: 10.0.0.1"),
        "corosync.conf:2:3: nodelist.ring0_addr: unknown key \"ring0_addr\" in nodelist; it \
         belongs in nodelist.node"
    );
    assert_eq!(
        error_in("totme", "  token: 3000"),
        "corosync.conf:1:1: totme: unknown section \"totme\" at the top level; did you mean \
         \"totem\"?"
    );
    assert_eq!(
        error_in("totem", "  interfaec {\n  }"),
        "corosync.conf:2:3: totem.interfaec: unknown section \"interfaec\" in totem; did you mean \
         \"interface\"?"
    );
    assert_eq!(
        error_in("system", "  interface {\n  }"),
        "corosync.conf:2:3: system.interface: unknown section \"interface\" in system; it belongs \
         in totem"
    );
    assert_eq!(
        error_in("uidgid", "  group {\n  }"),
        "corosync.conf:2:3: uidgid.group: unknown section \"group\" in uidgid"
    );
}

#[test]
fn bad_values_name_what_was_expected() {
    let cases = [
        (
            "totem",
            "version: 3",
            "totem.version: expected 2, found \"3\"",
        ),
        (
            "totem",
            "token: 0",
            "totem.token: expected milliseconds, at least 1, found \"0\"",
        ),
        (
            "totem",
            "token: -5",
            "totem.token: expected milliseconds, found \"-5\"",
        ),
        (
            "totem",
            "send_join: 5000000000",
            "totem.send_join: expected milliseconds up to 4294967295, found \"5000000000\"",
        ),
        (
            "totem",
            "window_size: 9000",
            "totem.window_size: expected a whole number from 1 to 8192, found \"9000\"",
        ),
        (
            "totem",
            "max_messages: 0",
            "totem.max_messages: expected a whole number, at least 1, found \"0\"",
        ),
        (
            "totem",
            "netmtu: 100",
            "totem.netmtu: expected a whole number from 256 to 65536, found \"100\"",
        ),
        (
            "totem",
            "transport: tcp",
            "totem.transport: expected one of udpu, udp, knet, found \"tcp\"",
        ),
        (
            "totem",
            "ip_version: ipv5",
            "totem.ip_version: expected one of ipv4, ipv6, ipv4-6, ipv6-4, found \"ipv5\"",
        ),
        (
            "totem",
            "link_mode: fast",
            "totem.link_mode: expected one of passive, active, rr, found \"fast\"",
        ),
        (
            "totem",
            "crypto_cipher: des",
            "totem.crypto_cipher: expected one of none, aes256, aes192, aes128, chacha20, found \
             \"des\"",
        ),
        (
            "totem",
            "crypto_hash: crc",
            "totem.crypto_hash: expected one of none, md5, sha1, sha256, sha384, sha512, found \
             \"crc\"",
        ),
        (
            "totem",
            "secauth: maybe",
            "totem.secauth: expected yes or no (also on/off, true/false, 1/0), found \"maybe\"",
        ),
        (
            "totem",
            "cluster_name: \"\"",
            "totem.cluster_name: expected a cluster name, found \"\"",
        ),
        (
            "totem",
            "nodeid: 0",
            "totem.nodeid: expected a node id, at least 1, found \"0\"",
        ),
        (
            "totem {\ninterface",
            "linknumber: 8\n}",
            "totem.interface.linknumber: expected a link number up to 7, found \"8\"",
        ),
        (
            "totem {\ninterface",
            "mcastaddr: 10.0.0.1\n}",
            "totem.interface.mcastaddr: expected a multicast IP address, found \"10.0.0.1\"",
        ),
        (
            "totem {\ninterface",
            "bindnetaddr: eth0\n}",
            "totem.interface.bindnetaddr: expected an IP address, found \"eth0\"",
        ),
        (
            "totem {\ninterface",
            "mcastport: 0\n}",
            "totem.interface.mcastport: expected a UDP port from 1 to 65535, found \"0\"",
        ),
        (
            "totem {\ninterface",
            "ttl: 256\n}",
            "totem.interface.ttl: expected a TTL up to 255, found \"256\"",
        ),
        (
            "totem {\ninterface",
            "knet_transport: tcp\n}",
            "totem.interface.knet_transport: expected one of udp, sctp, found \"tcp\"",
        ),
        (
            "quorum",
            "provider: corosync_quorum",
            "quorum.provider: expected one of corosync_votequorum, found \"corosync_quorum\"",
        ),
        (
            "quorum",
            "expected_votes: 0",
            "quorum.expected_votes: expected a whole number, at least 1, found \"0\"",
        ),
        (
            "quorum",
            "auto_tie_breaker_node: first",
            "quorum.auto_tie_breaker_node: expected lowest, highest or a list of node ids, \
             found \"first\"",
        ),
        (
            "logging",
            "debug: verbose",
            "logging.debug: expected one of off, on, trace, found \"verbose\"",
        ),
        (
            "logging",
            "timestamp: ms",
            "logging.timestamp: expected one of off, on, hires, found \"ms\"",
        ),
        (
            "logging",
            "syslog_facility: user",
            "logging.syslog_facility: expected one of daemon, local0, local1, local2, local3, \
             local4, local5, local6, local7, found \"user\"",
        ),
        (
            "logging",
            "syslog_priority: loud",
            "logging.syslog_priority: expected one of emerg, alert, crit, err, warning, notice, \
             info, debug, found \"loud\"",
        ),
        (
            "system",
            "priority: 40",
            "system.priority: expected max, min or a nice value from -20 to 19, found \"40\"",
        ),
        (
            "uidgid",
            "uid: two words",
            "uidgid.uid: expected a numeric id or a name, found \"two words\"",
        ),
    ];
    for (section, body, expected) in cases {
        let error = error_in(section, body);
        let (_, message) = error.split_once(": ").unwrap_or_default();
        assert_eq!(message, expected, "{error}");
    }
}

#[test]
fn node_addresses_and_ids() {
    let node = |body: &str| error_in("nodelist {\nnode", &format!("{body}\n}}"));
    assert_eq!(
        node("nodeid: 1\nring0_addr: 10.0.0.300"),
        "corosync.conf:4:13: nodelist.node.ring0_addr: expected an IP address or a host name, \
         found \"10.0.0.300\""
    );
    assert_eq!(
        node("nodeid: 0\nring0_addr: 10.0.0.1"),
        "corosync.conf:3:9: nodelist.node.nodeid: expected a node id, at least 1, found \"0\""
    );
    assert_eq!(
        node("ring0_addr: 10.0.0.1"),
        "corosync.conf:2:1: nodelist.node: node has no nodeid; it is required"
    );
    assert_eq!(
        error_in("logging {\nlogger_subsys", "debug: on\n}"),
        "corosync.conf:2:1: logging.logger_subsys: logger_subsys has no subsys; it is required"
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let all = parse(
        "totem {\n  token: soon\n  tokn: 1\n  crypto_hash: rot13\n}\nbogus {\n}\n",
        "corosync.conf",
    )
    .unwrap_err();
    assert_eq!(
        all.to_string(),
        "corosync.conf:2:10: totem.token: expected milliseconds, found \"soon\"\n\
         corosync.conf:3:3: totem.tokn: unknown key \"tokn\" in totem; did you mean \"token\"?\n\
         corosync.conf:4:16: totem.crypto_hash: expected one of none, md5, sha1, sha256, sha384, \
         sha512, found \"rot13\"\n\
         corosync.conf:6:1: bogus: unknown section \"bogus\" at the top level"
    );
}
