//! cmap, the configuration and runtime key/value service (corosync's `exec/cmap.c`): clients
//! get, set, delete, increment, iterate and track the keys of this node's [`crate::Keys`].
//! Everything is local, as in corosync: nothing goes on the ring and nothing is synchronized
//! (each node's configuration, runtime state and statistics are its own).
//!
//! A connection works on the default map unless it selected the statistics map
//! (`SET_CURRENT_MAP`, `cmap_initialize_map(CMAP_MAP_STATS)`), which is read-only.
//!
//! The `uidgid.` keys decide which local users and groups may connect at all (the daemon's
//! access check reads them); only a privileged client (uid or gid 0) may set, change or
//! delete them, so an admitted unprivileged client cannot admit others. Pacemaker's
//! `pacemakerd`, which runs as root, writes `uidgid.gid.<haclient>` this way.

use std::collections::BTreeMap;

use ais_types::{ConnId, Credentials, NodeId};
use ais_wire::ipc::{
    CmapEvent, CmapRequest, CmapResponse, CsStatus, cmap_response_id_for, request_id,
};
use bytes::Bytes;

use crate::keys::{Notification, check_name};
use crate::{Effects, Membership, Service, ServiceId};

/// Iterators one connection may hold open at once; corosync has no limit, but a client
/// that never finalizes must not grow the daemon without bound.
const ITERATORS_MAX: usize = 64;
/// Trackers one connection may hold.
const TRACKERS_MAX: usize = 1024;
/// The keys that admit local users and groups (`uidgid.uid.<uid>`, `uidgid.gid.<gid>`, and
/// the configuration's read-only `uidgid.config.*`).
pub const ACCESS_PREFIX: &str = "uidgid.";
/// The configuration's entries among them (`uidgid.config.uid.<uid>`, `….gid.<gid>`): the
/// daemon publishes them, clients may not change them.
pub const ACCESS_CONFIG_PREFIX: &str = "uidgid.config.";

/// One open iteration: the prefix and the last key returned.
#[derive(Clone, Debug)]
struct Iteration {
    prefix: String,
    after: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct Conn {
    /// 0 default, 1 stats.
    map: u8,
    /// The client may change the `uidgid.` keys.
    privileged: bool,
    iterators: BTreeMap<u64, Iteration>,
    next_iterator: u64,
    /// Tracker handles of this connection, with the map each is in.
    trackers: BTreeMap<u64, u8>,
}

/// The cmap service of one node.
#[derive(Debug, Default)]
pub struct Cmap {
    conns: BTreeMap<ConnId, Conn>,
}

impl Cmap {
    /// cmap with no clients.
    pub fn new() -> Self {
        Self::default()
    }

