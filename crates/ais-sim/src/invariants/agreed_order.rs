//! **Agreed order.** "If processor p delivers messages m1 and m2 in that order and processor
//! q delivers m2, then q delivers m1 before m2 or not at all" — one total order per
//! configuration (TOCS95 §4, Agreed Delivery). Every message has a position on the ring that
//! ordered it, `(ring, seq, index)`; a position names one message everywhere, and every life
//! delivers in strictly rising position (rings rising, as each life's rings rise).

use std::collections::BTreeMap;

use ais_types::RingId;

use super::{Check, ClusterView, Delivered, History, Invariant, Life, fail};
use crate::workload::MsgKey;

#[derive(Default)]
pub(crate) struct AgreedOrder {
    at: BTreeMap<(RingId, u64, u32), MsgKey>,
    last: BTreeMap<Life, (RingId, u64, u32)>,
}

impl Invariant for AgreedOrder {
    fn on_delivery(&mut self, _h: &History, e: &Delivered<'_>, _v: &dyn ClusterView) -> Check {
        let d = e.delivery;
        let pos = (d.ring_id, d.seq, d.index);
        if let Some(other) = self.at.insert(pos, e.key)
            && other != e.key
        {
            return fail(
                "agreed_order",
                format!(
                    "position {}:{}:{} is {:?} at {} but {:?} elsewhere",
                    d.ring_id, d.seq, d.index, e.key, e.life, other
                ),
            );
        }
        if let Some(prev) = self.last.insert(e.life, pos)
            && prev >= pos
        {
            return fail(
                "agreed_order",
                format!(
                    "{} delivered {}:{}:{} after {}:{}:{}",
                    e.life, d.ring_id, d.seq, d.index, prev.0, prev.1, prev.2
                ),
            );
        }
        Ok(())
    }
}
