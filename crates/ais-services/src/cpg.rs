//! CPG, closed process groups, with corosync's semantics and client messages
//! (`reference/corosync-ipc-compat.md` §2.2, `reference/ais-services.md` §2.8).
//!
//! The replicated state is the membership of every group: a set of `(nodeid, pid)`. A join,
//! a leave and a message are multicast and take effect when delivered; each node then tells
//! its own clients (a confchg or a deliver event). Connection state — which group a client
//! joined, its open iterations — is local.
//!
//! After a configuration change the sync rebuilds the membership from **joinlists**: every
//! member multicasts the processes of its own node that are in a group, and the union of the
//! joinlists is the new membership on every node. A node's own list is the only authority on
//! its processes (`reference/totem-and-anchors.md` §A.11: corosync's downlist-based merge
//! went wrong; joinlists do not). Each node then reports the difference to its clients:
//! processes of nodes that are gone or restarted leave with NODEDOWN, processes of nodes from
//! another partition join with NODEUP.

mod exec;
mod iteration;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::{Hash, Hasher};

use ais_types::{ConnId, Credentials, NodeId, RingId};
use ais_wire::Order;
use ais_wire::ipc::{
    ConfchgEvent, CpgAddress, CpgEvent, CpgName, CpgPayload, CpgReason, CpgRequest, CpgResponse,
    CsStatus, DeliverEvent, FragmentKind, Guarantee, IpcDecodeError, IterationDescription,
    MemberList, PartialDeliverEvent, PartialFragment, TotemConfchgEvent,
};
use bytes::Bytes;

use self::exec::{CpgMessage, JOINLIST_CHUNK, decode_joinlist, encode_joinlist};
use crate::{Effects, Membership, Service, ServiceId};

/// A process in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    /// Its node.
    pub nodeid: NodeId,
    /// Its process id on that node.
    pub pid: u32,
}

/// Where a client stands (corosync's `cpd_state`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum ConnState {
    Unjoined,
    /// Its join was multicast, not yet delivered.
    JoinStarted {
        group: CpgName,
        pid: u32,
        flags: u32,
    },
    Joined {
        group: CpgName,
        pid: u32,
    },
    /// Its leave was multicast, not yet delivered.
    LeaveStarted {
        group: CpgName,
        pid: u32,
    },
}

impl ConnState {
    /// The group whose events the client receives.
    fn member_of(&self) -> Option<(&CpgName, u32)> {
        match self {
            Self::Joined { group, pid } | Self::LeaveStarted { group, pid } => Some((group, *pid)),
            Self::Unjoined | Self::JoinStarted { .. } => None,
        }
    }
}

struct Conn {
    state: ConnState,
    iterations: BTreeMap<u64, VecDeque<IterationDescription>>,
    /// Confchgs sent to this client (corosync's `transition_counter`).
    confchgs: u64,
    /// `confchgs` when the client's fragmented message began: a confchg in between
    /// interrupts it (CS_ERR_INTERRUPT), so no member sees a message straddle a view change.
    fragments_since: Option<u64>,
}

/// The most iterations one client may hold open at once.
const ITERATIONS_PER_CONN_MAX: usize = 16;

/// CPG's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpgStats {
    /// Requests that did not decode; the client was dropped.
    pub bad_requests: u64,
    /// Multicasts from a client that had not joined (corosync drops them too).
    pub mcast_dropped: u64,
    /// Ring messages that did not decode.
    pub rx_malformed: u64,
    /// Messages delivered to local clients.
    pub delivered: u64,
}

struct CpgSync {
    membership: Membership,
    joinlists: BTreeMap<NodeId, Vec<(CpgName, u32)>>,
}

/// The CPG service of one node.
pub struct Cpg {
    me: NodeId,
    groups: BTreeMap<CpgName, BTreeSet<Member>>,
    conns: BTreeMap<ConnId, Conn>,
    /// Processes of this node that went away while members: their PROCDOWN leave is on its
    /// way. Until it is delivered they are still members, so a joinlist must report them;
    /// otherwise a sync in between would drop them early (as LEAVE) and their last messages
    /// would reach the group after it was told they left.
    departing: BTreeSet<(CpgName, u32)>,
    ring: (RingId, Vec<NodeId>),
    sync: Option<CpgSync>,
    next_iteration: u64,
    stats: CpgStats,
}

