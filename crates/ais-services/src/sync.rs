//! The sync layer's state: which phase runs, whose barriers arrived, what waits.

use std::collections::BTreeSet;

use ais_types::NodeId;
use bytes::Bytes;

use crate::{Membership, ServiceId};

/// Between two configurations, or synchronizing the replicas of the newest one.
pub(crate) enum Sync {
    Idle,
    Running(Running),
}

pub(crate) struct Running {
    pub(crate) membership: Membership,
    /// The engine being synchronized (its index).
    pub(crate) phase: usize,
    /// Members whose barrier for `phase` was delivered.
    pub(crate) barriers: BTreeSet<NodeId>,
    /// Application messages delivered during the sync, applied after activation.
    pub(crate) held: Vec<(NodeId, ServiceId, Bytes)>,
}

impl Sync {
    pub(crate) fn start(membership: Membership) -> Self {
        Self::Running(Running {
            membership,
            phase: 0,
            barriers: BTreeSet::new(),
            held: Vec::new(),
        })
    }
}
