//! The daemon's only clock reads. Everything below the event loop takes `now` as an input.

#![allow(clippy::disallowed_methods)] // This module is the one place allowed to read clocks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ais_types::Instant;

/// Monotonic time since the daemon started, as the protocol's [`Instant`].
pub(crate) struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        let nanos = self.origin.elapsed().as_nanos();
        Instant(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Wall-clock nanoseconds since 1970, for the transport's boot epoch only (it must rise
/// across restarts; the state directory keeps it rising if the wall clock steps back).
pub(crate) fn unix_nanos() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}
