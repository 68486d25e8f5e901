//! The daemon's one thread: a mio loop that feeds packets, timeouts and signals to the
//! transport and the Totem core, and carries out every output before the next input
//! (STYLE §3). Network first, then timers.

use std::collections::VecDeque;
use std::time::Duration;

use ais_totem::{ConfigChange, Dest, Output, Totem};
use ais_transport::{LinkEvent, Recipient, Transport};
use ais_types::{Instant, NodeId};
use anyhow::Context;
use bytes::Bytes;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};

use crate::clock::Clock;
use crate::demo::Demo;
use crate::state_dir::StateDir;

/// The signal pipe's token; sockets take 0..socket_count.
const SIGNALS: Token = Token(usize::MAX - 1);

/// Everything the loop drives.
pub(crate) struct Daemon {
    pub(crate) totem: Totem,
    pub(crate) transport: Transport,
    pub(crate) state: StateDir,
    pub(crate) clock: Clock,
    /// The effective token timeout: the loop warns when it was not scheduled for a large
    /// fraction of it, a top cause of spurious membership changes.
    pub(crate) token_timeout: Duration,
    pub(crate) demo: Option<Demo>,
}

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// SIGTERM or SIGINT: left the ring gracefully.
    Signal,
}

impl Daemon {
    pub(crate) fn run(mut self) -> anyhow::Result<Exit> {
        let mut poll = Poll::new().context("cannot create the event loop")?;
        self.transport.register(poll.registry(), 0)?;
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGTERM, SIGINT, SIGUSR1])
            .context("cannot install signal handlers")?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let mut events = Events::with_capacity(64);
        let mut loopback: VecDeque<Bytes> = VecDeque::new();
        let mut batch: Vec<Bytes> = Vec::new();
        // Sockets that may hold more datagrams than one batch read.
        let mut unfinished: Vec<usize> = Vec::new();
        // Corosync warns when the main loop was not scheduled for 80 % of the token timeout.
        let stall_threshold = self.token_timeout.mul_f64(0.8);

        let now = self.clock.now();
        self.drain(now, &mut loopback)?;
        loop {
            let before = self.clock.now();
            let deadline = [
                self.totem.poll_timeout(),
                self.transport.poll_timeout(),
                self.demo.as_ref().map(Demo::next_send),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = if unfinished.is_empty() {
                deadline.map(|d| d.saturating_duration_since(before))
            } else {
                Some(Duration::ZERO)
            };
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("event loop poll failed"),
            }
            let now = self.clock.now();
            let expected = deadline.map_or(now, |d| d.max(before));
            let late = now.saturating_duration_since(expected);
            if late > stall_threshold {
                tracing::warn!(
                    "aisexec main process was not scheduled for {:.4} ms (threshold is {:.4} ms). \
                     Consider token timeout increase.",
                    late.as_secs_f64() * 1e3,
                    stall_threshold.as_secs_f64() * 1e3
                );
            }

            let mut ready: Vec<usize> = std::mem::take(&mut unfinished);
            for event in &events {
                if event.token() == SIGNALS {
                    for signal in signals.pending() {
                        match signal {
                            SIGUSR1 => self.log_stats(),
                            _ => {
                                tracing::info!(signal, "leaving the ring and shutting down");
                                self.totem.leave(now);
                                self.drain(now, &mut loopback)?;
                                return Ok(Exit::Signal);
                            }
                        }
                    }
                    continue;
                }
                if !ready.contains(&event.token().0) {
                    ready.push(event.token().0);
                }
            }
            for socket in ready {
                batch.clear();
                let more = self.transport.recv(now, socket, |_sender, payload| {
                    batch.push(Bytes::copy_from_slice(payload));
                });
                if more {
                    unfinished.push(socket);
                }
                for packet in batch.drain(..) {
                    self.totem.handle_packet(now, packet);
                    self.drain(now, &mut loopback)?;
                }
            }
            self.transport.handle_timeout(now);
            while let Some(event) = self.transport.poll_event() {
                log_link_event(event);
            }
            self.totem.handle_timeout(now);
            if let Some(demo) = &mut self.demo {
                demo.handle_timeout(now, &mut self.totem);
            }
            self.drain(now, &mut loopback)?;
            let busy = self.clock.now().saturating_duration_since(now);
            if busy > stall_threshold {
                tracing::warn!(
                    "aisexec main loop was busy for {:.4} ms (threshold is {:.4} ms)",
                    busy.as_secs_f64() * 1e3,
                    stall_threshold.as_secs_f64() * 1e3
                );
            }
        }
    }

    /// Carries out every output of the core, feeding packets it sent to itself (the token
    /// of a one-node ring) straight back in.
    fn drain(&mut self, now: Instant, loopback: &mut VecDeque<Bytes>) -> anyhow::Result<()> {
        let me = self.totem.node_id();
        loop {
            while let Some(output) = self.totem.poll_output() {
                match output {
                    Output::Transmit {
                        to: Dest::Node(node),
                        packet,
                    } if node == me => loopback.push_back(packet),
                    Output::Transmit { to, packet } => {
                        let to = match to {
                            Dest::Ring => Recipient::All,
                            Dest::Node(node) => Recipient::Node(node.0),
                        };
                        self.transport.send(to, &packet);
                    }
                    Output::Deliver(delivery) => {
                        if let Some(demo) = &mut self.demo {
                            demo.on_deliver(now, &delivery);
                        }
                    }
                    Output::Configuration(change) => log_configuration(&change),
                    Output::Persist(seq) => self
                        .state
                        .persist_ring_seq(seq)
                        .context("cannot persist the ring sequence number")?,
                }
            }
            match loopback.pop_front() {
                Some(packet) => self.totem.handle_packet(now, packet),
                None => return Ok(()),
            }
        }
    }

    fn log_stats(&self) {
        let t = self.transport.stats();
        let s = self.totem.stats();
        tracing::info!(
            "stats: ring {} members {:?} | transport tx_packets={} tx_errors={} rx_packets={} \
             rx_totem={} rx_invalid_digest={} rx_malformed={} rx_duplicate={} rx_misdirected={} rx_stale_epoch={} \
             rx_unknown_node={} link_up={} link_down={} | totem delivered={} configurations={} \
             rx_malformed={}",
            self.totem.ring_id(),
            ids(self.totem.members()),
            t.tx_packets,
            t.tx_errors,
            t.rx_packets,
            t.rx_totem,
            t.rx_invalid_digest,
            t.rx_malformed,
            t.rx_duplicate,
            t.rx_misdirected,
            t.rx_stale_epoch,
            t.rx_unknown_node,
            t.link_up,
            t.link_down,
            s.delivered,
            s.configurations,
            s.rx_malformed,
        );
    }
}

