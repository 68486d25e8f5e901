//! The quorum decision as pure arithmetic over the replicated state of one partition:
//! corosync's `calculate_quorum`, `recalculate_quorum` and `are_we_quorate`
//! (`exec/votequorum.c`), rewritten so that the decision is a function of what the members
//! multicast, never of one node's private history.
//!
//! In corosync every node folds the others' `nodeinfo` messages into its own node list and
//! decides for itself, from that list and its own past (its sticky `quorum`, its
//! `expected_votes`, its `lowest_node_id`, its previous membership); nodes of one partition
//! that come from different pasts can decide differently. Here a [`Partition`] is built
//! from the [`Report`]s every member multicast in the sync, all delivered in one order, and
//! changed only by messages delivered in that order: every member holds the same value.
//!
//! Invariants (checked by the tests below and by the simulator):
//! - `expected_votes >= total_votes`: the expected votes grow to the votes present
//!   (corosync: "Keep expected_votes at the highest number of votes in the cluster").
//! - `quorum == quorum(expected_votes, total_votes, ..)`: more than half of the expected
//!   votes, or 1 for a `two_node` cluster of at most two members. corosync's "quorum never
//!   decreases" rule is implied: the expected votes only fall through an explicit path
//!   (SETEXPECTED, last man standing, a clean leave), where corosync allows the decrease.
//! - Two disjoint partitions that hold the same expected votes are never both quorate,
//!   except under `two_node` (corosync lets both halves keep quorum and fencing decide), and
//!   except what an administrator's SETEXPECTED or last man standing allow (a partition
//!   lowers its expected votes; a node leaving it carries the lower value, which the next
//!   partition adopts from a quorate member, as in corosync). The property tests check both
//!   the rule and, with last man standing, that the configured expected votes never split.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ais_types::NodeId;

use super::TieBreaker;

/// The effective configuration, after corosync's start-up fix-ups (`votequorum_readconfig`);
/// the same on every node, as votequorum(5) requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rules {
    pub(crate) two_node: bool,
    pub(crate) wait_for_all: bool,
    /// The last-man-standing window, when the feature is on.
    pub(crate) last_man_standing: Option<Duration>,
    pub(crate) tie_breaker: Option<TieBreaker>,
    pub(crate) allow_downscale: bool,
    pub(crate) expected_votes_tracking: bool,
}

/// What one member says about itself in the sync (corosync's `req_exec_quorum_nodeinfo`,
/// extended with the history the decision needs, so that no member decides from a past the
/// others do not see).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Report {
    pub(crate) votes: u32,
    /// The expected votes of the partition it comes from.
    pub(crate) expected_votes: u32,
    /// That partition was quorate (`NODE_FLAGS_QUORATE`).
    pub(crate) quorate: bool,
    /// Still waiting for all nodes (`NODE_FLAGS_WFASTATUS`).
    pub(crate) waiting_for_all: bool,
    /// It announced a clean shutdown (`NODE_FLAGS_LEAVING`).
    pub(crate) leaving: bool,
    /// Its partition had a last-man-standing window running.
    pub(crate) lms_armed: bool,
    /// The tie-breaker node its partition last agreed on; empty when it never saw a majority
    /// since it started (corosync's `lowest_node_id == -1`).
    pub(crate) tie_breaker: BTreeSet<NodeId>,
    /// The members of its previous ring.
    pub(crate) previous: BTreeSet<NodeId>,
    /// The floor for a downscale (corosync's `ev_barrier`).
    pub(crate) downscale_floor: u32,
    /// The highest expected votes ever seen (corosync's `ev_tracking_barrier`).
    pub(crate) tracking_floor: u32,
}

/// One member of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Member {
    pub(crate) votes: u32,
    /// Announced a clean shutdown: present, but its votes no longer count.
    pub(crate) leaving: bool,
}

