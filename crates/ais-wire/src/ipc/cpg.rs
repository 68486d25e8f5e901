//! CPG (closed process groups) client messages: requests, responses and events.
//!
//! Reference §2.1 and §2.2; corosync 3.1.7 `include/corosync/ipc_cpg.h` (`req_lib_cpg_*`,
//! `res_lib_cpg_*`, `mar_cpg_name_t`, `mar_cpg_address_t`, `mar_cpg_ring_id_t`,
//! `mar_cpg_iteration_description_t`) and `include/corosync/cpg.h`. Requests carry a
//! `qb_ipc_request_header` (16 bytes), except MCAST and PARTIAL_MCAST, which carry a
//! 24-byte response-style header; responses and events carry a `qb_ipc_response_header`.
//! Response and event ids are `MESSAGE_RES_CPG_*`, numbered apart from the request ids.
//!
//! Invariants: a [`CpgName`] holds at most 128 bytes, a [`MemberList`] at most
//! `PROCESSOR_COUNT_MAX` entries, a [`CpgPayload`] or [`PartialFragment`] at most what fits
//! both the request and the matching deliver event in [`IPC_MSG_SIZE_MAX`] bytes (a
//! fragmented message as a whole may be larger: its fragments travel separately). So every
//! value encodes, within the limit.
//!
//! Not implemented: ZC_ALLOC/ZC_FREE/ZC_EXECUTE (requests 9–11). §2.2: they need a
//! client-created shared-memory file, are removed on corosync `main` and "nobody relevant
//! uses" them; they decode as [`IpcDecodeError::UnknownId`], and the service answers an
//! unknown id with the generic `CS_ERR_INVALID_PARAM` response (§2.1).

use std::ops::Deref;

use ais_types::{MESSAGE_SIZE_MAX, NodeId, PROCESSOR_COUNT_MAX, RingId};
use bytes::Bytes;

use super::{CsStatus, Frame, IPC_MSG_SIZE_MAX, IpcDecodeError, IpcEncodeError, View};
use super::{RequestHeader, ResponseHeader};

/// `CPG_MAX_NAME_LENGTH`: the longest group name.
pub const CPG_NAME_MAX: usize = 128;

/// The largest MCAST payload: it must fit the DELIVER event that carries it to every member
/// (184 bytes of header) within [`IPC_MSG_SIZE_MAX`], and the ring's `MESSAGE_SIZE_MAX`.
/// libcpg itself sends at most 1 047 552 bytes in one MCAST and fragments larger messages.
pub const CPG_MCAST_PAYLOAD_MAX: usize = min(MESSAGE_SIZE_MAX, IPC_MSG_SIZE_MAX - DELIVER_DATA);

/// The largest PARTIAL_MCAST fragment: it must fit the PARTIAL_DELIVER event (200 bytes of
/// header) within [`IPC_MSG_SIZE_MAX`].
pub const CPG_FRAGMENT_MAX: usize = IPC_MSG_SIZE_MAX - PARTIAL_DELIVER_DATA;

const fn min(a: usize, b: usize) -> usize {
    if a < b { a } else { b }
}

/// `MESSAGE_REQ_CPG_*`: request header ids.
pub mod cpg_request_id {
    /// Join a group.
    pub const JOIN: i32 = 0;
    /// Leave a group.
    pub const LEAVE: i32 = 1;
    /// Multicast to the joined groups; never answered.
    pub const MCAST: i32 = 2;
    /// List a group's members.
    pub const MEMBERSHIP: i32 = 3;
    /// Ask for the local node id.
    pub const LOCAL_GET: i32 = 4;
    /// Start iterating over groups and members.
    pub const ITERATION_INITIALIZE: i32 = 5;
    /// Next iteration entry.
    pub const ITERATION_NEXT: i32 = 6;
    /// End an iteration.
    pub const ITERATION_FINALIZE: i32 = 7;
    /// Close the connection's CPG state.
    pub const FINALIZE: i32 = 8;
    /// One fragment of a large multicast; answered, unlike MCAST.
    pub const PARTIAL_MCAST: i32 = 12;
}

