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

/// A request from a CPG client (header ids in [`cpg_request_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgRequest {
    /// `req_lib_cpg_join` (168): `group_name` @16, `pid` u32 @152, `flags` u32 @160.
    Join {
        /// The group.
        group: CpgName,
        /// The joining process.
        pid: u32,
        /// `cpg_model_v1` flags; [`CpgRequest::JOIN_DELIVER_INITIAL_TOTEM_CONF`] is the one.
        flags: u32,
    },
    /// `req_lib_cpg_leave` (160): `group_name` @16, `pid` u32 @152.
    Leave {
        /// The group.
        group: CpgName,
        /// The leaving process.
        pid: u32,
    },
    /// `req_lib_cpg_mcast` (40 + msglen): 24-byte header, `guarantee` @24, `msglen` @32,
    /// `message` @40. Never answered (§2.1).
    Mcast {
        /// The requested ordering (ignored by corosync).
        guarantee: Guarantee,
        /// The message.
        payload: CpgPayload,
    },
    /// `req_lib_cpg_partial_mcast` (56 + fraglen): 24-byte header, `guarantee` @24,
    /// `msglen` @32, `fraglen` @40, `type` @48, `message` @56. Answered with PARTIAL_SEND.
    PartialMcast {
        /// The requested ordering (ignored by corosync).
        guarantee: Guarantee,
        /// The fragment.
        fragment: PartialFragment,
    },
    /// `req_lib_cpg_membership_get` (152): `group_name` @16.
    MembershipGet {
        /// The group.
        group: CpgName,
    },
    /// `req_lib_cpg_local_get` (16): header only.
    LocalGet,
    /// `req_lib_cpg_iterationinitialize` (160): `group_name` @16, `iteration_type` @152.
    IterationInitialize {
        /// The group for `OneGroup`; empty for the others, whose `group_name` libcpg leaves
        /// uninitialized (stack bytes), so it is neither read nor checked.
        group: CpgName,
        /// What to walk.
        iteration_type: IterationType,
    },
    /// `req_lib_cpg_iterationnext` (24): `iteration_handle` u64 @16.
    IterationNext {
        /// The iteration.
        handle: IterationHandle,
    },
    /// `req_lib_cpg_iterationfinalize` (24): `iteration_handle` u64 @16.
    IterationFinalize {
        /// The iteration.
        handle: IterationHandle,
    },
    /// `req_lib_cpg_finalize` (16): header only.
    Finalize,
}

/// Offsets shared by requests that start with a group name.
const REQ_GROUP: usize = 16;
const REQ_AFTER_GROUP: usize = REQ_GROUP + CpgName::LEN;
/// MCAST and PARTIAL_MCAST: `guarantee` @24, `msglen` @32.
const MCAST_GUARANTEE: usize = 24;
const MCAST_MSGLEN: usize = 32;
const MCAST_DATA: usize = 40;
const PARTIAL_MCAST_TYPE: usize = 48;
const PARTIAL_MCAST_DATA: usize = 56;

impl CpgRequest {
    /// `CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`: send a TOTEM_CONFCHG right after JOIN.
    pub const JOIN_DELIVER_INITIAL_TOTEM_CONF: u32 = 1;

