//! Warnings: keys accepted but ignored, weak crypto, duplicates, settings that have no
//! effect. A file with only warnings still parses.

use ais_config::{CryptoMode, KeyStatus, known_keys, parse};

const NODELIST: &str = "nodelist {\n\tnode {\n\t\tnodeid: 1\n\t\tring0_addr: 10.0.0.1\n\t}\n}\n";

fn warnings(text: &str) -> Vec<String> {
    let parsed = parse(text, "c.conf").unwrap_or_else(|e| panic!("{e}"));
    parsed.warnings.iter().map(ToString::to_string).collect()
}

#[test]
fn ignored_keys_are_named() {
    let text = format!(
        "totem {{\n\tknet_compression_model: zlib\n\tknet_pmtud_interval: 30\n\tinterface {{\n\
         \t\tbroadcast: yes\n\t}}\n}}\nresources {{\n\twatchdog_device: /dev/watchdog\n}}\n\
         nozzle {{\n\tname: noz0\n}}\n{NODELIST}"
    );
    assert_eq!(
        warnings(&text),
        [
            "c.conf:2:2: totem.knet_compression_model: accepted but not implemented; ignored",
            "c.conf:3:2: totem.knet_pmtud_interval: accepted but not implemented; ignored",
            "c.conf:5:3: totem.interface.broadcast: accepted but not implemented; ignored",
            "c.conf:9:2: resources.watchdog_device: accepted but not implemented; ignored",
            "c.conf:12:2: nozzle.name: accepted but not implemented; ignored",
        ]
    );
}

#[test]
fn every_ignored_key_of_the_man_pages_is_listed() {
    let ignored: Vec<&str> = known_keys()
        .filter(|k| k.status == KeyStatus::Ignored)
        .map(|k| k.path)
        .collect();
    assert_eq!(
        ignored,
        [
            "totem.clear_node_high_bit",
            "totem.crypto_model",
            "totem.key",
            "totem.config_version",
            "totem.cluster_uuid",
            "totem.token_warning",
            "totem.heartbeat_failures_allowed",
            "totem.max_network_delay",
            "totem.cancel_token_hold_on_retransmit",
            "totem.block_unlisted_ips",
            "totem.knet_compression_model",
            "totem.knet_compression_threshold",
            "totem.knet_compression_level",
            "totem.knet_pmtud_interval",
            "totem.knet_mtu",
            "totem.interface.broadcast",
            "logging.blackbox",
            "system.move_to_root_cgroup",
            "system.allow_knet_handle_fallback",
            "resources.watchdog_device",
            "nozzle.name",
            "nozzle.ipaddr",
            "nozzle.ipprefix",
            "nozzle.macaddr",
        ]
    );
}

#[test]
fn the_quorum_device_section_is_accepted_whole() {
    let text = format!(
        "quorum {{\n\tprovider: corosync_votequorum\n\tdevice {{\n\t\tmodel: net\n\t\tnet {{\n\
         \t\t\thost: qnetd\n\t\t}}\n\t}}\n}}\n{NODELIST}"
    );
    assert_eq!(
        warnings(&text),
        [
            "c.conf:3:2: quorum.device: accepted but not implemented; ignored with everything \
             inside it"
        ]
    );
}

#[test]
fn a_repeated_key_replaces_the_earlier_value() {
    let text = format!("totem {{\n\ttoken: 1000\n\ttoken: 2000\n}}\n{NODELIST}");
    let parsed = parse(&text, "c.conf").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.config.totem.token.as_millis(), 2000);
    assert_eq!(
        warnings(&text),
        ["c.conf:3:2: totem.token: duplicate key; replaces the value on line 2"]
    );
}

#[test]
fn weak_crypto_is_pointed_out_and_the_secure_default_is_quiet() {
    assert_eq!(warnings(NODELIST), Vec::<String>::new());
    let none = format!("totem {{\n\tsecauth: off\n}}\n{NODELIST}");
    assert_eq!(
        warnings(&none),
        ["c.conf:2:11: totem.crypto_cipher: packets are neither authenticated nor encrypted"]
    );
    let aead = format!("totem {{\n\tcrypto_cipher: chacha20\n\tcrypto_hash: none\n}}\n{NODELIST}");
    assert_eq!(
        warnings(&aead),
        [
            "c.conf:3:15: totem.crypto_hash: crypto_cipher chacha20 with crypto_hash none: \
             allowed, \
          the AEAD cipher authenticates packets (corosync would refuse it)"
        ]
    );
    let parsed = parse(&aead, "c.conf").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        parsed.config.totem.crypto(),
        CryptoMode::Encrypted {
            cipher: ais_config::Cipher::Chacha20
        }
    );
}

#[test]
fn priority_has_no_effect_under_sched_rr() {
    let text = format!("system {{\n\tpriority: -10\n}}\n{NODELIST}");
    assert_eq!(
        warnings(&text),
        [
            "c.conf:2:12: system.priority: ignored while sched_rr is on by default; set sched_rr: \
          no to use it"
        ]
    );
    let text = format!("system {{\n\tsched_rr: no\n\tpriority: -10\n}}\n{NODELIST}");
    assert_eq!(warnings(&text), Vec::<String>::new());
}

#[test]
fn warnings_survive_a_failed_parse() {
    let errors = parse("totem {\n\tknet_mtu: 0\n\ttoken: x\n}\n", "c.conf").unwrap_err();
    assert_eq!(errors.errors.len(), 1);
    assert_eq!(errors.warnings[0].path, "totem.knet_mtu");
}
