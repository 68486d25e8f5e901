//! cmap, the configuration and runtime key/value map: read, write, delete and iterate keys,
//! and track changes (libcmap; reference §2.5).
//!
//! Values are [`CmapValue`]s. Reading one whose type is unknown takes two GETs, as libcmap
//! does for strings: the first asks only the type and length, the second fetches that many
//! bytes; the typed getters ([`Cmap::get_u32`] and friends) take one GET with a 16-byte
//! buffer, as `cmap_get_uint32` does, and fail with `CS_ERR_INVALID_PARAM` when the key
//! holds another type.
//!
//! Invariants: one response is read right after each request; an iteration is always
//! finalized, also after an error; a notification is handed out only for a tracker this
//! connection still has (a late one for a deleted tracker is dropped, as libcmap does).
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ais_client::cmap::{Cmap, Map, track};
//! use ais_client::{Dispatch, Options};
//!
//! // corosync-cmapctl style: select the map explicitly.
//! let mut cmap = Cmap::connect_map(&Options::from_env(), Map::Default)?;
//! for key in cmap.iter("totem.")? {
//!     println!("{} {}", key.key, cmap.get(&key.key)?);
//! }
//! cmap.set("test.counter", 1u32)?;
//! cmap.inc("test.counter")?;
//! assert_eq!(cmap.get_u32("test.counter")?, 2);
//!
//! let tracker = cmap.track_add("test.", track::ADD | track::MODIFY | track::PREFIX)?;
//! cmap.set("test.name", "demo")?;
//! cmap.dispatch(Dispatch::Blocking, &mut |n| {
//!     println!("{:?} {} -> {:?}", n.change, n.key, n.new);
//!     ControlFlow::Break(())
//! })?;
//! cmap.track_delete(tracker)?;
//! # Ok::<(), ais_client::Error>(())
//! ```

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ais_wire::ipc::{
    CMAP_VALUE_MAX, CmapEvent, CmapRequest, CmapResponse, CsStatus, cmap_map, cmap_response_id,
};
pub use ais_wire::ipc::{CmapValue, cmap_track as track, cmap_value_type as value_type};

use crate::conn::{Conn, protocol};
use crate::error::{Error, Result};
use crate::{Dispatch, Options};

/// How many times [`Cmap::get`] retries when the value grew between its two GETs.
const GET_TRIES: u32 = 3;
/// The most keys one [`Cmap::iter`] returns; past it the daemon is broken.
const ITER_MAX: usize = 1 << 20;
/// The buffer the typed getters offer, as libcmap's `cmap_get_int` does.
const FIXED_BUFFER: u64 = 16;

/// Which map a connection works on (`cmap_map_t`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Map {
    /// The configuration and runtime keys (`CMAP_MAP_DEFAULT`).
    #[default]
    Default,
    /// The statistics keys (`CMAP_MAP_STATS`), read-only.
    Stats,
}

/// A key found by [`Cmap::iter`]: its name, type code and length on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key.
    pub key: String,
    /// Its value's [`value_type`] code.
    pub value_type: u8,
    /// Its value's length (a string's includes the NUL).
    pub value_len: u64,
}

/// The daemon's handle for one tracker (`cmap_track_handle_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackHandle(pub u64);

/// What happened to a tracked key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// It was created (`CMAP_TRACK_ADD`).
    Added,
    /// It was deleted (`CMAP_TRACK_DELETE`).
    Deleted,
    /// Its value changed (`CMAP_TRACK_MODIFY`).
    Modified,
    /// A value this library does not know.
    Other(i32),
}

impl From<i32> for Change {
    fn from(event: i32) -> Self {
        match event {
            track::ADD => Self::Added,
            track::DELETE => Self::Deleted,
            track::MODIFY => Self::Modified,
            other => Self::Other(other),
        }
    }
}

