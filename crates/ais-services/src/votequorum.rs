//! votequorum, corosync's vote-based quorum provider, with the `quorum` service on top of it:
//! one engine, two IPC endpoints (channel [`Votequorum::QUORUM_CHANNEL`] is corosync's
//! `quorum`, channel [`Votequorum::VOTEQUORUM_CHANNEL`] is `votequorum`;
//! `reference/corosync-ipc-compat.md` §2.3, §2.4; votequorum(5)).
//!
//! Each node has votes; a partition is quorate when its members hold more than half of the
//! expected votes (the sum of every configured node's votes, or `quorum.expected_votes`).
//! The special features of votequorum(5) change that rule: `two_node`, `wait_for_all`,
//! `last_man_standing`, `auto_tie_breaker`, `allow_downscale`, `expected_votes_tracking`.
//!
//! # Replication
//! The decision is a function of replicated inputs only, so every member of a partition
//! decides the same at the same point of the total order ([`calc`] holds the arithmetic):
//! - in the sync after each configuration every member multicasts a report (its votes, the
//!   expected votes and quorate flag of the partition it comes from, whether it still waits
//!   for all, whether it is leaving, its tie-breaker, its previous ring); activation builds
//!   the partition from the reports of all members;
//! - runtime changes (SETEXPECTED, SETVOTES, the end of a last-man-standing window, a clean
//!   leave) are application messages, applied by every member when delivered; a client's
//!   request is only validated and multicast by its node, which answers it.
//!
//! The last-man-standing window is timed by the lowest member alone ([`Service::tick`]
//! carries the time): when it ends with the membership unchanged, that member multicasts
//! the reduction, tagged with the ring, and every member applies it at the same point.
//!
//! # Departures from corosync
//! Where corosync lets each node decide from its own history, the partition decides from the
//! union of the members' reports (see [`calc`]): without a quorate member the expected
//! votes are the highest reported; the tie-breaker is the one chosen when the partition last
//! held a majority, and a member that never saw one (a restarted node) blocks the tie-break,
//! as it would in corosync for that node; a tie-breaker list names the first listed node of
//! that last majority (votequorum(5): "if that node is not in either half (ie was not in the
//! cluster before the split) then the second node ID will be checked") rather than the one
//! found by scanning each node's previous ring, which two nodes with different previous
//! rings could each find in their own half. The tie-breaker only decides an exact half of
//! the expected votes: corosync also grants "half-1" of an odd count, where the other side
//! holds a quorum and can be quorate too (both the property test and the simulator find
//! such a split). The odd-cluster rule for the tie-breaker
//! (`wait_for_all` required) uses the effective expected votes, so it also holds when
//! `quorum.expected_votes` is set without a nodelist. SETEXPECTED of 0 is refused. There is
//! no quorum device: its requests are refused as corosync refuses them when none is
//! registered (QDEVICE_REGISTER: NOT_SUPPORTED).
//!
//! Without a provider (`quorum.provider` unset) the node is always quorate, `quorum` reports
//! type QUORUM_FREE and sends no quorum notification (as corosync), and the `votequorum`
//! endpoint drops its clients (corosync does not load the service).

mod calc;
mod exec;
mod ipc;
mod settings;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use ais_types::{ConnId, Credentials, NodeId, NodeList, RingId};
use ais_wire::Order;
use ais_wire::ipc::QuorumModel;
use bytes::Bytes;

use self::calc::{Change, Partition, Report, Rules};
use self::exec::{Exec, decode_report, encode_report};
use self::settings::rules;
pub use self::settings::{QuorumProvider, Settings, SettingsError, TieBreaker};
use crate::{Effects, Membership, Service, ServiceId, ServiceSettings};

/// A node's state as votequorum reports it (`VOTEQUORUM_NODESTATE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeState {
    /// In the current membership.
    Member = 1,
    /// Seen once, not in the current membership.
    Dead = 2,
    /// Announced a clean shutdown.
    Leaving = 3,
}