/// The replicated quorum state of one partition; equal on all its members.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Partition {
    pub(crate) members: BTreeMap<NodeId, Member>,
    pub(crate) expected_votes: u32,
    /// Votes of the members that are not leaving.
    pub(crate) total_votes: u32,
    pub(crate) quorum: u32,
    pub(crate) quorate: bool,
    pub(crate) waiting_for_all: bool,
    /// The node(s) an even split must keep to stay quorate through the tie-breaker: chosen
    /// when the partition last had a majority (corosync's `lowest_node_id`, computed "when
    /// quorate"); merged partitions keep the union, and any member that never saw a majority
    /// makes it unknown (empty), so every member would grant the tie-break.
    pub(crate) tie_breaker: BTreeSet<NodeId>,
    /// The union of the members' previous rings (corosync's `previous_quorum_members`).
    pub(crate) previous: BTreeSet<NodeId>,
    pub(crate) downscale_floor: u32,
    pub(crate) tracking_floor: u32,
    /// A last-man-standing window runs; its end may lower the expected votes.
    pub(crate) lms_armed: bool,
}

/// What a change did, for notifications.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) quorate: bool,
    pub(crate) expected_votes: bool,
}

/// corosync's quorum: "taken from the OpenVMS Cluster Systems manual", more than half of
/// the expected votes and of the votes present; 1 in a two-node cluster of at most two
/// members ("Only one of the two should live past fencing").
pub(crate) fn quorum(expected_votes: u32, total_votes: u32, two_node: bool, nodes: usize) -> u32 {
    if two_node && nodes <= 2 {
        return 1;
    }
    (expected_votes / 2 + 1).max(total_votes / 2 + 1)
}

impl TieBreaker {
    /// The tie-breaker node of a partition with a majority of `present`: "the set of nodes
    /// that are still in contact with the node that has the lowest nodeid will remain
    /// quorate" (votequorum(5)); for a list, the first listed node present.
    fn pick(&self, present: impl Iterator<Item = NodeId> + Clone) -> BTreeSet<NodeId> {
        let node = match self {
            Self::Lowest => present.min(),
            Self::Highest => present.max(),
            Self::List(list) => list
                .iter()
                .copied()
                .find(|n| present.clone().any(|p| p == *n)),
        };
        node.into_iter().collect()
    }
}

impl Partition {
    /// A node on its own at start-up (corosync's `votequorum_exec_init_fn`).
    pub(crate) fn boot(rules: &Rules, me: NodeId, votes: u32, expected_votes: u32) -> Self {
        let mut p = Self {
            members: BTreeMap::from([(
                me,
                Member {
                    votes,
                    leaving: false,
                },
            )]),
            expected_votes,
            total_votes: 0,
            quorum: 0,
            quorate: false,
            waiting_for_all: rules.wait_for_all,
            tie_breaker: BTreeSet::new(),
            previous: BTreeSet::from([me]),
            downscale_floor: expected_votes,
            tracking_floor: if rules.expected_votes_tracking {
                expected_votes
            } else {
                0
            },
            lms_armed: false,
        };
        p.recalculate(rules, None);
        p
    }

