//! Local clients: the IPC server's settings, who may connect, and the glue between the IPC
//! server's events and the services (corosync's `exec/ipc_glue.c`).

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ais_types::{Instant, LogLimit};

use ais_config::{Account, Config, IpcType, UidGid};
use ais_ipc::{Access, Credentials, IpcMode, ServerConfig};
use ais_services::cmap::{ACCESS_CONFIG_PREFIX, ACCESS_PREFIX};
use ais_services::keys::Store;
use ais_wire::ipc::{CmapValue, Errno, IPC_MSG_SIZE_MAX};

/// The services clients reach, by IPC name, in the order the services host runs them.
pub(crate) const SERVICE_NAMES: [&str; 5] = ais_services::Services::STANDARD_NAMES;

/// The endpoint number of `cmap` in [`SERVICE_NAMES`].
pub(crate) const CMAP_ENDPOINT: usize = 2;

/// Where corosync keeps extra `uidgid {}` files; ours, read again when a client would be
/// refused and the directory changed, so that a file dropped in takes effect at once, as
/// corosync does.
pub(crate) const UIDGID_DIR: &str = "/etc/ais/uidgid.d";

/// The `uidgid.d` files are read at most this often while the directory itself is
/// unchanged (a file edited in place counts within this), so that refused clients
/// connecting in a loop do not make the daemon's loop read files and the account
/// databases for each of them.
const DIR_RECHECK: Duration = Duration::from_secs(1);

/// At most one refusal warning per uid per this interval; the rest are counted.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

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
        request_overhead: ais_services::REQUEST_OVERHEAD_MAX,
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

/// Who may connect, by corosync's rule (`cs_ipcs_connection_accept`): root or group root;
/// else a client whose uid or gid is admitted in cmap at the moment it connects, by
/// `uidgid.uid.<uid>`, `uidgid.gid.<gid>` (what root's clients, as Pacemaker's
/// `pacemakerd`, write at runtime) or the configuration's `uidgid.config.uid.<uid>`,
/// `uidgid.config.gid.<gid>`, each an 8-bit 1; else a `uidgid {}` file of the `uidgid.d`
/// directory, read again before a refusal when the directory changed (a file dropped in
/// counts at once) or was last read [`DIR_RECHECK`] ago.
///
/// The configuration's and the directory's `uidgid {}` entries are resolved here (names
/// through the system's name service) and published as `uidgid.config.*`, as corosync
/// publishes them.
pub(crate) struct AccessPolicy {
    /// The configuration's ids.
    config: Ids,
    /// The directory's ids, as last read.
    dir_ids: Ids,
    dir: PathBuf,
    /// Names that did not resolve and were reported: warned about once, not at every read.
    unresolved: BTreeSet<String>,
    /// The directory's ids changed since [`AccessPolicy::take_changed`] was last asked.
    changed: bool,
    /// When the directory was last read, and its modification time then.
    dir_read: Option<(Instant, Option<SystemTime>)>,
    /// Times the directory was read.
    dir_reads: u64,
    refusals: LogLimit<u32>,
}

/// Resolved user and group ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Ids {
    uids: BTreeSet<u32>,
    gids: BTreeSet<u32>,
}

impl Ids {
    fn admits(&self, creds: &Credentials) -> bool {
        self.uids.contains(&creds.uid) || self.gids.contains(&creds.gid)
    }
}

impl AccessPolicy {
    pub(crate) fn new(config: &Config, dir: &Path) -> Self {
        let mut policy = Self {
            config: Ids::default(),
            dir_ids: Ids::default(),
            dir: dir.to_owned(),
            unresolved: BTreeSet::new(),
            changed: false,
            dir_read: None,
            dir_reads: 0,
            refusals: LogLimit::new(REFUSAL_LOG_INTERVAL),
        };
        policy.reconfigure(config);
        policy
    }

    /// Takes a (re)loaded configuration's `uidgid {}` sections, and reads the directory.
    pub(crate) fn reconfigure(&mut self, config: &Config) {
        self.config = self.resolve(&config.uidgid, "the configuration");
        self.read_dir(None);
        self.changed = false;
    }

