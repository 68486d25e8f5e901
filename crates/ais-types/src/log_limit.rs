//! Warnings at a limited rate: what a flood of bad input must not turn into a flood of log
//! lines (and of synchronous writes in the daemon's loop).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::Instant;

/// Lets the first warning of each kind through at once, then at most one per `interval`,
/// counting those held back so the next line that goes out can say how many there were.
#[derive(Clone, Debug)]
pub struct LogLimit<K> {
    interval: Duration,
    /// Per kind: when one was last let through, and how many were held back since.
    kinds: BTreeMap<K, (Instant, u64)>,
}

impl<K: Ord + Copy> LogLimit<K> {
    /// At most one line per `interval` for each kind.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            kinds: BTreeMap::new(),
        }
    }

    /// `Some(held back since the last one)` if a warning of `kind` may be logged now;
    /// `None` if it is to be held back (and counted).
    pub fn allow(&mut self, now: Instant, kind: K) -> Option<u64> {
        match self.kinds.get_mut(&kind) {
            Some((last, held)) if now.saturating_duration_since(*last) < self.interval => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                *last = now;
                Some(std::mem::take(held))
            }
            None => {
                self.kinds.insert(kind, (now, 0));
                Some(0)
            }
        }
    }

    /// The kinds whose held-back warnings have waited a whole interval, with their counts,
    /// to be reported now (each is reset).
    pub fn overdue(&mut self, now: Instant) -> Vec<(K, u64)> {
        let mut due = Vec::new();
        for (kind, (last, held)) in &mut self.kinds {
            if *held > 0 && now.saturating_duration_since(*last) >= self.interval {
                due.push((*kind, std::mem::take(held)));
                *last = now;
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_and_kind_with_the_count_held_back() {
        let mut limit = LogLimit::new(Duration::from_secs(10));
        let t0 = Instant::ZERO;
        assert_eq!(limit.allow(t0, 'a'), Some(0));
        assert_eq!(limit.allow(t0, 'b'), Some(0));
        for _ in 0..5 {
            assert_eq!(limit.allow(t0 + Duration::from_secs(1), 'a'), None);
        }
        assert!(limit.overdue(t0 + Duration::from_secs(9)).is_empty());
        assert_eq!(limit.allow(t0 + Duration::from_secs(10), 'a'), Some(5));
        assert_eq!(limit.allow(t0 + Duration::from_secs(11), 'a'), None);
        assert_eq!(limit.overdue(t0 + Duration::from_secs(20)), vec![('a', 1)]);
        assert!(limit.overdue(t0 + Duration::from_secs(40)).is_empty());
    }
}
