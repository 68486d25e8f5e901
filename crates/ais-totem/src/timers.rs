//! The processor's timers: one optional deadline per kind, as quinn's `TimerTable`.

use ais_types::Instant;

/// Timer kinds, with corosync's names so operators recognise them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Token loss: no token within the token timeout.
    Token,
    /// Resend the last token (or commit token) to the successor.
    TokenRetransmit,
    /// The idle representative releases the held token.
    TokenHoldRetransmit,
    /// Re-broadcast the Join while gathering (also checks `fail_fast`).
    Join,
    /// Give up waiting for agreement and fail the silent processors.
    Consensus,
    /// The idle representative announces its ring.
    MergeDetect,
}

impl Timer {
    /// Number of kinds.
    pub const COUNT: usize = 6;
    const ALL: [Self; Self::COUNT] = [
        Self::Token,
        Self::TokenRetransmit,
        Self::TokenHoldRetransmit,
        Self::Join,
        Self::Consensus,
        Self::MergeDetect,
    ];
}

#[derive(Clone, Debug, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; Timer::COUNT];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Removes and returns the earliest timer due at `now`; ties go to the lower kind.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (timer, _) = Timer::ALL
            .iter()
            .filter_map(|t| self.get(*t).filter(|at| *at <= now).map(|at| (*t, at)))
            .min_by_key(|(t, at)| (*at, *t))?;
        self.stop(timer);
        Some(timer)
    }
}
