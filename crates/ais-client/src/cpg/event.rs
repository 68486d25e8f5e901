//! What a CPG connection hands to applications: events and membership descriptions, as
//! plain Rust values rather than the wire structs of `ais_wire::ipc`.

use std::fmt;

use ais_types::{NodeId, RingId};
use ais_wire::ipc::{CpgAddress, CpgReason};
use bytes::Bytes;

/// One process in a group: its node and its pid on that node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    /// The process's node.
    pub nodeid: NodeId,
    /// The process id on that node.
    pub pid: u32,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.nodeid, self.pid)
    }
}

impl From<&CpgAddress> for Member {
    fn from(a: &CpgAddress) -> Self {
        Self {
            nodeid: a.nodeid,
            pid: a.pid,
        }
    }
}

/// Why a process joined or left a group (`cpg_reason_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// It called join.
    Join,
    /// It called leave.
    Leave,
    /// Its node left the ring.
    NodeDown,
    /// Its node joined the ring (the process was already a member there).
    NodeUp,
    /// It disconnected from its daemon while joined (exited or crashed).
    ProcDown,
    /// No reason given (`CPG_REASON_UNDEFINED`).
    Undefined,
}

impl From<CpgReason> for Reason {
    fn from(r: CpgReason) -> Self {
        match r {
            CpgReason::Join => Self::Join,
            CpgReason::Leave => Self::Leave,
            CpgReason::NodeDown => Self::NodeDown,
            CpgReason::NodeUp => Self::NodeUp,
            CpgReason::ProcDown => Self::ProcDown,
            CpgReason::Undefined => Self::Undefined,
        }
    }
}

/// A process that joined or left, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberChange {
    /// The process.
    pub member: Member,
    /// Why it is listed.
    pub reason: Reason,
}

impl From<&CpgAddress> for MemberChange {
    fn from(a: &CpgAddress) -> Self {
        Self {
            member: a.into(),
            reason: a.reason.into(),
        }
    }
}

/// Something that happened to a connection, handed out by [`crate::cpg::Cpg::dispatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A message multicast to a group this connection joined, in the one order every
    /// member sees (the sender's own messages included). Large messages arrive whole.
    Deliver {
        /// The group.
        group: Vec<u8>,
        /// The sender's node.
        nodeid: NodeId,
        /// The sender's pid.
        pid: u32,
        /// The message.
        data: Bytes,
    },
    /// A joined group's membership changed.
    Confchg {
        /// The group.
        group: Vec<u8>,
        /// Its members after the change, in the daemon's order.
        members: Vec<Member>,
        /// Processes that left, with the reason.
        left: Vec<MemberChange>,
        /// Processes that joined, with the reason.
        joined: Vec<MemberChange>,
    },
    /// The ring's membership changed (and once after a join that asked for it).
    TotemConfchg {
        /// The new ring.
        ring_id: RingId,
        /// Its nodes.
        members: Vec<NodeId>,
    },
}

/// A group and its members, from [`crate::cpg::Cpg::groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMembers {
    /// The group's name.
    pub group: Vec<u8>,
    /// Its members, in the daemon's order.
    pub members: Vec<Member>,
}

/// One entry of a group iteration (`cpg_iteration_description_t`), from
/// [`crate::cpg::Cpg::iterate`]. Name-only iterations leave `nodeid` and `pid` zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IterationEntry {
    /// The group's name.
    pub group: Vec<u8>,
    /// The member's node.
    pub nodeid: NodeId,
    /// The member's pid.
    pub pid: u32,
}

/// What a group iteration lists (`cpg_iteration_type_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Iteration {
    /// Each group's name once (`CPG_ITERATION_NAME_ONLY`).
    NameOnly,
    /// The members of one group (`CPG_ITERATION_ONE_GROUP`).
    OneGroup(Vec<u8>),
    /// Every member of every group (`CPG_ITERATION_ALL`).
    All,
}
