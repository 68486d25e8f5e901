//! **Configuration agreement.** Membership "Uniqueness: each configuration has a unique
//! identifier" and "Consensus: all processors that install a configuration agree on its
//! membership"; "Self-inclusion: a processor is a member of each configuration it installs"
//! (TOCS95 §4, Membership). Same ring id ⇒ same members; the same for a transitional
//! configuration, named by its old and new ring.

use std::collections::BTreeMap;

use ais_totem::ConfigChange;
use ais_types::{NodeId, RingId};

use super::{Check, History, Installed, Invariant, fail};

#[derive(Default)]
pub(crate) struct ConfigAgreement {
    regular: BTreeMap<RingId, Vec<NodeId>>,
    transitional: BTreeMap<(RingId, RingId), Vec<NodeId>>,
}

impl Invariant for ConfigAgreement {
    fn on_configuration(&mut self, _h: &History, e: &Installed<'_>) -> Check {
        let (name, members, known) = match e.change {
            ConfigChange::Regular {
                ring_id, members, ..
            } => (
                ring_id.to_string(),
                members,
                self.regular
                    .entry(*ring_id)
                    .or_insert_with(|| members.clone()),
            ),
            ConfigChange::Transitional {
                old_ring_id,
                ring_id,
                members,
                ..
            } => (
                format!("{old_ring_id}->{ring_id}"),
                members,
                self.transitional
                    .entry((*old_ring_id, *ring_id))
                    .or_insert_with(|| members.clone()),
            ),
        };
        if !members.contains(&e.life.node) {
            return fail(
                "config_agreement",
                format!("{} installed {name} {members:?} without itself", e.life),
            );
        }
        if known != members {
            return fail(
                "config_agreement",
                format!(
                    "{} installed {name} as {members:?}, others as {known:?}",
                    e.life
                ),
            );
        }
        Ok(())
    }
}
