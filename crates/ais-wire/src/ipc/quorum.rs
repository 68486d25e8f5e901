//! quorum client messages (libquorum): is the cluster quorate, which provider is configured,
//! and notifications of quorum and membership changes.
//!
//! Reference §2.1 and §2.3; corosync 3.1.7 `include/corosync/ipc_quorum.h`
//! (`req_lib_quorum_*`, `res_lib_quorum_*`, `mar_quorum_ring_id_t`) and `exec/vsf_quorum.c`.
//! Requests carry a 16-byte `qb_ipc_request_header`, responses and events a 24-byte
//! `qb_ipc_response_header`; response ids are `MESSAGE_RES_QUORUM_*`, numbered apart from the
//! request ids (GETTYPE is request 3 but response 4).
//!
//! The notifications end in flexible arrays, and corosync sizes them as `sizeof(struct)` plus
//! the entries although the array starts before the end of the struct (§2.1): the V0
//! NOTIFICATION's list sits at 44 in a 48-byte struct, so 4 zero bytes follow the last entry.
//! The codec writes exactly that and accepts only that.
//!
//! Invariants: every list is a [`MemberList`] (at most `PROCESSOR_COUNT_MAX` entries), so
//! every value encodes within [`super::IPC_MSG_SIZE_MAX`].

use ais_types::{NodeId, RingId};

use super::cpg::{decode_list, encode_list, list_count};
use super::{CsStatus, Frame, IpcDecodeError, MemberList, TrackFlags, View};
use super::{RequestHeader, ResponseHeader};

/// `MESSAGE_REQ_QUORUM_*`: request header ids.
pub mod quorum_request_id {
    /// Is the cluster quorate.
    pub const GETQUORATE: i32 = 0;
    /// Start sending notifications.
    pub const TRACKSTART: i32 = 1;
    /// Stop sending notifications.
    pub const TRACKSTOP: i32 = 2;
    /// Which quorum type is configured; sent by `quorum_initialize()`.
    pub const GETTYPE: i32 = 3;
    /// Choose the notification model and ask the type; sent by `quorum_model_initialize()`.
    pub const MODEL_GETTYPE: i32 = 4;
}

/// `MESSAGE_RES_QUORUM_*` ids of responses.
pub mod quorum_response_id {
    /// GETQUORATE's response; also the dispatcher's generic error reply (24 bytes, §2.1).
    pub const GETQUORATE: i32 = 0;
    /// TRACKSTART's response.
    pub const TRACKSTART: i32 = 1;
    /// TRACKSTOP's response.
    pub const TRACKSTOP: i32 = 2;
    /// GETTYPE's response.
    pub const GETTYPE: i32 = 4;
    /// MODEL_GETTYPE's response.
    pub const MODEL_GETTYPE: i32 = 5;
}

/// `MESSAGE_RES_QUORUM_*` ids of events.
pub mod quorum_event_id {
    /// The V0 notification (quorumtool, Pacemaker).
    pub const NOTIFICATION: i32 = 3;
    /// The V1 quorum notification.
    pub const V1_QUORUM_NOTIFICATION: i32 = 6;
    /// The V1 node list notification.
    pub const V1_NODELIST_NOTIFICATION: i32 = 7;
}

/// The `quorum_type` of GETTYPE and MODEL_GETTYPE.
pub mod quorum_type {
    /// No provider configured: always quorate (`QUORUM_FREE`).
    pub const FREE: u32 = 0;
    /// A provider (votequorum) decides (`QUORUM_SET`); Pacemaker refuses anything else.
    pub const SET: u32 = 1;
}

/// `quorum_model_t` of MODEL_GETTYPE. Kept raw: corosync answers an unknown model with
/// `CS_ERR_INVALID_PARAM` rather than refusing the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuorumModel(pub u32);

impl QuorumModel {
    /// `QUORUM_MODEL_V0`: NOTIFICATION events only (what `quorum_initialize()` implies).
    pub const V0: Self = Self(0);
    /// `QUORUM_MODEL_V1`: V1_QUORUM and V1_NODELIST notifications.
    pub const V1: Self = Self(1);
}

