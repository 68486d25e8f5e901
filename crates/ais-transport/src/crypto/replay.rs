//! The sliding replay window of one sender's epoch (RFC 6479, as in IPsec and WireGuard).
//!
//! Invariant: a counter is accepted at most once, and only while it is newer than the highest
//! accepted counter or within [`WINDOW`] below it. Memory is fixed: one `u64` and a
//! [`WINDOW`]-bit ring of flags, where counter `c` owns bit `c % WINDOW`.

/// Counters remembered below the highest one accepted: enough for the reordering of
/// redundant links and a busy token rotation.
/// 8192 counters: one counter space covers every packet kind and link, so a standby link
/// that lags the busy one by a burst of frames must still fit (1 KiB per sender).
pub(super) const WINDOW: u64 = 8192;
const WORDS: usize = (WINDOW / 64) as usize;

#[derive(Debug, Clone)]
pub(super) struct ReplayWindow {
    /// The highest counter accepted; `None` before the first.
    highest: Option<u64>,
    /// Bit `c % WINDOW` is set once counter `c` (within the window) was accepted.
    seen: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self {
            highest: None,
            seen: [0; WORDS],
        }
    }
}

impl ReplayWindow {
    /// A window that has seen every counter up to `counter`: only later ones are fresh.
    pub(super) fn seen_through(counter: u64) -> Self {
        Self {
            highest: Some(counter),
            seen: [u64::MAX; WORDS],
        }
    }

    /// Whether `counter` would be accepted. Changes nothing: the tag is not yet checked.
    pub(super) fn is_fresh(&self, counter: u64) -> bool {
        match self.highest {
            None => true,
            Some(highest) if counter > highest => true,
            Some(highest) if highest - counter >= WINDOW => false,
            Some(_) => !self.bit(counter),
        }
    }

    /// Records `counter`, which [`Self::is_fresh`] accepted and whose packet authenticated.
    pub(super) fn accept(&mut self, counter: u64) {
        assert!(
            self.is_fresh(counter),
            "accepting a replayed counter {counter}"
        );
        match self.highest {
            Some(highest) if counter <= highest => {}
            // Sliding forward: the slots of counters highest+1..=counter last held counters
            // now below the window; clear them.
            Some(highest) if counter - highest < WINDOW => {
                for c in highest + 1..=counter {
                    self.seen[slot(c).0] &= !slot(c).1;
                }
                self.highest = Some(counter);
            }
            _ => {
                self.seen = [0; WORDS];
                self.highest = Some(counter);
            }
        }
        let (word, mask) = slot(counter);
        self.seen[word] |= mask;
    }

    fn bit(&self, counter: u64) -> bool {
        let (word, mask) = slot(counter);
        self.seen[word] & mask != 0
    }
}

/// The word and bit mask of `counter`'s flag.
fn slot(counter: u64) -> (usize, u64) {
    let bit = counter % WINDOW;
    ((bit / 64) as usize, 1 << (bit % 64))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn in_order_then_duplicate() {
        let mut w = ReplayWindow::default();
        for c in 0..3000 {
            assert!(w.is_fresh(c));
            w.accept(c);
            assert!(!w.is_fresh(c));
        }
    }

    #[test]
    fn edge_of_the_window() {
        let mut w = ReplayWindow::default();
        w.accept(50_000);
        assert!(
            w.is_fresh(50_000 - (WINDOW - 1)),
            "last counter inside the window"
        );
        assert!(
            !w.is_fresh(50_000 - WINDOW),
            "first counter below the window"
        );
        assert!(w.is_fresh(u64::MAX), "the top counter does not overflow");
        w.accept(u64::MAX);
        assert!(!w.is_fresh(u64::MAX));
        assert!(!w.is_fresh(50_000));
    }

    /// The model: a counter is fresh iff never accepted and not `WINDOW` or more below the
    /// highest accepted.
    fn model_fresh(seen: &BTreeSet<u64>, c: u64) -> bool {
        let too_old = seen.last().is_some_and(|&h| h >= c && h - c >= WINDOW);
        !seen.contains(&c) && !too_old
    }

    proptest! {
        #[test]
        fn matches_model(steps in prop::collection::vec((0u64..4, 0u64..30_000), 1..400)) {
            let mut w = ReplayWindow::default();
            let mut seen = BTreeSet::new();
            let mut base = 0u64;
            for (jump, offset) in steps {
                // Mostly small reorderings near the front, sometimes a big jump.
                base += if jump == 0 { 25_000 } else { 3 };
                let c = base.saturating_sub(offset);
                prop_assert_eq!(w.is_fresh(c), model_fresh(&seen, c), "counter {}", c);
                if w.is_fresh(c) {
                    w.accept(c);
                    seen.insert(c);
                }
            }
        }
    }
}
