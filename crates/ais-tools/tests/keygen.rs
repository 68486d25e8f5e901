//! `ais-keygen` as operators run it: the real binary in a scratch directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ais-keygen");

/// Runs `ais-keygen` with `args`, with the key-file variable unset unless `env_file` sets it.
fn keygen(args: &[&str], env_file: Option<&Path>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("AIS_TOTEM_AUTHKEY_FILE");
    if let Some(path) = env_file {
        cmd.env("AIS_TOTEM_AUTHKEY_FILE", path);
    }
    cmd.output().expect("ais-keygen runs")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn writes_256_random_bytes_with_mode_0400() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("authkey");
    let out = keygen(&["-k", arg(&key)], None);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!("Writing ais key to {}.", key.display())),
        "{stdout}"
    );
    let bytes = fs::read(&key).unwrap();
    assert_eq!(bytes.len(), 256);
    assert!(bytes.iter().any(|&b| b != bytes[0]), "not random");
    assert_eq!(mode(&key), 0o400);
    let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "temporary file left behind: {leftovers:?}"
    );
}

#[test]
fn length_flag_sets_the_size() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, len) in [("-l", 128), ("--length", 4096)] {
        let key = dir.path().join(format!("key{len}"));
        let out = keygen(&["-k", arg(&key), flag, &len.to_string()], None);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(fs::read(&key).unwrap().len(), len);
    }
}

#[test]
fn length_out_of_range_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("authkey");
    for len in ["100", "4097"] {
        let out = keygen(&["-k", arg(&key), "-l", len], None);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
    }
    assert!(!key.exists());
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("authkey");
    assert!(keygen(&["-k", arg(&key)], None).status.success());
    let first = fs::read(&key).unwrap();
    let out = keygen(&["-k", arg(&key)], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(fs::read(&key).unwrap(), first, "the key changed");
}

#[test]
fn force_replaces_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("authkey");
    assert!(keygen(&["-k", arg(&key)], None).status.success());
    let first = fs::read(&key).unwrap();
    let out = keygen(&["--key-file", arg(&key), "--force", "-l", "512"], None);
    assert!(out.status.success(), "{out:?}");
    let second = fs::read(&key).unwrap();
    assert_eq!(second.len(), 512);
    assert_ne!(second[..256], first[..]);
    assert_eq!(mode(&key), 0o400);
}

#[test]
fn key_file_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("from-env");
    let out = keygen(&[], Some(&key));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read(&key).unwrap().len(), 256);
    // The flag wins over the variable.
    let flagged = dir.path().join("from-flag");
    let out = keygen(&["-k", arg(&flagged)], Some(&dir.path().join("unused")));
    assert!(out.status.success(), "{out:?}");
    assert!(flagged.exists() && !dir.path().join("unused").exists());
}

#[test]
fn creates_a_missing_directory_with_mode_0700() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ais").join("authkey");
    let out = keygen(&["-k", arg(&key)], None);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&dir.path().join("ais")), 0o700);
    assert_eq!(mode(&key), 0o400);
}
