//! `ais-keygen`: writes the shared authentication key every node of a cluster reads
//! (`totem.keyfile`), as `corosync-keygen` does.
//!
//! The key is fresh bytes from the operating system's random source. It never exists on
//! disk with wider permissions than 0400, and never half-written: it goes to a temporary file
//! created 0400 in the same directory, is synced, then takes its place in one step (a rename
//! with `--force`, otherwise a hard link, which fails rather than replace a key another run
//! wrote in the meantime).

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

/// Where the daemon looks for the key unless `totem.keyfile` says otherwise.
pub const DEFAULT_KEY_FILE: &str = "/etc/ais/authkey";
/// Shortest key `ais-transport` accepts, in bytes (1024 bits).
pub const KEY_LEN_MIN: u16 = 128;
/// Longest key `ais-transport` accepts, in bytes.
pub const KEY_LEN_MAX: u16 = 4096;

/// Generate the cluster's shared authentication key. Copy the file to every node.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ais-keygen", version, about)]
pub struct KeygenArgs {
    /// Write the key to PATH.
    #[arg(
        short = 'k',
        long,
        value_name = "PATH",
        env = "AIS_TOTEM_AUTHKEY_FILE",
        default_value = DEFAULT_KEY_FILE
    )]
    pub key_file: PathBuf,
    /// Key length in bytes, 128 to 4096.
    #[arg(
        short = 'l',
        long,
        value_name = "BYTES",
        default_value_t = 256,
        value_parser = clap::value_parser!(u16).range(i64::from(KEY_LEN_MIN)..=i64::from(KEY_LEN_MAX))
    )]
    pub length: u16,
    /// Replace an existing key file. Every node then needs the new key before it restarts.
    #[arg(long)]
    pub force: bool,
}

/// Writes a new key to `args.key_file`. Exit 1, with nothing changed, if the file exists and
/// `--force` was not given.
pub fn run(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let path = args.key_file.as_path();
    if !args.force && exists(path)? {
        eprintln!(
            "ais-keygen: {} already exists; refusing to overwrite it (use --force to replace it)",
            path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!("AIS cluster engine authentication key generator.");
    println!(
        "Gathering {} bits for key from the OS random source.",
        u32::from(args.length) * 8
    );
    let mut key = vec![0u8; usize::from(args.length)];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("reading the OS random source: {e}"))?;
    println!("Writing ais key to {}.", path.display());
    match write_key(path, &key, args.force) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            eprintln!(
                "ais-keygen: {} appeared while the key was written; left it alone",
                path.display()
            );
            Ok(ExitCode::FAILURE)
        }
        result => {
            result.with_context(|| format!("writing {}", path.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether anything (a file, a directory, a dangling symlink) is at `path`.
fn exists(path: &Path) -> anyhow::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("checking {}", path.display())),
    }
}

/// Writes `key` to `path` through a 0400 temporary file beside it. `replace`: rename over an
/// existing file; otherwise fail with `AlreadyExists` if one is there.
fn write_key(path: &Path, key: &[u8], replace: bool) -> io::Result<()> {
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the key path names no file",
        ));
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        random_suffix()?
    ));
    let result = write_synced(&tmp, key).and_then(|()| {
        if replace {
            fs::rename(&tmp, path)
        } else {
            fs::hard_link(&tmp, path).and_then(|()| fs::remove_file(&tmp))
        }
    });
    if result.is_err() {
        // Best effort: the error to report is the one above.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // The new directory entry is durable only once the directory itself is synced.
    File::open(dir)?.sync_all()
}

/// Creates `tmp` (never following or reusing an existing file) with mode 0400 and writes
/// `key` to disk.
fn write_synced(tmp: &Path, key: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(tmp)?;
    // `mode` is filtered through the umask; this makes it exactly 0400.
    file.set_permissions(Permissions::from_mode(0o400))?;
    file.write_all(key)?;
    file.sync_all()
}

/// 16 hex digits, so concurrent runs never pick the same temporary name.
fn random_suffix() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(format!("{:016x}", u64::from_le_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn arguments_are_consistent() {
        KeygenArgs::command().debug_assert();
    }

    #[test]
    fn length_defaults_to_256_and_is_range_checked() {
        let args = KeygenArgs::try_parse_from(["ais-keygen", "-k", "/tmp/k"]).unwrap();
        assert_eq!((args.length, args.force), (256, false));
        for ok in ["128", "4096"] {
            assert!(KeygenArgs::try_parse_from(["ais-keygen", "-l", ok]).is_ok());
        }
        for bad in ["127", "4097", "0", "-1", "many"] {
            assert!(
                KeygenArgs::try_parse_from(["ais-keygen", "-l", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_key(Path::new("/"), b"key", false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
