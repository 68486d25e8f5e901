//! What an operator sees when the configuration or the key is wrong: a non-zero exit and a
//! message that points at the file and line, or says what to do.

#![allow(clippy::disallowed_methods)] // Tests read the clock and sleep.

use std::process::{Command, Output};

fn aisexec(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aisexec"));
    c.args(args)
        .env_remove("AIS_MAIN_CONFIG_FILE")
        .env_remove("AIS_TOTEM_AUTHKEY_FILE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_bad_value_and_an_unknown_key_exit_1_with_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.conf");
    std::fs::write(
        &path,
        "totem {\n    version: 2\n    token: fast\n    tokn_retransmit: 5\n}\nnodelist {\n    node {\n        nodeid: 1\n        ring0_addr: 127.0.0.1\n    }\n}\n",
    )
    .unwrap();
    let out = aisexec(&["-t", "-c", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("bad.conf:3:"), "{all}");
    assert!(all.contains("totem.token"), "{all}");
    assert!(all.contains("bad.conf:4:"), "{all}");
    assert!(all.contains("did you mean"), "{all}");
}

#[test]
fn a_cross_field_error_points_at_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.conf");
    std::fs::write(
        &path,
        "totem {\n    version: 2\n}\nnodelist {\n    node {\n        nodeid: 1\n        ring0_addr: 127.0.0.1\n    }\n    node {\n        nodeid: 1\n        ring0_addr: 127.0.0.2\n    }\n}\n",
    )
    .unwrap();
    let out = aisexec(&["-t", "-c", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let all = text(&out);
    assert!(all.contains("dup.conf:10:"), "{all}");
}

#[test]
fn a_valid_file_and_the_embedded_default_pass_the_test_flag() {
    let out = aisexec(
        &["-t"],
        &[("AIS_MAIN_CONFIG_FILE", "/nonexistent/ais.conf")],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "an explicit path must exist: {}",
        text(&out)
    );
    assert!(text(&out).contains("/nonexistent/ais.conf"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.conf");
    std::fs::write(&path, ais_default()).unwrap();
    let out = aisexec(&["-t", "-c", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

fn ais_default() -> String {
    // The embedded default, as an operator would copy it to /etc/ais/ais.conf.
    let out = aisexec(&["-t"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "embedded default must be valid: {}",
        text(&out)
    );
    include_str!("../../ais-config/src/default.conf").to_owned()
}

#[test]
fn crypto_without_a_readable_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nokey.conf");
    let state = dir.path().join("state");
    std::fs::write(
        &path,
        format!(
            "totem {{\n    version: 2\n    crypto_cipher: aes256\n    crypto_hash: sha256\n    keyfile: {0}/missing\n    interface {{\n        mcastport: 25455\n    }}\n}}\nnodelist {{\n    node {{\n        nodeid: 1\n        ring0_addr: 127.0.0.1\n    }}\n}}\nsystem {{\n    state_dir: {1}\n}}\n",
            dir.path().display(),
            state.display()
        ),
    )
    .unwrap();
    let out = aisexec(&["-f", "-c", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let all = text(&out);
    assert!(all.contains("authkey") && all.contains("missing"), "{all}");
    assert!(
        all.contains("ais-keygen"),
        "the message says how to fix it: {all}"
    );
}

#[test]
fn version_flag_prints_the_version() {
    let out = aisexec(&["-v"], &[]);
    assert!(out.status.success());
    assert!(text(&out).contains("AIS Cluster Engine, version"));
}

#[test]
fn logging_goes_to_the_configured_file_with_per_subsystem_debug() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ais.log");
    let path = dir.path().join("log.conf");
    std::fs::write(
        &path,
        format!(
            "totem {{\n    version: 2\n    crypto_cipher: none\n    crypto_hash: none\n    interface {{\n        mcastport: 25485\n    }}\n}}\n\
             nodelist {{\n    node {{\n        nodeid: 1\n        ring0_addr: 127.0.0.1\n    }}\n}}\n\
             logging {{\n    to_stderr: no\n    to_logfile: yes\n    logfile: {}\n    logger_subsys {{\n        subsys: TOTEM\n        debug: on\n    }}\n}}\n\
             system {{\n    state_dir: {}\n}}\n",
            log.display(),
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_aisexec"))
        .args(["-f", "-c", path.to_str().unwrap()])
        .env_remove("AIS_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("A new membership") && text.contains("regular configuration installed") {
            break text;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "log file:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("positive pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "to_stderr: no: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // TOTEM at debug; the other subsystems stay at info.
    assert!(text.contains("DEBUG ais_totem"), "{text}");
    assert!(!text.contains("DEBUG ais_transport"), "{text}");
    assert!(
        text.contains("packets are neither authenticated nor encrypted"),
        "{text}"
    );
}
