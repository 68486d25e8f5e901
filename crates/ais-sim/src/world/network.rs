//! The simulated network: each packet of a node goes to its destinations through the
//! links' faults (independent loss, bursty loss, duplication, delay and spikes, corruption,
//! partitions), arriving as a scheduled event.

use std::time::Duration;

use ais_totem::Dest;
use ais_types::Instant;
use bytes::Bytes;

use super::{Event, World};

impl World {
    /// Whether link `from → to` is in a bad period now, moving its channel on to now.
    pub(super) fn in_burst(
        &mut self,
        from: usize,
        to: usize,
        burst: crate::scenario::Burst,
    ) -> bool {
        loop {
            let (bad, until) = self.bursts[from][to];
            if self.now < until {
                return bad;
            }
            // The first period of a link starts good, from time zero.
            let (state, start) = if until == Instant::ZERO {
                (false, self.now)
            } else {
                (!bad, until)
            };
            let length = self.exp(if state { burst.bad } else { burst.good });
            self.bursts[from][to] = (state, start + length);
        }
    }

    pub(super) fn send(&mut self, from: usize, to: Dest, packet: Bytes) {
        let n = self.nodes.len();
        let targets: Vec<usize> = match to {
            Dest::Ring => (0..n).filter(|j| *j != from).collect(),
            Dest::Node(id) => vec![id.0 as usize - 1],
        };
        let f = self.scenario.faults.clone();
        for j in targets {
            if j == from {
                let at = self.now + Duration::from_micros(5);
                self.schedule(
                    at,
                    Event::Arrive {
                        to: j,
                        from,
                        packet: packet.clone(),
                    },
                );
                continue;
            }
            if self.blocked[from][j] {
                continue;
            }
            let mut copies = 1;
            if self.faults_on {
                if self.rng.chance(f.loss) {
                    continue;
                }
                if let Some(burst) = f.burst
                    && self.in_burst(from, j, burst)
                    && self.rng.chance(burst.loss)
                {
                    continue;
                }
                if self.rng.chance(f.duplicate) {
                    copies = 2;
                }
            }
            for _ in 0..copies {
                let mut delay = self.scenario.base_delay + f.jitter.mul_f64(self.rng.unit());
                let mut p = packet.clone();
                if self.faults_on {
                    if self.rng.chance(f.spike) {
                        delay += f.spike_delay.mul_f64(self.rng.unit());
                    }
                    if self.rng.chance(f.corrupt) {
                        // A damaged datagram: the receiver must reject it, never misread it.
                        let cut = self.rng.range(0, p.len() as u64) as usize;
                        p = p.slice(..cut);
                    }
                }
                let at = self.now + delay;
                self.schedule(
                    at,
                    Event::Arrive {
                        to: j,
                        from,
                        packet: p,
                    },
                );
            }
        }
    }
}
