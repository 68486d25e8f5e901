//! An in-memory, fault-free network of processors with zero delay, for unit tests, the
//! benchmarks and the fuzz targets. Packets are delivered in the order they were sent; time
//! moves only when nothing is in flight, straight to the earliest deadline.

use std::collections::VecDeque;
use std::time::Duration;

use ais_types::{Instant, NodeId};
use bytes::Bytes;

use crate::{ConfigChange, Delivery, Dest, Output, Persisted, Totem, TotemConfig};

/// A cluster of `n` processors, ids `1..=n`.
pub struct Cluster {
    /// The processors, id `i + 1` at index `i`.
    pub nodes: Vec<Totem>,
    /// Virtual time.
    pub now: Instant,
    queue: VecDeque<(usize, Bytes)>,
    /// Deliveries per node (kept only if `keep` is set).
    pub delivered: Vec<Vec<Delivery>>,
    /// Messages delivered per node.
    pub delivered_count: Vec<u64>,
    /// Configuration changes per node.
    pub configs: Vec<Vec<ConfigChange>>,
    /// Keep every delivery (tests) or only count them (benchmarks).
    pub keep: bool,
    /// Processors that are running.
    pub up: Vec<bool>,
    /// Links that drop everything: `cut[from][to]`.
    pub cut: Vec<Vec<bool>>,
    /// The last token sent, and to whom (index).
    pub last_token: Option<(usize, Bytes)>,
}

impl Cluster {
    /// `n` processors with corosync's defaults, adjusted by `tweak`, booted at time zero.
    pub fn new(n: usize, tweak: impl Fn(&mut TotemConfig)) -> Self {
        let now = Instant(1_000_000_000);
        let nodes = (1..=n as u32)
            .map(|id| {
                let mut c = TotemConfig::new(NodeId(id), n);
                tweak(&mut c);
                Totem::new(c, Persisted::default(), now)
            })
            .collect();
        let mut c = Self {
            nodes,
            now,
            queue: VecDeque::new(),
            delivered: vec![Vec::new(); n],
            delivered_count: vec![0; n],
            configs: vec![Vec::new(); n],
            keep: true,
            up: vec![true; n],
            cut: vec![vec![false; n]; n],
            last_token: None,
        };
        for i in 0..n {
            c.drain(i);
        }
        c
    }

    /// Carries out node `i`'s outputs.
    pub fn drain(&mut self, i: usize) {
        while let Some(o) = self.nodes[i].poll_output() {
            match o {
                Output::Transmit {
                    to: Dest::Ring,
                    packet,
                } => {
                    for j in 0..self.nodes.len() {
                        if j != i {
                            self.queue.push_back((j + (i << 16), packet.clone()));
                        }
                    }
                }
                Output::Transmit {
                    to: Dest::Node(id),
                    packet,
                } => {
                    if packet.get(3) == Some(&0) {
                        self.last_token = Some((id.0 as usize - 1, packet.clone()));
                    }
                    self.queue
                        .push_back((id.0 as usize - 1 + (i << 16), packet));
                }
                Output::Deliver(d) => {
                    self.delivered_count[i] += 1;
                    if self.keep {
                        self.delivered[i].push(d);
                    }
                }
                Output::Configuration(c) => self.configs[i].push(c),
                Output::Persist(_) => {}
            }
        }
    }

    /// One step: a packet, or else the earliest timer. False when nothing is left to do.
    pub fn step(&mut self) -> bool {
        if let Some((tagged, packet)) = self.queue.pop_front() {
            let (to, from) = (tagged & 0xffff, tagged >> 16);
            // Packets already sent still arrive after their sender crashed.
            if self.up[to] && !self.cut[from][to] {
                self.nodes[to].handle_packet(self.now, packet);
                self.drain(to);
            }
            return true;
        }
        let next = (0..self.nodes.len())
            .filter(|i| self.up[*i])
            .filter_map(|i| self.nodes[i].poll_timeout().map(|t| (t, i)))
            .min();
        let Some((at, i)) = next else { return false };
        self.now = self.now.max(at);
        self.nodes[i].handle_timeout(self.now);
        self.drain(i);
        true
    }

    /// Steps until `done` holds or `limit` of virtual time passed; returns whether it held.
    pub fn run_until(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while !done(self) {
            if self.now > end || !self.step() {
                return done(self);
            }
        }
        true
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end && self.step() {}
    }