    /// The `uidgid.config.*` keys: every resolved id of the configuration and the directory.
    pub(crate) fn config_keys(&self) -> Vec<(String, CmapValue)> {
        let uids = self.config.uids.union(&self.dir_ids.uids);
        let gids = self.config.gids.union(&self.dir_ids.gids);
        uids.map(|uid| format!("{ACCESS_CONFIG_PREFIX}uid.{uid}"))
            .chain(gids.map(|gid| format!("{ACCESS_CONFIG_PREFIX}gid.{gid}")))
            .map(|key| (key, CmapValue::U8(1)))
            .collect()
    }

    /// Whether the directory's entries changed since last asked (their keys need
    /// publishing again).
    pub(crate) fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Whether the client may use the services; `keys` is cmap's default map as it is now.
    pub(crate) fn decide(
        &mut self,
        now: Instant,
        service: usize,
        creds: &Credentials,
        keys: &Store,
    ) -> Access {
        if creds.is_privileged() || admitted_in_cmap(keys, creds) || self.config.admits(creds) {
            return Access::Allow;
        }
        let mtime = dir_mtime(&self.dir);
        let stale = self.dir_read.is_none_or(|(read, seen)| {
            seen != mtime || now.saturating_duration_since(read) >= DIR_RECHECK
        });
        if stale {
            self.read_dir(Some(now));
        }
        if self.dir_ids.admits(creds) {
            return Access::Allow;
        }
        if let Some(held) = self.refusals.allow(now, creds.uid) {
            tracing::warn!(
                service = SERVICE_NAMES.get(service).copied().unwrap_or("?"),
                "refused IPC client pid {pid} uid {uid} gid {gid}: not root, and neither uid \
                 {uid} nor gid {gid} is admitted (a uidgid {{ uid: … gid: … }} section in the \
                 configuration or in {dir}, or root setting uidgid.uid.{uid} or \
                 uidgid.gid.{gid} to 1 in cmap){more}",
                pid = creds.pid,
                uid = creds.uid,
                gid = creds.gid,
                dir = self.dir.display(),
                more = if held > 0 {
                    format!("; {held} more refusals of uid {} not logged", creds.uid)
                } else {
                    String::new()
                },
            );
        }
        Access::Deny(Errno::EACCES)
    }

