//! votequorum's settings (`quorum {}` and the nodelist's votes) and the rules corosync
//! derives from them at start-up and on reload (`votequorum_readconfig`).

use std::collections::BTreeMap;
use std::time::Duration;

use ais_types::NodeId;

use super::calc::Rules;

/// The quorum algorithm (corosync's `quorum.provider`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumProvider {
    /// `corosync_votequorum`.
    Votequorum,
}

/// Which half of an even split keeps quorum (`quorum.auto_tie_breaker_node`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TieBreaker {
    /// The half with the lowest node id (`lowest`, the default).
    Lowest,
    /// The half with the highest node id (`highest`).
    Highest,
    /// The half with the first of these nodes that was in the cluster before the split.
    List(Vec<NodeId>),
}

/// votequorum's configuration, as corosync.conf's `quorum {}` and `nodelist {}` give it.
/// votequorum(5): "It is very important that those values are consistent across all the
/// nodes participating in the cluster".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `quorum.provider`; `None` disables quorum (always quorate).
    pub provider: Option<QuorumProvider>,
    /// This node's votes when the nodelist does not name it (`quorum.votes`, default 1).
    pub votes: u32,
    /// `quorum.expected_votes`; when unset, the sum of the nodelist's votes.
    pub expected_votes: Option<u32>,
    /// Every configured node's votes (`nodelist.node.N.quorum_votes`, default 1).
    pub nodelist_votes: BTreeMap<NodeId, u32>,
    /// `quorum.two_node`.
    pub two_node: bool,
    /// `quorum.wait_for_all`; unset means "as `two_node`" (votequorum(5)).
    pub wait_for_all: Option<bool>,
    /// `quorum.last_man_standing`.
    pub last_man_standing: bool,
    /// `quorum.last_man_standing_window` (default 10 s).
    pub last_man_standing_window: Duration,
    /// `quorum.auto_tie_breaker` with `auto_tie_breaker_node`; `None` when off.
    pub auto_tie_breaker: Option<TieBreaker>,
    /// `quorum.allow_downscale` (implies expected-votes tracking).
    pub allow_downscale: bool,
    /// `quorum.expected_votes_tracking`.
    pub expected_votes_tracking: bool,
    /// The highest expected votes seen by an earlier run, which the shell keeps on disk
    /// (corosync's `ev_tracking` file; see [`QuorumStatus::ev_tracking_barrier`]); 0 if none.
    pub expected_votes_tracking_barrier: u32,
}

impl Settings {
    /// votequorum with corosync's defaults, over a nodelist of `nodelist_votes`.
    pub fn votequorum(nodelist_votes: BTreeMap<NodeId, u32>) -> Self {
        Self {
            provider: Some(QuorumProvider::Votequorum),
            votes: 1,
            expected_votes: None,
            nodelist_votes,
            two_node: false,
            wait_for_all: None,
            last_man_standing: false,
            last_man_standing_window: Duration::from_secs(10),
            auto_tie_breaker: None,
            allow_downscale: false,
            expected_votes_tracking: false,
            expected_votes_tracking_barrier: 0,
        }
    }

    /// No quorum provider: always quorate.
    pub fn disabled() -> Self {
        Self {
            provider: None,
            ..Self::votequorum(BTreeMap::new())
        }
    }
}

/// A configuration votequorum refuses to start with (corosync's `votequorum_readconfig`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Neither a nodelist nor `quorum.expected_votes`.
    #[error("nodelist or quorum.expected_votes must be configured")]
    NoExpectedVotes,
    /// An odd cluster without `wait_for_all` needs it for the tie-breaker, and
    /// `last_man_standing` makes corosync refuse to guess.
    #[error(
        "auto_tie_breaker and last_man_standing are not available in an odd-sized cluster without wait_for_all"
    )]
    TieBreakerWithLastManStanding,
}

/// corosync's `votequorum_readconfig` at start-up: the effective rules, this node's votes
/// and the expected votes.
pub(super) fn rules(me: NodeId, s: &Settings) -> Result<(Rules, u32, u32), SettingsError> {
    let votes = s.nodelist_votes.get(&me).copied().unwrap_or(s.votes);
    let nodelist_expected = s
        .nodelist_votes
        .values()
        .fold(0u32, |sum, v| sum.saturating_add(*v));
    let mut expected = match s.expected_votes.filter(|e| *e > 0) {
        Some(e) => e,
        None if !s.nodelist_votes.is_empty() => nodelist_expected,
        None if s.provider.is_none() => 1,
        None => return Err(SettingsError::NoExpectedVotes),
    };
    // allow_downscale "implicitly enabled EVT"; EVT's stored value is "the minimum value for
    // expected votes in the absence of any higher authority".
    let tracking = s.expected_votes_tracking || s.allow_downscale;
    if tracking {
        expected = expected.max(s.expected_votes_tracking_barrier);
    }
    let wait_for_all = s.wait_for_all.unwrap_or(s.two_node);
    let mut tie_breaker = match &s.auto_tie_breaker {
        Some(TieBreaker::List(list)) if list.is_empty() => {
            tracing::warn!("auto_tie_breaker_node lists no node; auto_tie_breaker is disabled");
            None
        }
        other => other.clone(),
    };
    let mut two_node = s.two_node;
    if two_node && tie_breaker.is_some() {
        tracing::error!("two_node and auto_tie_breaker are not compatible; two_node is disabled");
        two_node = false;
    }
    if tie_breaker.is_some() && expected % 2 == 1 && !wait_for_all {
        // "an isolated half+1 without the tie breaker node" must not have quorum on reboot.
        if s.last_man_standing {
            return Err(SettingsError::TieBreakerWithLastManStanding);
        }
        tracing::error!(
            "auto_tie_breaker in an odd-sized cluster needs wait_for_all; auto_tie_breaker is disabled"
        );
        tie_breaker = None;
    }
    let rules = Rules {
        two_node,
        wait_for_all,
        last_man_standing: s.last_man_standing.then_some(s.last_man_standing_window),
        tie_breaker,
        allow_downscale: s.allow_downscale,
        expected_votes_tracking: tracking,
    };
    Ok((rules, votes, expected))
}
