use clap::Parser;

use super::*;

/// Lines `corosync-cmapctl` 3.1.7 printed (shared/bench/corosync-baseline, cmapctl-full.txt
/// and cmapctl-stats.txt), one of each type it printed there.
const COROSYNC_LINES: &str = "\
internal_configuration.service.0.name (str) = corosync_cmap
internal_configuration.service.0.ver (u32) = 0
nodelist.node.0.ring0_addr (str) = 10.213.0.1
resources.system.load_15min.current (dbl) = 0.000000
resources.system.memory_used.current (i32) = 0
resources.system.memory_used.poll_period (u64) = 3000
runtime.config.totem.knet_compression_level (i32) = 0
runtime.members.1.ip (str) = r(0) ip(10.213.0.1) 
runtime.services.cfg.service_id (u16) = 1
stats.ipcs.service0.17591.0x5590fea31d20.queueing (i32) = 0
stats.knet.handle.rx_compress_time_min (u64) = 18446744073709551615
stats.knet.node1.link0.connected (u8) = 1
";

const PLAIN: Format = Format {
    binary: false,
    quiet: false,
    json: false,
};

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn sample_lines_print_byte_for_byte() {
    for line in COROSYNC_LINES.lines() {
        let (key, rest) = line.split_once(" (").unwrap();
        let (type_name, value) = rest.split_once(") = ").unwrap();
        let value = parse_value(type_name, value).unwrap();
        assert_eq!(text(key_line(key, &value, PLAIN)), format!("{line}\n"));
    }
}

#[test]
fn every_type_prints_like_print_key() {
    let cases = [
        (CmapValue::I8(-5), "k (i8) = -5\n"),
        (CmapValue::U16(65535), "k (u16) = 65535\n"),
        (CmapValue::I64(i64::MIN), "k (i64) = -9223372036854775808\n"),
        (CmapValue::Float(1.5), "k (flt) = 1.500000\n"),
        (CmapValue::Double(-0.25), "k (dbl) = -0.250000\n"),
        (CmapValue::Str(b"a\0b".to_vec()), "k (str) = a\n"),
        (CmapValue::Binary(vec![1, 2]), "k (bin)\n"),
    ];
    for (value, want) in cases {
        assert_eq!(text(key_line("k", &value, PLAIN)), want);
    }
}

#[test]
fn binary_values_show_with_b_sign_extended() {
    let format = Format {
        binary: true,
        ..PLAIN
    };
    let value = CmapValue::Binary(b"a\\ \x01\x7f\x80".to_vec());
    assert_eq!(
        text(key_line("k", &value, format)),
        "k (bin) = a\\\\ \\x01\\x7F\\xFFFFFF80\n"
    );
}

#[test]
fn quiet_prints_values_only_but_keeps_corosyncs_bin_quirk() {
    let quiet = Format {
        quiet: true,
        ..PLAIN
    };
    assert_eq!(text(key_line("k", &CmapValue::U32(7), quiet)), "7\n");
    assert_eq!(
        text(key_line("k", &CmapValue::Str(b"x".to_vec()), quiet)),
        "x\n"
    );
    let both = Format {
        binary: true,
        ..quiet
    };
    assert_eq!(
        text(key_line("k", &CmapValue::Binary(b"z".to_vec()), both)),
        "bin) = z\n"
    );
}

#[test]
fn json_prints_one_object_per_key() {
    let json = Format {
        json: true,
        ..PLAIN
    };
    assert_eq!(
        text(key_line("totem.token", &CmapValue::U32(3000), json)),
        "{\"key\":\"totem.token\",\"type\":\"u32\",\"value\":3000}\n"
    );
    assert_eq!(
        text(key_line("a", &CmapValue::Str(b"udpu".to_vec()), json)),
        "{\"key\":\"a\",\"type\":\"str\",\"value\":\"udpu\"}\n"
    );
    assert_eq!(
        text(key_line("b", &CmapValue::Binary(vec![0, 255]), json)),
        "{\"key\":\"b\",\"type\":\"bin\",\"value\":[0,255]}\n"
    );
    assert_eq!(
        text(change_line(Change::Deleted, "c", &CmapValue::I8(-1), json)),
        "{\"event\":\"delete\",\"key\":\"c\",\"type\":\"i8\",\"value\":-1}\n"
    );
}

#[test]
fn changes_print_like_the_notify_callback() {
    let value = CmapValue::U8(1);
    assert_eq!(
        text(change_line(Change::Added, "a.b", &value, PLAIN)),
        "create> a.b (u8) = 1\n"
    );
    assert_eq!(
        text(change_line(Change::Modified, "a.b", &value, PLAIN)),
        "modify> a.b (u8) = 1\n"
    );
    assert_eq!(
        text(change_line(Change::Deleted, "a.b", &value, PLAIN)),
        "delete> a.b (u8) = 1\n"
    );
    assert_eq!(
        text(change_line(Change::Other(16), "a.b", &value, PLAIN)),
        "unknown change> "
    );
}

