//! **Ring ids rise.** "A processor installs configurations with strictly increasing ring
//! sequence numbers", also across a failure and restart, since "the ring sequence number is
//! kept in stable storage" (TOCS95 §6.2.2). This is what makes a configuration identifier
//! unique in time.

use std::collections::BTreeMap;

use ais_totem::ConfigChange;
use ais_types::{NodeId, RingId};

use super::{Check, History, Installed, Invariant, fail};

#[derive(Default)]
pub(crate) struct RingIdsRise {
    last: BTreeMap<NodeId, RingId>,
}

impl Invariant for RingIdsRise {
    fn on_configuration(&mut self, _h: &History, e: &Installed<'_>) -> Check {
        let ConfigChange::Regular { ring_id, .. } = e.change else {
            return Ok(());
        };
        if let Some(prev) = self.last.insert(e.life.node, *ring_id)
            && prev.seq >= ring_id.seq
        {
            return fail(
                "ring_ids_rise",
                format!("{} installed ring {ring_id} after {prev}", e.life),
            );
        }
        Ok(())
    }
}