/// One node known to this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The node.
    pub nodeid: NodeId,
    /// Its state.
    pub state: NodeState,
    /// Its votes (when last seen).
    pub votes: u32,
    /// Its expected votes (when last seen).
    pub expected_votes: u32,
}

/// The features in effect (corosync's `VOTEQUORUM_INFO_*` flags, with the quorate bit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuorumFlags {
    /// `two_node`.
    pub two_node: bool,
    /// The partition is quorate.
    pub quorate: bool,
    /// `wait_for_all`.
    pub wait_for_all: bool,
    /// `last_man_standing`.
    pub last_man_standing: bool,
    /// `auto_tie_breaker`.
    pub auto_tie_breaker: bool,
    /// `allow_downscale`.
    pub allow_downscale: bool,
}

impl QuorumFlags {
    /// The `VOTEQUORUM_INFO_*` bits.
    pub fn bits(&self) -> u32 {
        use ais_wire::ipc::votequorum_info_flags as f;
        [
            (self.two_node, f::TWONODE),
            (self.quorate, f::QUORATE),
            (self.wait_for_all, f::WAIT_FOR_ALL),
            (self.last_man_standing, f::LAST_MAN_STANDING),
            (self.auto_tie_breaker, f::AUTO_TIE_BREAKER),
            (self.allow_downscale, f::ALLOW_DOWNSCALE),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |bits, (_, bit)| bits | bit)
    }
}

/// Everything the daemon publishes as `runtime.votequorum.*` and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumStatus {
    /// The provider; `None`: quorum is disabled and the node always quorate.
    pub provider: Option<QuorumProvider>,
    /// This node (`runtime.votequorum.this_node_id`).
    pub this_node: NodeId,
    /// Whether this node's partition is quorate.
    pub quorate: bool,
    /// The ring the decision was made for (the last synchronized one).
    pub ring_id: RingId,
    /// That ring's members.
    pub members: Vec<NodeId>,
    /// Every node this node knows, by id: the members, then the nodes seen before.
    pub nodes: Vec<NodeStatus>,
    /// The partition's expected votes.
    pub expected_votes: u32,
    /// The highest expected votes of the members.
    pub highest_expected: u32,
    /// The votes present.
    pub total_votes: u32,
    /// The votes needed.
    pub quorum: u32,
    /// Features and the quorate bit.
    pub flags: QuorumFlags,
    /// Still waiting to see all nodes (`runtime.votequorum.wait_for_all_status`).
    pub wait_for_all_status: bool,
    /// The lowest and highest member (`runtime.votequorum.lowest_node_id`, `highest_node_id`).
    pub lowest_node_id: Option<NodeId>,
    /// See `lowest_node_id`.
    pub highest_node_id: Option<NodeId>,
    /// The tie-breaker nodes an even split must keep, empty if unknown.
    pub tie_breaker: Vec<NodeId>,
    /// The floor of a downscale (`runtime.votequorum.ev_barrier`).
    pub ev_barrier: u32,
    /// The highest expected votes seen (`runtime.votequorum.ev_tracking_barrier`); the
    /// shell persists it when expected-votes tracking is on.
    pub ev_tracking_barrier: u32,
    /// A configuration arrived whose sync has not finished: the decision is the previous
    /// ring's.
    pub syncing: bool,
}

/// votequorum's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VotequorumStats {
    /// Client requests that did not decode; the client was dropped.
    pub bad_requests: u64,
    /// Ring messages that did not decode.
    pub rx_malformed: u64,
    /// Last-man-standing messages of another ring, ignored.
    pub rx_stale: u64,
}

/// Which endpoint a client came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    Quorum,
    Votequorum,
}

struct Conn {
    channel: Channel,
    /// The quorum notification model (MODEL_GETTYPE).
    model: QuorumModel,
    /// Tracking changes; for votequorum, with the client's context.
    tracking: Option<u64>,
}

