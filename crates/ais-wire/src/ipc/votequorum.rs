//! votequorum client messages (libvotequorum): vote counts and quorum state per node,
//! changing expected votes and votes, notifications, and the quorum-device (qdevice) calls.
//!
//! Reference §2.1 and §2.4; corosync 3.1.7 `include/corosync/ipc_votequorum.h`
//! (`req_lib_votequorum_*`, `res_lib_votequorum_*`, `mar_votequorum_ring_id`) and
//! `exec/votequorum.c`. Every request except GETINFO is answered by the 24-byte STATUS
//! response (id 0), which is also the dispatcher's generic error reply (§2.1).
//!
//! Layout notes: the structs are not all `aligned(8)` member by member. The qdevice name is
//! a `char[255]`, so what follows it lands at 271 (a second name) or is realigned to 272
//! (an `int`); `res_lib_votequorum_getinfo` packs nine u32s from 24 and the name at 60;
//! `mar_votequorum_ring_id` is `{u32 nodeid; u64 seq}` with natural alignment (seq @8).
//!
//! Invariants: names are [`QdeviceName`]s (at most 254 bytes, no NUL), lists are
//! [`MemberList`]s, so every value encodes, within [`super::IPC_MSG_SIZE_MAX`]. A quorum
//! notification lists the known nodes plus the qdevice pseudo-node 0; more than
//! `PROCESSOR_COUNT_MAX` entries in all (384 nodes and a qdevice) is not representable.

use ais_types::{NodeId, RingId};

use super::cpg::{Entry, decode_list, encode_list, list_count};
use super::{CsStatus, FixedCStr, Frame, IpcDecodeError, MemberList, TrackFlags, View};
use super::{RequestHeader, ResponseHeader};

/// A quorum device's name (`char[VOTEQUORUM_QDEVICE_MAX_NAME_LEN]`, 255 bytes with the NUL).
pub type QdeviceName = FixedCStr<255>;

/// `MESSAGE_REQ_VOTEQUORUM_*`: request header ids.
pub mod votequorum_request_id {
    /// A node's votes and the cluster's quorum state.
    pub const GETINFO: i32 = 0;
    /// Change the expected votes.
    pub const SETEXPECTED: i32 = 1;
    /// Change a node's votes.
    pub const SETVOTES: i32 = 2;
    /// Start sending notifications.
    pub const TRACKSTART: i32 = 3;
    /// Stop sending notifications.
    pub const TRACKSTOP: i32 = 4;
    /// A quorum device registers (corosync-qdevice only).
    pub const QDEVICE_REGISTER: i32 = 5;
    /// A quorum device unregisters.
    pub const QDEVICE_UNREGISTER: i32 = 6;
    /// A quorum device is renamed.
    pub const QDEVICE_UPDATE: i32 = 7;
    /// A quorum device's periodic vote.
    pub const QDEVICE_POLL: i32 = 8;
    /// A quorum device's master-wins setting.
    pub const QDEVICE_MASTER_WINS: i32 = 9;
}

/// `MESSAGE_RES_VOTEQUORUM_*` ids of responses.
pub mod votequorum_response_id {
    /// The bare status answering every request but GETINFO; also the generic error reply.
    pub const STATUS: i32 = 0;
    /// GETINFO's response.
    pub const GETINFO: i32 = 1;
}

/// `MESSAGE_RES_VOTEQUORUM_*` ids of events.
pub mod votequorum_event_id {
    /// Quorum state and every known node's state.
    pub const QUORUM_NOTIFICATION: i32 = 3;
    /// The expected votes changed.
    pub const EXPECTEDVOTES_NOTIFICATION: i32 = 4;
    /// The ring's members.
    pub const NODELIST_NOTIFICATION: i32 = 5;
}

/// `VOTEQUORUM_NODESTATE_*`: a node's `state` in GETINFO and the quorum notification.
pub mod votequorum_node_state {
    /// In the current membership.
    pub const MEMBER: u32 = 1;
    /// Known but not in the membership.
    pub const DEAD: u32 = 2;
    /// Announced that it is leaving.
    pub const LEAVING: u32 = 3;
}