/// One line per membership change, in corosync's words so that operators' scripts and
/// habits carry over: `A new membership (1.2f) was formed. Members[3]: 1 2 3`.
fn log_configuration(change: &ConfigChange) {
    match change {
        ConfigChange::Transitional { members, left, .. } => {
            tracing::debug!(
                "transitional configuration: Members[{}]: {}; left: {}",
                members.len(),
                ids(members),
                ids(left)
            );
        }
        ConfigChange::Regular {
            ring_id,
            members,
            joined,
            left,
        } => {
            tracing::info!(
                "A new membership ({}.{:x}) was formed. Members[{}]: {}",
                ring_id.rep.0,
                ring_id.seq,
                members.len(),
                ids(members)
            );
            if !joined.is_empty() {
                tracing::info!("Members joined: {}", ids(joined));
            }
            if !left.is_empty() {
                tracing::info!("Members left: {}", ids(left));
            }
        }
    }
}

fn log_link_event(event: LinkEvent) {
    match event {
        LinkEvent::Up { node, link } => {
            tracing::info!("link {link} to node {node} is up");
        }
        LinkEvent::Down {
            node,
            link,
            reachable,
        } => {
            if reachable {
                tracing::warn!(
                    "link {link} to node {node} is down; node {node} is reachable on another link"
                );
            } else {
                tracing::warn!("link {link} to node {node} is down; node {node} has no link up");
            }
        }
    }
}

fn ids(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(|n| n.0.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