    fn handle(&mut self, fx: &mut Effects<'_>, conn: ConnId, request: CmapRequest) -> CmapResponse {
        let Some(state) = self.conns.get_mut(&conn) else {
            return CmapResponse::Status {
                id: request.response_id(),
                error: CsStatus::ERR_BAD_HANDLE,
            };
        };
        let map = state.map;
        let id = request.response_id();
        let status = |r: Result<(), crate::keys::KeyError>| CmapResponse::Status {
            id,
            error: r.map_or_else(|e| e.status(), |()| CsStatus::OK),
        };
        if let CmapRequest::Set { key, .. }
        | CmapRequest::Delete { key }
        | CmapRequest::AdjustInt { key, .. } = &request
            && map == 0
            && key.starts_with(ACCESS_PREFIX)
            && !state.privileged
        {
            tracing::warn!(%conn, key = %key, "an unprivileged cmap client may not change uidgid keys");
            return CmapResponse::Status {
                id,
                error: CsStatus::ERR_ACCESS,
            };
        }
        match request {
            CmapRequest::Set { key, value } => status(fx.keys().map(map).client_set(&key, value)),
            CmapRequest::Delete { key } => status(fx.keys().map(map).client_delete(&key)),
            CmapRequest::AdjustInt { key, step } => {
                status(fx.keys().map(map).client_adjust(&key, step))
            }
            CmapRequest::Get { key, value_len } => {
                CmapResponse::get_reply(fx.keys().map(map).get(&key), value_len)
            }
            CmapRequest::IterInit { prefix } => {
                if state.iterators.len() >= ITERATORS_MAX {
                    return CmapResponse::IterInit {
                        error: CsStatus::ERR_NO_RESOURCES,
                        iter_handle: 0,
                    };
                }
                state.next_iterator += 1;
                let handle = state.next_iterator;
                state.iterators.insert(
                    handle,
                    Iteration {
                        prefix,
                        after: None,
                    },
                );
                CmapResponse::IterInit {
                    error: CsStatus::OK,
                    iter_handle: handle,
                }
            }
            CmapRequest::IterNext { iter_handle } => {
                let end = |error| CmapResponse::IterNext {
                    error,
                    key: String::new(),
                    value_len: 0,
                    value_type: 0,
                };
                let Some(it) = state.iterators.get_mut(&iter_handle) else {
                    return end(CsStatus::ERR_BAD_HANDLE);
                };
                let store = fx.keys().map(map);
                match store.next_key(&it.prefix, it.after.as_deref()) {
                    Some((key, value)) => {
                        it.after = Some(key.to_owned());
                        CmapResponse::IterNext {
                            error: CsStatus::OK,
                            key: key.to_owned(),
                            value_len: value.encoded_len() as u64,
                            value_type: value.type_code(),
                        }
                    }
                    None => end(CsStatus::ERR_NO_SECTIONS),
                }
            }
            CmapRequest::IterFinalize { iter_handle } => CmapResponse::Status {
                id,
                error: if state.iterators.remove(&iter_handle).is_some() {
                    CsStatus::OK
                } else {
                    CsStatus::ERR_BAD_HANDLE
                },
            },
            CmapRequest::TrackAdd {
                key,
                track_type,
                track_inst_handle,
            } => {
                let kinds = crate::keys::track::ADD
                    | crate::keys::track::DELETE
                    | crate::keys::track::MODIFY;
                let prefix = track_type & crate::keys::track::PREFIX != 0;
                // A prefix tracker may watch any prefix, even an empty one; a key tracker
                // needs a valid name.
                let bad = track_type & kinds == 0
                    || track_type & !(kinds | crate::keys::track::PREFIX) != 0
                    || (!prefix && check_name(&key).is_err());
                if bad {
                    return CmapResponse::TrackAdd {
                        error: CsStatus::ERR_INVALID_PARAM,
                        track_handle: 0,
                    };
                }
                if state.trackers.len() >= TRACKERS_MAX {
                    return CmapResponse::TrackAdd {
                        error: CsStatus::ERR_NO_RESOURCES,
                        track_handle: 0,
                    };
                }
                let handle =
                    fx.keys()
                        .map(map)
                        .track_add(conn, &key, track_type, track_inst_handle);
                state.trackers.insert(handle, map);
                CmapResponse::TrackAdd {
                    error: CsStatus::OK,
                    track_handle: handle,
                }
            }
            CmapRequest::TrackDelete { track_handle } => {
                let cookie = state
                    .trackers
                    .remove(&track_handle)
                    .and_then(|m| fx.keys().map(m).track_delete(conn, track_handle));
                CmapResponse::TrackDelete {
                    error: if cookie.is_some() {
                        CsStatus::OK
                    } else {
                        CsStatus::ERR_BAD_HANDLE
                    },
                    track_inst_handle: cookie.unwrap_or(0),
                }
            }
            CmapRequest::SetCurrentMap { map } => {
                let ok = matches!(map, 0 | 1);
                if ok {
                    state.map = map as u8;
                }
                CmapResponse::Status {
                    id,
                    error: if ok {
                        CsStatus::OK
                    } else {
                        CsStatus::ERR_INVALID_PARAM
                    },
                }
            }
        }
    }
}

/// A tracker's notification as the client's event (`NOTIFY_CALLBACK`).
pub(crate) fn notification_event(n: Notification) -> Option<Vec<u8>> {
    let event = CmapEvent::Notify {
        track_inst_handle: n.cookie,
        key: n.key,
        event: n.event,
        new: n.new,
        old: n.old,
    };
    event
        .to_vec()
        .inspect_err(|e| tracing::error!("cmap notification not sent: {e}"))
        .ok()
}

impl Service for Cmap {
    fn id(&self) -> ServiceId {
        ServiceId::CMAP
    }

    fn connect(&mut self, _fx: &mut Effects<'_>, conn: ConnId, client: Credentials, _channel: u8) {
        let state = Conn {
            privileged: client.is_privileged(),
            ..Conn::default()
        };
        self.conns.insert(conn, state);
    }

    fn disconnect(&mut self, fx: &mut Effects<'_>, conn: ConnId) {
        if self.conns.remove(&conn).is_some() {
            fx.keys().forget(conn);
        }
    }

    fn request(&mut self, fx: &mut Effects<'_>, conn: ConnId, msg: &[u8], _room: usize) {
        let response = match CmapRequest::decode(msg) {
            Ok(request) => self.handle(fx, conn, request),
            // corosync's dispatcher: an unknown request id gets id 0, INVALID_PARAM.
            Err(_) if request_id(msg).is_some_and(|id| cmap_response_id_for(id).is_none()) => {
                CmapResponse::Status {
                    id: 0,
                    error: CsStatus::ERR_INVALID_PARAM,
                }
            }
            Err(e) => {
                tracing::warn!(%conn, "cmap client sent a bad request ({e}); disconnecting it");
                fx.disconnect(conn);
                return;
            }
        };
        match response.to_vec() {
            Ok(bytes) => fx.reply(conn, bytes),
            Err(e) => {
                tracing::error!(%conn, "cmap response not encodable ({e}); disconnecting the client");
                fx.disconnect(conn);
            }
        }
    }

    fn deliver(&mut self, _fx: &mut Effects<'_>, _origin: NodeId, _body: Bytes) {}

    fn configuration(&mut self, _fx: &mut Effects<'_>, _membership: &Membership) {}

    fn sync_init(&mut self, _fx: &mut Effects<'_>, _membership: &Membership) {}

    fn sync_deliver(&mut self, _origin: NodeId, _body: Bytes) {}

    fn sync_activate(&mut self, _fx: &mut Effects<'_>) {}

    fn sync_abort(&mut self) {}

    fn needs_sync(&self) -> bool {
        false
    }

    fn digest(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "cmap {}".to_owned()
    }
}

#[cfg(test)]
mod tests;