/// What this node remembers of a node (corosync keeps dead nodes in its list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Known {
    state: NodeState,
    votes: u32,
    expected_votes: u32,
}

/// Known nodes kept beyond the members; older dead ones are forgotten first.
const KNOWN_MAX: usize = 2 * ais_types::PROCESSOR_COUNT_MAX;

/// The votequorum and quorum services of one node.
pub struct Votequorum {
    me: NodeId,
    provider: Option<QuorumProvider>,
    rules: Rules,
    /// This node's configured votes and the configured expected votes, to see what a reload
    /// changes.
    configured: (u32, u32),
    /// The replicated state: equal on every member of the ring.
    partition: Partition,
    ring: RingId,
    ring_members: Vec<NodeId>,
    /// Local: every node seen, for GETINFO and notifications.
    known: BTreeMap<NodeId, Known>,
    /// The members of the previous synchronized ring, for the quorum nodelist notification.
    old_members: Vec<NodeId>,
    /// A configuration whose sync has not activated yet.
    pending: Option<Membership>,
    /// Reports gathered by the running sync.
    reports: BTreeMap<NodeId, Report>,
    conns: BTreeMap<ConnId, Conn>,
    /// When the lowest member started timing the last-man-standing window.
    lms_since: Option<Duration>,
    lms_sent: bool,
    stats: VotequorumStats,
}

impl Votequorum {
    /// The IPC channel of corosync's `quorum` service.
    pub const QUORUM_CHANNEL: u8 = 0;
    /// The IPC channel of corosync's `votequorum` service.
    pub const VOTEQUORUM_CHANNEL: u8 = 1;

    /// votequorum on node `me`; refuses what corosync refuses to start with, and applies
    /// corosync's start-up fix-ups (logged as warnings).
    pub fn new(me: NodeId, settings: &Settings) -> Result<Self, SettingsError> {
        let (rules, votes, expected_votes) = rules(me, settings)?;
        let partition = Partition::boot(&rules, me, votes, expected_votes);
        let known = BTreeMap::from([(
            me,
            Known {
                state: NodeState::Member,
                votes,
                expected_votes: partition.expected_votes,
            },
        )]);
        Ok(Self {
            me,
            provider: settings.provider,
            rules,
            configured: (votes, expected_votes),
            partition,
            ring: RingId::default(),
            ring_members: Vec::new(),
            known,
            old_members: Vec::new(),
            pending: None,
            reports: BTreeMap::new(),
            conns: BTreeMap::new(),
            lms_since: None,
            lms_sent: false,
            stats: VotequorumStats::default(),
        })
    }

    /// Whether this node's partition is quorate (always, without a provider).
    pub fn quorate(&self) -> bool {
        self.provider.is_none() || self.partition.quorate
    }

    /// The partition's expected votes.
    pub fn expected_votes(&self) -> u32 {
        self.partition.expected_votes
    }

    /// The ring the current decision was made for, and its members.
    pub fn decided_for(&self) -> (RingId, &[NodeId]) {
        (self.ring, &self.ring_members)
    }

    /// The counters.
    pub fn stats(&self) -> &VotequorumStats {
        &self.stats
    }

    /// Everything there is to know, for `runtime.votequorum.*` and the logs.
    pub fn status(&self) -> QuorumStatus {
        let p = &self.partition;
        let present: Vec<NodeId> = p
            .members
            .iter()
            .filter(|(_, m)| !m.leaving)
            .map(|(&n, _)| n)
            .collect();
        QuorumStatus {
            provider: self.provider,
            this_node: self.me,
            quorate: self.quorate(),
            ring_id: self.ring,
            members: self.ring_members.clone(),
            nodes: self
                .known
                .iter()
                .map(|(&nodeid, k)| NodeStatus {
                    nodeid,
                    state: k.state,
                    votes: k.votes,
                    expected_votes: k.expected_votes,
                })
                .collect(),
            expected_votes: p.expected_votes,
            highest_expected: p.expected_votes,
            total_votes: p.total_votes,
            quorum: p.quorum,
            flags: self.flags(),
            wait_for_all_status: p.waiting_for_all,
            lowest_node_id: present.first().copied(),
            highest_node_id: present.last().copied(),
            tie_breaker: p.tie_breaker.iter().copied().collect(),
            ev_barrier: p.downscale_floor,
            ev_tracking_barrier: p.tracking_floor,
            syncing: self.pending.is_some(),
        }
    }

