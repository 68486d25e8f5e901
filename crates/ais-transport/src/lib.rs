//! The network under Totem: UDP unicast to the nodelist (`udpu`) or IP multicast (`udp`),
//! up to eight redundant links with per-link heartbeats, and every packet sealed by
//! [`crypto`] (authenticated, and encrypted unless configured otherwise).
//!
//! The transport owns sockets but not the clock: every call takes `now`. It hands the daemon
//! only authenticated, replay-checked Totem payloads with the sender's node id; everything
//! else (garbage, a wrong key, replays, strangers) is counted, logged at a limited rate and
//! dropped. The same sealed packet sent on two links reaches Totem once: the second copy is
//! a replay of the first.

pub mod crypto;
mod links;
mod socket;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ais_types::{Instant, LogLimit};

use crate::crypto::{Crypto, OpenError, Opened};
pub use crate::links::{LinkEvent, LinkMode};
use crate::links::{PeerLink, choose_links};
pub use crate::socket::Multicast;

/// Packet kinds inside the sealed envelope.
const KIND_TOTEM: u8 = 0;
const KIND_PING: u8 = 1;
const KIND_PONG: u8 = 2;

/// Datagrams read from one socket before the loop looks at timers and other sockets.
pub const RECV_BATCH: usize = 256;

/// Largest datagram read (UDP's limit); Totem packets are bounded by `netmtu`.
const RECV_BUFFER_BYTES: usize = 65_536;

/// How often a kind of rejected packet is logged after the first (the rest are counted).
const REJECT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// At most one challenge per sender this often, however many unproven packets it sends.
const CHALLENGE_INTERVAL: Duration = Duration::from_millis(20);

/// One local link (`interface { linknumber }` and the local node's `ringN_addr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// `linknumber`, 0..=7.
    pub number: u8,
    /// Local address and port to bind (udpu), or the group to join (udp).
    pub bind: SocketAddr,
    /// Set for `transport: udp`.
    pub multicast: Option<Multicast>,
    /// `knet_link_priority`: in passive mode the up link with the highest value carries.
    pub priority: u8,
    /// `knet_ping_interval`.
    pub ping_interval: Duration,
    /// `knet_ping_timeout`: a link is down after this long without a packet from the peer.
    pub ping_timeout: Duration,
}

/// A configured peer and its address on each link number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    /// Node id.
    pub node: u32,
    /// `(linknumber, address:port)` pairs.
    pub addrs: Vec<(u8, SocketAddr)>,
}

/// Everything the transport needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportConfig {
    /// This node.
    pub local_node: u32,
    /// `link_mode`.
    pub mode: LinkMode,
    /// Local links, ascending by number.
    pub links: Vec<LinkConfig>,
    /// Every other node of the nodelist. With multicast and no nodelist, peers are learned
    /// from authenticated packets.
    pub peers: Vec<PeerConfig>,
}

/// Where a Totem packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// Every other node (one multicast per link, or a unicast to each peer).
    All,
    /// One node.
    Node(u32),
}

/// Counters of the transport (cmap `stats.knet.*` and the rejected-packet counters).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Datagrams sent (each copy on each link counts).
    pub tx_packets: u64,
    /// Datagrams the kernel refused to send.
    pub tx_errors: u64,
    /// Datagrams read.
    pub rx_packets: u64,
    /// Totem payloads handed up.
    pub rx_totem: u64,
    /// Rejected: failed authentication ("Invalid digest").
    pub rx_invalid_digest: u64,
    /// Rejected: too short, not our format, or another crypto mode.
    pub rx_malformed: u64,
    /// Dropped: a copy already received (another link, or a replay).
    pub rx_duplicate: u64,
    /// Rejected: sealed for another node (a replayed unicast).
    pub rx_misdirected: u64,
    /// Rejected: from a sender's older boot.
    pub rx_stale_epoch: u64,
    /// Rejected: authenticated, but from a node not in the nodelist.
    pub rx_unknown_node: u64,
    /// Dropped: authentic Totem packets of a sender's epoch that has not yet answered this
    /// boot's challenge (each may be a replay captured before we started).
    pub rx_unproven: u64,
    /// Link up transitions.
    pub link_up: u64,
    /// Link down transitions.
    pub link_down: u64,
}

