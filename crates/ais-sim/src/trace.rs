//! The per-event trace: one line per node event (time, node, state, ring, aru/high/delivered;
//! `!` crash, `^` restart, `~` pause, `=` configuration), and a hash of every event so two
//! runs of one seed can be compared (FoundationDB's determinism check).

use std::fmt;

use ais_totem::{ConfigChange, Delivery};
use ais_types::Instant;
use bytes::Bytes;

use crate::invariants::Life;
use crate::world::{SimNode, describe};

/// Trace output and hash.
#[derive(Debug, Clone)]
pub struct Trace {
    print: bool,
    hash: u64,
    events: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Trace {
    /// A trace that prints each line when `print` is set.
    pub fn new(print: bool) -> Self {
        Self {
            print,
            hash: FNV_OFFSET,
            events: 0,
        }
    }

    /// The hash of everything traced so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Events traced.
    pub fn events(&self) -> u64 {
        self.events
    }

    fn mix(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.hash ^= u64::from(*b);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
    }

    fn mix_u64(&mut self, v: u64) {
        self.mix(&v.to_le_bytes());
    }

    /// A line not tied to one node's protocol state.
    pub fn line(&mut self, now: Instant, life: Option<Life>, what: fmt::Arguments<'_>) {
        self.events += 1;
        self.mix_u64(now.0);
        self.mix_u64(life.map_or(0, |l| u64::from(l.node.0) << 32 | u64::from(l.inc)));
        if self.print {
            let who = life.map_or_else(|| "--".to_string(), |l| l.to_string());
            println!("{now:>14} {who:<6} {what}");
        }
    }

    /// An event at a node, with the node's state columns.
    pub fn event(&mut self, now: Instant, node: &SimNode, what: fmt::Arguments<'_>) {
        self.events += 1;
        self.mix_u64(now.0);
        self.mix_u64(u64::from(node.id.0));
        if self.print {
            println!(
                "{now:>14} {:<6} {} {what}",
                Life {
                    node: node.id,
                    inc: node.inc
                },
                columns(node)
            );
        }
    }

    /// A packet arriving at a node.
    pub fn packet(&mut self, now: Instant, node: &SimNode, from: usize, packet: &Bytes) {
        self.events += 1;
        self.mix_u64(now.0);
        self.mix_u64(u64::from(node.id.0));
        self.mix(&packet[..packet.len().min(32)]);
        self.mix_u64(packet.len() as u64);
        if self.print {
            let kind = match packet.get(3) {
                Some(0) => "token",
                Some(1) => "mcast",
                Some(2) => "merge-detect",
                Some(3) => "join",
                Some(4) => "commit",
                Some(5) => "hold-cancel",
                _ => "garbage",
            };
            let detail = match ais_wire::Packet::decode(packet.clone()) {
                Ok((_, ais_wire::Packet::Join(j))) => format!(
                    " seq {} proc {:?} fail {:?}{}",
                    j.ring_seq,
                    j.proc_list.iter().map(|n| n.0).collect::<Vec<_>>(),
                    j.fail_list.iter().map(|n| n.0).collect::<Vec<_>>(),
                    if j.leave { " LEAVE" } else { "" }
                ),
                Ok((_, ais_wire::Packet::Token(t))) => {
                    format!(
                        " {} seq {} aru {} rtr {}",
                        t.ring_id,
                        t.seq,
                        t.aru,
                        t.rtr.len()
                    )
                }
                Ok((_, ais_wire::Packet::Mcast(m))) => format!(" {}:{}", m.ring_id, m.seq),
                Ok((_, ais_wire::Packet::Commit(c))) => {
                    format!(" {} {}/{}", c.ring_id, c.entries.len(), c.members.len())
                }
                _ => String::new(),
            };
            println!(
                "{now:>14} {:<6} {} <- n{} {kind} ({} B){detail}",
                Life {
                    node: node.id,
                    inc: node.inc
                },
                columns(node),
                from + 1,
                packet.len()
            );
        }
    }

    /// A delivery.
    pub fn delivery(&mut self, now: Instant, life: Life, d: &Delivery) {
        self.events += 1;
        self.mix_u64(now.0);
        self.mix_u64(u64::from(life.node.0));
        self.mix_u64(d.seq);
        self.mix_u64(u64::from(d.index));
        self.mix_u64(d.payload.len() as u64);
        if self.print {
            let key = crate::workload::decode_any(&d.payload).map_or_else(
                || "?".to_string(),
                |(k, _)| format!("n{}#{}/{}", k.origin, k.inc, k.counter),
            );
            println!(
                "{now:>14} {life:<6} deliver {:?} {key} at {}:{}:{} ({} B)",
                d.order,
                d.ring_id,
                d.seq,
                d.index,
                d.payload.len()
            );
        }
    }

    /// A configuration change.
    pub fn configuration(&mut self, now: Instant, life: Life, c: &ConfigChange) {
        let text = describe(c);
        self.line(now, Some(life), format_args!("{text}"));
        self.mix(text.as_bytes());
    }
}

fn columns(node: &SimNode) -> String {
    match &node.totem {
        None => "DOWN".to_string(),
        Some(t) => {
            let (aru, high, delivered) = t.ordering();
            format!(
                "{} {} {aru}/{high}/{delivered}",
                t.state_name(),
                t.ring_id()
            )
        }
    }
}