/// A request from a quorum client (header ids in [`quorum_request_id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumRequest {
    /// GETQUORATE (16): header only.
    GetQuorate,
    /// `req_lib_quorum_trackstart` (24): `track_flags` u32 @16. With CURRENT or CHANGES
    /// the current state is sent at once as events.
    TrackStart {
        /// `CS_TRACK_*` bits.
        flags: TrackFlags,
    },
    /// TRACKSTOP (16): header only.
    TrackStop,
    /// GETTYPE (16): header only.
    GetType,
    /// `req_lib_quorum_model_gettype` (24): `model` u32 @16.
    ModelGetType {
        /// The notification model the connection will use.
        model: QuorumModel,
    },
}

/// Offset of the one u32 argument of TRACKSTART and MODEL_GETTYPE.
const REQ_ARG: usize = RequestHeader::LEN;
/// Length of a request with one u32 argument.
const REQ_ARG_LEN: usize = 24;

impl QuorumRequest {
    /// Decodes exactly one request.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use quorum_request_id as id;
        let v = View::open(buf, "quorum request", RequestHeader::LEN)?;
        Ok(match v.id()? {
            id::GETQUORATE => {
                v.exact(RequestHeader::LEN)?;
                Self::GetQuorate
            }
            id::TRACKSTART => {
                v.exact(REQ_ARG_LEN)?;
                Self::TrackStart {
                    flags: TrackFlags(v.u32(REQ_ARG)?),
                }
            }
            id::TRACKSTOP => {
                v.exact(RequestHeader::LEN)?;
                Self::TrackStop
            }
            id::GETTYPE => {
                v.exact(RequestHeader::LEN)?;
                Self::GetType
            }
            id::MODEL_GETTYPE => {
                v.exact(REQ_ARG_LEN)?;
                Self::ModelGetType {
                    model: QuorumModel(v.u32(REQ_ARG)?),
                }
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "quorum request",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use quorum_request_id as id;
        match self {
            Self::GetQuorate => id::GETQUORATE,
            Self::TrackStart { .. } => id::TRACKSTART,
            Self::TrackStop => id::TRACKSTOP,
            Self::GetType => id::GETTYPE,
            Self::ModelGetType { .. } => id::MODEL_GETTYPE,
        }
    }

    /// The id of the response the library waits for.
    pub fn response_id(&self) -> i32 {
        use quorum_response_id as id;
        match self {
            Self::GetQuorate => id::GETQUORATE,
            Self::TrackStart { .. } => id::TRACKSTART,
            Self::TrackStop => id::TRACKSTOP,
            Self::GetType => id::GETTYPE,
            Self::ModelGetType { .. } => id::MODEL_GETTYPE,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::TrackStart { .. } | Self::ModelGetType { .. } => REQ_ARG_LEN,
            Self::GetQuorate | Self::TrackStop | Self::GetType => RequestHeader::LEN,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.request_header(self.id());
        match self {
            Self::TrackStart { flags } => f.u32(REQ_ARG, flags.0),
            Self::ModelGetType { model } => f.u32(REQ_ARG, model.0),
            Self::GetQuorate | Self::TrackStop | Self::GetType => {}
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// A response to a quorum request (header ids in [`quorum_response_id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumResponse {
    /// `res_lib_quorum_getquorate` (32): `quorate` u32 @24.
    GetQuorate {
        /// The result.
        error: CsStatus,
        /// Whether this node's partition has quorum.
        quorate: bool,
    },
    /// `res_lib_quorum_gettype` (32): `quorum_type` u32 @24 (see [`quorum_type`]).
    GetType {
        /// The result.
        error: CsStatus,
        /// The configured type.
        quorum_type: u32,
    },
    /// `res_lib_quorum_model_gettype` (32): `quorum_type` u32 @24.
    ModelGetType {
        /// The result (`CS_ERR_INVALID_PARAM` for an unknown model).
        error: CsStatus,
        /// The configured type.
        quorum_type: u32,
    },
    /// A bare 24-byte response: TRACKSTART's and TRACKSTOP's, or the dispatcher's generic
    /// reply to a request it cannot take (id 0, §2.1). Every 24-byte response decodes as
    /// this, whatever its id.
    Status {
        /// The response id.
        id: i32,
        /// The result.
        error: CsStatus,
    },
}

const RES_BODY: usize = ResponseHeader::LEN;
const RES_ARG_LEN: usize = RES_BODY + 8;

impl QuorumResponse {
    /// Decodes exactly one response.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use quorum_response_id as id;
        let v = View::open(buf, "quorum response", ResponseHeader::LEN)?;
        let error = CsStatus(v.i32(16)?);
        let response_id = v.id()?;
        if !matches!(
            response_id,
            id::GETQUORATE | id::TRACKSTART | id::TRACKSTOP | id::GETTYPE | id::MODEL_GETTYPE
        ) {
            return Err(IpcDecodeError::UnknownId {
                what: "quorum response",
                id: response_id,
            });
        }
        if buf.len() == RES_BODY {
            return Ok(Self::Status {
                id: response_id,
                error,
            });
        }
        v.exact(RES_ARG_LEN)?;
        let arg = v.u32(RES_BODY)?;
        Ok(match response_id {
            id::GETQUORATE => Self::GetQuorate {
                error,
                quorate: arg != 0,
            },
            id::GETTYPE => Self::GetType {
                error,
                quorum_type: arg,
            },
            id::MODEL_GETTYPE => Self::ModelGetType {
                error,
                quorum_type: arg,
            },
            // TRACKSTART and TRACKSTOP are header-only.
            _ => {
                return Err(IpcDecodeError::TrailingBytes {
                    what: "quorum response",
                    extra: buf.len() - RES_BODY,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use quorum_response_id as id;
        match self {
            Self::GetQuorate { .. } => id::GETQUORATE,
            Self::GetType { .. } => id::GETTYPE,
            Self::ModelGetType { .. } => id::MODEL_GETTYPE,
            Self::Status { id, .. } => *id,
        }
    }

    /// The `cs_error_t` in the header.
    pub fn error(&self) -> CsStatus {
        match self {
            Self::GetQuorate { error, .. }
            | Self::GetType { error, .. }
            | Self::ModelGetType { error, .. }
            | Self::Status { error, .. } => *error,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Status { .. } => RES_BODY,
            _ => RES_ARG_LEN,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), self.error());
        match self {
            Self::GetQuorate { quorate, .. } => f.u32(RES_BODY, u32::from(*quorate)),
            Self::GetType { quorum_type, .. } | Self::ModelGetType { quorum_type, .. } => {
                f.u32(RES_BODY, *quorum_type);
            }
            Self::Status { .. } => {}
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// An event on the quorum event channel (header ids in [`quorum_event_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumEvent {
    /// `res_lib_quorum_notification`, sent to V0 connections: `quorate` i32 @24, `ring_seq`
    /// u64 @32, `view_list_entries` u32 @40, `view_list` u32[] @44; size 48 + 4n.
    Notification {
        /// Whether the partition has quorum.
        quorate: bool,
        /// The ring's sequence number.
        ring_seq: u64,
        /// The nodes of the quorum view.
        view_list: MemberList<NodeId>,
    },
    /// `res_lib_quorum_v1_quorum_notification`, sent to V1 connections: `quorate` i32 @24,
    /// `ring_id` {nodeid u32 @32, seq u64 @40}, `view_list_entries` @48, `view_list` @52;
    /// size 56 + 4n.
    V1Quorum {
        /// Whether the partition has quorum.
        quorate: bool,
        /// The ring.
        ring_id: RingId,
        /// The nodes of the quorum view.
        view_list: MemberList<NodeId>,
    },
    /// `res_lib_quorum_v1_nodelist_notification`, sent to V1 connections: `ring_id`
    /// {nodeid @24, seq @32}, `member_list_entries` @40, `joined_list_entries` @48,
    /// `left_list_entries` @56, then the three lists back to back @60 in the order members,
    /// joined, left; size 64 + 4 × (m + j + l). The initial one after TRACKSTART has empty
    /// joined and left lists.
    V1Nodelist {
        /// The ring.
        ring_id: RingId,
        /// Its members.
        members: MemberList<NodeId>,
        /// Nodes that joined since the last notification.
        joined: MemberList<NodeId>,
        /// Nodes that left since the last notification.
        left: MemberList<NodeId>,
    },
}

const NOTIFICATION_LIST: usize = 44;
const NOTIFICATION_SIZEOF: usize = 48;
const V1_QUORUM_LIST: usize = 52;
const V1_QUORUM_SIZEOF: usize = 56;
const V1_NODELIST_LIST: usize = 60;
const V1_NODELIST_SIZEOF: usize = 64;

impl QuorumEvent {
    /// Decodes exactly one event. The header's `error` is not read (corosync sends `CS_OK`).
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use quorum_event_id as id;
        let v = View::open(buf, "quorum event", ResponseHeader::LEN)?;
        Ok(match v.id()? {
            id::NOTIFICATION => {
                v.need(NOTIFICATION_SIZEOF)?;
                let n = list_count(&v, 40, "quorum view list")?;
                v.exact(NOTIFICATION_SIZEOF + 4 * n)?;
                Self::Notification {
                    quorate: v.i32(24)? != 0,
                    ring_seq: v.u64(32)?,
                    view_list: decode_list(&v, NOTIFICATION_LIST, n)?,
                }
            }
            id::V1_QUORUM_NOTIFICATION => {
                v.need(V1_QUORUM_SIZEOF)?;
                let n = list_count(&v, 48, "quorum view list")?;
                v.exact(V1_QUORUM_SIZEOF + 4 * n)?;
                Self::V1Quorum {
                    quorate: v.i32(24)? != 0,
                    ring_id: RingId::new(NodeId(v.u32(32)?), v.u64(40)?),
                    view_list: decode_list(&v, V1_QUORUM_LIST, n)?,
                }
            }
            id::V1_NODELIST_NOTIFICATION => {
                v.need(V1_NODELIST_SIZEOF)?;
                let m = list_count(&v, 40, "quorum member list")?;
                let j = list_count(&v, 48, "quorum joined list")?;
                let l = list_count(&v, 56, "quorum left list")?;
                v.exact(V1_NODELIST_SIZEOF + 4 * (m + j + l))?;
                let joined_at = V1_NODELIST_LIST + 4 * m;
                let left_at = joined_at + 4 * j;
                Self::V1Nodelist {
                    ring_id: RingId::new(NodeId(v.u32(24)?), v.u64(32)?),
                    members: decode_list(&v, V1_NODELIST_LIST, m)?,
                    joined: decode_list(&v, joined_at, j)?,
                    left: decode_list(&v, left_at, l)?,
                }
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "quorum event",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use quorum_event_id as id;
        match self {
            Self::Notification { .. } => id::NOTIFICATION,
            Self::V1Quorum { .. } => id::V1_QUORUM_NOTIFICATION,
            Self::V1Nodelist { .. } => id::V1_NODELIST_NOTIFICATION,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Notification { view_list, .. } => NOTIFICATION_SIZEOF + 4 * view_list.len(),
            Self::V1Quorum { view_list, .. } => V1_QUORUM_SIZEOF + 4 * view_list.len(),
            Self::V1Nodelist {
                members,
                joined,
                left,
                ..
            } => V1_NODELIST_SIZEOF + 4 * (members.len() + joined.len() + left.len()),
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), CsStatus::OK);
        match self {
            Self::Notification {
                quorate,
                ring_seq,
                view_list,
            } => {
                f.i32(24, i32::from(*quorate));
                f.u64(32, *ring_seq);
                f.u32(40, view_list.len() as u32);
                encode_list(view_list, &mut f, NOTIFICATION_LIST);
            }
            Self::V1Quorum {
                quorate,
                ring_id,
                view_list,
            } => {
                f.i32(24, i32::from(*quorate));
                f.u32(32, ring_id.rep.0);
                f.u64(40, ring_id.seq);
                f.u32(48, view_list.len() as u32);
                encode_list(view_list, &mut f, V1_QUORUM_LIST);
            }
            Self::V1Nodelist {
                ring_id,
                members,
                joined,
                left,
            } => {
                f.u32(24, ring_id.rep.0);
                f.u64(32, ring_id.seq);
                f.u32(40, members.len() as u32);
                f.u32(48, joined.len() as u32);
                f.u32(56, left.len() as u32);
                let joined_at = encode_list(members, &mut f, V1_NODELIST_LIST);
                let left_at = encode_list(joined, &mut f, joined_at);
                encode_list(left, &mut f, left_at);
            }
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
pub(super) mod tests;
