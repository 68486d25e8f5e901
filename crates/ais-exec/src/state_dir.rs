//! The node's state directory (`system { state_dir }`): an exclusive lock so that two
//! daemons never share it, the persisted ring sequence number (corosync's `ringid_<nodeid>`)
//! and the transport's boot epoch. Files are replaced atomically (write, fsync, rename).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// An opened and locked state directory. The lock is released when the process exits.
pub(crate) struct StateDir {
    path: PathBuf,
    node_id: u32,
    /// Holds the `flock`; never read.
    _lock: File,
}

impl StateDir {
    /// Creates the directory if needed and takes its lock; a second daemon on the same
    /// directory is refused with the first one's pid.
    pub(crate) fn open(path: &Path, node_id: u32) -> anyhow::Result<Self> {
        fs::create_dir_all(path)
            .with_context(|| format!("cannot create state directory {}", path.display()))?;
        let lock_path = path.join("aisexec.pid");
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            bail!(
                "another aisexec (pid {}) is running with state directory {}",
                pid.trim(),
                path.display()
            );
        }
        lock.set_len(0)?;
        writeln!(lock, "{}", std::process::id())?;
        Ok(Self {
            path: path.to_owned(),
            node_id,
            _lock: lock,
        })
    }

    /// The highest ring sequence number this node ever adopted (0 on first start).
    pub(crate) fn ring_seq(&self) -> anyhow::Result<u64> {
        self.read_u64(&format!("ringid_{}", self.node_id))
    }

    /// Makes `seq` durable before the caller sends anything that follows it.
    pub(crate) fn persist_ring_seq(&self, seq: u64) -> io::Result<()> {
        self.write_u64(&format!("ringid_{}", self.node_id), seq)
    }

    /// The transport epoch for this start: above every earlier one, even if the wall clock
    /// went back, and stored before the first packet is sealed with it.
    pub(crate) fn next_epoch(&self, unix_nanos: u64) -> anyhow::Result<u64> {
        let name = format!("epoch_{}", self.node_id);
        let previous = self.read_u64(&name)?;
        let floor = previous
            .checked_add(1)
            .with_context(|| format!("{name}: epoch exhausted ({previous})"))?;
        let epoch = unix_nanos.max(floor);
        self.write_u64(&name, epoch)?;
        Ok(epoch)
    }

    fn read_u64(&self, name: &str) -> anyhow::Result<u64> {
        let path = self.path.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse()
                .with_context(|| format!("{}: not a number: {:?}", path.display(), text.trim())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn write_u64(&self, name: &str, value: u64) -> io::Result<()> {
        let tmp = self.path.join(format!(".{name}.tmp"));
        let mut file = File::create(&tmp)?;
        writeln!(file, "{value}")?;
        file.sync_all()?;
        fs::rename(&tmp, self.path.join(name))?;
        File::open(&self.path)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_seq_and_epoch_persist_and_rise() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), 3).unwrap();
        assert_eq!(state.ring_seq().unwrap(), 0);
        state.persist_ring_seq(42).unwrap();
        assert_eq!(state.ring_seq().unwrap(), 42);
        let first = state.next_epoch(1000).unwrap();
        assert_eq!(first, 1000);
        // The wall clock went back: the epoch still rises.
        assert_eq!(state.next_epoch(10).unwrap(), 1001);
    }

    #[test]
    fn a_second_daemon_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = StateDir::open(dir.path(), 1).unwrap();
        let second = StateDir::open(dir.path(), 1).err().unwrap();
        assert!(second.to_string().contains("another aisexec"), "{second}");
    }
}