/// A tracked key changed (`cmap_notify_fn_t`).
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The tracker, as [`Cmap::track_add`] returned it.
    pub track: TrackHandle,
    /// The key.
    pub key: String,
    /// What happened.
    pub change: Change,
    /// The value after the change (none after a delete).
    pub new: Option<CmapValue>,
    /// The value before the change (none after an add).
    pub old: Option<CmapValue>,
}

/// One connection to the local daemon's cmap service.
#[derive(Debug)]
pub struct Cmap {
    conn: Conn,
    /// Our cookie (`track_inst_handle`) of each tracker, with the daemon's handle.
    trackers: BTreeMap<u64, TrackHandle>,
    next_cookie: u64,
}

impl Cmap {
    /// Connects to `<prefix>cmap` (`cmap_initialize`); the daemon's default map is used
    /// and no SET_CURRENT_MAP is sent.
    pub fn connect(options: &Options) -> Result<Self> {
        Ok(Self {
            conn: Conn::connect(options, "cmap")?,
            trackers: BTreeMap::new(),
            next_cookie: 1,
        })
    }

    /// Connects and selects `map` (`cmap_initialize_map`, what corosync-cmapctl does).
    pub fn connect_map(options: &Options, map: Map) -> Result<Self> {
        let mut cmap = Self::connect(options)?;
        let map = match map {
            Map::Default => cmap_map::DEFAULT,
            Map::Stats => cmap_map::STATS,
        };
        cmap.status(
            &CmapRequest::SetCurrentMap { map },
            cmap_response_id::SET_CURRENT_MAP,
        )?;
        Ok(cmap)
    }

