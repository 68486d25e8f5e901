//! Local clients: the IPC server's settings, who may connect, and the glue between the IPC
//! server's events and the services (corosync's `exec/ipc_glue.c`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ais_config::{Account, Config, IpcType, UidGid};
use ais_ipc::{Access, Credentials, IpcMode, ServerConfig};
use ais_wire::ipc::{Errno, IPC_MSG_SIZE_MAX};

/// The services clients reach, by IPC name, in the order the services host runs them.
pub(crate) const SERVICE_NAMES: [&str; 5] = ais_services::Services::STANDARD_NAMES;

/// The endpoint number of `cmap` in [`SERVICE_NAMES`].
pub(crate) const CMAP_ENDPOINT: usize = 2;

/// Where corosync keeps extra `uidgid {}` files; ours, read at every connection so that a
/// file dropped in takes effect at once, as corosync does.
pub(crate) const UIDGID_DIR: &str = "/etc/ais/uidgid.d";

/// Events queued in the daemon per client beyond what its channel holds. A client that falls
/// this far behind is disconnected (and, in CPG, reported PROCDOWN) rather than growing the
/// daemon without bound.
const EVENT_QUEUE_LIMIT: usize = 64 * 1024 * 1024;

/// The IPC server's settings from the configuration.
pub(crate) fn server_config(config: &Config) -> ServerConfig {
    ServerConfig {
        prefix: ipc_prefix(config),
        services: SERVICE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        mode: match config.system.ipc_type {
            IpcType::Shm => IpcMode::Shm,
            IpcType::Socket => IpcMode::Socket,
        },
        max_msg_size: IPC_MSG_SIZE_MAX as u32,
        event_queue_limit: EVENT_QUEUE_LIMIT,
        ..ServerConfig::default()
    }
}

/// `system.ipc_prefix`, else `$AIS_IPC_PREFIX`, else none: corosync's own names, which
/// unmodified corosync clients use.
pub(crate) fn ipc_prefix(config: &Config) -> String {
    config
        .system
        .ipc_prefix
        .clone()
        .or_else(|| std::env::var("AIS_IPC_PREFIX").ok())
        .unwrap_or_default()
}

/// corosync's rule (`cs_ipcs_connection_accept`): root, or group root, or an id listed in a
/// `uidgid {}` section of the configuration or of a file in the `uidgid.d` directory.
pub(crate) struct AccessPolicy {
    uids: BTreeSet<u32>,
    gids: BTreeSet<u32>,
    dir: PathBuf,
}

impl AccessPolicy {
    pub(crate) fn new(config: &Config, dir: &Path) -> Self {
        let mut policy = Self {
            uids: BTreeSet::new(),
            gids: BTreeSet::new(),
            dir: dir.to_owned(),
        };
        policy.add(&config.uidgid);
        policy
    }

    fn add(&mut self, uidgid: &UidGid) {
        for account in &uidgid.uids {
            match resolve(account, Path::new("/etc/passwd")) {
                Some(uid) => {
                    self.uids.insert(uid);
                }
                None => tracing::warn!("uidgid: unknown user {account:?}"),
            }
        }
        for account in &uidgid.gids {
            match resolve(account, Path::new("/etc/group")) {
                Some(gid) => {
                    self.gids.insert(gid);
                }
                None => tracing::warn!("uidgid: unknown group {account:?}"),
            }
        }
    }

    fn allowed(&self, creds: &Credentials) -> bool {
        creds.uid == 0
            || creds.gid == 0
            || self.uids.contains(&creds.uid)
            || self.gids.contains(&creds.gid)
    }

    /// Whether the client may use the services.
    pub(crate) fn decide(&self, service: usize, creds: &Credentials) -> Access {
        if self.allowed(creds) {
            return Access::Allow;
        }
        // Files in the directory count from the moment they appear.
        let mut live = Self {
            uids: BTreeSet::new(),
            gids: BTreeSet::new(),
            dir: self.dir.clone(),
        };
        for (file, text) in read_dir_files(&self.dir) {
            match ais_config::parse_uidgid(&text, &file) {
                Ok(uidgid) => live.add(&uidgid),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        if live.allowed(creds) {
            return Access::Allow;
        }
        tracing::warn!(
            service = SERVICE_NAMES.get(service).copied().unwrap_or("?"),
            "refused IPC client pid {} uid {} gid {}: not root and not listed in uidgid",
            creds.pid,
            creds.uid,
            creds.gid
        );
        Access::Deny(Errno::EACCES)
    }
}

fn read_dir_files(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p.display().to_string(), text))
        })
        .collect()
}

/// A user or group id: a number as it is, a name looked up in `/etc/passwd` or
/// `/etc/group` (local accounts only).
fn resolve(account: &Account, table: &Path) -> Option<u32> {
    match account {
        Account::Id(id) => Some(*id),
        Account::Name(name) => {
            let text = std::fs::read_to_string(table).ok()?;
            lookup(&text, name)
        }
    }
}

/// The id of `name` in a passwd or group file: `name:x:id:...`.
fn lookup(table: &str, name: &str) -> Option<u32> {
    table.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name)
            .then(|| fields.nth(1)?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cmap_endpoint_is_cmap() {
        assert_eq!(SERVICE_NAMES[CMAP_ENDPOINT], "cmap");
    }

    fn creds(uid: u32, gid: u32) -> Credentials {
        Credentials { pid: 1, uid, gid }
    }

    #[test]
    fn root_and_listed_ids_are_allowed_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.uidgid.uids.push(Account::Id(1000));
        let policy = AccessPolicy::new(&config, dir.path());
        assert_eq!(policy.decide(0, &creds(0, 5)), Access::Allow);
        assert_eq!(policy.decide(0, &creds(7, 0)), Access::Allow);
        assert_eq!(policy.decide(0, &creds(1000, 5)), Access::Allow);
        assert_eq!(
            policy.decide(0, &creds(1001, 5)),
            Access::Deny(Errno::EACCES)
        );
        // A file dropped into the directory counts at once.
        std::fs::write(dir.path().join("app"), "uidgid {\n  gid: 5\n}\n").unwrap();
        assert_eq!(policy.decide(0, &creds(1001, 5)), Access::Allow);
    }

    #[test]
    fn names_resolve_through_the_account_tables() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nhacluster:x:107:113::/var/lib/pacemaker:/usr/sbin/nologin\n";
        assert_eq!(lookup(passwd, "hacluster"), Some(107));
        assert_eq!(lookup(passwd, "nobody"), None);
        assert_eq!(lookup("haclient:x:113:\n", "haclient"), Some(113));
    }
}
