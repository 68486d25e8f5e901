//! **Self-delivery.** "A processor delivers its own messages ... or fails before installing a
//! new regular configuration" (TOCS95 §4, Reliable Delivery; EVS: "if a processor p
//! broadcasts m in configuration C, p delivers m in C or in the transitional configuration
//! following C, unless p fails"). Checked at the end: any message that some life delivered,
//! ordered on ring R, was also delivered by the life that sent it if that life went on to
//! install a regular configuration after R.

use std::collections::BTreeMap;

use super::{Check, History, Invariant, Life, fail};

pub(crate) struct SelfDelivery;

impl Invariant for SelfDelivery {
    fn at_end(&mut self, h: &History) -> Check {
        let mut all = BTreeMap::new();
        for lh in h.lives.values() {
            all.extend(lh.delivered.iter().map(|(k, r)| (*k, *r)));
        }
        for (key, ring) in all {
            let sender = Life {
                node: key.origin,
                inc: key.inc,
            };
            let Some(sh) = h.lives.get(&sender) else {
                continue;
            };
            let moved_on = sh.regular.iter().any(|(r, _)| r.seq > ring.seq);
            if moved_on && !sh.delivered.contains_key(&key) {
                return fail(
                    "self_delivery",
                    format!(
                        "{sender} never delivered its own {key:?} (ring {ring}) but installed later rings"
                    ),
                );
            }
        }
        Ok(())
    }
}