/// The sockets, the sealing state and the link table.
pub struct Transport {
    config: TransportConfig,
    /// One per link, same index as `config.links`: sends everything, receives unicast.
    sockets: Vec<mio::net::UdpSocket>,
    /// Multicast receive sockets: `(link index, socket)`, registered after `sockets`.
    groups: Vec<(usize, mio::net::UdpSocket)>,
    crypto: Crypto,
    /// Per peer, one entry per local link (same index as `config.links`).
    peers: BTreeMap<u32, Vec<PeerLink>>,
    /// Learn peers from packets (multicast without a nodelist).
    learn_peers: bool,
    /// Per peer, the round-robin position (`link_mode: rr`).
    rr_next: BTreeMap<u32, usize>,
    events: std::collections::VecDeque<LinkEvent>,
    stats: TransportStats,
    seal_buf: Vec<u8>,
    open_buf: Vec<u8>,
    recv_buf: Vec<u8>,
    pick_buf: Vec<usize>,
    rejects: RejectLog,
    /// When each unproven sender was last challenged.
    challenged: BTreeMap<u32, Instant>,
}

impl Transport {
    /// Opens one socket per link, plus a group socket per multicast link. `now` starts the
    /// heartbeat schedule.
    pub fn new(config: TransportConfig, crypto: Crypto, now: Instant) -> io::Result<Self> {
        let mut sockets = Vec::with_capacity(config.links.len());
        let mut groups = Vec::new();
        for (i, link) in config.links.iter().enumerate() {
            let context = |what: &str, addr: SocketAddr, e: io::Error| {
                io::Error::new(
                    e.kind(),
                    format!("link {}: cannot {what} {addr}: {e}", link.number),
                )
            };
            let socket = socket::unicast(link.bind, link.multicast.as_ref())
                .map_err(|e| context("bind", link.bind, e))?;
            sockets.push(socket);
            if let Some(m) = &link.multicast {
                let group = socket::group(m).map_err(|e| context("join group", m.group, e))?;
                groups.push((i, group));
            }
        }
        let mut peers = BTreeMap::new();
        for peer in &config.peers {
            peers.insert(peer.node, peer_links(&config.links, peer, now));
        }
        let learn_peers =
            config.peers.is_empty() && config.links.iter().all(|l| l.multicast.is_some());
        Ok(Self {
            config,
            sockets,
            groups,
            crypto,
            peers,
            learn_peers,
            rr_next: BTreeMap::new(),
            events: std::collections::VecDeque::new(),
            stats: TransportStats::default(),
            seal_buf: Vec::with_capacity(RECV_BUFFER_BYTES),
            open_buf: Vec::with_capacity(RECV_BUFFER_BYTES),
            recv_buf: vec![0; RECV_BUFFER_BYTES],
            pick_buf: Vec::new(),
            rejects: RejectLog::default(),
            challenged: BTreeMap::new(),
        })
    }

    /// This node's links, as configured.
    pub fn links(&self) -> &[LinkConfig] {
        &self.config.links
    }

    /// Replaces the nodelist's peers at runtime (a configuration reload): new nodes are
    /// sent to and accepted from now on, removed ones no longer; a peer whose addresses
    /// did not change keeps its link state. The local links stay as they are.
    pub fn set_peers(&mut self, peers: Vec<PeerConfig>, now: Instant) {
        let mut next = BTreeMap::new();
        for peer in &peers {
            let fresh = peer_links(&self.config.links, peer, now);
            let links = match self.peers.remove(&peer.node) {
                Some(old) if old.iter().map(|l| l.addr).eq(fresh.iter().map(|l| l.addr)) => old,
                _ => fresh,
            };
            next.insert(peer.node, links);
        }
        self.peers = next;
        self.rr_next.retain(|node, _| self.peers.contains_key(node));
        self.config.peers = peers;
    }