#[test]
fn values_parse_like_sscanf() {
    assert_eq!(parse_value("u32", "42"), Ok(CmapValue::U32(42)));
    // sscanf reads a number prefix and ignores the rest.
    assert_eq!(parse_value("u32", " 42abc"), Ok(CmapValue::U32(42)));
    assert_eq!(parse_value("i8", "-128"), Ok(CmapValue::I8(-128)));
    assert_eq!(parse_value("i64", "-5"), Ok(CmapValue::I64(-5)));
    // %lu negates a negative number modulo 2^64 and saturates on overflow.
    assert_eq!(parse_value("u64", "-1"), Ok(CmapValue::U64(u64::MAX)));
    assert_eq!(
        parse_value("u64", "99999999999999999999999"),
        Ok(CmapValue::U64(u64::MAX))
    );
    assert_eq!(
        parse_value("i64", "-99999999999999999999999"),
        Ok(CmapValue::I64(i64::MIN))
    );
    assert_eq!(parse_value("flt", "1.5e2x"), Ok(CmapValue::Float(150.0)));
    assert_eq!(parse_value("dbl", "2."), Ok(CmapValue::Double(2.0)));
    assert_eq!(parse_value("dbl", "1e"), Ok(CmapValue::Double(1.0)));
    assert_eq!(
        parse_value("str", "two words"),
        Ok(CmapValue::Str(b"two words".to_vec()))
    );
}

#[test]
fn bad_values_give_corosyncs_messages() {
    assert_eq!(
        parse_value("u8", "256"),
        Err("256 is not valid u8 integer".into())
    );
    assert_eq!(
        parse_value("u8", "-1"),
        Err("-1 is not valid u8 integer".into())
    );
    assert_eq!(
        parse_value("i16", "40000"),
        Err("40000 is not valid i16 integer".into())
    );
    assert_eq!(
        parse_value("u32", "abc"),
        Err("abc is not valid u32 type value".into())
    );
    assert_eq!(
        parse_value("dbl", "x1"),
        Err("x1 is not valid dbl type value".into())
    );
    assert_eq!(parse_value("u128", "1"), Err("Unknown type u128".into()));
}

#[test]
fn settings_files_parse_like_read_in_config_file() {
    let file = "\
# comment
   # indented comment

totem.token u32 5000
  ^totem.old
^^runtime.test.
logging.debug str on trailing words
bad.key\tu32 1
incomplete.key u32
";
    assert_eq!(
        parse_load_file(file),
        [
            LoadLine::Set {
                key: "totem.token".into(),
                type_name: "u32".into(),
                value: "5000".into()
            },
            LoadLine::Delete("totem.old".into()),
            LoadLine::DeletePrefix("runtime.test.".into()),
            LoadLine::Set {
                key: "logging.debug".into(),
                type_name: "str".into(),
                value: "on".into()
            },
            // A tab does not separate words: corosync splits at spaces only.
            LoadLine::Incomplete("bad.key\tu32".into()),
            LoadLine::Incomplete("incomplete.key".into()),
        ]
    );
}

#[test]
fn flags_parse_like_corosync() {
    let parse = |args: &[&str]| CmapctlArgs::try_parse_from(args).unwrap();
    let a = parse(&["ais-cmapctl", "-g", "a", "b"]);
    assert_eq!(Action::from_args(&a), Action::Get);
    assert_eq!(a.params, ["a", "b"]);
    // A flag after the key, as getopt permits.
    let a = parse(&["ais-cmapctl", "totem.token", "-g"]);
    assert_eq!(Action::from_args(&a), Action::Get);
    let a = parse(&["ais-cmapctl", "-s", "k", "i32", "-5"]);
    assert_eq!(Action::from_args(&a), Action::Set);
    assert_eq!(a.params, ["k", "i32", "-5"]);
    let a = parse(&["ais-cmapctl", "-T", "runtime."]);
    assert_eq!(Action::from_args(&a), Action::Track { prefix: true });
    let a = parse(&["ais-cmapctl", "-t", "runtime.x"]);
    assert_eq!(Action::from_args(&a), Action::Track { prefix: false });
    let a = parse(&["ais-cmapctl", "-m", "stats"]);
    assert_eq!(Action::from_args(&a), Action::Print);
    assert_eq!(a.map.as_deref(), Some("stats"));
    let a = parse(&["ais-cmapctl", "-p", "/tmp/f"]);
    assert_eq!(Action::from_args(&a), Action::Load("/tmp/f".into()));
    assert!(CmapctlArgs::try_parse_from(["ais-cmapctl", "-g", "-d", "k"]).is_err());
}