impl Cpg {
    /// CPG on node `me`, with no groups.
    pub fn new(me: NodeId) -> Self {
        Self {
            me,
            groups: BTreeMap::new(),
            conns: BTreeMap::new(),
            departing: BTreeSet::new(),
            ring: (RingId::default(), vec![me]),
            sync: None,
            next_iteration: 1,
            stats: CpgStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &CpgStats {
        &self.stats
    }

    /// The members of every group (the replicated state).
    pub fn groups(&self) -> &BTreeMap<CpgName, BTreeSet<Member>> {
        &self.groups
    }

    fn members_of(&self, group: &CpgName) -> Vec<CpgAddress> {
        self.groups
            .get(group)
            .into_iter()
            .flatten()
            .take(MemberList::<CpgAddress>::MAX)
            .map(|m| address(*m, CpgReason::Undefined))
            .collect()
    }

    /// Sends a confchg for `group` to every local client that receives its events, and to
    /// `also` (a local joiner or leaver).
    fn confchg(
        &mut self,
        fx: &mut Effects<'_>,
        group: &CpgName,
        left: &[CpgAddress],
        joined: &[CpgAddress],
        also: Option<ConnId>,
    ) {
        let event = CpgEvent::Confchg(ConfchgEvent {
            group: group.clone(),
            members: list(self.members_of(group)),
            left: list(left.to_vec()),
            joined: list(joined.to_vec()),
        })
        .to_vec();
        for (&conn, c) in &mut self.conns {
            let receives = c.state.member_of().is_some_and(|(g, _)| g == group);
            if receives || Some(conn) == also {
                fx.event(conn, event.clone());
                c.confchgs += 1;
            }
        }
    }

    fn totem_confchg_event(&self) -> Vec<u8> {
        CpgEvent::TotemConfchg(TotemConfchgEvent {
            ring_id: self.ring.0,
            members: list(self.ring.1.clone()),
        })
        .to_vec()
    }

    fn join(
        &mut self,
        fx: &mut Effects<'_>,
        conn: ConnId,
        (group, pid, flags): (CpgName, u32, u32),
        room: usize,
    ) -> CsStatus {
        match self.conns.get(&conn).map(|c| &c.state) {
            None => return CsStatus::ERR_LIBRARY,
            Some(ConnState::Unjoined) => {}
            Some(ConnState::LeaveStarted { .. }) => return CsStatus::ERR_BUSY,
            Some(ConnState::JoinStarted { .. } | ConnState::Joined { .. }) => {
                return CsStatus::ERR_EXIST;
            }
        }
        // corosync's rules: the same process joined or joining the group through another
        // connection is EXIST; still a member because its leave is on the way, TRY_AGAIN
        // (Pacemaker retries that one).
        for c in self.conns.values() {
            match &c.state {
                ConnState::JoinStarted {
                    group: g, pid: p, ..
                }
                | ConnState::Joined { group: g, pid: p }
                    if *g == group && *p == pid =>
                {
                    return CsStatus::ERR_EXIST;
                }
                ConnState::LeaveStarted { group: g, pid: p } if *g == group && *p == pid => {
                    return CsStatus::ERR_TRY_AGAIN;
                }
                _ => {}
            }
        }
        let me = Member {
            nodeid: self.me,
            pid,
        };
        if self.departing.contains(&(group.clone(), pid))
            || self.groups.get(&group).is_some_and(|m| m.contains(&me))
        {
            return CsStatus::ERR_TRY_AGAIN;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return CsStatus::ERR_LIBRARY;
        };
        let body = CpgMessage::ProcJoin {
            group: group.clone(),
            pid,
        }
        .encode();
        if body.len() > room {
            return CsStatus::ERR_TRY_AGAIN;
        }
        fx.multicast(&body, Order::Agreed);
        c.state = ConnState::JoinStarted { group, pid, flags };
        CsStatus::OK
    }

    fn leave(
        &mut self,
        fx: &mut Effects<'_>,
        conn: ConnId,
        (group, pid): (CpgName, u32),
        room: usize,
    ) -> CsStatus {
        let Some(c) = self.conns.get_mut(&conn) else {
            return CsStatus::ERR_LIBRARY;
        };
        match &c.state {
            ConnState::Joined { group: g, pid: p } if *g == group && *p == pid => {}
            ConnState::Unjoined => return CsStatus::ERR_NOT_EXIST,
            ConnState::Joined { .. } => return CsStatus::ERR_NOT_EXIST,
            ConnState::JoinStarted { .. } | ConnState::LeaveStarted { .. } => {
                return CsStatus::ERR_BUSY;
            }
        }
        let body = CpgMessage::ProcLeave {
            group: group.clone(),
            pid,
            reason: CpgReason::Leave,
        }
        .encode();
        if body.len() > room {
            return CsStatus::ERR_TRY_AGAIN;
        }
        fx.multicast(&body, Order::Agreed);
        c.state = ConnState::LeaveStarted { group, pid };
        CsStatus::OK
    }

    /// The group and pid a client may multicast as: joined, or its join under way (corosync
    /// allows both).
    fn sender(&self, conn: ConnId) -> Option<(CpgName, u32)> {
        match &self.conns.get(&conn)?.state {
            ConnState::Joined { group, pid } | ConnState::JoinStarted { group, pid, .. } => {
                Some((group.clone(), *pid))
            }
            ConnState::Unjoined | ConnState::LeaveStarted { .. } => None,
        }
    }

    /// The process of a client that goes away leaves its group with PROCDOWN. This message is
    /// not subject to `room`: it must go.
    fn procdown(&mut self, fx: &mut Effects<'_>, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if let ConnState::Joined { group, pid } | ConnState::JoinStarted { group, pid, .. } =
            &c.state
        {
            let body = CpgMessage::ProcLeave {
                group: group.clone(),
                pid: *pid,
                reason: CpgReason::ProcDown,
            }
            .encode();
            fx.multicast(&body, Order::Agreed);
            // A joined process stays a member until this leave is delivered. (One whose
            // join is still on its way is not a member yet: its join and leave follow.)
            if matches!(c.state, ConnState::Joined { .. }) {
                self.departing.insert((group.clone(), *pid));
            }
        }
        c.state = ConnState::Unjoined;
    }

    /// Notes where a client's fragmented message stands; true if a confchg reached the client
    /// since its first fragment (corosync answers the rest CS_ERR_INTERRUPT).
    fn fragment_interrupted(&mut self, conn: ConnId, kind: FragmentKind) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        if kind == FragmentKind::First {
            c.fragments_since = Some(c.confchgs);
        }
        let interrupted = c.fragments_since != Some(c.confchgs);
        if kind == FragmentKind::Last || interrupted {
            c.fragments_since = None;
        }
        interrupted
    }

    /// A delivered join: the process is a member from here on, for every node.
    fn proc_join(&mut self, fx: &mut Effects<'_>, origin: NodeId, group: CpgName, pid: u32) {
        let member = Member {
            nodeid: origin,
            pid,
        };
        let added = self.groups.entry(group.clone()).or_default().insert(member);
        // The local client whose join this is becomes a member.
        let mut joiner = None;
        if origin == self.me {
            for (&conn, c) in &mut self.conns {
                if let ConnState::JoinStarted {
                    group: g,
                    pid: p,
                    flags,
                } = &c.state
                    && *g == group
                    && *p == pid
                {
                    joiner = Some((conn, *flags));
                    c.state = ConnState::Joined {
                        group: group.clone(),
                        pid,
                    };
                    break;
                }
            }
        }
        if added {
            self.confchg(fx, &group, &[], &[address(member, CpgReason::Join)], None);
        }
        if let Some((conn, flags)) = joiner
            && flags & CpgRequest::JOIN_DELIVER_INITIAL_TOTEM_CONF != 0
        {
            fx.event(conn, self.totem_confchg_event());
        }
    }

    fn proc_leave(
        &mut self,
        fx: &mut Effects<'_>,
        origin: NodeId,
        group: CpgName,
        pid: u32,
        reason: CpgReason,
    ) {
        let member = Member {
            nodeid: origin,
            pid,
        };
        let removed = match self.groups.get_mut(&group) {
            Some(members) => {
                let removed = members.remove(&member);
                if members.is_empty() {
                    self.groups.remove(&group);
                }
                removed
            }
            None => false,
        };
        let mut leaver = None;
        if origin == self.me {
            self.departing.remove(&(group.clone(), pid));
            for (&conn, c) in &mut self.conns {
                if let ConnState::LeaveStarted { group: g, pid: p } = &c.state
                    && *g == group
                    && *p == pid
                {
                    leaver = Some(conn);
                    c.state = ConnState::Unjoined;
                    break;
                }
            }
        }
        if removed {
            self.confchg(fx, &group, &[address(member, reason)], &[], leaver);
        }
    }

    /// Hands `event` to every local member of `group`: copies for all but the last.
    fn deliver_mcast(&mut self, fx: &mut Effects<'_>, group: &CpgName, event: Vec<u8>) {
        let mut members = self
            .conns
            .iter()
            .filter(|(_, c)| c.state.member_of().is_some_and(|(g, _)| g == group))
            .map(|(&conn, _)| conn)
            .peekable();
        while let Some(conn) = members.next() {
            self.stats.delivered += 1;
            if members.peek().is_some() {
                fx.event(conn, event.clone());
            } else {
                fx.event(conn, event);
                return;
            }
        }
    }
}

impl Service for Cpg {
    fn id(&self) -> ServiceId {
        ServiceId::CPG
    }

