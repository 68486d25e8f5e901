//! The key/value store behind cmap (corosync's icmap): typed values under dotted names,
//! read-only prefixes, prefix iteration, and tracking.
//!
//! It is local to a node, like corosync's: the configuration, the runtime state and the
//! statistics of this node. Services write their runtime keys through [`crate::Effects`];
//! cmap clients read and write through the cmap service. Every change that a tracker
//! watches queues a [`Notification`]; the services host turns them into client events.

use std::collections::BTreeMap;
use std::ops::Bound;

use ais_types::ConnId;
use ais_wire::ipc::{CmapValue, CsStatus};

/// The shortest key name icmap accepts (`ICMAP_KEYNAME_MINLEN`).
pub const KEY_MIN: usize = 3;
/// The longest key name (`ICMAP_KEYNAME_MAXLEN`).
pub const KEY_MAX: usize = 255;

/// What a tracker watches (`CMAP_TRACK_*`), as a bit set.
pub mod track {
    /// A watched key was deleted.
    pub const DELETE: i32 = 1;
    /// A watched key changed value.
    pub const MODIFY: i32 = 2;
    /// A watched key was added.
    pub const ADD: i32 = 4;
    /// The tracker's key is a prefix: every key under it is watched.
    pub const PREFIX: i32 = 8;
}

/// Why a change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is not there.
    #[error("no such key")]
    NotExist,
    /// The key is read-only.
    #[error("the key is read-only")]
    ReadOnly,
    /// The name is shorter than 3 or longer than 255 bytes.
    #[error("the key name's length is out of range")]
    NameLength,
    /// The name has a byte outside `[A-Za-z0-9._/:-]`.
    #[error("the key name has an invalid character")]
    InvalidName,
    /// An increment on a value that is not an integer.
    #[error("the value is not an integer")]
    NotInteger,
}

impl KeyError {
    /// The status corosync answers for it.
    pub fn status(self) -> CsStatus {
        match self {
            Self::NotExist => CsStatus::ERR_NOT_EXIST,
            Self::ReadOnly => CsStatus::ERR_ACCESS,
            Self::NameLength => CsStatus::ERR_NAME_TOO_LONG,
            Self::InvalidName | Self::NotInteger => CsStatus::ERR_INVALID_PARAM,
        }
    }
}

/// Checks a key name as icmap does (`icmap_check_key_name`).
pub fn check_name(name: &str) -> Result<(), KeyError> {
    if !(KEY_MIN..=KEY_MAX).contains(&name.len()) {
        return Err(KeyError::NameLength);
    }
    let valid = |b: u8| b.is_ascii_alphanumeric() || b"._/:-".contains(&b);
    if name.bytes().all(valid) {
        Ok(())
    } else {
        Err(KeyError::InvalidName)
    }
}

/// One change a tracker asked to hear about.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The tracking client.
    pub conn: ConnId,
    /// The client's cookie for the tracker (`track_inst_handle`).
    pub cookie: u64,
    /// The key.
    pub key: String,
    /// [`track::ADD`], [`track::MODIFY`] or [`track::DELETE`].
    pub event: i32,
    /// The value after the change (none for a delete).
    pub new: Option<CmapValue>,
    /// The value before (none for an add).
    pub old: Option<CmapValue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Tracker {
    conn: ConnId,
    key: String,
    kind: i32,
    cookie: u64,
}

impl Tracker {
    fn watches(&self, key: &str, event: i32) -> bool {
        self.kind & event != 0
            && if self.kind & track::PREFIX != 0 {
                key.starts_with(&self.key)
            } else {
                key == self.key
            }
    }
}

/// One map of keys with its trackers.
#[derive(Clone, Debug, Default)]
pub struct Store {
    map: BTreeMap<String, CmapValue>,
    read_only: Vec<String>,
    trackers: BTreeMap<u64, Tracker>,
    next_tracker: u64,
    notifications: Vec<Notification>,
}

impl Store {
    /// An empty store where the given keys are read-only to clients: an entry ending in
    /// `.` (or empty) covers every key under it, any other names one key.
    pub fn new(read_only: &[&str]) -> Self {
        Self {
            read_only: read_only.iter().map(|p| (*p).to_owned()).collect(),
            next_tracker: 1,
            ..Self::default()
        }
    }