    /// Registers the sockets with `registry` as tokens `first_token`, `first_token + 1`, ….
    pub fn register(&mut self, registry: &mio::Registry, first_token: usize) -> io::Result<()> {
        let all = self
            .sockets
            .iter_mut()
            .chain(self.groups.iter_mut().map(|(_, s)| s));
        for (i, socket) in all.enumerate() {
            registry.register(socket, mio::Token(first_token + i), mio::Interest::READABLE)?;
        }
        Ok(())
    }

    /// Number of sockets (tokens) registered.
    pub fn socket_count(&self) -> usize {
        self.sockets.len() + self.groups.len()
    }

    /// How packets are sealed.
    pub fn crypto_mode(&self) -> crypto::CryptoMode {
        self.crypto.mode()
    }

    /// Bytes the envelope adds to a Totem packet.
    pub fn overhead(&self) -> usize {
        self.crypto.overhead()
    }

    /// Seals a Totem packet once and sends it on the links the link mode picks.
    pub fn send(&mut self, to: Recipient, packet: &[u8]) {
        let mut sealed = std::mem::take(&mut self.seal_buf);
        let recipient = match to {
            Recipient::All => 0,
            Recipient::Node(node) => node,
        };
        self.crypto.seal(KIND_TOTEM, recipient, packet, &mut sealed);
        let multicast = self.config.links.iter().any(|l| l.multicast.is_some());
        match to {
            Recipient::All if multicast => self.send_multicast(&sealed),
            Recipient::All => {
                let nodes: Vec<u32> = self.peers.keys().copied().collect();
                for node in nodes {
                    self.send_to_peer(node, &sealed);
                }
            }
            Recipient::Node(node) => self.send_to_peer(node, &sealed),
        }
        self.seal_buf = sealed;
    }

    fn send_multicast(&mut self, sealed: &[u8]) {
        // A group link counts as up while any peer is heard on it.
        let any_up = |i: usize| self.peers.values().any(|links| links[i].up);
        let up: Vec<usize> = (0..self.config.links.len())
            .filter(|&i| any_up(i))
            .collect();
        let chosen: Vec<usize> = match (self.config.mode, up.first()) {
            (LinkMode::Passive | LinkMode::RoundRobin, Some(&first)) => vec![first],
            (LinkMode::Active, Some(_)) => up,
            (_, None) => (0..self.config.links.len()).collect(),
        };
        for i in chosen {
            let group = self.config.links[i]
                .multicast
                .as_ref()
                .map_or(self.config.links[i].bind, |m| m.group);
            self.transmit(i, group, sealed);
        }
    }

    fn send_to_peer(&mut self, node: u32, sealed: &[u8]) {
        let Some(links) = self.peers.get(&node) else {
            tracing::debug!(node, "no address for node; packet not sent");
            return;
        };
        let view: Vec<(&PeerLink, u8)> = links
            .iter()
            .zip(&self.config.links)
            .map(|(l, c)| (l, c.priority))
            .collect();
        let mut picks = std::mem::take(&mut self.pick_buf);
        let rr_next = self.rr_next.entry(node).or_insert(0);
        choose_links(self.config.mode, &view, rr_next, &mut picks);
        let targets: Vec<(usize, SocketAddr)> = picks
            .iter()
            .filter_map(|&i| links[i].addr.map(|a| (i, a)))
            .collect();
        self.pick_buf = picks;
        for (i, addr) in targets {
            self.transmit(i, addr, sealed);
        }
    }

    fn transmit(&mut self, link: usize, addr: SocketAddr, sealed: &[u8]) {
        match self.sockets[link].send_to(sealed, addr) {
            Ok(_) => self.stats.tx_packets += 1,
            Err(e) => {
                // A full socket buffer or an unreachable peer loses this copy; Totem
                // retransmits. Counted, not fatal.
                self.stats.tx_errors += 1;
                tracing::trace!(link, %addr, error = %e, "send failed");
            }
        }
    }

