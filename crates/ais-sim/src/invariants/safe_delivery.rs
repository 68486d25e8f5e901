//! **Safe delivery.** "A processor delivers a message in safe order ... only when it knows
//! that every processor in the configuration has received the message" and "will deliver it
//! unless it fails" (TOCS95 §4, Safe Delivery). At the moment a life delivers a safe message
//! in configuration C, every running member of C that installed C (the old ring, for a
//! transitional configuration) has delivered the message or holds its frame.

use ais_totem::Order;

use super::{Check, ClusterView, Config, Delivered, History, Invariant, fail};

pub(crate) struct SafeDelivery;

impl Invariant for SafeDelivery {
    fn on_delivery(&mut self, h: &History, e: &Delivered<'_>, v: &dyn ClusterView) -> Check {
        if e.delivery.order != Order::Safe {
            return Ok(());
        }
        let ring_installed = match e.config {
            Config::Regular { ring, .. } => *ring,
            Config::Transitional { old, .. } => *old,
        };
        for m in e.config.members() {
            if *m == e.life.node {
                continue;
            }
            let Some((_, mh)) = h.running(*m) else {
                continue;
            };
            if !mh.installed(ring_installed) || mh.delivered.contains_key(&e.key) {
                continue;
            }
            if v.holds(*m, e.delivery.ring_id, e.delivery.seq) == Some(false) {
                return fail(
                    "safe_delivery",
                    format!(
                        "{} delivered safe {:?} ({}:{}) while member n{m} did not hold it",
                        e.life, e.key, e.delivery.ring_id, e.delivery.seq
                    ),
                );
            }
        }
        Ok(())
    }
}
