//! The client side of votequorum: corosync's `quorum` service (`exec/vsf_quorum.c`) and
//! `votequorum` library calls (`exec/votequorum.c`), with their notifications.
//!
//! Queries are answered from the local replica. SETEXPECTED and SETVOTES are validated
//! against it, as corosync does, then multicast and answered at once; they take effect when
//! delivered, on every member. Every request gets exactly one response; an unknown request
//! id gets the dispatcher's generic 24-byte reply (id 0, INVALID_PARAM) and a request that
//! does not decode drops the client.

use ais_types::{ConnId, NodeId, RingId};
use ais_wire::Order;
use ais_wire::ipc::{
    CsStatus, IpcDecodeError, MemberList, QuorumEvent, QuorumModel, QuorumRequest, QuorumResponse,
    TrackFlags, VotequorumEvent, VotequorumInfo, VotequorumNode, VotequorumRequest,
    VotequorumResponse, quorum_response_id, quorum_type,
};

use super::exec::Exec;
use super::{Channel, NodeState, Votequorum};
use crate::{Effects, Membership};

/// TRACKSTART sends the current state at once with either of these.
fn sends_current(flags: TrackFlags) -> bool {
    flags.contains(TrackFlags::CURRENT) || flags.contains(TrackFlags::CHANGES)
}

/// TRACKSTART keeps sending changes with either of these.
fn tracks_changes(flags: TrackFlags) -> bool {
    flags.contains(TrackFlags::CHANGES) || flags.contains(TrackFlags::CHANGES_ONLY)
}