    fn connect(&mut self, _fx: &mut Effects<'_>, conn: ConnId, _client: Credentials, _channel: u8) {
        self.conns.insert(
            conn,
            Conn {
                state: ConnState::Unjoined,
                iterations: BTreeMap::new(),
                confchgs: 0,
                fragments_since: None,
            },
        );
    }

    fn disconnect(&mut self, fx: &mut Effects<'_>, conn: ConnId) {
        self.procdown(fx, conn);
        self.conns.remove(&conn);
    }

    fn request(&mut self, fx: &mut Effects<'_>, conn: ConnId, msg: &[u8], room: usize) {
        let request = match CpgRequest::decode(msg) {
            Ok(request) => request,
            // corosync's dispatcher answers an unknown request id with a bare id-0 response,
            // INVALID_PARAM (zero-copy requests included: not implemented here).
            Err(IpcDecodeError::UnknownId { .. }) => {
                fx.reply(
                    conn,
                    CpgResponse::Join(CsStatus::ERR_INVALID_PARAM).to_vec(),
                );
                return;
            }
            Err(e) => {
                self.stats.bad_requests += 1;
                tracing::warn!(%conn, "CPG client sent a bad request ({e}); disconnecting it");
                fx.disconnect(conn);
                return;
            }
        };
        let response = match request {
            CpgRequest::Join { group, pid, flags } => {
                CpgResponse::Join(self.join(fx, conn, (group, pid, flags), room))
            }
            CpgRequest::Leave { group, pid } => {
                CpgResponse::Leave(self.leave(fx, conn, (group, pid), room))
            }
            CpgRequest::Mcast { guarantee, payload } => {
                let Some((group, pid)) = self.sender(conn) else {
                    self.stats.mcast_dropped += 1;
                    tracing::debug!(%conn, "multicast from a client that has not joined dropped");
                    return;
                };
                let body = CpgMessage::Mcast {
                    group,
                    pid,
                    payload: payload.bytes().clone(),
                }
                .encode();
                // MCAST is never answered: libcpg returned CS_OK when it wrote the request,
                // so it must go whatever the room. The daemon reads a request only when its
                // largest possible multicast fits (`IpcServer::set_request_room`), which
                // bounds the queue; a client ignoring flow control meets a full channel.
                fx.multicast(&body, order(guarantee));
                return;
            }
            CpgRequest::PartialMcast {
                guarantee,
                fragment,
            } => {
                let status = match (
                    self.sender(conn),
                    self.fragment_interrupted(conn, fragment.kind()),
                ) {
                    (None, _) => CsStatus::ERR_NOT_EXIST,
                    (Some(_), true) => CsStatus::ERR_INTERRUPT,
                    (Some((group, pid)), false) => {
                        let body = CpgMessage::PartialMcast {
                            group,
                            pid,
                            msglen: fragment.msglen(),
                            kind: fragment.kind(),
                            data: fragment.data().clone(),
                        }
                        .encode();
                        if body.len() > room {
                            CsStatus::ERR_TRY_AGAIN
                        } else {
                            fx.multicast(&body, order(guarantee));
                            CsStatus::OK
                        }
                    }
                };
                CpgResponse::PartialSend(status)
            }
            CpgRequest::MembershipGet { group } => CpgResponse::Membership {
                error: CsStatus::OK,
                members: list(self.members_of(&group)),
            },
            CpgRequest::LocalGet => CpgResponse::LocalGet {
                error: CsStatus::OK,
                local_nodeid: self.me,
            },
            CpgRequest::IterationInitialize {
                group,
                iteration_type,
            } => self.iteration_start(conn, &group, iteration_type),
            CpgRequest::IterationNext { handle } => self.iteration_next(conn, handle),
            CpgRequest::IterationFinalize { handle } => {
                let found = self
                    .conns
                    .get_mut(&conn)
                    .and_then(|c| c.iterations.remove(&handle.0))
                    .is_some();
                CpgResponse::IterationFinalize(if found {
                    CsStatus::OK
                } else {
                    CsStatus::ERR_BAD_HANDLE
                })
            }
            CpgRequest::Finalize => {
                // corosync: a client that finalizes while joined leaves with PROCDOWN.
                self.procdown(fx, conn);
                CpgResponse::Finalize(CsStatus::OK)
            }
        };
        fx.reply(conn, response.to_vec());
    }