/// `MESSAGE_RES_CPG_*` ids of responses.
pub mod cpg_response_id {
    /// JOIN's response; also the generic error response (unknown request, TRY_AGAIN).
    pub const JOIN: i32 = 0;
    /// LEAVE's response.
    pub const LEAVE: i32 = 1;
    /// MEMBERSHIP's response.
    pub const MEMBERSHIP: i32 = 3;
    /// LOCAL_GET's response.
    pub const LOCAL_GET: i32 = 7;
    /// ITERATION_INITIALIZE's response.
    pub const ITERATION_INITIALIZE: i32 = 9;
    /// ITERATION_NEXT's response.
    pub const ITERATION_NEXT: i32 = 10;
    /// ITERATION_FINALIZE's response.
    pub const ITERATION_FINALIZE: i32 = 11;
    /// FINALIZE's response.
    pub const FINALIZE: i32 = 12;
    /// PARTIAL_MCAST's response.
    pub const PARTIAL_SEND: i32 = 18;
}

/// `MESSAGE_RES_CPG_*` ids of events (dispatch callbacks).
pub mod cpg_event_id {
    /// A group's membership changed.
    pub const CONFCHG: i32 = 4;
    /// A message for a joined group.
    pub const DELIVER: i32 = 5;
    /// The ring's membership changed.
    pub const TOTEM_CONFCHG: i32 = 13;
    /// A fragment of a large message.
    pub const PARTIAL_DELIVER: i32 = 17;
}

/// `mar_cpg_name_t` (136 bytes): `length` u32 @0, `value[128]` @8. Any bytes, at most 128.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CpgName(Vec<u8>);

impl CpgName {
    /// Encoded length.
    pub const LEN: usize = 136;

    /// A group name, if it is at most [`CPG_NAME_MAX`] bytes.
    pub fn new(name: impl Into<Vec<u8>>) -> Result<Self, IpcEncodeError> {
        let name = name.into();
        if name.len() > CPG_NAME_MAX {
            return Err(IpcEncodeError::NameTooLong { len: name.len() });
        }
        Ok(Self(name))
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn decode(view: &View<'_>, off: usize) -> Result<Self, IpcDecodeError> {
        let len = view.u32(off)?;
        if len as usize > CPG_NAME_MAX {
            return Err(IpcDecodeError::NameTooLong { len });
        }
        Ok(Self(view.bytes(off + 8, len as usize)?.to_vec()))
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize) {
        f.u32(off, self.0.len() as u32);
        f.bytes(off + 8, &self.0);
    }
}

/// `cpg_reason_t`: why a process appears in a confchg list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum CpgReason {
    /// `CPG_REASON_UNDEFINED`: entries of the member list, which carry no reason.
    Undefined = 0,
    /// `CPG_REASON_JOIN`.
    Join = 1,
    /// `CPG_REASON_LEAVE`.
    Leave = 2,
    /// `CPG_REASON_NODEDOWN`.
    NodeDown = 3,
    /// `CPG_REASON_NODEUP`.
    NodeUp = 4,
    /// `CPG_REASON_PROCDOWN`: the client disconnected while joined.
    ProcDown = 5,
}

impl CpgReason {
    fn from_wire(value: u32) -> Result<Self, IpcDecodeError> {
        Ok(match value {
            0 => Self::Undefined,
            1 => Self::Join,
            2 => Self::Leave,
            3 => Self::NodeDown,
            4 => Self::NodeUp,
            5 => Self::ProcDown,
            _ => {
                return Err(IpcDecodeError::InvalidValue {
                    what: "cpg reason",
                    value: value.into(),
                });
            }
        })
    }
}

/// `mar_cpg_address_t` (24 bytes): `nodeid` @0, `pid` @8, `reason` @16, u32 each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CpgAddress {
    /// The process's node.
    pub nodeid: NodeId,
    /// The process id on that node.
    pub pid: u32,
    /// Why it is listed.
    pub reason: CpgReason,
}

impl CpgAddress {
    /// Encoded length.
    pub const LEN: usize = 24;
}

