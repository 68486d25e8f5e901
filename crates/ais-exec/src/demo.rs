//! Demonstration traffic (`--demo-messages MS`), used by the local cluster until client
//! IPC exists: every node multicasts a small numbered agreed message every `MS` and checks
//! what the ring delivers — per sender FIFO without gaps within a configuration — and logs a
//! summary every few seconds.

use std::collections::BTreeMap;
use std::time::Duration;

use ais_totem::{Delivery, Order, Totem};
use ais_types::Instant;
use bytes::Bytes;

/// How often deliveries are summarised in the log.
const REPORT_INTERVAL: Duration = Duration::from_secs(3);

pub(crate) struct Demo {
    interval: Duration,
    next_send: Instant,
    sent: u64,
    /// Per origin: the last counter delivered from it.
    last: BTreeMap<u32, u64>,
    delivered_since_report: u64,
    out_of_order: u64,
    next_report: Instant,
}

impl Demo {
    pub(crate) fn new(interval: Duration, now: Instant) -> Self {
        Self {
            interval,
            next_send: now + interval,
            sent: 0,
            last: BTreeMap::new(),
            delivered_since_report: 0,
            out_of_order: 0,
            next_report: now + REPORT_INTERVAL,
        }
    }

    pub(crate) fn next_send(&self) -> Instant {
        self.next_send.min(self.next_report)
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, totem: &mut Totem) {
        if now >= self.next_send {
            self.next_send = now + self.interval;
            let payload = format!("demo {} {}", totem.node_id().0, self.sent + 1);
            // Only a one-node ring or a busy one refuses; the next tick tries again.
            if totem
                .submit(now, Bytes::from(payload), Order::Agreed)
                .is_ok()
            {
                self.sent += 1;
            }
        }
        if now >= self.next_report {
            self.next_report = now + REPORT_INTERVAL;
            let latest: Vec<String> = self
                .last
                .iter()
                .map(|(node, n)| format!("{node}:#{n}"))
                .collect();
            tracing::info!(
                "demo: delivered {} messages in agreed order in the last {} s (latest per sender {}){}",
                self.delivered_since_report,
                REPORT_INTERVAL.as_secs(),
                latest.join(" "),
                if self.out_of_order > 0 {
                    format!("; {} FIFO VIOLATIONS", self.out_of_order)
                } else {
                    String::new()
                }
            );
            self.delivered_since_report = 0;
        }
    }

    pub(crate) fn on_deliver(&mut self, _now: Instant, delivery: &Delivery) {
        let Some((origin, counter)) = parse(&delivery.payload) else {
            return;
        };
        self.delivered_since_report += 1;
        // A sender's counters rise by one, except across its restarts (back to 1) and
        // messages lost with a sender that failed mid-send.
        if let Some(&prev) = self.last.get(&origin)
            && counter <= prev
            && counter != 1
        {
            self.out_of_order += 1;
            tracing::error!(origin, prev, counter, "demo message delivered out of order");
        }
        self.last.insert(origin, counter);
    }
}

fn parse(payload: &[u8]) -> Option<(u32, u64)> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut words = text.strip_prefix("demo ")?.split(' ');
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}
