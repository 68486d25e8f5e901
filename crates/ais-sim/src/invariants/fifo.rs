//! **FIFO per sender.** Causal order includes "m1 precedes m2 if the same processor broadcast
//! m1 before m2" (TOCS95 §4, Causal Delivery): no life delivers a sender's messages out of
//! their submission order.

use std::collections::BTreeMap;

use super::{Check, ClusterView, Delivered, History, Invariant, Life, fail};

#[derive(Default)]
pub(crate) struct Fifo {
    last: BTreeMap<(Life, Life), u64>,
}

impl Invariant for Fifo {
    fn on_delivery(&mut self, _h: &History, e: &Delivered<'_>, _v: &dyn ClusterView) -> Check {
        let sender = Life {
            node: e.key.origin,
            inc: e.key.inc,
        };
        if let Some(prev) = self.last.insert((e.life, sender), e.key.counter)
            && prev >= e.key.counter
        {
            return fail(
                "fifo",
                format!(
                    "{} delivered {sender}'s #{} after #{prev}",
                    e.life, e.key.counter
                ),
            );
        }
        Ok(())
    }
}
