//! The extended virtual synchrony invariants, checked at every step of a run.
//!
//! One file per property, each headed by the property as the Totem/EVS papers state it
//! (TOCS95 §4; Moser, Amir, Melliar-Smith, Agarwal, "Extended Virtual Synchrony", ICDCS
//! 1994). The [`Checker`] keeps the history every invariant reads: for each *life* (one
//! incarnation of a node, between a start and a crash) the configurations it installed and
//! the messages it delivered in each.

use std::collections::BTreeMap;

use ais_totem::{ConfigChange, Delivery, Order};
use ais_types::{NodeId, RingId};

use crate::workload::{MsgKey, decode_any};

mod agreed_order;
mod config_agreement;
mod fifo;
mod liveness;
mod no_creation;
mod no_duplication;
mod no_gap;
mod quorum;
mod ring_ids_rise;
mod safe_delivery;
mod self_delivery;
mod transitional;
mod virtual_synchrony;

pub use liveness::{check_liveness, converged};
pub use quorum::{QuorumView, check_quorum_liveness, check_split_brain};

/// One incarnation of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Life {
    /// The node.
    pub node: NodeId,
    /// Its incarnation, from 0, raised by each restart.
    pub inc: u32,
}

impl std::fmt::Display for Life {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.inc == 0 {
            write!(f, "n{}", self.node)
        } else {
            write!(f, "n{}#{}", self.node, self.inc)
        }
    }
}

/// The configuration a life is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Config {
    /// A regular configuration: a ring.
    Regular {
        /// The ring.
        ring: RingId,
        /// Its members.
        members: Vec<NodeId>,
    },
    /// A transitional configuration between `old` and `ring`.
    Transitional {
        /// The regular configuration it follows.
        old: RingId,
        /// The regular configuration it leads to.
        ring: RingId,
        /// Its members.
        members: Vec<NodeId>,
    },
}

impl Config {
    /// Members.
    pub fn members(&self) -> &[NodeId] {
        match self {
            Self::Regular { members, .. } | Self::Transitional { members, .. } => members,
        }
    }
}

/// What one life did.
#[derive(Clone, Debug, Default)]
pub struct LifeHistory {
    /// Regular configurations installed, in order.
    pub regular: Vec<(RingId, Vec<NodeId>)>,
    /// The configuration it is in now.
    pub current: Option<Config>,
    /// Every message delivered, with the ring it was ordered on.
    pub delivered: BTreeMap<MsgKey, RingId>,
    /// Messages delivered in the current regular configuration, in order.
    pub in_regular: Vec<MsgKey>,
    /// Messages delivered in the current transitional configuration, in order.
    pub in_trans: Vec<MsgKey>,
    /// The life ended in a crash (or a graceful leave).
    pub ended: bool,
}

impl LifeHistory {
    /// Did this life install regular configuration `ring`?
    pub fn installed(&self, ring: RingId) -> bool {
        self.regular.iter().any(|(r, _)| *r == ring)
    }
}

/// Everything the invariants may read.
#[derive(Debug, Default)]
pub struct History {
    /// Per life.
    pub lives: BTreeMap<Life, LifeHistory>,
    /// The current incarnation of each node.
    pub current: BTreeMap<NodeId, u32>,
    /// Every message submitted: its length and order.
    pub submitted: BTreeMap<MsgKey, (usize, Order)>,
}

impl History {
    /// The node's current life, if it is running.
    pub fn running(&self, node: NodeId) -> Option<(Life, &LifeHistory)> {
        let inc = *self.current.get(&node)?;
        let life = Life { node, inc };
        let h = self.lives.get(&life)?;
        (!h.ended).then_some((life, h))
    }
}

/// The running cluster, as the safe-delivery check needs to see it.
pub trait ClusterView {
    /// Does running node `node` hold frame `seq` of `ring`? `None` if it is not running.
    fn holds(&self, node: NodeId, ring: RingId, seq: u64) -> Option<bool>;
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name (its file).
    pub invariant: &'static str,
    /// What happened.
    pub detail: String,
}

/// Result of one check.
pub type Check = Result<(), Violation>;

pub(crate) fn fail(invariant: &'static str, detail: String) -> Check {
    Err(Violation { invariant, detail })
}

/// A delivery, as the invariants see it.
pub struct Delivered<'a> {
    /// Who delivered.
    pub life: Life,
    /// Which message.
    pub key: MsgKey,
    /// The delivery itself.
    pub delivery: &'a Delivery,
    /// The configuration it was delivered in.
    pub config: &'a Config,
}