    fn deliver(&mut self, fx: &mut Effects<'_>, origin: NodeId, body: Bytes) {
        let Ok(message) = CpgMessage::decode(&body) else {
            self.stats.rx_malformed += 1;
            tracing::warn!(%origin, "undecodable CPG message dropped");
            return;
        };
        match message {
            CpgMessage::ProcJoin { group, pid } => self.proc_join(fx, origin, group, pid),
            CpgMessage::ProcLeave { group, pid, reason } => {
                self.proc_leave(fx, origin, group, pid, reason);
            }
            CpgMessage::Mcast {
                group,
                pid,
                payload,
            } => {
                let Ok(payload) = CpgPayload::new(payload) else {
                    self.stats.rx_malformed += 1;
                    return;
                };
                let event = CpgEvent::Deliver(DeliverEvent {
                    group: group.clone(),
                    nodeid: origin,
                    pid,
                    payload,
                })
                .to_vec();
                self.deliver_mcast(fx, &group, event);
            }
            CpgMessage::PartialMcast {
                group,
                pid,
                msglen,
                kind,
                data,
            } => {
                let Ok(fragment) = PartialFragment::new(msglen, kind, data) else {
                    self.stats.rx_malformed += 1;
                    return;
                };
                let event = CpgEvent::PartialDeliver(PartialDeliverEvent {
                    group: group.clone(),
                    nodeid: origin,
                    pid,
                    fragment,
                })
                .to_vec();
                self.deliver_mcast(fx, &group, event);
            }
        }
    }

