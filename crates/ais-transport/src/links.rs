//! Per-peer link state and link choice, as knet users know them: a link to a peer is up
//! while authenticated packets arrive on it within `ping_timeout`; a node stays reachable
//! while any one of its links is up. Pure logic (time is an input), unit-tested here.

use std::time::Duration;

use ais_types::Instant;

/// How packets are spread over redundant links (`totem.link_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LinkMode {
    /// One link at a time: the up link with the highest priority (lowest number on a tie).
    #[default]
    Passive,
    /// Every up link carries every packet; the receiver drops the copies.
    Active,
    /// Up links take turns.
    RoundRobin,
}

/// What one local link knows about one peer. A link is up while my pings are answered:
/// proof that packets pass both ways.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerLink {
    /// Where the peer listens on this link (configured, or learned from multicast).
    pub(crate) addr: Option<std::net::SocketAddr>,
    /// When the ping answered most recently was sent.
    pub(crate) last_pong: Option<Instant>,
    /// Up: one of my pings sent within `ping_timeout` was answered.
    pub(crate) up: bool,
    /// Round-trip time of the last answered ping.
    pub(crate) rtt: Option<Duration>,
    /// When the next ping is due.
    pub(crate) next_ping: Instant,
}

/// A change of one link's state, for the log and the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The peer is heard on the link again (or for the first time).
    Up {
        /// Peer node id.
        node: u32,
        /// Link number (`linknumber`).
        link: u8,
    },
    /// Nothing heard from the peer on the link for `ping_timeout`.
    Down {
        /// Peer node id.
        node: u32,
        /// Link number.
        link: u8,
        /// Whether the peer still has another link up.
        reachable: bool,
    },
}

/// Indices (into the link table) of the links that should carry the next packet to a peer.
/// `links` gives, per local link, the peer's state and the link's priority. When no link is
/// up (start-up, or the peer is gone) every link with an address is tried, so the first
/// packets find a way and a returning peer is heard on whichever link works.
pub(crate) fn choose_links(
    mode: LinkMode,
    links: &[(&PeerLink, u8)],
    rr_next: &mut usize,
    out: &mut Vec<usize>,
) {
    out.clear();
    let up: Vec<usize> = (0..links.len())
        .filter(|&i| links[i].0.up && links[i].0.addr.is_some())
        .collect();
    if up.is_empty() {
        out.extend((0..links.len()).filter(|&i| links[i].0.addr.is_some()));
        return;
    }
    match mode {
        LinkMode::Active => out.extend(up),
        LinkMode::Passive => {
            // Highest priority wins; `max_by_key` keeps the last maximum, so iterate in
            // reverse to prefer the lowest link number on a tie.
            let best = up
                .iter()
                .rev()
                .copied()
                .max_by_key(|&i| links[i].1)
                .expect("up is not empty");
            out.push(best);
        }
        LinkMode::RoundRobin => {
            *rr_next = rr_next.wrapping_add(1);
            out.push(up[*rr_next % up.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(up: bool) -> PeerLink {
        PeerLink {
            addr: Some("127.0.0.1:1".parse().unwrap()),
            up,
            ..PeerLink::default()
        }
    }

    fn choose(mode: LinkMode, links: &[(PeerLink, u8)], rr: &mut usize) -> Vec<usize> {
        let view: Vec<(&PeerLink, u8)> = links.iter().map(|(l, p)| (l, *p)).collect();
        let mut out = Vec::new();
        choose_links(mode, &view, rr, &mut out);
        out
    }

    #[test]
    fn passive_takes_the_highest_priority_up_link_lowest_number_on_tie() {
        let mut rr = 0;
        let links = [(link(true), 1), (link(true), 1), (link(true), 0)];
        assert_eq!(choose(LinkMode::Passive, &links, &mut rr), [0]);
        let links = [(link(true), 1), (link(true), 5), (link(false), 9)];
        assert_eq!(choose(LinkMode::Passive, &links, &mut rr), [1]);
    }

    #[test]
    fn active_uses_every_up_link() {
        let mut rr = 0;
        let links = [(link(true), 0), (link(false), 0), (link(true), 0)];
        assert_eq!(choose(LinkMode::Active, &links, &mut rr), [0, 2]);
    }

    #[test]
    fn round_robin_alternates_over_up_links() {
        let mut rr = 0;
        let links = [(link(true), 0), (link(false), 0), (link(true), 0)];
        let picks: Vec<_> = (0..4)
            .flat_map(|_| choose(LinkMode::RoundRobin, &links, &mut rr))
            .collect();
        assert_eq!(picks, [2, 0, 2, 0]);
    }

    #[test]
    fn no_link_up_tries_every_link_with_an_address() {
        let mut rr = 0;
        let mut no_addr = link(false);
        no_addr.addr = None;
        let links = [(link(false), 0), (no_addr, 0), (link(false), 0)];
        for mode in [LinkMode::Passive, LinkMode::Active, LinkMode::RoundRobin] {
            assert_eq!(choose(mode, &links, &mut rr), [0, 2]);
        }
    }
}