/// `VOTEQUORUM_INFO_*`: the bits of [`VotequorumInfo::flags`].
pub mod votequorum_info_flags {
    /// `two_node` is set.
    pub const TWONODE: u32 = 1;
    /// The cluster is quorate.
    pub const QUORATE: u32 = 2;
    /// `wait_for_all` is set.
    pub const WAIT_FOR_ALL: u32 = 4;
    /// `last_man_standing` is set.
    pub const LAST_MAN_STANDING: u32 = 8;
    /// `auto_tie_breaker` is set.
    pub const AUTO_TIE_BREAKER: u32 = 16;
    /// `allow_downscale` is set.
    pub const ALLOW_DOWNSCALE: u32 = 32;
    /// A quorum device is registered on the node.
    pub const QDEVICE_REGISTERED: u32 = 64;
    /// The quorum device answers.
    pub const QDEVICE_ALIVE: u32 = 128;
    /// The quorum device casts its vote.
    pub const QDEVICE_CAST_VOTE: u32 = 256;
    /// The quorum device's master-wins mode is on.
    pub const QDEVICE_MASTER_WINS: u32 = 512;
}

/// A request from a votequorum client (header ids in [`votequorum_request_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VotequorumRequest {
    /// `req_lib_votequorum_getinfo` (24): `nodeid` @16, 0 for the local node.
    GetInfo {
        /// The node.
        nodeid: NodeId,
    },
    /// `req_lib_votequorum_setexpected` (24): `expected_votes` u32 @16.
    SetExpected {
        /// The new expected votes.
        expected_votes: u32,
    },
    /// `req_lib_votequorum_setvotes` (24): `votes` u32 @16, `nodeid` @20.
    SetVotes {
        /// The node's new votes.
        votes: u32,
        /// The node (0 for the local node).
        nodeid: NodeId,
    },
    /// `req_lib_votequorum_trackstart` (32): `context` u64 @16, `track_flags` u32 @24. With
    /// CURRENT or CHANGES a NODELIST then a QUORUM notification are sent at once.
    TrackStart {
        /// The client's cookie, echoed in every notification.
        context: u64,
        /// `CS_TRACK_*` bits.
        flags: TrackFlags,
    },
    /// TRACKSTOP (16): header only.
    TrackStop,
    /// `req_lib_votequorum_qdevice_register` (272): `name` @16.
    QdeviceRegister {
        /// The device.
        name: QdeviceName,
    },
    /// `req_lib_votequorum_qdevice_unregister` (272): `name` @16.
    QdeviceUnregister {
        /// The device.
        name: QdeviceName,
    },
    /// `req_lib_votequorum_qdevice_update` (528): `oldname` @16, `newname` @271.
    QdeviceUpdate {
        /// The current name.
        old_name: QdeviceName,
        /// The new name.
        new_name: QdeviceName,
    },
    /// `req_lib_votequorum_qdevice_poll` (296): `name` @16, `cast_vote` i32 @272, `ring_id`
    /// {nodeid @280, seq @288}.
    QdevicePoll {
        /// The device.
        name: QdeviceName,
        /// Whether it casts its vote.
        cast_vote: bool,
        /// The ring the vote is for; a stale ring gets `CS_ERR_MESSAGE_ERROR`.
        ring_id: RingId,
    },
    /// `req_lib_votequorum_qdevice_master_wins` (280): `name` @16, `allow` u32 @272.
    QdeviceMasterWins {
        /// The device.
        name: QdeviceName,
        /// Whether master-wins is on.
        allow: bool,
    },
}