    /// The value of `key`, whatever its type (`cmap_get` twice: type and length, then the
    /// bytes). A missing key is `CS_ERR_NOT_EXIST`.
    pub fn get(&mut self, key: &str) -> Result<CmapValue> {
        let mut tries = 0;
        loop {
            let first = self.get_response(key, 0)?;
            if let Some(value) = first.get_value() {
                // A zero-length value came whole.
                return value.map_err(protocol);
            }
            let CmapResponse::Get { value_len, .. } = first else {
                return unexpected(&first);
            };
            if value_len > CMAP_VALUE_MAX as u64 {
                return Err(Error::Protocol(format!(
                    "cmap value of {value_len} bytes for {key}"
                )));
            }
            match self.get_response(key, value_len) {
                Ok(second) => return value_of(&second),
                // The value grew between the two calls: ask again.
                Err(Error::Cs(CsStatus::ERR_INVALID_PARAM)) if tries + 1 < GET_TRIES => {
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The value of `key`, or `None` if it does not exist.
    pub fn try_get(&mut self, key: &str) -> Result<Option<CmapValue>> {
        match self.get(key) {
            Ok(value) => Ok(Some(value)),
            Err(Error::Cs(CsStatus::ERR_NOT_EXIST)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A string key's value (`cmap_get_string`); another type is `CS_ERR_INVALID_PARAM`.
    /// Invalid UTF-8 is replaced.
    pub fn get_string(&mut self, key: &str) -> Result<String> {
        match self.get(key)? {
            CmapValue::Str(s) => Ok(String::from_utf8_lossy(&s).into_owned()),
            _ => Err(Error::Cs(CsStatus::ERR_INVALID_PARAM)),
        }
    }

    /// Sets `key` (`cmap_set`); a read-only key is `CS_ERR_ACCESS`.
    pub fn set(&mut self, key: &str, value: impl Into<CmapValue>) -> Result<()> {
        let request = CmapRequest::Set {
            key: key.to_owned(),
            value: value.into(),
        };
        self.status(&request, cmap_response_id::SET)
    }

    /// Deletes `key` (`cmap_delete`).
    pub fn delete(&mut self, key: &str) -> Result<()> {
        let request = CmapRequest::Delete {
            key: key.to_owned(),
        };
        self.status(&request, cmap_response_id::DELETE)
    }

    /// Adds `step` to an integer key (`cmap_inc`/`cmap_dec` with any step); integers wrap.
    pub fn adjust(&mut self, key: &str, step: i32) -> Result<()> {
        let request = CmapRequest::AdjustInt {
            key: key.to_owned(),
            step,
        };
        self.status(&request, cmap_response_id::ADJUST_INT)
    }

    /// Adds one to an integer key (`cmap_inc`).
    pub fn inc(&mut self, key: &str) -> Result<()> {
        self.adjust(key, 1)
    }

    /// Subtracts one from an integer key (`cmap_dec`).
    pub fn dec(&mut self, key: &str) -> Result<()> {
        self.adjust(key, -1)
    }

    /// The keys starting with `prefix` (all of them for `""`), in the daemon's order, with
    /// their types and lengths (`cmap_iter_init`, `cmap_iter_next`, `cmap_iter_finalize`).
    pub fn iter(&mut self, prefix: &str) -> Result<Vec<KeyInfo>> {
        let init = CmapRequest::IterInit {
            prefix: prefix.to_owned(),
        };
        let iter_handle = match self.request(&init)? {
            CmapResponse::IterInit { error, .. } if error == CsStatus::ERR_NO_SECTIONS => {
                return Ok(Vec::new());
            }
            CmapResponse::IterInit { error, iter_handle } => {
                Error::check(error)?;
                iter_handle
            }
            other => return unexpected_checked(&other),
        };
        let keys = self.iter_keys(iter_handle);
        let finalized = self.status(
            &CmapRequest::IterFinalize { iter_handle },
            cmap_response_id::ITER_FINALIZE,
        );
        let keys = keys?;
        finalized?;
        Ok(keys)
    }

    /// Starts tracking `key`, or every key starting with it when `track_type` has
    /// [`track::PREFIX`] (`cmap_track_add`). `track_type` combines [`track::ADD`],
    /// [`track::DELETE`] and [`track::MODIFY`]; changes arrive as [`Notification`]s.
    pub fn track_add(&mut self, key: &str, track_type: i32) -> Result<TrackHandle> {
        let cookie = self.next_cookie;
        let request = CmapRequest::TrackAdd {
            key: key.to_owned(),
            track_type,
            track_inst_handle: cookie,
        };
        match self.request(&request)? {
            CmapResponse::TrackAdd {
                error,
                track_handle,
            } => {
                Error::check(error)?;
                self.next_cookie += 1;
                let handle = TrackHandle(track_handle);
                self.trackers.insert(cookie, handle);
                Ok(handle)
            }
            other => unexpected_checked(&other),
        }
    }

    /// Stops a tracker (`cmap_track_delete`).
    pub fn track_delete(&mut self, handle: TrackHandle) -> Result<()> {
        let request = CmapRequest::TrackDelete {
            track_handle: handle.0,
        };
        match self.request(&request)? {
            CmapResponse::TrackDelete {
                error,
                track_inst_handle,
            } => {
                Error::check(error)?;
                self.trackers.remove(&track_inst_handle);
                Ok(())
            }
            other => unexpected_checked(&other),
        }
    }

    /// The fd to poll for notifications (`cmap_fd_get`). Check [`Cmap::pending`] first.
    pub fn fd(&self) -> RawFd {
        self.conn.fd()
    }

    /// Whether notifications already read from the daemon wait for a dispatch.
    pub fn pending(&self) -> bool {
        self.conn.pending()
    }

    /// Waits at most `timeout` (`None`: forever) until a notification is ready; `Ok(false)`
    /// on timeout.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.conn.wait(timeout)
    }

    /// Hands notifications to `handler` (`cmap_dispatch`); returns how many it got.
    pub fn dispatch(
        &mut self,
        mode: Dispatch,
        handler: &mut dyn FnMut(Notification) -> ControlFlow<()>,
    ) -> Result<usize> {
        let trackers = &self.trackers;
        self.conn
            .dispatch(mode, &mut |raw| convert(trackers, raw), handler)
    }

    /// The IPC name this connection uses, prefix included.
    pub fn ipc_name(&self) -> &str {
        self.conn.name()
    }

    /// One GET offering a `requested`-byte buffer; the status must be `CS_OK`.
    fn get_response(&mut self, key: &str, requested: u64) -> Result<CmapResponse> {
        let request = CmapRequest::Get {
            key: key.to_owned(),
            value_len: requested,
        };
        let response = self.request(&request)?;
        Error::check(response.error())?;
        Ok(response)
    }

    /// A typed getter: one GET with libcmap's 16-byte buffer, then a type check.
    fn get_fixed(&mut self, key: &str, type_code: u8) -> Result<CmapValue> {
        let value = value_of(&self.get_response(key, FIXED_BUFFER)?)?;
        if value.type_code() != type_code {
            return Err(Error::Cs(CsStatus::ERR_INVALID_PARAM));
        }
        Ok(value)
    }

    fn iter_keys(&mut self, iter_handle: u64) -> Result<Vec<KeyInfo>> {
        let mut keys = Vec::new();
        while keys.len() < ITER_MAX {
            match self.request(&CmapRequest::IterNext { iter_handle })? {
                CmapResponse::IterNext { error, .. } if error == CsStatus::ERR_NO_SECTIONS => {
                    return Ok(keys);
                }
                CmapResponse::IterNext {
                    error,
                    key,
                    value_len,
                    value_type,
                } => {
                    Error::check(error)?;
                    keys.push(KeyInfo {
                        key,
                        value_type,
                        value_len,
                    });
                }
                other => return unexpected_checked(&other),
            }
        }
        Err(Error::Protocol(format!(
            "cmap iteration of more than {ITER_MAX} keys"
        )))
    }

    /// Sends `request` and decodes its response; the status is the caller's to check.
    fn request(&mut self, request: &CmapRequest) -> Result<CmapResponse> {
        let msg = request
            .to_vec()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        CmapResponse::decode(self.conn.request(&msg)?).map_err(protocol)
    }

    /// A request answered by a bare status with response id `id`.
    fn status(&mut self, request: &CmapRequest, id: i32) -> Result<()> {
        match self.request(request)? {
            CmapResponse::Status { id: got, error } if got == id => Error::check(error),
            other => unexpected_checked(&other),
        }
    }
}

macro_rules! typed_getters {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty = $variant:ident / $code:ident;)+) => {
        impl Cmap {
            $(
                $(#[$doc])*
                pub fn $name(&mut self, key: &str) -> Result<$ty> {
                    match self.get_fixed(key, value_type::$code)? {
                        CmapValue::$variant(v) => Ok(v),
                        _ => Err(Error::Cs(CsStatus::ERR_INVALID_PARAM)),
                    }
                }
            )+
        }
    };
}

typed_getters! {
    /// An `i8` key's value (`cmap_get_int8`).
    get_i8 -> i8 = I8 / INT8;
    /// A `u8` key's value (`cmap_get_uint8`).
    get_u8 -> u8 = U8 / UINT8;
    /// An `i16` key's value (`cmap_get_int16`).
    get_i16 -> i16 = I16 / INT16;
    /// A `u16` key's value (`cmap_get_uint16`).
    get_u16 -> u16 = U16 / UINT16;
    /// An `i32` key's value (`cmap_get_int32`).
    get_i32 -> i32 = I32 / INT32;
    /// A `u32` key's value (`cmap_get_uint32`).
    get_u32 -> u32 = U32 / UINT32;
    /// An `i64` key's value (`cmap_get_int64`).
    get_i64 -> i64 = I64 / INT64;
    /// A `u64` key's value (`cmap_get_uint64`).
    get_u64 -> u64 = U64 / UINT64;
    /// A `float` key's value (`cmap_get_float`).
    get_float -> f32 = Float / FLOAT;
    /// A `double` key's value (`cmap_get_double`).
    get_double -> f64 = Double / DOUBLE;
}

impl AsRawFd for Cmap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

/// The whole value of a successful GET.
fn value_of(response: &CmapResponse) -> Result<CmapValue> {
    match response.get_value() {
        Some(value) => value.map_err(protocol),
        None => unexpected_checked(response),
    }
}

/// A response of the wrong kind: its error status if it has one (the dispatcher's generic
/// reply is a SET-id status), a protocol error otherwise.
fn unexpected_checked<T>(response: &CmapResponse) -> Result<T> {
    Error::check(response.error())?;
    unexpected(response)
}

fn unexpected<T>(response: &CmapResponse) -> Result<T> {
    Err(Error::Protocol(format!(
        "unexpected cmap response id {} of {} bytes",
        response.id(),
        response.encoded_len()
    )))
}

/// A notification for one of `trackers`; `None` for a tracker already deleted.
fn convert(trackers: &BTreeMap<u64, TrackHandle>, raw: &[u8]) -> Result<Option<Notification>> {
    let CmapEvent::Notify {
        track_inst_handle,
        key,
        event,
        new,
        old,
    } = CmapEvent::decode(raw).map_err(protocol)?;
    Ok(trackers.get(&track_inst_handle).map(|&track| Notification {
        track,
        key,
        change: event.into(),
        new,
        old,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(cookie: u64, event: i32) -> Vec<u8> {
        CmapEvent::Notify {
            track_inst_handle: cookie,
            key: "a.b".into(),
            event,
            new: Some(CmapValue::U8(2)),
            old: Some(CmapValue::U8(1)),
        }
        .to_vec()
        .unwrap()
    }

    #[test]
    fn notifications_name_their_tracker() {
        let trackers = BTreeMap::from([(1, TrackHandle(77))]);
        assert_eq!(
            convert(&trackers, &notify(1, track::MODIFY)).unwrap(),
            Some(Notification {
                track: TrackHandle(77),
                key: "a.b".into(),
                change: Change::Modified,
                new: Some(CmapValue::U8(2)),
                old: Some(CmapValue::U8(1)),
            })
        );
        // A deleted tracker's late notification is dropped.
        assert_eq!(convert(&trackers, &notify(2, track::ADD)).unwrap(), None);
        assert!(matches!(
            convert(&trackers, &[0; 8]),
            Err(Error::Protocol(_))
        ));
        assert_eq!(Change::from(track::DELETE), Change::Deleted);
        assert_eq!(Change::from(16), Change::Other(16));
    }

    #[test]
    fn get_values_come_from_the_services_replies() {
        let reply = CmapResponse::get_reply(Some(&CmapValue::U32(5000)), FIXED_BUFFER);
        let decoded = CmapResponse::decode(&reply.to_vec().unwrap()).unwrap();
        assert_eq!(value_of(&decoded).unwrap(), CmapValue::U32(5000));

        // A length query carries no value: asking for one is a protocol error.
        let query = CmapResponse::get_reply(Some(&CmapValue::Str(b"udpu".to_vec())), 0);
        assert!(matches!(value_of(&query), Err(Error::Protocol(_))));

        // Errors report their status.
        let missing = CmapResponse::get_reply(None, 0);
        assert!(matches!(
            value_of(&missing),
            Err(Error::Cs(CsStatus::ERR_NOT_EXIST))
        ));
        let busy = CmapResponse::Status {
            id: 0,
            error: CsStatus::ERR_TRY_AGAIN,
        };
        assert!(matches!(
            unexpected_checked::<()>(&busy),
            Err(Error::TryAgain)
        ));
    }

    #[test]
    fn over_long_keys_are_refused_before_sending() {
        let request = CmapRequest::Delete {
            key: "k".repeat(300),
        };
        assert!(request.to_vec().is_err());
    }
}