    /// Reads the directory's files; `now` is when (none at (re)configuration, so that the
    /// first refusal reads it again).
    fn read_dir(&mut self, now: Option<Instant>) {
        self.dir_reads += 1;
        self.dir_read = now.map(|now| (now, dir_mtime(&self.dir)));
        let mut ids = Ids::default();
        for (file, text) in read_dir_files(&self.dir) {
            match ais_config::parse_uidgid(&text, &file) {
                Ok(uidgid) => {
                    let found = self.resolve(&uidgid, &file);
                    ids.uids.extend(found.uids);
                    ids.gids.extend(found.gids);
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
        if ids != self.dir_ids {
            self.dir_ids = ids;
            self.changed = true;
        }
    }

    /// The ids of `uidgid`'s entries; a name the name service does not know is left out,
    /// with a warning the first time.
    fn resolve(&mut self, uidgid: &UidGid, source: &str) -> Ids {
        let mut ids = Ids::default();
        for (accounts, kind, set) in [
            (&uidgid.uids, Kind::User, &mut ids.uids),
            (&uidgid.gids, Kind::Group, &mut ids.gids),
        ] {
            for account in accounts {
                let id = match account {
                    Account::Id(id) => Some(*id),
                    Account::Name(name) => lookup(kind, name),
                };
                match (id, account) {
                    (Some(id), _) => {
                        set.insert(id);
                    }
                    (None, Account::Name(name)) => {
                        if self.unresolved.insert(format!("{kind:?}:{name}")) {
                            tracing::warn!(
                                "uidgid: {kind} {name:?} in {source} is unknown to the system's \
                                 name service (getent {db} {name}); it admits nobody",
                                kind = kind.noun(),
                                db = kind.database(),
                            );
                        }
                    }
                    (None, Account::Id(_)) => unreachable!("an id resolves to itself"),
                }
            }
        }
        ids
    }
}

/// Whether cmap admits the client now: one of corosync's four keys holds an 8-bit 1.
fn admitted_in_cmap(keys: &Store, creds: &Credentials) -> bool {
    let (uid, gid) = (creds.uid, creds.gid);
    [
        format!("{ACCESS_PREFIX}uid.{uid}"),
        format!("{ACCESS_CONFIG_PREFIX}uid.{uid}"),
        format!("{ACCESS_PREFIX}gid.{gid}"),
        format!("{ACCESS_CONFIG_PREFIX}gid.{gid}"),
    ]
    .iter()
    .any(|key| keys.get(key) == Some(&CmapValue::U8(1)))
}

/// The directory's modification time, which changes when a file is added, removed or
/// renamed in it.
fn dir_mtime(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir).and_then(|m| m.modified()).ok()
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

/// A user or a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }

    fn database(self) -> &'static str {
        match self {
            Self::User => "passwd",
            Self::Group => "group",
        }
    }
}

/// The id of a user or group name, through the system's name service (NSS: local files,
/// LDAP, sssd, … as `/etc/nsswitch.conf` says), as `getent` finds it.
fn lookup(kind: Kind, name: &str) -> Option<u32> {
    // Most entries fit in 1 KiB; a larger one (a group with many members) asks for more.
    lookup_with_buffer(kind, name, 1024)
}

/// [`lookup`], starting from a buffer of `initial` bytes and doubling it while the entry
/// does not fit (`ERANGE`), up to 1 MiB.
fn lookup_with_buffer(kind: Kind, name: &str, initial: usize) -> Option<u32> {
    let name = CString::new(name).ok()?;
    let mut buf = vec![0u8; initial.max(1)];
    loop {
        let (rc, id) = match kind {
            Kind::User => getpwnam(&name, &mut buf),
            Kind::Group => getgrnam(&name, &mut buf),
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        return if rc == 0 { id } else { None };
    }
}

/// One `getpwnam_r` call with `buf` as its string space: its return code, and the uid when
/// the user was found.
fn getpwnam(name: &CStr, buf: &mut [u8]) -> (i32, Option<u32>) {
    // SAFETY: `passwd` holds only raw pointers and integers, for which all-zero bytes are
    // valid values; its fields are read only after getpwnam_r reported the entry found.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; `entry`, `result` and `buf` (passed with its own
    // length) are valid for writes for the whole call, and nothing keeps their addresses
    // after it (the entry's strings point into `buf`, and are not read).
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    (rc, (!result.is_null()).then_some(entry.pw_uid))
}

/// One `getgrnam_r` call with `buf` as its string space: its return code, and the gid when
/// the group was found.
fn getgrnam(name: &CStr, buf: &mut [u8]) -> (i32, Option<u32>) {
    // SAFETY: `group` holds only raw pointers and integers, for which all-zero bytes are
    // valid values; its fields are read only after getgrnam_r reported the entry found.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; `entry`, `result` and `buf` (passed with its own
    // length) are valid for writes for the whole call, and nothing keeps their addresses
    // after it (the entry's name and member list point into `buf`, and are not read).
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    (rc, (!result.is_null()).then_some(entry.gr_gid))
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
        let keys = Store::default();
        let mut config = Config::default();
        config.uidgid.uids.push(Account::Id(1000));
        let mut policy = AccessPolicy::new(&config, dir.path());
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(0, 5), &keys),
            Access::Allow
        );
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(7, 0), &keys),
            Access::Allow
        );
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(1000, 5), &keys),
            Access::Allow
        );
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(1001, 5), &keys),
            Access::Deny(Errno::EACCES)
        );
        assert!(!policy.take_changed());
        // A file dropped into the directory counts at once, and its ids are published.
        std::fs::write(dir.path().join("app"), "uidgid {\n  gid: 5\n}\n").unwrap();
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(1001, 5), &keys),
            Access::Allow
        );
        assert!(policy.take_changed());
        // Refused clients in a loop do not read the directory for each: once per change
        // of the directory, or per DIR_RECHECK.
        let reads = policy.dir_reads;
        for _ in 0..1000 {
            assert_eq!(
                policy.decide(Instant::ZERO, 0, &creds(1002, 6), &keys),
                Access::Deny(Errno::EACCES)
            );
        }
        assert_eq!(policy.dir_reads, reads);
        let later = Instant::ZERO + DIR_RECHECK;
        policy.decide(later, 0, &creds(1002, 6), &keys);
        assert_eq!(policy.dir_reads, reads + 1);
        assert_eq!(
            policy.config_keys(),
            [
                ("uidgid.config.uid.1000".to_owned(), CmapValue::U8(1)),
                ("uidgid.config.gid.5".to_owned(), CmapValue::U8(1)),
            ]
        );
    }

    /// Pacemaker's way: root's pacemakerd sets `uidgid.gid.<haclient>` in cmap, and the
    /// daemons of group haclient may connect from then on, as with corosync.
    #[test]
    fn cmap_keys_admit_as_corosync_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut policy = AccessPolicy::new(&Config::default(), dir.path());
        let mut keys = Store::default();
        let refused = Access::Deny(Errno::EACCES);
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(102, 105), &keys),
            refused
        );
        keys.set("uidgid.gid.105", CmapValue::U8(1));
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(102, 105), &keys),
            Access::Allow
        );
        keys.delete("uidgid.gid.105");
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(102, 105), &keys),
            refused
        );
        keys.set("uidgid.uid.102", CmapValue::U8(1));
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(102, 105), &keys),
            Access::Allow
        );
        // corosync admits on an 8-bit 1 only: other values or types do not count.
        for value in [CmapValue::U8(0), CmapValue::U8(2), CmapValue::U32(1)] {
            keys.set("uidgid.uid.102", value);
            assert_eq!(
                policy.decide(Instant::ZERO, 0, &creds(102, 105), &keys),
                refused
            );
        }
        keys.set("uidgid.config.uid.102", CmapValue::U8(1));
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(102, 105), &keys),
            Access::Allow
        );
        keys.delete("uidgid.config.uid.102");
        keys.set("uidgid.config.gid.105", CmapValue::U8(1));
        assert_eq!(
            policy.decide(Instant::ZERO, 0, &creds(102, 105), &keys),
            Access::Allow
        );
    }

    #[test]
    fn names_resolve_through_the_name_service() {
        assert_eq!(lookup(Kind::User, "root"), Some(0));
        assert_eq!(lookup(Kind::Group, "root"), Some(0));
        assert_eq!(lookup(Kind::User, "no-such-user-ais-test"), None);
        assert_eq!(lookup(Kind::Group, "no-such-group-ais-test"), None);
        assert_eq!(lookup(Kind::User, "nul\0inside"), None);
        // An entry larger than the buffer: the call says ERANGE and the buffer grows.
        assert_eq!(lookup_with_buffer(Kind::User, "root", 1), Some(0));
        assert_eq!(lookup_with_buffer(Kind::Group, "root", 1), Some(0));
        assert_eq!(
            lookup_with_buffer(Kind::Group, "no-such-group-ais-test", 1),
            None
        );
        // The configuration's names come out as numbers; unknown ones admit nobody.
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.uidgid.uids.push(Account::Name("root".into()));
        config
            .uidgid
            .gids
            .push(Account::Name("no-such-group-ais-test".into()));
        let policy = AccessPolicy::new(&config, dir.path());
        assert_eq!(
            policy.config_keys(),
            [("uidgid.config.uid.0".to_owned(), CmapValue::U8(1))]
        );
        assert_eq!(policy.unresolved.len(), 1);
    }
}
