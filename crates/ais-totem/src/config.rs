//! Totem timers and constants, with corosync's names and defaults (`man corosync.conf`,
//! `exec/totemconfig.c`).

use std::time::Duration;

use ais_types::NodeId;

/// Timers and limits of one Totem processor. Build it with [`TotemConfig::new`], which fills
/// in corosync's defaults for a ring of `node_count` configured nodes, then adjust fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotemConfig {
    /// This processor.
    pub node_id: NodeId,
    /// `token`: token-loss timeout, before `token_coefficient` is added.
    pub token: Duration,
    /// `token_coefficient`: added to `token` for each configured node above two.
    pub token_coefficient: Duration,
    /// Number of configured nodes, for the effective token timeout.
    pub node_count: usize,
    /// `token_retransmits_before_loss_const`.
    pub token_retransmits_before_loss_const: u32,
    /// `token_retransmit`: resend the token to the successor when nothing was heard.
    pub token_retransmit: Duration,
    /// `hold`: how long an idle representative holds the token.
    pub hold: Duration,
    /// `join`: interval between Join re-broadcasts while gathering.
    pub join: Duration,
    /// `send_join`: upper bound of a random delay before each Join (0 = none).
    pub send_join: Duration,
    /// `consensus`: how long to wait for every processor's agreement before failing the
    /// silent ones.
    pub consensus: Duration,
    /// `merge`: interval of merge-detect probes from an idle representative.
    pub merge: Duration,
    /// `downcheck`: kept for configuration compatibility; interfaces are the shell's concern.
    pub downcheck: Duration,
    /// `fail_recv_const`: rotations with a stuck aru before a processor ejects itself.
    pub fail_recv_const: u32,
    /// `seqno_unchanged_const`: idle rotations before the representative holds the token.
    pub seqno_unchanged_const: u32,
    /// `miss_count_const`: token visits a frame must be missing before it is requested.
    pub miss_count_const: u32,
    /// `window_size`: frames (new and retransmitted) per rotation, ring-wide.
    pub window_size: u32,
    /// `max_messages`: frames one processor may send per token visit.
    pub max_messages: u32,
    /// `netmtu`: the largest Totem packet handed to the transport.
    pub netmtu: usize,
    /// Our extension: while gathering, a processor silent for this long since the gather
    /// began is failed without waiting for `consensus`. Zero (the default) keeps corosync's
    /// behaviour: under bursty loss, failing fast splits live processors off far more often.
    pub fail_fast: Duration,
    /// Bytes of unsent application messages before `submit` answers `Backlog`.
    pub max_send_queue_bytes: usize,
    /// Seeds the processor's random choices (Join jitter). The daemon seeds it from the OS.
    pub rng_seed: u64,
    /// A deliberate protocol bug, for the simulator's vacuity test.
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<crate::PlantedBug>,
}

impl TotemConfig {
    /// Corosync's defaults for a ring of `node_count` configured nodes.
    pub fn new(node_id: NodeId, node_count: usize) -> Self {
        let token = Duration::from_millis(3000);
        let mut c = Self {
            node_id,
            token,
            token_coefficient: Duration::from_millis(650),
            node_count,
            token_retransmits_before_loss_const: 4,
            token_retransmit: Duration::ZERO,
            hold: Duration::ZERO,
            join: Duration::from_millis(50),
            send_join: Duration::ZERO,
            consensus: Duration::ZERO,
            merge: Duration::from_millis(200),
            downcheck: Duration::from_millis(1000),
            fail_recv_const: 2500,
            seqno_unchanged_const: 30,
            miss_count_const: 5,
            window_size: 50,
            max_messages: 17,
            netmtu: 1500,
            fail_fast: Duration::ZERO,
            max_send_queue_bytes: 16 * 1024 * 1024,
            rng_seed: u64::from(node_id.0),
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        };
        c.derive_from_token(token);
        c
    }

    /// Sets `token` and recomputes the timers corosync derives from it:
    /// `token_retransmit = token / (retransmits + 0.2)`, `hold = 0.8 × token_retransmit − 10
    /// ms`, `consensus = 1.2 × effective token`.
    pub fn derive_from_token(&mut self, token: Duration) {
        self.token = token;
        let effective = self.token_timeout();
        let divisor = f64::from(self.token_retransmits_before_loss_const) + 0.2;
        self.token_retransmit = effective.div_f64(divisor);
        self.hold = self
            .token_retransmit
            .mul_f64(0.8)
            .saturating_sub(Duration::from_millis(10))
            .max(Duration::from_millis(1));
        self.consensus = effective.mul_f64(1.2);
    }

    /// Checks the settings the protocol relies on: nonzero timers ordered as corosync
    /// requires, a window the sort queue can hold, and room for at least one message chunk.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError::Invalid;
        let ms1 = Duration::from_millis(1);
        if self.token < ms1 || self.token_retransmit < ms1 || self.hold < ms1 {
            return Err(Invalid(
                "token, token_retransmit and hold must be at least 1 ms",
            ));
        }
        if self.join < ms1 || self.merge < ms1 {
            return Err(Invalid("join and merge must be at least 1 ms"));
        }
        if self.consensus < self.join {
            return Err(Invalid("consensus must be at least join"));
        }
        if self.window_size == 0 || self.window_size > 8192 || self.max_messages == 0 {
            return Err(Invalid(
                "window_size must be 1..=8192 and max_messages at least 1",
            ));
        }
        if self.netmtu < 256 {
            return Err(Invalid("netmtu must be at least 256 bytes"));
        }
        if self.miss_count_const == 0 {
            return Err(Invalid("miss_count_const must be at least 1"));
        }
        Ok(())
    }

    /// The effective token-loss timeout: `token + (node_count − 2) × token_coefficient`.
    pub fn token_timeout(&self) -> Duration {
        let extra = self.node_count.saturating_sub(2) as u32;
        self.token + self.token_coefficient * extra
    }
}

/// A setting the protocol cannot run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Which rule was broken.
    #[error("invalid Totem configuration: {0}")]
    Invalid(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_do_not() {
        assert_eq!(TotemConfig::new(NodeId(1), 5).validate(), Ok(()));
        let mut c = TotemConfig::new(NodeId(1), 5);
        c.join = Duration::ZERO;
        assert!(c.validate().is_err());
        let mut c = TotemConfig::new(NodeId(1), 5);
        c.window_size = 20_000;
        assert!(c.validate().is_err());
    }

    #[test]
    fn defaults_match_corosync() {
        let c = TotemConfig::new(NodeId(1), 2);
        assert_eq!(c.token_timeout(), Duration::from_millis(3000));
        assert_eq!(c.token_retransmit.as_millis(), 714);
        assert_eq!(c.hold.as_millis(), 561);
        assert_eq!(c.consensus, Duration::from_millis(3600));
        assert_eq!(
            (c.window_size, c.max_messages, c.join.as_millis()),
            (50, 17, 50)
        );
    }

    #[test]
    fn token_grows_with_the_nodelist() {
        let c = TotemConfig::new(NodeId(1), 16);
        assert_eq!(c.token_timeout(), Duration::from_millis(12_100));
        assert_eq!(c.consensus, Duration::from_millis(14_520));
    }
}