    fn configuration(&mut self, _fx: &mut Effects<'_>, membership: &Membership) {
        self.ring = (membership.ring_id, membership.members.clone());
    }

    fn sync_init(&mut self, fx: &mut Effects<'_>, membership: &Membership) {
        let mine: Vec<(CpgName, u32)> = self
            .conns
            .values()
            .filter_map(|c| c.state.member_of().map(|(g, pid)| (g.clone(), pid)))
            .chain(self.departing.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if mine.is_empty() {
            fx.sync_multicast(&encode_joinlist(&[]));
        }
        for chunk in mine.chunks(JOINLIST_CHUNK) {
            fx.sync_multicast(&encode_joinlist(chunk));
        }
        self.sync = Some(CpgSync {
            membership: membership.clone(),
            joinlists: BTreeMap::new(),
        });
    }

    fn sync_deliver(&mut self, origin: NodeId, body: Bytes) {
        let Some(sync) = &mut self.sync else {
            return;
        };
        match decode_joinlist(&body) {
            Ok(entries) => sync.joinlists.entry(origin).or_default().extend(entries),
            Err(_) => {
                self.stats.rx_malformed += 1;
                tracing::warn!(%origin, "undecodable CPG joinlist dropped");
            }
        }
    }

    fn sync_activate(&mut self, fx: &mut Effects<'_>) {
        let Some(sync) = self.sync.take() else {
            return;
        };
        let mut new: BTreeMap<CpgName, BTreeSet<Member>> = BTreeMap::new();
        for (&nodeid, entries) in &sync.joinlists {
            if !sync.membership.members.contains(&nodeid) {
                continue;
            }
            for (group, pid) in entries {
                new.entry(group.clone())
                    .or_default()
                    .insert(Member { nodeid, pid: *pid });
            }
        }
        let old = std::mem::replace(&mut self.groups, new);
        let stayed = |n: NodeId| sync.membership.transitional.contains(&n);
        let names: BTreeSet<CpgName> = old.keys().chain(self.groups.keys()).cloned().collect();
        let none = BTreeSet::new();
        for group in names {
            let before = old.get(&group).unwrap_or(&none);
            let after = self.groups.get(&group).unwrap_or(&none);
            let left: Vec<CpgAddress> = before
                .difference(after)
                .map(|m| {
                    let reason = if stayed(m.nodeid) {
                        CpgReason::Leave
                    } else {
                        CpgReason::NodeDown
                    };
                    address(*m, reason)
                })
                .collect();
            let joined: Vec<CpgAddress> = after
                .difference(before)
                .map(|m| {
                    let reason = if stayed(m.nodeid) {
                        CpgReason::Join
                    } else {
                        CpgReason::NodeUp
                    };
                    address(*m, reason)
                })
                .collect();
            if !left.is_empty() || !joined.is_empty() {
                self.confchg(fx, &group, &left, &joined, None);
            }
        }
        // As corosync's cpg_sync_activate: the ring's membership goes to every client last.
        let event = self.totem_confchg_event();
        for &conn in self.conns.keys() {
            fx.event(conn, event.clone());
        }
    }

    fn describe(&self) -> String {
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|(g, members)| {
                let m: Vec<String> = members
                    .iter()
                    .map(|m| format!("{}:{}", m.nodeid, m.pid))
                    .collect();
                format!(
                    "{}=[{}]",
                    String::from_utf8_lossy(g.as_bytes()),
                    m.join(" ")
                )
            })
            .collect();
        format!("cpg {{{}}}", groups.join(", "))
    }

    fn sync_abort(&mut self) {
        self.sync = None;
    }

    fn digest(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (group, members) in &self.groups {
            group.hash(&mut h);
            for m in members {
                m.hash(&mut h);
            }
        }
        h.finish()
    }
}

fn order(guarantee: Guarantee) -> Order {
    if guarantee == Guarantee::SAFE {
        Order::Safe
    } else {
        Order::Agreed
    }
}

fn address(m: Member, reason: CpgReason) -> CpgAddress {
    CpgAddress {
        nodeid: m.nodeid,
        pid: m.pid,
        reason,
    }
}

/// A list of at most 384 entries; corosync's arrays hold no more, so longer lists are cut.
fn list<T>(mut entries: Vec<T>) -> MemberList<T> {
    entries.truncate(MemberList::<T>::MAX);
    MemberList::new(entries).unwrap_or_else(|_| unreachable!("truncated to MAX"))
}