/// A configuration change, as the invariants see it; `before` is the life's history
/// before the change.
pub struct Installed<'a> {
    /// Who installed it.
    pub life: Life,
    /// The change.
    pub change: &'a ConfigChange,
    /// The life's history up to now.
    pub before: &'a LifeHistory,
}

pub(crate) trait Invariant {
    fn on_delivery(&mut self, _h: &History, _e: &Delivered<'_>, _v: &dyn ClusterView) -> Check {
        Ok(())
    }
    fn on_configuration(&mut self, _h: &History, _e: &Installed<'_>) -> Check {
        Ok(())
    }
    fn at_end(&mut self, _h: &History) -> Check {
        Ok(())
    }
}

/// Runs every invariant on every event and keeps the history.
pub struct Checker {
    history: History,
    invariants: Vec<Box<dyn Invariant>>,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    /// A checker with every invariant.
    pub fn new() -> Self {
        Self {
            history: History::default(),
            invariants: vec![
                Box::new(no_creation::NoCreation),
                Box::new(no_duplication::NoDuplication),
                Box::new(agreed_order::AgreedOrder::default()),
                Box::new(fifo::Fifo::default()),
                Box::new(no_gap::NoGap::default()),
                Box::new(config_agreement::ConfigAgreement::default()),
                Box::new(ring_ids_rise::RingIdsRise::default()),
                Box::new(virtual_synchrony::VirtualSynchrony::default()),
                Box::new(transitional::Transitional::default()),
                Box::new(safe_delivery::SafeDelivery),
                Box::new(self_delivery::SelfDelivery),
            ],
        }
    }

    /// The history so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// A message was accepted by `submit`.
    pub fn submitted(&mut self, key: MsgKey, len: usize, order: Order) {
        self.history.submitted.insert(key, (len, order));
    }

    /// A node (re)started: a new life.
    pub fn started(&mut self, life: Life) {
        self.history.current.insert(life.node, life.inc);
        self.history.lives.insert(life, LifeHistory::default());
    }

    /// A node crashed or left: its life ended.
    pub fn ended(&mut self, life: Life) {
        if let Some(h) = self.history.lives.get_mut(&life) {
            h.ended = true;
        }
    }

    /// A node delivered a message.
    pub fn delivered(&mut self, life: Life, d: &Delivery, view: &dyn ClusterView) -> Check {
        let Some((key, _)) = decode_any(&d.payload) else {
            return fail(
                "no_creation",
                format!("{life} delivered {} unrecognisable bytes", d.payload.len()),
            );
        };
        let lh = self
            .history
            .lives
            .get(&life)
            .expect("delivery from a running life");
        let Some(config) = lh.current.clone() else {
            return fail(
                "config_agreement",
                format!("{life} delivered before any configuration"),
            );
        };
        let e = Delivered {
            life,
            key,
            delivery: d,
            config: &config,
        };
        for inv in &mut self.invariants {
            inv.on_delivery(&self.history, &e, view)?;
        }
        let lh = self.history.lives.get_mut(&life).expect("checked above");
        lh.delivered.insert(key, d.ring_id);
        match config {
            Config::Regular { .. } => lh.in_regular.push(key),
            Config::Transitional { .. } => lh.in_trans.push(key),
        }
        Ok(())
    }

    /// A node delivered a configuration change.
    pub fn configuration(&mut self, life: Life, change: &ConfigChange) -> Check {
        let lh = self
            .history
            .lives
            .get(&life)
            .expect("configuration from a running life");
        let e = Installed {
            life,
            change,
            before: lh,
        };
        for inv in &mut self.invariants {
            inv.on_configuration(&self.history, &e)?;
        }
        let lh = self.history.lives.get_mut(&life).expect("checked above");
        match change {
            ConfigChange::Transitional {
                old_ring_id,
                ring_id,
                members,
                ..
            } => {
                lh.current = Some(Config::Transitional {
                    old: *old_ring_id,
                    ring: *ring_id,
                    members: members.clone(),
                });
                lh.in_trans.clear();
            }
            ConfigChange::Regular {
                ring_id, members, ..
            } => {
                lh.regular.push((*ring_id, members.clone()));
                lh.current = Some(Config::Regular {
                    ring: *ring_id,
                    members: members.clone(),
                });
                lh.in_regular.clear();
                lh.in_trans.clear();
            }
        }
        Ok(())
    }

    /// Checks that need the whole run.
    pub fn finish(&mut self) -> Check {
        for inv in &mut self.invariants {
            inv.at_end(&self.history)?;
        }
        Ok(())
    }
}