    /// Reads up to [`RECV_BATCH`] datagrams waiting on the socket of `token_index` (0-based,
    /// as registered) and hands each authenticated Totem payload to `deliver(sender,
    /// payload)`. Returns true if datagrams may remain: the socket is edge-triggered, so the
    /// caller must come back to it without waiting for readiness (a flood of garbage must
    /// not starve the timers).
    pub fn recv(
        &mut self,
        now: Instant,
        token_index: usize,
        mut deliver: impl FnMut(u32, &[u8]),
    ) -> bool {
        // `None`: the link's own socket; `Some(j)`: group socket `j`.
        let (link, group) = if token_index < self.sockets.len() {
            (token_index, None)
        } else if let Some((link, _)) = self.groups.get(token_index - self.sockets.len()) {
            (*link, Some(token_index - self.sockets.len()))
        } else {
            return false;
        };
        for _ in 0..RECV_BATCH {
            let received = match group {
                None => self.sockets[link].recv_from(&mut self.recv_buf),
                Some(j) => self.groups[j].1.recv_from(&mut self.recv_buf),
            };
            let (len, src) = match received {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors surface here on some kernels; keep reading.
                    tracing::trace!(link, error = %e, "recv error");
                    continue;
                }
            };
            self.stats.rx_packets += 1;
            let mut plain = std::mem::take(&mut self.open_buf);
            let opened = {
                let packet = &self.recv_buf[..len];
                self.crypto.open(packet, &mut plain)
            };
            match opened {
                Ok(o) if !o.proven => self.unproven(now, link, src, &o, &plain),
                Ok(o) => {
                    if self.accept(now, link, src, o.sender) {
                        match o.kind {
                            KIND_TOTEM => {
                                self.stats.rx_totem += 1;
                                deliver(o.sender, &plain);
                            }
                            KIND_PING => self.answer_ping(link, o.sender, src, &plain),
                            KIND_PONG => self.record_pong(now, link, o.sender, &plain),
                            _ => self.stats.rx_malformed += 1,
                        }
                    }
                }
                Err(e) => self.reject(now, link, src, &e),
            }
            self.open_buf = plain;
        }
        true
    }

    /// An authentic packet of an epoch not yet proven to this boot: a ping is answered (so
    /// the sender can prove itself to us, and we to it), a pong carrying our challenge
    /// proves the epoch, anything else is dropped and its sender challenged. Nothing of
    /// it teaches us addresses or moves a link.
    fn unproven(&mut self, now: Instant, link: usize, src: SocketAddr, o: &Opened, plain: &[u8]) {
        if !self.peers.contains_key(&o.sender) && !self.learn_peers {
            self.stats.rx_unknown_node += 1;
            return;
        }
        match o.kind {
            KIND_PING => self.answer_ping(link, o.sender, src, plain),
            KIND_PONG if plain.starts_with(&self.crypto.challenge()) => {
                self.crypto.prove(o);
                self.challenged.remove(&o.sender);
                if self.accept(now, link, src, o.sender) {
                    self.record_pong(now, link, o.sender, plain);
                }
            }
            KIND_TOTEM => {
                self.stats.rx_unproven += 1;
                let due = self
                    .challenged
                    .get(&o.sender)
                    .is_none_or(|t| now.saturating_duration_since(*t) >= CHALLENGE_INTERVAL);
                if due {
                    self.challenged.insert(o.sender, now);
                    let addr = self
                        .peers
                        .get(&o.sender)
                        .and_then(|links| links[link].addr)
                        .unwrap_or(src);
                    self.send_ping(now, o.sender, link, addr);
                }
            }
            // An old pong (another boot's challenge) or an unknown kind: nothing to do.
            _ => {}
        }
    }

    /// Seals and sends a ping: this boot's challenge, then the send time.
    fn send_ping(&mut self, now: Instant, node: u32, link: usize, addr: SocketAddr) {
        let mut payload = [0u8; 16];
        payload[..8].copy_from_slice(&self.crypto.challenge());
        payload[8..].copy_from_slice(&now.as_nanos().to_le_bytes());
        let mut sealed = std::mem::take(&mut self.seal_buf);
        self.crypto.seal(KIND_PING, node, &payload, &mut sealed);
        self.transmit(link, addr, &sealed);
        self.seal_buf = sealed;
    }

    /// Records that `sender` was heard on `link`; false if the sender is a stranger. Hearing
    /// is not enough for a link to be up: only an answer to my own ping proves that packets
    /// get through both ways (a link that only receives would swallow the token).
    fn accept(&mut self, now: Instant, link: usize, src: SocketAddr, sender: u32) -> bool {
        if !self.peers.contains_key(&sender) {
            if !self.learn_peers {
                self.stats.rx_unknown_node += 1;
                self.rejects.log(now, Reject::UnknownNode, || {
                    format!("packet from node {sender} at {src}, which is not in the nodelist")
                });
                return false;
            }
            let links = vec![
                PeerLink {
                    next_ping: now,
                    ..PeerLink::default()
                };
                self.config.links.len()
            ];
            self.peers.insert(sender, links);
        }
        let learn = self.learn_peers;
        let entry = &mut self.peers.get_mut(&sender).expect("inserted above")[link];
        if learn || entry.addr.is_none() {
            entry.addr = Some(src);
        }
        true
    }

    fn answer_ping(&mut self, link: usize, sender: u32, src: SocketAddr, payload: &[u8]) {
        let mut sealed = std::mem::take(&mut self.seal_buf);
        self.crypto.seal(KIND_PONG, sender, payload, &mut sealed);
        let addr = self
            .peers
            .get(&sender)
            .and_then(|links| links[link].addr)
            .unwrap_or(src);
        self.transmit(link, addr, &sealed);
        self.seal_buf = sealed;
    }

    /// A pong: our ping echoed, `challenge ‖ send time`.
    fn record_pong(&mut self, now: Instant, link: usize, sender: u32, payload: &[u8]) {
        let Some((challenge, sent)) = payload.split_first_chunk::<8>() else {
            self.stats.rx_malformed += 1;
            return;
        };
        if *challenge != self.crypto.challenge() {
            // An answer to another boot's ping, replayed: proves nothing about now.
            return;
        }
        let Ok(sent) = <[u8; 8]>::try_from(sent) else {
            self.stats.rx_malformed += 1;
            return;
        };
        let sent = Instant(u64::from_le_bytes(sent));
        if sent > now {
            self.stats.rx_malformed += 1;
            return;
        }
        let Some(links) = self.peers.get_mut(&sender) else {
            return;
        };
        let entry = &mut links[link];
        entry.rtt = Some(now.saturating_duration_since(sent));
        // Freshness is the ping's send time: an old pong must not hold a dead link up.
        entry.last_pong = Some(entry.last_pong.map_or(sent, |t| t.max(sent)));
        if !entry.up {
            entry.up = true;
            self.stats.link_up += 1;
            self.events.push_back(LinkEvent::Up {
                node: sender,
                link: self.config.links[link].number,
            });
        }
    }

    fn reject(&mut self, now: Instant, link: usize, src: SocketAddr, e: &OpenError) {
        let number = self.config.links[link].number;
        match e {
            // The copy of a packet that came on another link (active mode), or a replay.
            OpenError::Replayed => self.stats.rx_duplicate += 1,
            // Our own multicast, looped back.
            OpenError::FromSelf => {}
            // A unicast packet replayed at the wrong node.
            OpenError::Misdirected => {
                self.stats.rx_misdirected += 1;
                self.rejects.log(now, Reject::Malformed, || {
                    format!("packet from {src} on link {number} was sealed for another node")
                });
            }
            OpenError::InvalidDigest => {
                self.stats.rx_invalid_digest += 1;
                let total = self.stats.rx_invalid_digest;
                self.rejects.log(now, Reject::InvalidDigest, || {
                    format!(
                        "Invalid digest: packet from {src} on link {number} failed \
                         authentication (wrong authkey or corrupted); {total} rejected so far"
                    )
                });
            }
            OpenError::StaleEpoch => {
                self.stats.rx_stale_epoch += 1;
                self.rejects.log(now, Reject::Stale, || {
                    format!(
                        "packet from {src} on link {number} belongs to an older boot of its sender"
                    )
                });
            }
            other => {
                self.stats.rx_malformed += 1;
                let total = self.stats.rx_malformed;
                self.rejects.log(now, Reject::Malformed, || {
                    format!("malformed packet from {src} on link {number}: {other}; {total} rejected so far")
                });
            }
        }
    }

    /// Sends due heartbeats and takes down links that went quiet.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut pings: Vec<(u32, usize, SocketAddr)> = Vec::new();
        for (&node, links) in &mut self.peers {
            for (i, pl) in links.iter_mut().enumerate() {
                let cfg = &self.config.links[i];
                if pl.up
                    && pl
                        .last_pong
                        .is_some_and(|t| now.saturating_duration_since(t) >= cfg.ping_timeout)
                {
                    pl.up = false;
                    self.stats.link_down += 1;
                    self.events.push_back(LinkEvent::Down {
                        node,
                        link: cfg.number,
                        reachable: false,
                    });
                }
                if now >= pl.next_ping {
                    pl.next_ping = now + cfg.ping_interval;
                    if let Some(addr) = pl.addr {
                        pings.push((node, i, addr));
                    }
                }
            }
        }
        // Fill in `reachable` now that every link was updated.
        let peers = &self.peers;
        for event in &mut self.events {
            if let LinkEvent::Down {
                node, reachable, ..
            } = event
            {
                *reachable = peers.get(node).is_some_and(|l| l.iter().any(|pl| pl.up));
            }
        }
        // Each ping is sealed on its own: copies of one sealed packet on two links would
        // reach the peer once (the second is a replay), and the second link would never be
        // seen up.
        for (node, i, addr) in pings {
            self.send_ping(now, node, i, addr);
        }
        self.rejects.flush(now);
    }

    /// When [`Transport::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for links in self.peers.values() {
            for (pl, cfg) in links.iter().zip(&self.config.links) {
                let mut t = pl.next_ping;
                if let (true, Some(rx)) = (pl.up, pl.last_pong) {
                    t = t.min(rx + cfg.ping_timeout);
                }
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    /// The next link state change, for the log.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// Counters.
    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }

    /// Link status per peer and link, for cfg's link status and cmap's `stats.knet.*`.
    pub fn link_status(&self) -> Vec<LinkStatus> {
        let mut out = Vec::new();
        for (&node, links) in &self.peers {
            for (pl, c) in links.iter().zip(&self.config.links) {
                out.push(LinkStatus {
                    node,
                    link: c.number,
                    up: pl.up,
                    rtt: pl.rtt,
                    addr: pl.addr,
                    local: c.bind,
                });
            }
        }
        out
    }
}