    fn flags(&self) -> QuorumFlags {
        QuorumFlags {
            two_node: self.rules.two_node,
            quorate: self.quorate(),
            wait_for_all: self.rules.wait_for_all,
            last_man_standing: self.rules.last_man_standing.is_some(),
            auto_tie_breaker: self.rules.tie_breaker.is_some(),
            allow_downscale: self.rules.allow_downscale,
        }
    }

    /// Applies a delivered runtime change and tells the clients what changed.
    fn apply(&mut self, fx: &mut Effects<'_>, origin: NodeId, message: Exec) {
        let change = match message {
            Exec::SetExpected { value } => {
                tracing::info!(%origin, value, "expected votes set");
                let change = self.partition.set_expected(&self.rules, value);
                // corosync notifies the trackers of every SETEXPECTED, changed or not.
                Change {
                    expected_votes: true,
                    ..change
                }
            }
            Exec::SetVotes { nodeid, votes } => {
                tracing::info!(%origin, %nodeid, votes, "votes set");
                if let Some(k) = self.known.get_mut(&nodeid) {
                    k.votes = votes;
                }
                self.partition.set_votes(&self.rules, nodeid, votes)
            }
            Exec::LastManStanding { ring } => {
                if ring != self.ring {
                    self.stats.rx_stale += 1;
                    return;
                }
                self.lms_since = None;
                let change = self.partition.last_man_standing(&self.rules);
                if change.expected_votes {
                    tracing::info!(
                        expected_votes = self.partition.expected_votes,
                        "last man standing: expected votes lowered"
                    );
                }
                change
            }
            Exec::Leave => {
                if let Some(k) = self.known.get_mut(&origin) {
                    k.state = NodeState::Leaving;
                }
                self.partition.leave(&self.rules, origin)
            }
        };
        self.refresh_known();
        self.notify_change(fx, change);
    }

    /// Sends what a runtime change calls for: the expected votes, then the quorum.
    fn notify_change(&mut self, fx: &mut Effects<'_>, change: Change) {
        if change.expected_votes {
            self.notify_expected_votes(fx);
        }
        if change.quorate {
            self.log_quorum();
            self.notify_quorum(fx);
            self.notify_votequorum(fx);
        }
    }

    fn log_quorum(&self) {
        if self.partition.quorate {
            tracing::info!(ring = %self.ring, members = %NodeList(&self.ring_members),
                "this node is within the primary component and will provide service");
        } else {
            tracing::warn!(ring = %self.ring, members = %NodeList(&self.ring_members),
                "this node is within the non-primary component and will NOT provide any services");
        }
    }

    /// Brings the members' entries of `known` up to the replicated state.
    fn refresh_known(&mut self) {
        let e = self.partition.expected_votes;
        for (&n, m) in &self.partition.members {
            let state = if m.leaving {
                NodeState::Leaving
            } else {
                NodeState::Member
            };
            self.known.insert(
                n,
                Known {
                    state,
                    votes: m.votes,
                    expected_votes: e,
                },
            );
        }
    }

    /// After a sync: members as the partition says, everyone else dead; the list stays
    /// bounded by forgetting the lowest dead nodes.
    fn update_known_after_sync(&mut self) {
        for (n, k) in &mut self.known {
            if !self.partition.members.contains_key(n) {
                k.state = NodeState::Dead;
            }
        }
        self.refresh_known();
        while self.known.len() > KNOWN_MAX {
            let Some(dead) = self
                .known
                .iter()
                .find(|(_, k)| k.state == NodeState::Dead)
                .map(|(&n, _)| n)
            else {
                break;
            };
            self.known.remove(&dead);
        }
    }