/// One entry type of a [`MemberList`] (also used by the quorum and votequorum lists).
pub(super) trait Entry: Sized {
    const LEN: usize;
    fn decode(view: &View<'_>, off: usize) -> Result<Self, IpcDecodeError>;
    fn encode(&self, f: &mut Frame<'_>, off: usize);
}

impl Entry for CpgAddress {
    const LEN: usize = Self::LEN;

    fn decode(view: &View<'_>, off: usize) -> Result<Self, IpcDecodeError> {
        Ok(Self {
            nodeid: NodeId(view.u32(off)?),
            pid: view.u32(off + 8)?,
            reason: CpgReason::from_wire(view.u32(off + 16)?)?,
        })
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize) {
        f.u32(off, self.nodeid.0);
        f.u32(off + 8, self.pid);
        f.u32(off + 16, self.reason as u32);
    }
}

/// A totem member list entry: a bare u32 node id.
impl Entry for NodeId {
    const LEN: usize = 4;

    fn decode(view: &View<'_>, off: usize) -> Result<Self, IpcDecodeError> {
        Ok(Self(view.u32(off)?))
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize) {
        f.u32(off, self.0);
    }
}

/// A list of at most [`MemberList::MAX`] entries, as corosync sizes its arrays.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MemberList<T>(Vec<T>);

impl<T> MemberList<T> {
    /// `PROCESSOR_COUNT_MAX` (384), the size of the MEMBERSHIP response's fixed array.
    pub const MAX: usize = PROCESSOR_COUNT_MAX;

    /// A list, if it has at most [`Self::MAX`] entries.
    pub fn new(entries: Vec<T>) -> Result<Self, IpcEncodeError> {
        if entries.len() > Self::MAX {
            return Err(IpcEncodeError::ListTooLong {
                count: entries.len(),
            });
        }
        Ok(Self(entries))
    }

    /// The entries.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T> Deref for MemberList<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

/// Checks a list count field against [`MemberList::MAX`].
pub(super) fn list_count(
    view: &View<'_>,
    off: usize,
    what: &'static str,
) -> Result<usize, IpcDecodeError> {
    let count = view.u32(off)?;
    let max = PROCESSOR_COUNT_MAX;
    if count as usize > max {
        return Err(IpcDecodeError::ListTooLong { what, count, max });
    }
    Ok(count as usize)
}

/// Reads `count` (already checked) entries starting at `off`.
pub(super) fn decode_list<T: Entry>(
    view: &View<'_>,
    off: usize,
    count: usize,
) -> Result<MemberList<T>, IpcDecodeError> {
    let entries = (0..count).map(|i| T::decode(view, off + i * T::LEN));
    Ok(MemberList(entries.collect::<Result<_, _>>()?))
}

/// Writes the entries at `off`; returns the offset after them.
pub(super) fn encode_list<T: Entry>(list: &MemberList<T>, f: &mut Frame<'_>, off: usize) -> usize {
    for (i, entry) in list.0.iter().enumerate() {
        entry.encode(f, off + i * T::LEN);
    }
    off + list.0.len() * T::LEN
}

/// `cpg_guarantee_t`, the MCAST `guarantee` field. Kept as the raw value: corosync ignores
/// it (every CPG message is delivered in agreed order), so it must accept any value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Guarantee(pub u32);

impl Guarantee {
    /// `CPG_TYPE_UNORDERED`.
    pub const UNORDERED: Self = Self(0);
    /// `CPG_TYPE_FIFO`.
    pub const FIFO: Self = Self(1);
    /// `CPG_TYPE_AGREED`, what `cpg_mcast_joined` callers usually pass.
    pub const AGREED: Self = Self(2);
    /// `CPG_TYPE_SAFE`.
    pub const SAFE: Self = Self(3);
}

/// A whole CPG message: at most [`CPG_MCAST_PAYLOAD_MAX`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CpgPayload(Bytes);

impl CpgPayload {
    /// A payload, if it fits an MCAST request and a DELIVER event.
    pub fn new(data: Bytes) -> Result<Self, IpcEncodeError> {
        if data.len() > CPG_MCAST_PAYLOAD_MAX {
            return Err(IpcEncodeError::PayloadTooLarge {
                len: data.len(),
                max: CPG_MCAST_PAYLOAD_MAX,
            });
        }
        Ok(Self(data))
    }

    /// The bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// Reads `msglen` at `len_off` and the bytes at `data_off`, which end the message.
    fn decode(view: &View<'_>, len_off: usize, data_off: usize) -> Result<Self, IpcDecodeError> {
        let len = view.u32(len_off)?;
        if len as usize > CPG_MCAST_PAYLOAD_MAX {
            let max = CPG_MCAST_PAYLOAD_MAX;
            return Err(IpcDecodeError::PayloadTooLarge {
                what: view.what,
                len,
                max,
            });
        }
        view.exact(data_off + len as usize)?;
        Ok(Self(Bytes::copy_from_slice(
            view.bytes(data_off, len as usize)?,
        )))
    }
}

/// Where a fragment sits in its message (the `type` field of PARTIAL_MCAST/DELIVER).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum FragmentKind {
    /// `LIBCPG_PARTIAL_FIRST`.
    First = 1,
    /// `LIBCPG_PARTIAL_CONTINUED`.
    Continued = 2,
    /// `LIBCPG_PARTIAL_LAST`.
    Last = 3,
}

/// One fragment of a large message: the whole message's length, the fragment's place and
/// its bytes. The fragment is at most [`CPG_FRAGMENT_MAX`] and no longer than the message;
/// the whole message may be larger than the ring's `MESSAGE_SIZE_MAX`: libcpg fragments
/// exactly the messages above its IPC limit, and each fragment crosses the ring on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialFragment {
    msglen: u32,
    kind: FragmentKind,
    data: Bytes,
}

impl PartialFragment {
    /// A fragment, if it respects the limits above.
    pub fn new(msglen: u32, kind: FragmentKind, data: Bytes) -> Result<Self, IpcEncodeError> {
        if data.len() > CPG_FRAGMENT_MAX {
            return Err(IpcEncodeError::PayloadTooLarge {
                len: data.len(),
                max: CPG_FRAGMENT_MAX,
            });
        }
        if data.len() > msglen as usize {
            return Err(IpcEncodeError::FragmentExceedsMessage {
                fragment: data.len(),
                message: msglen,
            });
        }
        Ok(Self { msglen, kind, data })
    }