    /// The partition the sync builds from every member's report (corosync's nodeinfo
    /// handler, then `votequorum_sync_activate`). Deterministic in `reports`.
    pub(crate) fn merge(rules: &Rules, reports: &BTreeMap<NodeId, Report>) -> Self {
        let members = reports
            .iter()
            .map(|(&n, r)| {
                let m = Member {
                    votes: r.votes,
                    leaving: r.leaving,
                };
                (n, m)
            })
            .collect();
        // An inquorate node takes the expected votes of a quorate one ("if we are not
        // quorate and the sender is, take its expected votes"); a quorate node ignores an
        // inquorate sender's. With expected-votes tracking every sender's counts. Without a
        // quorate member corosync keeps each node's own value; the highest of them is the one
        // value every member can agree on, and the cautious one.
        let any_quorate = reports.values().any(|r| r.quorate);
        let expected_votes = reports
            .values()
            .filter(|r| rules.expected_votes_tracking || !any_quorate || r.quorate)
            .map(|r| r.expected_votes)
            .max()
            .unwrap_or(0);
        // A member that was quorate and no longer waiting releases everyone from waiting
        // ("a node joining a quorate cluster does not wait").
        let waiting_for_all =
            rules.wait_for_all && !reports.values().any(|r| r.quorate && !r.waiting_for_all);
        let tie_breaker = if reports.values().any(|r| r.tie_breaker.is_empty()) {
            BTreeSet::new()
        } else {
            reports
                .values()
                .flat_map(|r| r.tie_breaker.clone())
                .collect()
        };
        let mut p = Self {
            members,
            expected_votes,
            total_votes: 0,
            quorum: 0,
            quorate: false,
            waiting_for_all,
            tie_breaker,
            previous: reports.values().flat_map(|r| r.previous.clone()).collect(),
            downscale_floor: reports
                .values()
                .map(|r| r.downscale_floor)
                .max()
                .unwrap_or(0),
            tracking_floor: reports
                .values()
                .map(|r| r.tracking_floor)
                .max()
                .unwrap_or(0),
            lms_armed: false,
        };
        p.recalculate(rules, None);
        // corosync's votequorum_sync_init starts the last-man-standing window when members
        // left and enough remain, or when the tie-breaker keeps a small partition; a window
        // already running keeps running (its timer is not cancelled).
        let left = p.previous.iter().any(|n| !p.members.contains_key(n));
        let (_, present) = p.present();
        let quorum = p.quorum as usize;
        p.lms_armed = rules.last_man_standing.is_some()
            && (reports.values().any(|r| r.lms_armed)
                || (left && present >= quorum)
                || (present <= quorum && rules.tie_breaker.is_some() && p.holds_tie_breaker()));
        p
    }

    /// What member `me` reports in the next sync.
    pub(crate) fn report(&self, me: NodeId) -> Report {
        let mine = self.members.get(&me).copied().unwrap_or(Member {
            votes: 0,
            leaving: false,
        });
        Report {
            votes: mine.votes,
            expected_votes: self.expected_votes,
            quorate: self.quorate,
            waiting_for_all: self.waiting_for_all,
            leaving: mine.leaving,
            lms_armed: self.lms_armed,
            tie_breaker: self.tie_breaker.clone(),
            previous: self.members.keys().copied().collect(),
            downscale_floor: self.downscale_floor,
            tracking_floor: self.tracking_floor,
        }
    }

    /// The votes and the number of the members that are not leaving.
    pub(crate) fn present(&self) -> (u32, usize) {
        self.members
            .values()
            .filter(|m| !m.leaving)
            .fold((0u32, 0usize), |(v, n), m| {
                (v.saturating_add(m.votes), n + 1)
            })
    }

