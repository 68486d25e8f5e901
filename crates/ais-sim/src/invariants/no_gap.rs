//! **No gap per sender.** Reliable delivery in a configuration: Totem delivers a ring's
//! messages in sequence order, a regular configuration's without any gap, and the
//! transitional configuration's skipping a gap only for senders that are not in it, after
//! which none of their messages follow (TOCS95 §4, Reliable Delivery and Delivery of
//! Configuration Changes; §5.3, the recovery algorithm's steps). A sender's messages are
//! sent in submission order, and one begun on a ring but not ordered there is sent whole
//! again on the next. So, keyed by the ring that ordered each message:
//! - **within a ring, consecutive**: the messages of one sender (one life) that a life
//!   delivers from one ring carry consecutive counters, c, c + 1, c + 2, …;
//! - **the same start**: every life that delivers a sender's messages from a ring begins
//!   with the same one, the first that sender had ordered on that ring;
//! - **own messages complete**: a life delivers its own messages 1, 2, 3, … with no gap
//!   across rings, since a sender is always in its own transitional configuration.
//!
//! `fifo` catches a reordering; this catches a message skipped.

use std::collections::BTreeMap;

use ais_types::RingId;

use super::{Check, ClusterView, Delivered, History, Invariant, Life, fail};

#[derive(Default)]
pub(crate) struct NoGap {
    /// (receiver, sender, ring) → the last counter delivered.
    last: BTreeMap<(Life, Life, RingId), u64>,
    /// (sender, ring) → the first counter delivered from it, and by whom.
    first: BTreeMap<(Life, RingId), (u64, Life)>,
    /// A life's own last message delivered.
    own: BTreeMap<Life, u64>,
}

impl Invariant for NoGap {
    fn on_delivery(&mut self, _h: &History, e: &Delivered<'_>, _v: &dyn ClusterView) -> Check {
        let sender = Life {
            node: e.key.origin,
            inc: e.key.inc,
        };
        let (counter, ring) = (e.key.counter, e.delivery.ring_id);
        match self.last.insert((e.life, sender, ring), counter) {
            Some(prev) if counter != prev + 1 => {
                return fail(
                    "no_gap",
                    format!(
                        "{} delivered {sender}'s #{counter} after #{prev} from ring {ring}",
                        e.life
                    ),
                );
            }
            Some(_) => {}
            None => {
                let (start, who) = *self
                    .first
                    .entry((sender, ring))
                    .or_insert((counter, e.life));
                if start != counter {
                    return fail(
                        "no_gap",
                        format!(
                            "{} began {sender}'s messages from ring {ring} at #{counter}, \
                             {who} at #{start}",
                            e.life
                        ),
                    );
                }
            }
        }
        if e.life == sender {
            let prev = self.own.insert(sender, counter).unwrap_or(0);
            if counter != prev + 1 {
                return fail(
                    "no_gap",
                    format!("{sender} delivered its own #{counter} after #{prev}"),
                );
            }
        }
        Ok(())
    }
}