    /// Every running processor is operational in one ring of exactly the running ones.
    pub fn formed(&self) -> bool {
        let want: Vec<NodeId> = (0..self.nodes.len())
            .filter(|i| self.up[*i])
            .map(|i| NodeId(i as u32 + 1))
            .collect();
        let ring = want.first().map(|n| self.nodes[n.0 as usize - 1].ring_id());
        want.iter().all(|n| {
            let t = &self.nodes[n.0 as usize - 1];
            t.is_operational() && t.members() == want.as_slice() && Some(t.ring_id()) == ring
        })
    }

    /// Stops processor `i`: it neither sends nor receives any more.
    #[allow(clippy::missing_panics_doc)]
    pub fn crash(&mut self, i: usize) {
        self.up[i] = false;
    }
}

/// Fuzz body (`totem_decode`): decoding arbitrary bytes never panics, and whatever decodes
/// re-encodes to a packet that decodes the same.
pub fn fuzz_decode(data: &[u8]) {
    if let Ok((from, p)) = ais_wire::Packet::decode(Bytes::copy_from_slice(data)) {
        let again = ais_wire::Packet::decode(p.encode(from)).expect("a re-encoded packet decodes");
        assert_eq!(again, (from, p));
    }
}

/// Fuzz body (`totem_node`): one processor of a 4-node configuration takes a sequence of
/// packets built from the input (tokens, frames, Joins, commit tokens for rings near its
/// own, raw bytes) and time steps, and never panics or breaks an assertion.
pub fn fuzz_node(data: &[u8]) {
    use ais_types::RingId;
    use ais_wire::{Chunk, CommitEntry, CommitToken, Join, Mcast, McastPayload, Packet, Token};

    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let mut t = Totem::new(
        TotemConfig::new(NodeId(2), 4),
        Persisted::default(),
        Instant(1),
    );
    let mut now = Instant(1);
    let set = |b: u8| -> Vec<NodeId> {
        (1..=4)
            .filter(|i| b & (1 << (i - 1)) != 0)
            .map(NodeId)
            .collect()
    };
    while let Some(op) = next() {
        let a = next().unwrap_or(0);
        let b = next().unwrap_or(0);
        let ring = if a & 0x80 == 0 {
            t.ring_id()
        } else {
            RingId::new(NodeId(u32::from(a % 4) + 1), u64::from(b))
        };
        let from = NodeId(u32::from(b % 4) + 1);
        let packet = match op % 7 {
            0 => Packet::Token(Token {
                ring_id: ring,
                token_seq: u64::from(a),
                seq: u64::from(b),
                aru: u64::from(a.min(b)),
                aru_addr: if a & 1 == 0 { None } else { Some(from) },
                fcc: u32::from(a),
                backlog: u32::from(b),
                retrans_flg: a & 2 != 0,
                rtr: (0..u64::from(a % 4)).map(|i| i + u64::from(b)).collect(),
            }),
            1 => Packet::Mcast(Mcast {
                ring_id: ring,
                seq: u64::from(b).max(1),
                origin: from,
                payload: McastPayload::Regular(vec![Chunk {
                    order: if a & 1 == 0 {
                        ais_wire::Order::Agreed
                    } else {
                        ais_wire::Order::Safe
                    },
                    frag: None,
                    data: Bytes::from(vec![a; usize::from(b % 16)]),
                }]),
            }),
            2 => Packet::Join(Join {
                ring_seq: u64::from(b),
                leave: a & 0x40 != 0,
                proc_list: set(a),
                fail_list: set(b & !a),
            }),
            3 => {
                let mut members = set(a | 0x02);
                members.dedup();
                let k = usize::from(b) % (members.len() + 1);
                Packet::Commit(CommitToken {
                    ring_id: RingId::new(members[0], u64::from(b) + 4),
                    token_seq: u64::from(a),
                    entries: (0..k)
                        .map(|_| CommitEntry {
                            old_ring: ring,
                            aru: 0,
                            high_seq: 0,
                            high_delivered: 0,
                        })
                        .collect(),
                    members,
                })
            }
            4 => {
                now = now + Duration::from_millis(u64::from(a) * 20);
                t.handle_timeout(now);
                while t.poll_output().is_some() {}
                continue;
            }
            5 => {
                let _ = t.submit(
                    now,
                    Bytes::from(vec![b; usize::from(a) * 8]),
                    crate::Order::Safe,
                );
                while t.poll_output().is_some() {}
                continue;
            }
            _ => {
                let raw: Vec<u8> = (0..a % 32).map(|_| next().unwrap_or(0)).collect();
                t.handle_packet(now, Bytes::from(raw));
                while t.poll_output().is_some() {}
                continue;
            }
        };
        t.handle_packet(now, packet.encode(from));
        while t.poll_output().is_some() {}
    }
}