    /// Decodes exactly one request.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cpg_request_id as id;
        let v = View::open(buf, "cpg request", RequestHeader::LEN)?;
        Ok(match v.id()? {
            id::JOIN => {
                v.exact(REQ_AFTER_GROUP + 16)?;
                let group = CpgName::decode(&v, REQ_GROUP)?;
                Self::Join {
                    group,
                    pid: v.u32(REQ_AFTER_GROUP)?,
                    flags: v.u32(REQ_AFTER_GROUP + 8)?,
                }
            }
            id::LEAVE => {
                v.exact(REQ_AFTER_GROUP + 8)?;
                Self::Leave {
                    group: CpgName::decode(&v, REQ_GROUP)?,
                    pid: v.u32(REQ_AFTER_GROUP)?,
                }
            }
            id::MCAST => {
                v.need(MCAST_DATA)?;
                Self::Mcast {
                    guarantee: Guarantee(v.u32(MCAST_GUARANTEE)?),
                    payload: CpgPayload::decode(&v, MCAST_MSGLEN, MCAST_DATA)?,
                }
            }
            id::PARTIAL_MCAST => {
                v.need(PARTIAL_MCAST_DATA)?;
                Self::PartialMcast {
                    guarantee: Guarantee(v.u32(MCAST_GUARANTEE)?),
                    fragment: PartialFragment::decode(
                        &v,
                        MCAST_MSGLEN,
                        PARTIAL_MCAST_TYPE,
                        PARTIAL_MCAST_DATA,
                    )?,
                }
            }
            id::MEMBERSHIP => {
                v.exact(REQ_AFTER_GROUP)?;
                Self::MembershipGet {
                    group: CpgName::decode(&v, REQ_GROUP)?,
                }
            }
            id::LOCAL_GET => {
                v.exact(RequestHeader::LEN)?;
                Self::LocalGet
            }
            id::ITERATION_INITIALIZE => {
                v.exact(REQ_AFTER_GROUP + 8)?;
                let iteration_type = match v.u32(REQ_AFTER_GROUP)? {
                    1 => IterationType::NameOnly,
                    2 => IterationType::OneGroup,
                    3 => IterationType::All,
                    t => {
                        return Err(IpcDecodeError::InvalidValue {
                            what: "cpg iteration type",
                            value: t.into(),
                        });
                    }
                };
                let group = match iteration_type {
                    IterationType::OneGroup => CpgName::decode(&v, REQ_GROUP)?,
                    IterationType::NameOnly | IterationType::All => CpgName::default(),
                };
                Self::IterationInitialize {
                    group,
                    iteration_type,
                }
            }
            id::ITERATION_NEXT => {
                v.exact(24)?;
                Self::IterationNext {
                    handle: IterationHandle(v.u64(16)?),
                }
            }
            id::ITERATION_FINALIZE => {
                v.exact(24)?;
                Self::IterationFinalize {
                    handle: IterationHandle(v.u64(16)?),
                }
            }
            id::FINALIZE => {
                v.exact(RequestHeader::LEN)?;
                Self::Finalize
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "cpg request",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cpg_request_id as id;
        match self {
            Self::Join { .. } => id::JOIN,
            Self::Leave { .. } => id::LEAVE,
            Self::Mcast { .. } => id::MCAST,
            Self::PartialMcast { .. } => id::PARTIAL_MCAST,
            Self::MembershipGet { .. } => id::MEMBERSHIP,
            Self::LocalGet => id::LOCAL_GET,
            Self::IterationInitialize { .. } => id::ITERATION_INITIALIZE,
            Self::IterationNext { .. } => id::ITERATION_NEXT,
            Self::IterationFinalize { .. } => id::ITERATION_FINALIZE,
            Self::Finalize => id::FINALIZE,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Join { .. } => REQ_AFTER_GROUP + 16,
            Self::Leave { .. } | Self::IterationInitialize { .. } => REQ_AFTER_GROUP + 8,
            Self::Mcast { payload, .. } => MCAST_DATA + payload.0.len(),
            Self::PartialMcast { fragment, .. } => PARTIAL_MCAST_DATA + fragment.data.len(),
            Self::MembershipGet { .. } => REQ_AFTER_GROUP,
            Self::LocalGet | Self::Finalize => RequestHeader::LEN,
            Self::IterationNext { .. } | Self::IterationFinalize { .. } => 24,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.request_header(self.id());
        match self {
            Self::Join { group, pid, flags } => {
                group.encode(&mut f, REQ_GROUP);
                f.u32(REQ_AFTER_GROUP, *pid);
                f.u32(REQ_AFTER_GROUP + 8, *flags);
            }
            Self::Leave { group, pid } => {
                group.encode(&mut f, REQ_GROUP);
                f.u32(REQ_AFTER_GROUP, *pid);
            }
            Self::Mcast { guarantee, payload } => {
                f.u32(MCAST_GUARANTEE, guarantee.0);
                f.u32(MCAST_MSGLEN, payload.0.len() as u32);
                f.bytes(MCAST_DATA, &payload.0);
            }
            Self::PartialMcast {
                guarantee,
                fragment,
            } => {
                f.u32(MCAST_GUARANTEE, guarantee.0);
                fragment.encode(&mut f, MCAST_MSGLEN, PARTIAL_MCAST_TYPE, PARTIAL_MCAST_DATA);
            }
            Self::MembershipGet { group } => group.encode(&mut f, REQ_GROUP),
            Self::IterationInitialize {
                group,
                iteration_type,
            } => {
                group.encode(&mut f, REQ_GROUP);
                f.u32(REQ_AFTER_GROUP, *iteration_type as u32);
            }
            Self::IterationNext { handle } | Self::IterationFinalize { handle } => {
                f.u64(16, handle.0);
            }
            Self::LocalGet | Self::Finalize => {}
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// A response to a CPG request (header ids in [`cpg_response_id`]). Every response carries a
/// `cs_error_t`; when it is not `CS_OK` the body is whatever the daemon wrote (zeros here).
///
/// The daemon's generic error reply (unknown request id, TRY_AGAIN during sync, §2.1) is a
/// 24-byte id-0 response, so it decodes as [`CpgResponse::Join`]: a client that sent another
/// request reads it as that request's failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgResponse {
    /// `res_lib_cpg_join` (24).
    Join(CsStatus),
    /// `res_lib_cpg_leave` (24).
    Leave(CsStatus),
    /// `res_lib_cpg_membership_get` (9 248): `member_count` @24, `member_list[384]` @32, the
    /// whole fixed-size array sent whatever the count.
    Membership {
        /// The result.
        error: CsStatus,
        /// The group's members.
        members: MemberList<CpgAddress>,
    },
    /// `res_lib_cpg_local_get` (32): `local_nodeid` u32 @24.
    LocalGet {
        /// The result.
        error: CsStatus,
        /// This node.
        local_nodeid: NodeId,
    },
    /// `res_lib_cpg_iterationinitialize` (32): `iteration_handle` u64 @24.
    IterationInitialize {
        /// The result.
        error: CsStatus,
        /// The new iteration.
        handle: IterationHandle,
    },
    /// `res_lib_cpg_iterationnext` (168): `description` @24 (group @24, nodeid @160, pid
    /// @164). The end of the iteration is `CS_ERR_NO_SECTIONS`.
    IterationNext {
        /// The result.
        error: CsStatus,
        /// The entry.
        description: IterationDescription,
    },
    /// `res_lib_cpg_iterationfinalize` (24).
    IterationFinalize(CsStatus),
    /// `res_lib_cpg_finalize` (24).
    Finalize(CsStatus),
    /// `res_lib_cpg_partial_send` (24).
    PartialSend(CsStatus),
}

const RES_BODY: usize = ResponseHeader::LEN;
const MEMBERSHIP_LIST: usize = 32;
const MEMBERSHIP_LEN: usize = MEMBERSHIP_LIST + PROCESSOR_COUNT_MAX * CpgAddress::LEN;
const ITERATION_NEXT_LEN: usize = RES_BODY + CpgName::LEN + 8;

impl CpgResponse {
    /// Decodes exactly one response.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cpg_response_id as id;
        let v = View::open(buf, "cpg response", ResponseHeader::LEN)?;
        let error = CsStatus(v.i32(16)?);
        Ok(match v.id()? {
            id::JOIN | id::LEAVE | id::ITERATION_FINALIZE | id::FINALIZE | id::PARTIAL_SEND => {
                v.exact(RES_BODY)?;
                match v.id()? {
                    id::JOIN => Self::Join(error),
                    id::LEAVE => Self::Leave(error),
                    id::ITERATION_FINALIZE => Self::IterationFinalize(error),
                    id::FINALIZE => Self::Finalize(error),
                    _ => Self::PartialSend(error),
                }
            }
            id::MEMBERSHIP => {
                v.exact(MEMBERSHIP_LEN)?;
                let count = list_count(&v, RES_BODY, "cpg membership")?;
                Self::Membership {
                    error,
                    members: decode_list(&v, MEMBERSHIP_LIST, count)?,
                }
            }
            id::LOCAL_GET => {
                v.exact(RES_BODY + 8)?;
                Self::LocalGet {
                    error,
                    local_nodeid: NodeId(v.u32(RES_BODY)?),
                }
            }
            id::ITERATION_INITIALIZE => {
                v.exact(RES_BODY + 8)?;
                Self::IterationInitialize {
                    error,
                    handle: IterationHandle(v.u64(RES_BODY)?),
                }
            }
            id::ITERATION_NEXT => {
                v.exact(ITERATION_NEXT_LEN)?;
                let description = IterationDescription {
                    group: CpgName::decode(&v, RES_BODY)?,
                    nodeid: NodeId(v.u32(RES_BODY + CpgName::LEN)?),
                    pid: v.u32(RES_BODY + CpgName::LEN + 4)?,
                };
                Self::IterationNext { error, description }
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "cpg response",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cpg_response_id as id;
        match self {
            Self::Join(_) => id::JOIN,
            Self::Leave(_) => id::LEAVE,
            Self::Membership { .. } => id::MEMBERSHIP,
            Self::LocalGet { .. } => id::LOCAL_GET,
            Self::IterationInitialize { .. } => id::ITERATION_INITIALIZE,
            Self::IterationNext { .. } => id::ITERATION_NEXT,
            Self::IterationFinalize(_) => id::ITERATION_FINALIZE,
            Self::Finalize(_) => id::FINALIZE,
            Self::PartialSend(_) => id::PARTIAL_SEND,
        }
    }

    /// The `cs_error_t` in the header.
    pub fn error(&self) -> CsStatus {
        match self {
            Self::Join(e)
            | Self::Leave(e)
            | Self::IterationFinalize(e)
            | Self::Finalize(e)
            | Self::PartialSend(e) => *e,
            Self::Membership { error, .. }
            | Self::LocalGet { error, .. }
            | Self::IterationInitialize { error, .. }
            | Self::IterationNext { error, .. } => *error,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Membership { .. } => MEMBERSHIP_LEN,
            Self::LocalGet { .. } | Self::IterationInitialize { .. } => RES_BODY + 8,
            Self::IterationNext { .. } => ITERATION_NEXT_LEN,
            _ => RES_BODY,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), self.error());
        match self {
            Self::Membership { members, .. } => {
                f.u32(RES_BODY, members.len() as u32);
                encode_list(members, &mut f, MEMBERSHIP_LIST);
            }
            Self::LocalGet { local_nodeid, .. } => f.u32(RES_BODY, local_nodeid.0),
            Self::IterationInitialize { handle, .. } => f.u64(RES_BODY, handle.0),
            Self::IterationNext { description, .. } => {
                description.group.encode(&mut f, RES_BODY);
                f.u32(RES_BODY + CpgName::LEN, description.nodeid.0);
                f.u32(RES_BODY + CpgName::LEN + 4, description.pid);
            }
            _ => {}
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// `res_lib_cpg_confchg_callback`: a group's membership changed. Sent to every member of
/// the group, including the joiner or leaver.
///
/// Layout: `group_name` @24, `member_list_entries` @160, `joined_list_entries` @168,
/// `left_list_entries` @176, then one array of `mar_cpg_address_t` @184 in the order
/// members, left, joined (not the order of the count fields). Size 184 + 24 × (m + l + j).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfchgEvent {
    /// The group.
    pub group: CpgName,
    /// Its members after the change.
    pub members: MemberList<CpgAddress>,
    /// Processes that left, with the reason.
    pub left: MemberList<CpgAddress>,
    /// Processes that joined, with the reason.
    pub joined: MemberList<CpgAddress>,
}

/// `res_lib_cpg_deliver_callback`: a message for a joined group, delivered to all members
/// including the sender, in agreed order. Layout: `group_name` @24, `msglen` @160, `nodeid`
/// @168, `pid` @176, `message` @184; size 184 + msglen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverEvent {
    /// The group.
    pub group: CpgName,
    /// The sender's node.
    pub nodeid: NodeId,
    /// The sender's pid.
    pub pid: u32,
    /// The message.
    pub payload: CpgPayload,
}

/// `res_lib_cpg_partial_deliver_callback`: a fragment; the library reassembles by (nodeid,
/// pid). Layout: `group_name` @24, `msglen` @160, `fraglen` @168, `nodeid` @176, `pid` @184,
/// `type` @192, `message` @200; size 200 + fraglen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialDeliverEvent {
    /// The group.
    pub group: CpgName,
    /// The sender's node.
    pub nodeid: NodeId,
    /// The sender's pid.
    pub pid: u32,
    /// The fragment.
    pub fragment: PartialFragment,
}

/// `res_lib_cpg_totem_confchg_callback`: the ring's membership changed. Sent to every CPG
/// connection, and once after JOIN with [`CpgRequest::JOIN_DELIVER_INITIAL_TOTEM_CONF`].
/// Layout: `ring_id` {nodeid u32 @24, seq u64 @32}, `member_list_entries` @40,
/// `member_list` u32[] @44; size 48 + 4n, i.e. `sizeof` (48) plus the array although the
/// array starts at 44, leaving 4 zero bytes at the end (§2.1 says to reproduce both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotemConfchgEvent {
    /// The new ring (`mar_cpg_ring_id_t`: representative and sequence number).
    pub ring_id: RingId,
    /// Its members.
    pub members: MemberList<NodeId>,
}

/// An event on the CPG event channel (header ids in [`cpg_event_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgEvent {
    /// A group's membership changed.
    Confchg(ConfchgEvent),
    /// A message.
    Deliver(DeliverEvent),
    /// A fragment of a large message.
    PartialDeliver(PartialDeliverEvent),
    /// The ring's membership changed.
    TotemConfchg(TotemConfchgEvent),
}

const EV_GROUP: usize = ResponseHeader::LEN;
const EV_AFTER_GROUP: usize = EV_GROUP + CpgName::LEN;
const CONFCHG_LIST: usize = EV_AFTER_GROUP + 24;
const DELIVER_DATA: usize = EV_AFTER_GROUP + 24;
const PARTIAL_DELIVER_DATA: usize = EV_AFTER_GROUP + 40;
const TOTEM_CONFCHG_LIST: usize = 44;
const TOTEM_CONFCHG_SIZEOF: usize = 48;

impl CpgEvent {
    /// Decodes exactly one event. The header's `error` is not read: corosync leaves it
    /// uninitialised in DELIVER (§2.1); we send `CS_OK`.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cpg_event_id as id;
        let v = View::open(buf, "cpg event", ResponseHeader::LEN)?;
        Ok(match v.id()? {
            id::CONFCHG => {
                v.need(CONFCHG_LIST)?;
                let group = CpgName::decode(&v, EV_GROUP)?;
                let m = list_count(&v, EV_AFTER_GROUP, "cpg confchg members")?;
                let j = list_count(&v, EV_AFTER_GROUP + 8, "cpg confchg joined")?;
                let l = list_count(&v, EV_AFTER_GROUP + 16, "cpg confchg left")?;
                v.exact(CONFCHG_LIST + (m + l + j) * CpgAddress::LEN)?;
                let left_at = CONFCHG_LIST + m * CpgAddress::LEN;
                let joined_at = left_at + l * CpgAddress::LEN;
                Self::Confchg(ConfchgEvent {
                    group,
                    members: decode_list(&v, CONFCHG_LIST, m)?,
                    left: decode_list(&v, left_at, l)?,
                    joined: decode_list(&v, joined_at, j)?,
                })
            }
            id::DELIVER => {
                v.need(DELIVER_DATA)?;
                Self::Deliver(DeliverEvent {
                    group: CpgName::decode(&v, EV_GROUP)?,
                    nodeid: NodeId(v.u32(EV_AFTER_GROUP + 8)?),
                    pid: v.u32(EV_AFTER_GROUP + 16)?,
                    payload: CpgPayload::decode(&v, EV_AFTER_GROUP, DELIVER_DATA)?,
                })
            }
            id::PARTIAL_DELIVER => {
                v.need(PARTIAL_DELIVER_DATA)?;
                Self::PartialDeliver(PartialDeliverEvent {
                    group: CpgName::decode(&v, EV_GROUP)?,
                    nodeid: NodeId(v.u32(EV_AFTER_GROUP + 16)?),
                    pid: v.u32(EV_AFTER_GROUP + 24)?,
                    fragment: PartialFragment::decode(
                        &v,
                        EV_AFTER_GROUP,
                        EV_AFTER_GROUP + 32,
                        PARTIAL_DELIVER_DATA,
                    )?,
                })
            }
            id::TOTEM_CONFCHG => {
                v.need(TOTEM_CONFCHG_SIZEOF)?;
                let n = list_count(&v, 40, "cpg totem confchg members")?;
                v.exact(TOTEM_CONFCHG_SIZEOF + n * 4)?;
                Self::TotemConfchg(TotemConfchgEvent {
                    ring_id: RingId::new(NodeId(v.u32(24)?), v.u64(32)?),
                    members: decode_list(&v, TOTEM_CONFCHG_LIST, n)?,
                })
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "cpg event",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cpg_event_id as id;
        match self {
            Self::Confchg(_) => id::CONFCHG,
            Self::Deliver(_) => id::DELIVER,
            Self::PartialDeliver(_) => id::PARTIAL_DELIVER,
            Self::TotemConfchg(_) => id::TOTEM_CONFCHG,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Confchg(c) => {
                CONFCHG_LIST + (c.members.len() + c.left.len() + c.joined.len()) * CpgAddress::LEN
            }
            Self::Deliver(d) => DELIVER_DATA + d.payload.0.len(),
            Self::PartialDeliver(p) => PARTIAL_DELIVER_DATA + p.fragment.data.len(),
            Self::TotemConfchg(t) => TOTEM_CONFCHG_SIZEOF + t.members.len() * 4,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), CsStatus::OK);
        match self {
            Self::Confchg(c) => {
                c.group.encode(&mut f, EV_GROUP);
                f.u32(EV_AFTER_GROUP, c.members.len() as u32);
                f.u32(EV_AFTER_GROUP + 8, c.joined.len() as u32);
                f.u32(EV_AFTER_GROUP + 16, c.left.len() as u32);
                let left_at = encode_list(&c.members, &mut f, CONFCHG_LIST);
                let joined_at = encode_list(&c.left, &mut f, left_at);
                encode_list(&c.joined, &mut f, joined_at);
            }
            Self::Deliver(d) => {
                d.group.encode(&mut f, EV_GROUP);
                f.u32(EV_AFTER_GROUP, d.payload.0.len() as u32);
                f.u32(EV_AFTER_GROUP + 8, d.nodeid.0);
                f.u32(EV_AFTER_GROUP + 16, d.pid);
                f.bytes(DELIVER_DATA, &d.payload.0);
            }
            Self::PartialDeliver(p) => {
                p.group.encode(&mut f, EV_GROUP);
                f.u32(EV_AFTER_GROUP + 16, p.nodeid.0);
                f.u32(EV_AFTER_GROUP + 24, p.pid);
                p.fragment.encode(
                    &mut f,
                    EV_AFTER_GROUP,
                    EV_AFTER_GROUP + 32,
                    PARTIAL_DELIVER_DATA,
                );
            }
            Self::TotemConfchg(t) => {
                f.u32(24, t.ring_id.rep.0);
                f.u64(32, t.ring_id.seq);
                f.u32(40, t.members.len() as u32);
                encode_list(&t.members, &mut f, TOTEM_CONFCHG_LIST);
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