    /// Whether a client may change `key`.
    pub fn is_read_only(&self, key: &str) -> bool {
        self.read_only.iter().any(|entry| {
            if entry.is_empty() || entry.ends_with('.') {
                key.starts_with(entry.as_str())
            } else {
                key == entry
            }
        })
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&CmapValue> {
        self.map.get(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The first key after `after` (or from the start) that begins with `prefix`: prefix
    /// iteration that stays correct while keys come and go.
    pub fn next_key(&self, prefix: &str, after: Option<&str>) -> Option<(&str, &CmapValue)> {
        let start = match after {
            Some(key) => Bound::Excluded(key),
            None => Bound::Included(prefix),
        };
        self.map
            .range::<str, _>((start, Bound::Unbounded))
            .next()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Every key under `prefix`, in order.
    pub fn prefixed<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a CmapValue)> {
        self.map
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Sets `key` as a client asks: read-only keys are refused.
    pub fn client_set(&mut self, key: &str, value: CmapValue) -> Result<(), KeyError> {
        check_name(key)?;
        if self.is_read_only(key) {
            return Err(KeyError::ReadOnly);
        }
        self.set(key, value);
        Ok(())
    }

    /// Deletes `key` as a client asks.
    pub fn client_delete(&mut self, key: &str) -> Result<(), KeyError> {
        check_name(key)?;
        if self.is_read_only(key) {
            return Err(KeyError::ReadOnly);
        }
        self.delete(key).map(|_| ()).ok_or(KeyError::NotExist)
    }

    /// Adds `step` to an integer key as a client asks (`cmap_inc`/`cmap_dec`), wrapping.
    pub fn client_adjust(&mut self, key: &str, step: i32) -> Result<(), KeyError> {
        check_name(key)?;
        if self.is_read_only(key) {
            return Err(KeyError::ReadOnly);
        }
        let old = self.map.get(key).ok_or(KeyError::NotExist)?;
        let new = adjust(old, step).ok_or(KeyError::NotInteger)?;
        self.set(key, new);
        Ok(())
    }

    /// Sets `key` (the daemon's own writes: no read-only check). An unchanged value is not
    /// a change and notifies nobody, as in icmap.
    pub fn set(&mut self, key: &str, value: CmapValue) {
        match self.map.get_mut(key) {
            Some(old) if *old == value => {}
            Some(old) => {
                let old = std::mem::replace(old, value.clone());
                self.notify(key, track::MODIFY, Some(value), Some(old));
            }
            None => {
                self.map.insert(key.to_owned(), value.clone());
                self.notify(key, track::ADD, Some(value), None);
            }
        }
    }

    /// Deletes `key`, returning its value.
    pub fn delete(&mut self, key: &str) -> Option<CmapValue> {
        let old = self.map.remove(key)?;
        self.notify(key, track::DELETE, None, Some(old.clone()));
        Some(old)
    }

    /// Deletes every key under `prefix` that `keep` rejects (the daemon refreshing a group
    /// of runtime keys).
    pub fn retain_prefixed(&mut self, prefix: &str, mut keep: impl FnMut(&str) -> bool) {
        let gone: Vec<String> = self
            .prefixed(prefix)
            .filter(|(k, _)| !keep(k))
            .map(|(k, _)| k.to_owned())
            .collect();
        for key in gone {
            self.delete(&key);
        }
    }

    /// Starts a tracker for `conn`; returns its handle.
    pub fn track_add(&mut self, conn: ConnId, key: &str, kind: i32, cookie: u64) -> u64 {
        let handle = self.next_tracker;
        self.next_tracker += 1;
        self.trackers.insert(
            handle,
            Tracker {
                conn,
                key: key.to_owned(),
                kind,
                cookie,
            },
        );
        handle
    }

    /// Stops `conn`'s tracker `handle`; returns its cookie.
    pub fn track_delete(&mut self, conn: ConnId, handle: u64) -> Option<u64> {
        match self.trackers.get(&handle) {
            Some(t) if t.conn == conn => self.trackers.remove(&handle).map(|t| t.cookie),
            _ => None,
        }
    }

    /// Stops every tracker of a client that went away.
    pub fn forget(&mut self, conn: ConnId) {
        self.trackers.retain(|_, t| t.conn != conn);
        self.notifications.retain(|n| n.conn != conn);
    }

    /// Takes the notifications queued since the last call, in change order.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.notifications)
    }

    /// Whether notifications are waiting.
    pub fn has_notifications(&self) -> bool {
        !self.notifications.is_empty()
    }

    fn notify(&mut self, key: &str, event: i32, new: Option<CmapValue>, old: Option<CmapValue>) {
        for t in self.trackers.values() {
            if t.watches(key, event) {
                self.notifications.push(Notification {
                    conn: t.conn,
                    cookie: t.cookie,
                    key: key.to_owned(),
                    event,
                    new: new.clone(),
                    old: old.clone(),
                });
            }
        }
    }
}

/// `value + step` for the integer types, wrapping as icmap's `icmap_adjust_int` does.
fn adjust(value: &CmapValue, step: i32) -> Option<CmapValue> {
    use CmapValue as V;
    Some(match *value {
        V::I8(v) => V::I8(v.wrapping_add(step as i8)),
        V::U8(v) => V::U8(v.wrapping_add(step as u8)),
        V::I16(v) => V::I16(v.wrapping_add(step as i16)),
        V::U16(v) => V::U16(v.wrapping_add(step as u16)),
        V::I32(v) => V::I32(v.wrapping_add(step)),
        V::U32(v) => V::U32(v.wrapping_add(step as u32)),
        V::I64(v) => V::I64(v.wrapping_add(i64::from(step))),
        V::U64(v) => V::U64(v.wrapping_add(i64::from(step) as u64)),
        _ => return None,
    })
}

/// The two maps corosync's cmap serves: the default map (configuration and runtime) and
/// the statistics map (`cmap_initialize_map(CMAP_MAP_STATS)`, read-only).
#[derive(Clone, Debug)]
pub struct Keys {
    /// Map 0.
    pub default: Store,
    /// Map 1: `stats.*`.
    pub stats: Store,
}

/// The keys of the default map that clients may not change, as in corosync (`exec/main.c`
/// `set_icmap_ro_keys_flag`, votequorum's `votequorum_set_icmap_ro_keys`, totemconfig's
/// `nodelist.local_node_pos`): the daemon's internal state and statistics, and settings that
/// only a restart can change. `runtime.members.` and `runtime.votequorum.` are ours in
/// addition: they describe the ring and the quorum, and a client that changed them would
/// mislead every other client. Everything else (`totem.token`, `quorum.expected_votes`,
/// `runtime.blackbox.*`, applications' own keys, ...) is writable, as in corosync.
pub const DEFAULT_READ_ONLY: &[&str] = &[
    "internal_configuration.",
    "runtime.connections.",
    "runtime.totem.",
    "runtime.services.",
    "runtime.config.",
    "runtime.members.",
    "runtime.votequorum.",
    crate::cmap::ACCESS_CONFIG_PREFIX,
    "totem.crypto_cipher",
    "totem.crypto_hash",
    "totem.secauth",
    "totem.ip_version",
    "totem.rrp_mode",
    "totem.transport",
    "totem.cluster_name",
    "totem.netmtu",
    "totem.threads",
    "totem.version",
    "totem.nodeid",
    "totem.clear_node_high_bit",
    "qb.ipc_type",
    "config.reload_in_progress",
    "config.totemconfig_reload_in_progress",
    "nodelist.local_node_pos",
    "quorum.allow_downscale",
    "quorum.wait_for_all",
    "quorum.last_man_standing",
    "quorum.last_man_standing_window",
    "quorum.expected_votes_tracking",
    "quorum.auto_tie_breaker",
    "quorum.auto_tie_breaker_node",
];

impl Default for Keys {
    fn default() -> Self {
        Self {
            default: Store::new(DEFAULT_READ_ONLY),
            stats: Store::new(&[""]),
        }
    }
}

impl Keys {
    /// Map `map` (0 default, 1 stats).
    pub fn map(&mut self, map: u8) -> &mut Store {
        if map == 1 {
            &mut self.stats
        } else {
            &mut self.default
        }
    }

    /// Stops every tracker of a client that went away, in both maps.
    pub fn forget(&mut self, conn: ConnId) {
        self.default.forget(conn);
        self.stats.forget(conn);
    }
}

#[cfg(test)]
mod tests;