    fn present_ids(&self) -> impl Iterator<Item = NodeId> + Clone + '_ {
        self.members
            .iter()
            .filter(|(_, m)| !m.leaving)
            .map(|(&n, _)| n)
    }

    fn is_present(&self, node: NodeId) -> bool {
        self.members.get(&node).is_some_and(|m| !m.leaving)
    }

    /// Every member would grant the tie-break: the tie-breaker is known and present.
    fn holds_tie_breaker(&self) -> bool {
        !self.tie_breaker.is_empty() && self.tie_breaker.iter().all(|&n| self.is_present(n))
    }

    /// corosync's `recalculate_quorum`: `max_expected` is the new expected votes when they
    /// may fall (last man standing, a clean leave: "by current nodes").
    fn recalculate(&mut self, rules: &Rules, max_expected: Option<u32>) -> Change {
        let before = (self.quorate, self.expected_votes);
        let (total, nodes) = self.present();
        if let Some(max) = max_expected {
            // With allow_downscale the expected votes fall "down to configured
            // expected_votes", never below.
            self.expected_votes = if rules.allow_downscale {
                max.max(self.downscale_floor)
            } else {
                max
            };
        }
        self.expected_votes = self.expected_votes.max(total);
        if rules.expected_votes_tracking {
            self.tracking_floor = self.tracking_floor.max(self.expected_votes);
        }
        self.total_votes = total;
        self.quorum = quorum(self.expected_votes, total, rules.two_node, nodes);
        self.decide(rules);
        Change {
            quorate: before.0 != self.quorate,
            expected_votes: before.1 != self.expected_votes,
        }
    }

    /// corosync's `are_we_quorate`.
    fn decide(&mut self, rules: &Rules) {
        // votequorum(5): "the cluster will be quorate for the first time only after all
        // nodes have been visible at least once at the same time".
        if rules.wait_for_all && self.waiting_for_all {
            if self.total_votes < self.expected_votes {
                self.quorate = false;
                return;
            }
            self.waiting_for_all = false;
        }
        let mut quorate = self.total_votes >= self.quorum;
        if quorate {
            if let Some(tb) = &rules.tie_breaker {
                self.tie_breaker = tb.pick(self.present_ids());
            }
        } else if rules.tie_breaker.is_some()
            // corosync: "Must be a half (or half-1) split". Only an exact half here: with
            // "half-1" of an odd count the other side holds (E+1)/2, a quorum, and can be
            // quorate too, e.g. with a node that moved straight out of this partition's
            // previous, quorate ring (the property test below finds it in three nodes).
            && u64::from(self.total_votes) * 2 == u64::from(self.expected_votes)
            // "If the 'other' partition in a split might have quorum then we can't run ATB".
            && self.previous.iter().filter(|n| !self.members.contains_key(n)).count()
                < self.quorum as usize
            && self.holds_tie_breaker()
        {
            quorate = true;
        }
        self.quorate = quorate;
        if rules.wait_for_all {
            self.waiting_for_all = !quorate;
        }
    }

    /// Whether SETEXPECTED `value` keeps the partition quorate (corosync refuses it with
    /// CS_ERR_INVALID_PARAM otherwise).
    pub(crate) fn accepts_expected(&self, rules: &Rules, value: u32) -> bool {
        let (total, nodes) = self.present();
        value > 0 && quorum(value, total, rules.two_node, nodes) <= total
    }

    /// Whether SETVOTES of `votes` for `node` keeps the partition quorate; `None` when the
    /// node is not a member.
    pub(crate) fn accepts_votes(&self, rules: &Rules, node: NodeId, votes: u32) -> Option<bool> {
        let m = self.members.get(&node)?;
        let (total, nodes) = self.present();
        let total = if m.leaving {
            total
        } else {
            total.saturating_sub(m.votes).saturating_add(votes)
        };
        Some(quorum(self.expected_votes, total, rules.two_node, nodes) <= total)
    }

    /// SETEXPECTED delivered (corosync's RECONFIGURE, `VOTEQUORUM_RECONFIG_PARAM_EXPECTED_VOTES`).
    pub(crate) fn set_expected(&mut self, rules: &Rules, value: u32) -> Change {
        let before = self.expected_votes;
        self.expected_votes = value;
        self.downscale_floor = value;
        if rules.expected_votes_tracking {
            self.expected_votes = value.max(self.tracking_floor);
        }
        let mut change = self.recalculate(rules, None);
        change.expected_votes = before != self.expected_votes;
        change
    }

    /// SETVOTES delivered; a node that is not a member changes nothing here.
    pub(crate) fn set_votes(&mut self, rules: &Rules, node: NodeId, votes: u32) -> Change {
        match self.members.get_mut(&node) {
            Some(m) => {
                m.votes = votes;
                self.recalculate(rules, None)
            }
            None => Change::default(),
        }
    }

    /// The last-man-standing window ended with this membership: the expected votes become
    /// the number of members, if the partition is quorate and every member votes 1
    /// ("LMS does not work with asymmetric voting schemes, each node must vote 1").
    pub(crate) fn last_man_standing(&mut self, rules: &Rules) -> Change {
        self.lms_armed = false;
        let (_, nodes) = self.present();
        let uniform = self.members.values().all(|m| m.votes == 1);
        if rules.last_man_standing.is_none() || !self.quorate || !uniform {
            return Change::default();
        }
        self.recalculate(rules, Some(nodes as u32))
    }

    /// `node` announced a clean shutdown (allow_downscale): its votes stop counting and the
    /// expected votes fall to the members left.
    pub(crate) fn leave(&mut self, rules: &Rules, node: NodeId) -> Change {
        let Some(m) = self.members.get_mut(&node) else {
            return Change::default();
        };
        m.leaving = true;
        let (_, nodes) = self.present();
        self.recalculate(rules, Some(nodes as u32))
    }
}

#[cfg(test)]
mod tests;
