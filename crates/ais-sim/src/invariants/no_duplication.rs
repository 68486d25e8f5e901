//! **No duplication.** "Each message is delivered at most once" by a processor (TOCS95 §4,
//! Reliable Delivery: "a processor delivers a message at most once").

use super::{Check, ClusterView, Delivered, History, Invariant, fail};

pub(crate) struct NoDuplication;

impl Invariant for NoDuplication {
    fn on_delivery(&mut self, h: &History, e: &Delivered<'_>, _v: &dyn ClusterView) -> Check {
        match h.lives[&e.life].delivered.get(&e.key) {
            Some(ring) => fail(
                "no_duplication",
                format!(
                    "{} delivered {:?} twice (first on ring {ring})",
                    e.life, e.key
                ),
            ),
            None => Ok(()),
        }
    }
}