    /// Length of the whole message.
    pub fn msglen(&self) -> u32 {
        self.msglen
    }

    /// Where the fragment sits.
    pub fn kind(&self) -> FragmentKind {
        self.kind
    }

    /// The fragment's bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Reads msglen @`off`, fraglen @`off+8`, the type @`type_off` and the bytes @`data_off`,
    /// which end the message.
    fn decode(
        view: &View<'_>,
        off: usize,
        type_off: usize,
        data_off: usize,
    ) -> Result<Self, IpcDecodeError> {
        let what = view.what;
        let msglen = view.u32(off)?;
        let fraglen = view.u32(off + 8)?;
        if fraglen as usize > CPG_FRAGMENT_MAX {
            return Err(IpcDecodeError::PayloadTooLarge {
                what,
                len: fraglen,
                max: CPG_FRAGMENT_MAX,
            });
        }
        if fraglen > msglen {
            return Err(IpcDecodeError::InvalidValue {
                what: "cpg fragment length",
                value: fraglen.into(),
            });
        }
        let kind = match view.u32(type_off)? {
            1 => FragmentKind::First,
            2 => FragmentKind::Continued,
            3 => FragmentKind::Last,
            t => {
                return Err(IpcDecodeError::InvalidValue {
                    what: "cpg fragment type",
                    value: t.into(),
                });
            }
        };
        view.exact(data_off + fraglen as usize)?;
        let data = Bytes::copy_from_slice(view.bytes(data_off, fraglen as usize)?);
        Ok(Self { msglen, kind, data })
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize, type_off: usize, data_off: usize) {
        f.u32(off, self.msglen);
        f.u32(off + 8, self.data.len() as u32);
        f.u32(type_off, self.kind as u32);
        f.bytes(data_off, &self.data);
    }
}

/// `cpg_iteration_type_t`: what an iteration walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum IterationType {
    /// `CPG_ITERATION_NAME_ONLY`: one entry per group.
    NameOnly = 1,
    /// `CPG_ITERATION_ONE_GROUP`: the members of one group.
    OneGroup = 2,
    /// `CPG_ITERATION_ALL`: every member of every group.
    All = 3,
}

/// The daemon's handle for one iteration (`hdb_handle_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IterationHandle(pub u64);

/// `mar_cpg_iteration_description_t` (144 bytes): `group` @0, `nodeid` u32 @136, `pid` u32
/// @140 (no 8-byte alignment between the two).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IterationDescription {
    /// The group.
    pub group: CpgName,
    /// A member's node (0 for `NameOnly`).
    pub nodeid: NodeId,
    /// A member's pid (0 for `NameOnly`).
    pub pid: u32,
}

mod event;
mod request;
mod response;

pub use event::{ConfchgEvent, CpgEvent, DeliverEvent, PartialDeliverEvent, TotemConfchgEvent};
use event::{DELIVER_DATA, PARTIAL_DELIVER_DATA};
pub use request::CpgRequest;
pub use response::CpgResponse;

#[cfg(test)]
pub(super) mod tests;
