//! **Quorum.** votequorum(5): the service avoids split-brain "by having a number of votes
//! assigned to each system in the cluster and ensuring that only when a majority of the
//! votes are present, cluster operations are allowed to proceed".
//!
//! Safety: at no instant are two running nodes both quorate while holding the same expected
//! votes, if the memberships their decisions were made for are disjoint (two partitions).
//! A node's decision belongs to the last ring its services synchronized: until the next sync
//! activates, it is the previous ring's (corosync holds clients off during a sync), and that
//! ring overlaps whatever its members moved on to, so a stale decision never counts as a
//! second partition. With `last_man_standing` a partition lowers its expected votes to its
//! own size and a node leaving it carries the lower value into its next partition: split
//! partitions can then both be quorate by design (the feature assumes that the nodes that
//! left are dead, which fencing ensures), so only decisions that keep the configured
//! expected votes are compared.
//!
//! Liveness: after the network heals with every node up and the sync finished, every node
//! is quorate.

use ais_types::{NodeId, RingId};

use super::{Check, Life, fail};

/// One running node's quorum decision.
#[derive(Clone, Copy, Debug)]
pub struct QuorumView<'a> {
    /// The node.
    pub life: Life,
    /// Quorate.
    pub quorate: bool,
    /// The expected votes it holds.
    pub expected_votes: u32,
    /// The ring the decision was made for.
    pub ring: RingId,
    /// That ring's members, ascending; empty before its first sync.
    pub members: &'a [NodeId],
}

/// Checks `a` against `b`; `only_expected` limits the check to decisions holding that many
/// expected votes (last man standing).
pub fn check_split_brain(a: &QuorumView<'_>, b: &QuorumView<'_>, only: Option<u32>) -> Check {
    if !a.quorate
        || !b.quorate
        || a.expected_votes != b.expected_votes
        || only.is_some_and(|e| e != a.expected_votes)
        || a.members.is_empty()
        || b.members.is_empty()
        || !disjoint(a.members, b.members)
    {
        return Ok(());
    }
    fail(
        "quorum",
        format!(
            "{} (ring {} {:?}) and {} (ring {} {:?}) are both quorate with {} expected votes",
            a.life,
            a.ring,
            ids(a.members),
            b.life,
            b.ring,
            ids(b.members),
            a.expected_votes
        ),
    )
}

/// After a heal with every node up: everyone is quorate.
pub fn check_quorum_liveness(views: &[QuorumView<'_>]) -> Check {
    match views.iter().find(|v| !v.quorate) {
        Some(v) => fail(
            "quorum_liveness",
            format!(
                "{} is not quorate after the heal (ring {} {:?}, {} expected votes)",
                v.life,
                v.ring,
                ids(v.members),
                v.expected_votes
            ),
        ),
        None => Ok(()),
    }
}

/// Two ascending lists share no node.
fn disjoint(a: &[NodeId], b: &[NodeId]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return false,
        }
    }
    true
}

fn ids(members: &[NodeId]) -> Vec<u32> {
    members.iter().map(|n| n.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(node: u32, quorate: bool, e: u32, members: &[NodeId]) -> QuorumView<'_> {
        QuorumView {
            life: Life {
                node: NodeId(node),
                inc: 0,
            },
            quorate,
            expected_votes: e,
            ring: RingId::new(members[0], 8),
            members,
        }
    }

    #[test]
    fn only_disjoint_quorate_decisions_with_equal_expected_votes_are_split_brain() {
        let a = [NodeId(1), NodeId(2)];
        let b = [NodeId(3), NodeId(4)];
        let ab = [NodeId(2), NodeId(3)];
        let split = check_split_brain(&view(1, true, 4, &a), &view(3, true, 4, &b), None);
        assert_eq!(split.unwrap_err().invariant, "quorum");
        assert!(check_split_brain(&view(1, true, 4, &a), &view(3, true, 3, &b), None).is_ok());
        assert!(check_split_brain(&view(1, true, 4, &a), &view(3, false, 4, &b), None).is_ok());
        assert!(check_split_brain(&view(1, true, 4, &a), &view(2, true, 4, &ab), None).is_ok());
        assert!(check_split_brain(&view(1, true, 2, &a), &view(3, true, 2, &b), Some(4)).is_ok());
    }
}