impl Votequorum {
    pub(super) fn quorum_request(&mut self, fx: &mut Effects<'_>, conn: ConnId, msg: &[u8]) {
        let request = match QuorumRequest::decode(msg) {
            Ok(request) => request,
            Err(IpcDecodeError::UnknownId { .. }) => {
                let reply = QuorumResponse::Status {
                    id: 0,
                    error: CsStatus::ERR_INVALID_PARAM,
                };
                fx.reply(conn, reply.to_vec());
                return;
            }
            Err(e) => {
                self.stats.bad_requests += 1;
                tracing::warn!(%conn, "quorum client sent a bad request ({e}); disconnecting it");
                fx.disconnect(conn);
                return;
            }
        };
        let quorum_type = if self.provider.is_some() {
            quorum_type::SET
        } else {
            quorum_type::FREE
        };
        let response = match request {
            QuorumRequest::GetQuorate => QuorumResponse::GetQuorate {
                error: CsStatus::OK,
                quorate: self.quorate(),
            },
            QuorumRequest::TrackStart { flags } => {
                if sends_current(flags) {
                    self.send_quorum_nodelist_to(fx, conn, None);
                    self.send_quorum_to(fx, conn);
                }
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                let error = if c.tracking.is_some() {
                    CsStatus::ERR_EXIST
                } else {
                    if tracks_changes(flags) {
                        c.tracking = Some(0);
                    }
                    CsStatus::OK
                };
                QuorumResponse::Status {
                    id: quorum_response_id::TRACKSTART,
                    error,
                }
            }
            QuorumRequest::TrackStop => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.tracking = None;
                }
                // corosync computes NOT_EXIST for a client that was not tracking, then
                // overwrites it with CS_OK; libquorum users rely on the OK.
                QuorumResponse::Status {
                    id: quorum_response_id::TRACKSTOP,
                    error: CsStatus::OK,
                }
            }
            QuorumRequest::GetType => QuorumResponse::GetType {
                error: CsStatus::OK,
                quorum_type,
            },
            QuorumRequest::ModelGetType { model } => {
                let error = if model == QuorumModel::V0 || model == QuorumModel::V1 {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.model = model;
                    }
                    CsStatus::OK
                } else {
                    CsStatus::ERR_INVALID_PARAM
                };
                QuorumResponse::ModelGetType { error, quorum_type }
            }
        };
        fx.reply(conn, response.to_vec());
    }

    pub(super) fn votequorum_request(
        &mut self,
        fx: &mut Effects<'_>,
        conn: ConnId,
        msg: &[u8],
        room: usize,
    ) {
        let request = match VotequorumRequest::decode(msg) {
            Ok(request) => request,
            Err(IpcDecodeError::UnknownId { .. }) => {
                let reply = VotequorumResponse::Status(CsStatus::ERR_INVALID_PARAM);
                fx.reply(conn, reply.to_vec());
                return;
            }
            Err(e) => {
                self.stats.bad_requests += 1;
                tracing::warn!(%conn, "votequorum client sent a bad request ({e}); disconnecting it");
                fx.disconnect(conn);
                return;
            }
        };
        let status = match request {
            VotequorumRequest::GetInfo { nodeid } => {
                let response = self.getinfo(nodeid);
                fx.reply(conn, response.to_vec());
                return;
            }
            VotequorumRequest::SetExpected { expected_votes } => {
                if !self.partition.accepts_expected(&self.rules, expected_votes) {
                    CsStatus::ERR_INVALID_PARAM
                } else {
                    let body = Exec::SetExpected {
                        value: expected_votes,
                    };
                    self.send(fx, &body, room)
                }
            }
            VotequorumRequest::SetVotes { votes, nodeid } => {
                let nodeid = if nodeid.0 == 0 { self.me } else { nodeid };
                match self.partition.accepts_votes(&self.rules, nodeid, votes) {
                    // A node seen before but not a member: its votes count nowhere yet.
                    None if !self.known.contains_key(&nodeid) => CsStatus::ERR_NAME_NOT_FOUND,
                    Some(false) => CsStatus::ERR_INVALID_PARAM,
                    None | Some(true) => self.send(fx, &Exec::SetVotes { nodeid, votes }, room),
                }
            }
            VotequorumRequest::TrackStart { context, flags } => {
                if sends_current(flags) {
                    let event = self.nodelist_event(context, self.ring, &self.ring_members);
                    fx.event(conn, event);
                    let event = self.votequorum_event(context);
                    fx.event(conn, event);
                }
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if c.tracking.is_some() {
                    CsStatus::ERR_EXIST
                } else {
                    if tracks_changes(flags) {
                        c.tracking = Some(context);
                    }
                    CsStatus::OK
                }
            }
            VotequorumRequest::TrackStop => match self.conns.get_mut(&conn) {
                Some(c) if c.tracking.is_some() => {
                    c.tracking = None;
                    CsStatus::OK
                }
                _ => CsStatus::ERR_NOT_EXIST,
            },
            // No quorum device can register here; the other calls find none registered,
            // which is what corosync answers them then.
            VotequorumRequest::QdeviceRegister { .. } => CsStatus::ERR_NOT_SUPPORTED,
            VotequorumRequest::QdeviceUnregister { .. }
            | VotequorumRequest::QdeviceUpdate { .. }
            | VotequorumRequest::QdevicePoll { .. }
            | VotequorumRequest::QdeviceMasterWins { .. } => CsStatus::ERR_NOT_EXIST,
        };
        fx.reply(conn, VotequorumResponse::Status(status).to_vec());
    }

    /// Multicasts a runtime change, if Totem's queue has room for it.
    fn send(&mut self, fx: &mut Effects<'_>, message: &Exec, room: usize) -> CsStatus {
        let body = message.encode();
        if body.len() > room {
            return CsStatus::ERR_TRY_AGAIN;
        }
        fx.multicast(&body, Order::Agreed);
        CsStatus::OK
    }

    fn getinfo(&self, nodeid: NodeId) -> VotequorumResponse {
        // Node 0 is the quorum device's id, which corosync answers with the local node.
        let nodeid = if nodeid.0 == 0 { self.me } else { nodeid };
        let Some(k) = self.known.get(&nodeid) else {
            return VotequorumResponse::GetInfo {
                error: CsStatus::ERR_NOT_EXIST,
                info: VotequorumInfo::default(),
            };
        };
        let p = &self.partition;
        VotequorumResponse::GetInfo {
            error: CsStatus::OK,
            info: VotequorumInfo {
                nodeid,
                state: k.state as u32,
                votes: k.votes,
                expected_votes: k.expected_votes,
                highest_expected: p.expected_votes,
                total_votes: p.total_votes,
                quorum: p.quorum,
                flags: self.flags().bits(),
                qdevice_votes: 0,
                qdevice_name: Default::default(),
            },
        }
    }

    /// The quorum service's view: what votequorum last decided, or, without a provider,
    /// corosync's fixed answer (quorate, and no view at all).
    fn quorum_view(&self) -> (bool, RingId, Vec<NodeId>) {
        if self.provider.is_some() {
            (self.quorate(), self.ring, self.ring_members.clone())
        } else {
            (true, RingId::default(), Vec::new())
        }
    }

    fn quorum_event(&self, model: QuorumModel) -> Option<Vec<u8>> {
        let (quorate, ring_id, view) = self.quorum_view();
        let event = match model {
            QuorumModel::V0 => QuorumEvent::Notification {
                quorate,
                ring_seq: ring_id.seq,
                view_list: list(view),
            },
            QuorumModel::V1 => QuorumEvent::V1Quorum {
                quorate,
                ring_id,
                view_list: list(view),
            },
            _ => return None,
        };
        Some(event.to_vec())
    }

    fn send_quorum_to(&self, fx: &mut Effects<'_>, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if let Some(event) = self.quorum_event(c.model) {
            fx.event(conn, event);
        }
    }

    /// The quorum notification to every tracking quorum client (corosync's
    /// `quorum_api_set_quorum`): after each sync and each change of the quorate state.
    pub(super) fn notify_quorum(&self, fx: &mut Effects<'_>) {
        let v0 = self.quorum_event(QuorumModel::V0);
        let v1 = self.quorum_event(QuorumModel::V1);
        for (&conn, c) in &self.conns {
            if c.channel != Channel::Quorum || c.tracking.is_none() {
                continue;
            }
            let event = if c.model == QuorumModel::V1 { &v1 } else { &v0 };
            if let Some(event) = event {
                fx.event(conn, event.clone());
            }
        }
    }

    /// The V1 nodelist notification to one client: the ring's members, and, after a sync,
    /// who joined and who left (`None` for the initial one after TRACKSTART).
    fn send_quorum_nodelist_to(
        &self,
        fx: &mut Effects<'_>,
        conn: ConnId,
        changes: Option<(&[NodeId], &[NodeId])>,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.model != QuorumModel::V1 {
            return;
        }
        let (joined, left) = changes.unwrap_or((&[], &[]));
        let event = QuorumEvent::V1Nodelist {
            ring_id: self.ring,
            members: list(self.ring_members.clone()),
            joined: list(joined.to_vec()),
            left: list(left.to_vec()),
        };
        fx.event(conn, event.to_vec());
    }

    /// corosync's `quorum_sync_activate`: V1 trackers learn the new ring's members, who
    /// joined and who left. A node left if it is not in the transitional configuration or
    /// not in the new ring; it joined if it is new, or left and came back.
    pub(super) fn notify_quorum_nodelist(&self, fx: &mut Effects<'_>, membership: &Membership) {
        let new = &membership.members;
        let left: Vec<NodeId> = self
            .old_members
            .iter()
            .copied()
            .filter(|n| !membership.transitional.contains(n) || !new.contains(n))
            .collect();
        let joined: Vec<NodeId> = new
            .iter()
            .copied()
            .filter(|n| !self.old_members.contains(n) || left.contains(n))
            .collect();
        for (&conn, c) in &self.conns {
            if c.channel == Channel::Quorum && c.tracking.is_some() {
                self.send_quorum_nodelist_to(fx, conn, Some((&joined, &left)));
            }
        }
    }

    fn votequorum_trackers(&self) -> impl Iterator<Item = (ConnId, u64)> + '_ {
        self.conns.iter().filter_map(|(&conn, c)| match c {
            super::Conn {
                channel: Channel::Votequorum,
                tracking: Some(context),
                ..
            } => Some((conn, *context)),
            _ => None,
        })
    }

    fn nodelist_event(&self, context: u64, ring_id: RingId, members: &[NodeId]) -> Vec<u8> {
        VotequorumEvent::Nodelist {
            context,
            ring_id,
            nodes: list(members.to_vec()),
        }
        .to_vec()
    }

    /// votequorum's QUORUM notification: the quorate state and every known node's state.
    fn votequorum_event(&self, context: u64) -> Vec<u8> {
        let nodes = self
            .known
            .iter()
            .map(|(&nodeid, k)| VotequorumNode {
                nodeid,
                state: k.state as u32,
            })
            .collect();
        VotequorumEvent::Quorum {
            context,
            quorate: self.quorate(),
            nodes: list(nodes),
        }
        .to_vec()
    }

    /// The new ring to every votequorum tracker (corosync's `votequorum_sync_process`).
    pub(super) fn notify_nodelist(&self, fx: &mut Effects<'_>, membership: &Membership) {
        for (conn, context) in self.votequorum_trackers() {
            let event = self.nodelist_event(context, membership.ring_id, &membership.members);
            fx.event(conn, event);
        }
    }

    /// The QUORUM notification to every votequorum tracker.
    pub(super) fn notify_votequorum(&self, fx: &mut Effects<'_>) {
        for (conn, context) in self.votequorum_trackers() {
            fx.event(conn, self.votequorum_event(context));
        }
    }

    /// The EXPECTEDVOTES notification to every votequorum tracker.
    pub(super) fn notify_expected_votes(&self, fx: &mut Effects<'_>) {
        for (conn, context) in self.votequorum_trackers() {
            let event = VotequorumEvent::ExpectedVotes {
                context,
                expected_votes: self.partition.expected_votes,
            };
            fx.event(conn, event.to_vec());
        }
    }
}

impl NodeState {
    /// From a `VOTEQUORUM_NODESTATE_*` value.
    pub fn from_raw(state: u32) -> Option<Self> {
        match state {
            1 => Some(Self::Member),
            2 => Some(Self::Dead),
            3 => Some(Self::Leaving),
            _ => None,
        }
    }
}

/// A list of at most 384 entries; corosync's arrays hold no more, so longer lists are cut.
fn list<T>(mut entries: Vec<T>) -> MemberList<T> {
    entries.truncate(MemberList::<T>::MAX);
    MemberList::new(entries).unwrap_or_else(|_| unreachable!("truncated to MAX"))
}