    /// Whether this node times the last-man-standing window: the lowest present member.
    fn times_lms(&self) -> bool {
        self.partition
            .members
            .iter()
            .find(|(_, m)| !m.leaving)
            .is_some_and(|(&n, _)| n == self.me)
    }
}

impl Service for Votequorum {
    fn id(&self) -> ServiceId {
        ServiceId::VOTEQUORUM
    }

    fn connect(&mut self, fx: &mut Effects<'_>, conn: ConnId, _client: Credentials, channel: u8) {
        let channel = match channel {
            Self::QUORUM_CHANNEL => Channel::Quorum,
            Self::VOTEQUORUM_CHANNEL if self.provider.is_some() => Channel::Votequorum,
            _ => {
                fx.disconnect(conn);
                return;
            }
        };
        self.conns.insert(
            conn,
            Conn {
                channel,
                model: QuorumModel::V0,
                tracking: None,
            },
        );
    }

    fn disconnect(&mut self, _fx: &mut Effects<'_>, conn: ConnId) {
        self.conns.remove(&conn);
    }

    fn request(&mut self, fx: &mut Effects<'_>, conn: ConnId, msg: &[u8], room: usize) {
        match self.conns.get(&conn).map(|c| c.channel) {
            Some(Channel::Quorum) => self.quorum_request(fx, conn, msg),
            Some(Channel::Votequorum) => self.votequorum_request(fx, conn, msg, room),
            None => {}
        }
    }

    fn deliver(&mut self, fx: &mut Effects<'_>, origin: NodeId, body: Bytes) {
        if self.provider.is_none() {
            return;
        }
        match Exec::decode(&body) {
            Ok(message) => self.apply(fx, origin, message),
            Err(_) => {
                self.stats.rx_malformed += 1;
                tracing::warn!(%origin, "undecodable votequorum message dropped");
            }
        }
    }

    fn configuration(&mut self, _fx: &mut Effects<'_>, membership: &Membership) {
        self.pending = Some(membership.clone());
        self.reports.clear();
        self.lms_since = None;
        self.lms_sent = false;
    }

    fn sync_init(&mut self, fx: &mut Effects<'_>, membership: &Membership) {
        self.pending = Some(membership.clone());
        self.reports.clear();
        if self.provider.is_none() {
            return;
        }
        fx.sync_multicast(&encode_report(&self.partition.report(self.me)));
        // corosync's votequorum_sync_process: the new ring goes to the trackers at once.
        self.notify_nodelist(fx, membership);
    }

    fn sync_deliver(&mut self, origin: NodeId, body: Bytes) {
        let Some(membership) = &self.pending else {
            return;
        };
        if self.provider.is_none() || !membership.members.contains(&origin) {
            return;
        }
        match decode_report(&body) {
            Ok(report) => {
                self.reports.insert(origin, report);
            }
            Err(_) => {
                self.stats.rx_malformed += 1;
                tracing::warn!(%origin, "undecodable votequorum nodeinfo dropped");
            }
        }
    }

    fn sync_activate(&mut self, fx: &mut Effects<'_>) {
        let Some(membership) = self.pending.take() else {
            return;
        };
        let reports = std::mem::take(&mut self.reports);
        self.ring = membership.ring_id;
        self.ring_members = membership.members.clone();
        self.lms_since = None;
        self.lms_sent = false;
        // The quorum service's own sync: V1 clients learn who joined and left.
        self.notify_quorum_nodelist(fx, &membership);
        self.old_members = membership.members.clone();
        if self.provider.is_none() {
            return;
        }
        let before = (self.partition.quorate, self.partition.expected_votes);
        self.partition = Partition::merge(&self.rules, &reports);
        self.update_known_after_sync();
        let p = &self.partition;
        tracing::info!(
            ring = %self.ring,
            members = %NodeList(&self.ring_members),
            quorate = p.quorate,
            expected_votes = p.expected_votes,
            total_votes = p.total_votes,
            quorum = p.quorum,
            "votequorum synchronized"
        );
        if before.0 != p.quorate {
            self.log_quorum();
        }
        if before.1 != self.partition.expected_votes {
            self.notify_expected_votes(fx);
        }
        // corosync's votequorum_sync_activate: the quorum callback and the votequorum
        // notification follow every sync, changed or not.
        self.notify_quorum(fx);
        self.notify_votequorum(fx);
    }