/// A peer's link table, one entry per local link, from its configured addresses.
fn peer_links(links: &[LinkConfig], peer: &PeerConfig, now: Instant) -> Vec<PeerLink> {
    links
        .iter()
        .map(|link| PeerLink {
            addr: peer
                .addrs
                .iter()
                .find(|(n, _)| *n == link.number)
                .map(|(_, a)| *a),
            next_ping: now,
            ..PeerLink::default()
        })
        .collect()
}

/// One peer's state on one link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// Peer node id.
    pub node: u32,
    /// `linknumber`.
    pub link: u8,
    /// Heard from within `ping_timeout`.
    pub up: bool,
    /// Round-trip time of the last answered ping.
    pub rtt: Option<Duration>,
    /// The peer's address on the link, if configured.
    pub addr: Option<SocketAddr>,
    /// This node's address on the link.
    pub local: SocketAddr,
}

/// Kinds of rejected packets, each logged at a limited rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reject {
    InvalidDigest,
    Malformed,
    Stale,
    UnknownNode,
}

/// Logs the first rejection of a kind at once, then at most one line per
/// [`REJECT_LOG_INTERVAL`] with the number suppressed meanwhile.
struct RejectLog(LogLimit<Reject>);

impl Default for RejectLog {
    fn default() -> Self {
        Self(LogLimit::new(REJECT_LOG_INTERVAL))
    }
}

impl RejectLog {
    fn log(&mut self, now: Instant, kind: Reject, message: impl FnOnce() -> String) {
        match self.0.allow(now, kind) {
            Some(0) => tracing::warn!("{}", message()),
            Some(suppressed) => {
                tracing::warn!("{} ({} similar suppressed)", message(), suppressed);
            }
            None => {}
        }
    }

    /// Reports kinds whose suppressed count has waited a whole interval.
    fn flush(&mut self, now: Instant) {
        for (kind, count) in self.0.overdue(now) {
            tracing::warn!(kind = ?kind, count, "more packets rejected");
        }
    }
}
