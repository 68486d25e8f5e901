//! **No creation.** "Each message delivered was sent by some processor" and is delivered as
//! it was sent (TOCS95 §4, Reliable Delivery; EVS "a message is delivered only if it was
//! broadcast"). The payload also proves its own integrity: its filler bytes are a function
//! of its identity.

use super::{Check, ClusterView, Delivered, History, Invariant, fail};
use crate::workload::decode_any;

pub(crate) struct NoCreation;

impl Invariant for NoCreation {
    fn on_delivery(&mut self, h: &History, e: &Delivered<'_>, _v: &dyn ClusterView) -> Check {
        let Some((_, order)) = decode_any(&e.delivery.payload) else {
            return fail(
                "no_creation",
                format!("{} delivered corrupt {:?}", e.life, e.key),
            );
        };
        match h.submitted.get(&e.key) {
            None => fail(
                "no_creation",
                format!("{} delivered {:?}, never submitted", e.life, e.key),
            ),
            Some((len, sent_order)) if *len != e.delivery.payload.len() || *sent_order != order => {
                fail(
                    "no_creation",
                    format!("{} delivered {:?} altered", e.life, e.key),
                )
            }
            Some(_) if e.delivery.origin != e.key.origin => fail(
                "no_creation",
                format!(
                    "{} delivered {:?} attributed to n{}",
                    e.life, e.key, e.delivery.origin
                ),
            ),
            Some(_) => Ok(()),
        }
    }
}