const REQ_BODY: usize = RequestHeader::LEN;
const REQ_ARG_LEN: usize = 24;
const TRACKSTART_LEN: usize = 32;
const QDEVICE_NAME_LEN: usize = 272;
const QDEVICE_UPDATE_NEW: usize = REQ_BODY + QdeviceName::LEN;
const QDEVICE_UPDATE_LEN: usize = 528;
/// After a name, an `int` or `unsigned int` realigns to 272.
const QDEVICE_ARG: usize = 272;
const QDEVICE_POLL_RING: usize = 280;
const QDEVICE_POLL_LEN: usize = 296;
const QDEVICE_MASTER_WINS_LEN: usize = 280;

impl VotequorumRequest {
    /// Decodes exactly one request.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use votequorum_request_id as id;
        const WHAT: &str = "votequorum qdevice name";
        let v = View::open(buf, "votequorum request", RequestHeader::LEN)?;
        Ok(match v.id()? {
            id::GETINFO => {
                v.exact(REQ_ARG_LEN)?;
                Self::GetInfo {
                    nodeid: NodeId(v.u32(REQ_BODY)?),
                }
            }
            id::SETEXPECTED => {
                v.exact(REQ_ARG_LEN)?;
                Self::SetExpected {
                    expected_votes: v.u32(REQ_BODY)?,
                }
            }
            id::SETVOTES => {
                v.exact(REQ_ARG_LEN)?;
                Self::SetVotes {
                    votes: v.u32(REQ_BODY)?,
                    nodeid: NodeId(v.u32(REQ_BODY + 4)?),
                }
            }
            id::TRACKSTART => {
                v.exact(TRACKSTART_LEN)?;
                Self::TrackStart {
                    context: v.u64(REQ_BODY)?,
                    flags: TrackFlags(v.u32(REQ_BODY + 8)?),
                }
            }
            id::TRACKSTOP => {
                v.exact(RequestHeader::LEN)?;
                Self::TrackStop
            }
            id::QDEVICE_REGISTER => {
                v.exact(QDEVICE_NAME_LEN)?;
                Self::QdeviceRegister {
                    name: QdeviceName::decode(&v, REQ_BODY, WHAT)?,
                }
            }
            id::QDEVICE_UNREGISTER => {
                v.exact(QDEVICE_NAME_LEN)?;
                Self::QdeviceUnregister {
                    name: QdeviceName::decode(&v, REQ_BODY, WHAT)?,
                }
            }
            id::QDEVICE_UPDATE => {
                v.exact(QDEVICE_UPDATE_LEN)?;
                Self::QdeviceUpdate {
                    old_name: QdeviceName::decode(&v, REQ_BODY, WHAT)?,
                    new_name: QdeviceName::decode(&v, QDEVICE_UPDATE_NEW, WHAT)?,
                }
            }
            id::QDEVICE_POLL => {
                v.exact(QDEVICE_POLL_LEN)?;
                Self::QdevicePoll {
                    name: QdeviceName::decode(&v, REQ_BODY, WHAT)?,
                    cast_vote: v.i32(QDEVICE_ARG)? != 0,
                    ring_id: RingId::new(
                        NodeId(v.u32(QDEVICE_POLL_RING)?),
                        v.u64(QDEVICE_POLL_RING + 8)?,
                    ),
                }
            }
            id::QDEVICE_MASTER_WINS => {
                v.exact(QDEVICE_MASTER_WINS_LEN)?;
                Self::QdeviceMasterWins {
                    name: QdeviceName::decode(&v, REQ_BODY, WHAT)?,
                    allow: v.u32(QDEVICE_ARG)? != 0,
                }
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "votequorum request",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use votequorum_request_id as id;
        match self {
            Self::GetInfo { .. } => id::GETINFO,
            Self::SetExpected { .. } => id::SETEXPECTED,
            Self::SetVotes { .. } => id::SETVOTES,
            Self::TrackStart { .. } => id::TRACKSTART,
            Self::TrackStop => id::TRACKSTOP,
            Self::QdeviceRegister { .. } => id::QDEVICE_REGISTER,
            Self::QdeviceUnregister { .. } => id::QDEVICE_UNREGISTER,
            Self::QdeviceUpdate { .. } => id::QDEVICE_UPDATE,
            Self::QdevicePoll { .. } => id::QDEVICE_POLL,
            Self::QdeviceMasterWins { .. } => id::QDEVICE_MASTER_WINS,
        }
    }

    /// The id of the response the library waits for: GETINFO's own, STATUS for the rest.
    pub fn response_id(&self) -> i32 {
        match self {
            Self::GetInfo { .. } => votequorum_response_id::GETINFO,
            _ => votequorum_response_id::STATUS,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::GetInfo { .. } | Self::SetExpected { .. } | Self::SetVotes { .. } => REQ_ARG_LEN,
            Self::TrackStart { .. } => TRACKSTART_LEN,
            Self::TrackStop => RequestHeader::LEN,
            Self::QdeviceRegister { .. } | Self::QdeviceUnregister { .. } => QDEVICE_NAME_LEN,
            Self::QdeviceUpdate { .. } => QDEVICE_UPDATE_LEN,
            Self::QdevicePoll { .. } => QDEVICE_POLL_LEN,
            Self::QdeviceMasterWins { .. } => QDEVICE_MASTER_WINS_LEN,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.request_header(self.id());
        match self {
            Self::GetInfo { nodeid } => f.u32(REQ_BODY, nodeid.0),
            Self::SetExpected { expected_votes } => f.u32(REQ_BODY, *expected_votes),
            Self::SetVotes { votes, nodeid } => {
                f.u32(REQ_BODY, *votes);
                f.u32(REQ_BODY + 4, nodeid.0);
            }
            Self::TrackStart { context, flags } => {
                f.u64(REQ_BODY, *context);
                f.u32(REQ_BODY + 8, flags.0);
            }
            Self::TrackStop => {}
            Self::QdeviceRegister { name } | Self::QdeviceUnregister { name } => {
                name.encode(&mut f, REQ_BODY);
            }
            Self::QdeviceUpdate { old_name, new_name } => {
                old_name.encode(&mut f, REQ_BODY);
                new_name.encode(&mut f, QDEVICE_UPDATE_NEW);
            }
            Self::QdevicePoll {
                name,
                cast_vote,
                ring_id,
            } => {
                name.encode(&mut f, REQ_BODY);
                f.i32(QDEVICE_ARG, i32::from(*cast_vote));
                f.u32(QDEVICE_POLL_RING, ring_id.rep.0);
                f.u64(QDEVICE_POLL_RING + 8, ring_id.seq);
            }
            Self::QdeviceMasterWins { name, allow } => {
                name.encode(&mut f, REQ_BODY);
                f.u32(QDEVICE_ARG, u32::from(*allow));
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

/// The body of `res_lib_votequorum_getinfo`: one node's votes and the cluster's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VotequorumInfo {
    /// The node (@24).
    pub nodeid: NodeId,
    /// Its state, a [`votequorum_node_state`] value (@28).
    pub state: u32,
    /// Its votes (@32).
    pub votes: u32,
    /// Its expected votes (@36).
    pub expected_votes: u32,
    /// The highest expected votes of the members (@40).
    pub highest_expected: u32,
    /// The members' votes, plus the qdevice's if it votes (@44).
    pub total_votes: u32,
    /// The votes needed for quorum (@48).
    pub quorum: u32,
    /// [`votequorum_info_flags`] bits (@52).
    pub flags: u32,
    /// The quorum device's votes (@56).
    pub qdevice_votes: u32,
    /// The quorum device's name, empty without one (@60, `char[255]`).
    pub qdevice_name: QdeviceName,
}

/// A response to a votequorum request (header ids in [`votequorum_response_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VotequorumResponse {
    /// `res_lib_votequorum_status` (24): the answer to every request but GETINFO, and the
    /// dispatcher's generic error reply.
    Status(CsStatus),
    /// `res_lib_votequorum_getinfo` (320). An unknown node is `CS_ERR_NOT_EXIST`; corosync
    /// then leaves the body uninitialised, so with an error status the qdevice name is
    /// read leniently (cut at 254 bytes when it has no NUL).
    GetInfo {
        /// The result.
        error: CsStatus,
        /// The node's state.
        info: VotequorumInfo,
    },
}

const RES_BODY: usize = ResponseHeader::LEN;
const GETINFO_NAME: usize = 60;
const GETINFO_LEN: usize = 320;

impl VotequorumResponse {
    /// Decodes exactly one response.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use votequorum_response_id as id;
        let v = View::open(buf, "votequorum response", ResponseHeader::LEN)?;
        let error = CsStatus(v.i32(16)?);
        Ok(match v.id()? {
            id::STATUS => {
                v.exact(RES_BODY)?;
                Self::Status(error)
            }
            id::GETINFO => {
                v.exact(GETINFO_LEN)?;
                let qdevice_name = if error == CsStatus::OK {
                    QdeviceName::decode(&v, GETINFO_NAME, "votequorum qdevice name")?
                } else {
                    lenient_name(v.bytes(GETINFO_NAME, QdeviceName::LEN)?)
                };
                let word = |i: usize| v.u32(RES_BODY + 4 * i);
                let info = VotequorumInfo {
                    nodeid: NodeId(word(0)?),
                    state: word(1)?,
                    votes: word(2)?,
                    expected_votes: word(3)?,
                    highest_expected: word(4)?,
                    total_votes: word(5)?,
                    quorum: word(6)?,
                    flags: word(7)?,
                    qdevice_votes: word(8)?,
                    qdevice_name,
                };
                Self::GetInfo { error, info }
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "votequorum response",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        match self {
            Self::Status(_) => votequorum_response_id::STATUS,
            Self::GetInfo { .. } => votequorum_response_id::GETINFO,
        }
    }

    /// The `cs_error_t` in the header.
    pub fn error(&self) -> CsStatus {
        match self {
            Self::Status(error) | Self::GetInfo { error, .. } => *error,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Status(_) => RES_BODY,
            Self::GetInfo { .. } => GETINFO_LEN,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), self.error());
        if let Self::GetInfo { info, .. } = self {
            let words = [
                info.nodeid.0,
                info.state,
                info.votes,
                info.expected_votes,
                info.highest_expected,
                info.total_votes,
                info.quorum,
                info.flags,
                info.qdevice_votes,
            ];
            for (i, word) in words.into_iter().enumerate() {
                f.u32(RES_BODY + 4 * i, word);
            }
            info.qdevice_name.encode(&mut f, GETINFO_NAME);
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// A name from a field corosync may have left uninitialised: up to the first NUL, at most
/// [`QdeviceName::MAX`] bytes.
fn lenient_name(field: &[u8]) -> QdeviceName {
    let end = field
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(QdeviceName::MAX);
    FixedCStr(field[..end.min(QdeviceName::MAX)].to_vec())
}

/// `struct votequorum_node` (8 bytes): `nodeid` u32 @0, `state` u32 @4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VotequorumNode {
    /// The node (0 is the quorum device).
    pub nodeid: NodeId,
    /// A [`votequorum_node_state`] value.
    pub state: u32,
}

impl Entry for VotequorumNode {
    const LEN: usize = 8;

    fn decode(view: &View<'_>, off: usize) -> Result<Self, IpcDecodeError> {
        Ok(Self {
            nodeid: NodeId(view.u32(off)?),
            state: view.u32(off + 4)?,
        })
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize) {
        f.u32(off, self.nodeid.0);
        f.u32(off + 4, self.state);
    }
}

/// An event on the votequorum event channel (header ids in [`votequorum_event_id`]). Each
/// carries the `context` the client gave TRACKSTART.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VotequorumEvent {
    /// `res_lib_votequorum_quorum_notification`: `quorate` u32 @24, `context` u64 @32,
    /// `node_list_entries` @40, `node_list` of [`VotequorumNode`] @48; size 48 + 8n.
    Quorum {
        /// The client's cookie.
        context: u64,
        /// Whether the cluster is quorate.
        quorate: bool,
        /// Every known node with its state, then the quorum device (node 0) if registered.
        nodes: MemberList<VotequorumNode>,
    },
    /// `res_lib_votequorum_expectedvotes_notification` (40): `context` u64 @24,
    /// `expected_votes` u32 @32.
    ExpectedVotes {
        /// The client's cookie.
        context: u64,
        /// The new expected votes.
        expected_votes: u32,
    },
    /// `res_lib_votequorum_nodelist_notification`: `context` u64 @24, `ring_id` {nodeid
    /// @32, seq @40}, `node_list_entries` @48, `node_list` u32[] @56; size 56 + 4n.
    Nodelist {
        /// The client's cookie.
        context: u64,
        /// The ring.
        ring_id: RingId,
        /// Its members.
        nodes: MemberList<NodeId>,
    },
}

const QUORUM_LIST: usize = 48;
const EXPECTED_VOTES_LEN: usize = 40;
const NODELIST_LIST: usize = 56;

impl VotequorumEvent {
    /// Decodes exactly one event. The header's `error` is not read (corosync sends `CS_OK`).
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use votequorum_event_id as id;
        let v = View::open(buf, "votequorum event", ResponseHeader::LEN)?;
        Ok(match v.id()? {
            id::QUORUM_NOTIFICATION => {
                v.need(QUORUM_LIST)?;
                let n = list_count(&v, 40, "votequorum node list")?;
                v.exact(QUORUM_LIST + VotequorumNode::LEN * n)?;
                Self::Quorum {
                    quorate: v.u32(24)? != 0,
                    context: v.u64(32)?,
                    nodes: decode_list(&v, QUORUM_LIST, n)?,
                }
            }
            id::EXPECTEDVOTES_NOTIFICATION => {
                v.exact(EXPECTED_VOTES_LEN)?;
                Self::ExpectedVotes {
                    context: v.u64(24)?,
                    expected_votes: v.u32(32)?,
                }
            }
            id::NODELIST_NOTIFICATION => {
                v.need(NODELIST_LIST)?;
                let n = list_count(&v, 48, "votequorum node list")?;
                v.exact(NODELIST_LIST + 4 * n)?;
                Self::Nodelist {
                    context: v.u64(24)?,
                    ring_id: RingId::new(NodeId(v.u32(32)?), v.u64(40)?),
                    nodes: decode_list(&v, NODELIST_LIST, n)?,
                }
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "votequorum event",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use votequorum_event_id as id;
        match self {
            Self::Quorum { .. } => id::QUORUM_NOTIFICATION,
            Self::ExpectedVotes { .. } => id::EXPECTEDVOTES_NOTIFICATION,
            Self::Nodelist { .. } => id::NODELIST_NOTIFICATION,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Quorum { nodes, .. } => QUORUM_LIST + VotequorumNode::LEN * nodes.len(),
            Self::ExpectedVotes { .. } => EXPECTED_VOTES_LEN,
            Self::Nodelist { nodes, .. } => NODELIST_LIST + 4 * nodes.len(),
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), CsStatus::OK);
        match self {
            Self::Quorum {
                context,
                quorate,
                nodes,
            } => {
                f.u32(24, u32::from(*quorate));
                f.u64(32, *context);
                f.u32(40, nodes.len() as u32);
                encode_list(nodes, &mut f, QUORUM_LIST);
            }
            Self::ExpectedVotes {
                context,
                expected_votes,
            } => {
                f.u64(24, *context);
                f.u32(32, *expected_votes);
            }
            Self::Nodelist {
                context,
                ring_id,
                nodes,
            } => {
                f.u64(24, *context);
                f.u32(32, ring_id.rep.0);
                f.u64(40, ring_id.seq);
                f.u32(48, nodes.len() as u32);
                encode_list(nodes, &mut f, NODELIST_LIST);
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