    fn sync_abort(&mut self) {
        self.reports.clear();
    }

    fn tick(&mut self, fx: &mut Effects<'_>, now: Duration) {
        let Some(window) = self.rules.last_man_standing else {
            return;
        };
        if self.provider.is_none()
            || self.pending.is_some()
            || self.lms_sent
            || !self.partition.lms_armed
            || !self.times_lms()
        {
            return;
        }
        let since = *self.lms_since.get_or_insert(now);
        if now.saturating_sub(since) >= window {
            // The window ended with this membership: every member applies the reduction at
            // the same point of the total order.
            self.lms_sent = true;
            let body = Exec::LastManStanding { ring: self.ring }.encode();
            fx.multicast(&body, Order::Agreed);
        }
    }

    fn reconfigure(&mut self, fx: &mut Effects<'_>, settings: &ServiceSettings) {
        // votequorum(5): "Only votes, quorum_votes, expected_votes and two_node can be
        // changed at runtime". As corosync's votequorum_refresh_config, a changed value goes
        // round the ring, so every member applies it at the same point. two_node is a rule of
        // the decision, which would change at a different point on each node: it waits for a
        // restart here.
        if self.provider.is_none() {
            return;
        }
        let (rules, votes, expected_votes) = match rules(self.me, &settings.quorum) {
            Ok(new) => new,
            Err(e) => {
                tracing::error!("quorum configuration not reloaded: {e}");
                return;
            }
        };
        if rules.two_node != self.rules.two_node || settings.quorum.provider != self.provider {
            tracing::warn!("quorum.two_node and quorum.provider take effect at the next start");
        }
        if votes != self.configured.0 {
            let body = Exec::SetVotes {
                nodeid: self.me,
                votes,
            };
            fx.multicast(&body.encode(), Order::Agreed);
        }
        if expected_votes != self.configured.1 {
            let body = Exec::SetExpected {
                value: expected_votes,
            };
            fx.multicast(&body.encode(), Order::Agreed);
        }
        self.configured = (votes, expected_votes);
    }

    fn shutdown(&mut self, fx: &mut Effects<'_>) {
        // corosync's votequorum_exec_exit_fn: "tell the other nodes we are leaving".
        if self.provider.is_some() && self.rules.allow_downscale {
            fx.multicast(&Exec::Leave.encode(), Order::Agreed);
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn digest(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if self.provider.is_some() {
            self.ring.hash(&mut h);
            self.ring_members.hash(&mut h);
            self.partition.hash(&mut h);
        }
        h.finish()
    }

    fn describe(&self) -> String {
        if self.provider.is_none() {
            return "votequorum {disabled}".to_owned();
        }
        let p = &self.partition;
        let members: Vec<String> = p
            .members
            .iter()
            .map(|(n, m)| format!("{n}:{}{}", m.votes, if m.leaving { "L" } else { "" }))
            .collect();
        let tb: BTreeSet<u32> = p.tie_breaker.iter().map(|n| n.0).collect();
        format!(
            "votequorum {{ring {} [{}] expected {} total {} quorum {} {}{}{} tb {:?}}}",
            self.ring,
            members.join(" "),
            p.expected_votes,
            p.total_votes,
            p.quorum,
            if p.quorate { "quorate" } else { "inquorate" },
            if p.waiting_for_all { " waiting" } else { "" },
            if p.lms_armed { " lms" } else { "" },
            tb,
        )
    }
}

#[cfg(test)]
mod tests;
