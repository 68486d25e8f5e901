//! Cross-field rules: what no single value can say wrong on its own. Each diagnostic points
//! at the line that should change and names the other line involved ("token on line 3"),
//! or says the other value is a default.
//!
//! These run only once every value passed on its own (see [`crate::parse`]), so a typo in
//! one key never shows up as a string of rule violations in others.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ais_types::NodeId;

use crate::config::{Config, MAX_LINKS, NodeAddr};
use crate::diagnostic::{Diagnostics, Span};
use crate::keys::SectionId;
use crate::keyword::{Cipher, Hash, IpVersion, Transport};
use crate::lower::Sources;

/// Checks every rule, reporting to `diagnostics`.
pub(crate) fn check(config: &Config, sources: &Sources, diagnostics: &mut Diagnostics<'_>) {
    let mut v = Validator {
        config,
        sources,
        diagnostics,
    };
    v.timers();
    v.transport_needs();
    v.nodeids();
    v.links();
    v.interfaces();
    v.crypto();
    v.logging_and_system();
    // The protocol's own checks, as a backstop: the rules above should leave nothing for it.
    let backstop = match v.diagnostics.has_errors() {
        true => Ok(()),
        false => config.totem_config(NodeId(1)).validate(),
    };
    if let Err(error) = backstop {
        let at = v.section(SectionId::Totem);
        v.diagnostics.error(at, "totem", error.to_string());
    }
}

struct Validator<'a, 'd, 'f> {
    config: &'a Config,
    sources: &'a Sources,
    diagnostics: &'d mut Diagnostics<'f>,
}

/// " on line 3", or " by default" for a value not written in the file.
fn origin(at: Option<Span>) -> String {
    at.map_or_else(
        || " by default".to_owned(),
        |s| format!(" on line {}", s.line),
    )
}

fn family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

impl Validator<'_, '_, '_> {
    /// Where a top-level section opens, else the start of the file.
    fn section(&self, id: SectionId) -> Span {
        self.sources.section(id, 0).unwrap_or(Span::START)
    }

    /// Where a key of a top-level section was given.
    fn given(&self, id: SectionId, key: &str) -> Option<Span> {
        self.sources.value(id, 0, key)
    }

    /// Where a top-level key was given, else its section, else the start of the file.
    fn at(&self, id: SectionId, key: &str) -> Span {
        self.given(id, key).unwrap_or_else(|| self.section(id))
    }

    fn totem(&self, key: &str) -> Option<Span> {
        self.given(SectionId::Totem, key)
    }

    /// consensus ≥ 1.2 × the effective token; join < consensus; fail_fast, when on, at
    /// least 4 × join and below consensus.
    fn timers(&mut self) {
        let totem = &self.config.totem;
        let nodes = self.config.nodelist.len();
        let token_ms = totem.token.as_millis();
        let effective_ms = totem.effective_token(nodes).as_millis();
        let token = if effective_ms == token_ms {
            format!("token {token_ms} ms{}", origin(self.totem("token")))
        } else {
            format!(
                "effective token {effective_ms} ms = token {token_ms} ms{} + {} × \
                 token_coefficient {} ms for {nodes} nodes",
                origin(self.totem("token")),
                nodes - 2,
                totem.token_coefficient.as_millis(),
            )
        };
        if let (Some(consensus), Some(at)) = (totem.consensus, self.totem("consensus")) {
            let consensus_ms = consensus.as_millis();
            // consensus ≥ 1.2 × token, in integers: 5 × consensus ≥ 6 × token.
            if consensus_ms * 5 < effective_ms * 6 {
                let minimum = (effective_ms * 6).div_ceil(5);
                let message = format!(
                    "consensus {consensus_ms} ms is below 1.2 × token: it must be at least \
                     {minimum} ms ({token})"
                );
                self.diagnostics.error(at, "totem.consensus", message);
            }
        }
        let consensus = totem.effective_consensus(nodes);
        if totem.join >= consensus {
            let (join_at, consensus_at) = (self.totem("join"), self.totem("consensus"));
            let other = match consensus_at {
                Some(at) => format!("consensus on line {}", at.line),
                None => format!("consensus derived as 1.2 × {token}"),
            };
            let message = format!(
                "join {} ms must be below consensus {} ms ({other})",
                totem.join.as_millis(),
                consensus.as_millis()
            );
            let (at, path) = match join_at {
                Some(at) => (at, "totem.join"),
                None => (self.at(SectionId::Totem, "consensus"), "totem.consensus"),
            };
            self.diagnostics.error(at, path, message);
        }
        self.fail_fast(consensus);
    }

    /// `fail_fast` fails, while gathering, a processor not heard from for that long. It
    /// must give a live processor several join rounds (a processor re-sends its join
    /// every `join`; four rounds lost in a row before it is failed), and it must come
    /// before `consensus`, or it never acts. The token timeout does not bound it: the
    /// silence is counted from the start of the gather, which the token's loss began.
    fn fail_fast(&mut self, consensus: std::time::Duration) {
        let totem = &self.config.totem;
        let fail_fast = totem.fail_fast;
        // Only a value written in the file is checked (the default is off).
        let Some(at) = self.totem("fail_fast") else {
            return;
        };
        if fail_fast.is_zero() {
            return;
        }
        let join = totem.join;
        let join_origin = origin(self.totem("join"));
        if fail_fast < join * 4 {
            let message = format!(
                "fail_fast {} ms is below 4 × join ({} ms{join_origin}): a processor would \
                 be failed before it could miss four join rounds; it must be at least {} ms, \
                 or 0 to turn it off",
                fail_fast.as_millis(),
                join.as_millis(),
                (join * 4).as_millis()
            );
            self.diagnostics.error(at, "totem.fail_fast", message);
        } else if fail_fast >= consensus {
            let consensus_origin = match self.totem("consensus") {
                Some(c) => format!(" on line {}", c.line),
                None => " derived as 1.2 × token".to_owned(),
            };
            let message = format!(
                "fail_fast {} ms is not below consensus {} ms{consensus_origin}: consensus \
                 would fail the processor first; set it below, or 0 to turn it off",
                fail_fast.as_millis(),
                consensus.as_millis()
            );
            self.diagnostics.error(at, "totem.fail_fast", message);
        }
    }

    /// udpu and knet send to the nodelist; udp without one needs a multicast group.
    fn transport_needs(&mut self) {
        let totem = &self.config.totem;
        let at = self.at(SectionId::Totem, "transport");
        let transport = format!(
            "transport {}{}",
            totem.transport,
            origin(self.totem("transport"))
        );
        if self.config.nodelist.is_empty() {
            let has_group = totem
                .interfaces
                .iter()
                .any(|i| i.mcastaddr.is_some() || i.bindnetaddr.is_some());
            let message = match totem.transport {
                Transport::Udp if has_group => return,
                Transport::Udp => format!(
                    "{transport} without a nodelist needs an interface with mcastaddr or \
                     bindnetaddr"
                ),
                Transport::Udpu | Transport::Knet => {
                    format!("{transport} needs a nodelist with at least one node")
                }
            };
            self.diagnostics.error(at, "totem.transport", message);
        }
        if totem.transport != Transport::Udp {
            return;
        }
        for (index, interface) in totem.interfaces.iter().enumerate() {
            if interface.linknumber > 0 {
                let at = self.interface_at(index, "linknumber");
                let message = format!("{transport} has one link: linknumber must be 0");
                self.diagnostics
                    .error(at, "totem.interface.linknumber", message);
            }
        }
        for (index, node) in self.config.nodelist.iter().enumerate() {
            for link in (1..MAX_LINKS).filter(|&link| node.ring_addrs[link].is_some()) {
                let key = format!("ring{link}_addr");
                let at = self.node_at(index, &key);
                let message = format!("{transport} has one link: only ring0_addr is allowed");
                self.diagnostics
                    .error(at, &format!("nodelist.node.{key}"), message);
            }
        }
    }

    fn interface_at(&self, index: usize, key: &str) -> Span {
        let at = self.sources.value(SectionId::Interface, index, key);
        at.or_else(|| self.sources.section(SectionId::Interface, index))
            .unwrap_or(Span::START)
    }

    fn node_at(&self, index: usize, key: &str) -> Span {
        let at = self.sources.value(SectionId::Node, index, key);
        at.unwrap_or_else(|| self.node_line(index))
    }

    fn node_line(&self, index: usize) -> Span {
        self.sources
            .section(SectionId::Node, index)
            .unwrap_or(Span::START)
    }

    /// Node ids are unique (nonzero is checked per value); `totem.nodeid` names one.
    fn nodeids(&mut self) {
        let mut first: BTreeMap<u32, usize> = BTreeMap::new();
        for (index, node) in self.config.nodelist.iter().enumerate() {
            if let Some(&earlier) = first.get(&node.nodeid) {
                let message = format!(
                    "nodeid {} is already used by the node on line {}",
                    node.nodeid,
                    self.node_line(earlier).line
                );
                self.diagnostics.error(
                    self.node_at(index, "nodeid"),
                    "nodelist.node.nodeid",
                    message,
                );
            } else {
                first.insert(node.nodeid, index);
            }
        }
        let (Some(local), Some(at)) = (self.config.totem.nodeid, self.totem("nodeid")) else {
            return;
        };
        if !self.config.nodelist.is_empty() && !first.contains_key(&local) {
            let ids: Vec<String> = first.keys().map(u32::to_string).collect();
            let message = format!(
                "nodeid {local} names no node of the nodelist (nodeids: {})",
                ids.join(", ")
            );
            self.diagnostics.error(at, "totem.nodeid", message);
        }
    }

    /// Every node has an address on ring 0 and on every link any node uses; a link carries
    /// one IP family, and the one `ip_version` allows.
    fn links(&mut self) {
        let nodes = &self.config.nodelist;
        for link in 0..MAX_LINKS {
            let key = format!("ring{link}_addr");
            let path = format!("nodelist.node.{key}");
            let holder = nodes.iter().position(|n| n.ring_addrs[link].is_some());
            if holder.is_none() && link > 0 {
                continue;
            }
            // (family, node index) of the first IP literal on this link.
            let mut first_ip: Option<(&'static str, usize)> = None;
            for (index, node) in nodes.iter().enumerate() {
                match (&node.ring_addrs[link], holder) {
                    (None, Some(holder)) => {
                        let message = format!(
                            "node {} has no {key}, but node {} (line {}) has one; every node \
                             needs an address on every link",
                            node.nodeid,
                            nodes[holder].nodeid,
                            self.node_line(holder).line
                        );
                        self.diagnostics
                            .error(self.node_line(index), "nodelist.node", message);
                    }
                    (None, None) => {
                        let message =
                            format!("node {} has no {key}; every node needs one", node.nodeid);
                        self.diagnostics
                            .error(self.node_line(index), "nodelist.node", message);
                    }
                    (Some(NodeAddr::Ip(ip)), _) => {
                        let at = self.node_at(index, &key);
                        self.ip_version_allows(ip, at, &path);
                        match first_ip {
                            None => first_ip = Some((family(ip), index)),
                            Some((fam, other)) if fam != family(ip) => {
                                let message = format!(
                                    "{ip} is {}, but node {} (line {}) has {fam} on link {link}; \
                                     a link carries one IP family",
                                    family(ip),
                                    nodes[other].nodeid,
                                    self.node_at(other, &key).line
                                );
                                self.diagnostics.error(at, &path, message);
                            }
                            Some(_) => {}
                        }
                    }
                    (Some(NodeAddr::Name(_)), _) => {}
                }
            }
        }
    }

    fn ip_version_allows(&mut self, ip: &IpAddr, at: Span, path: &str) {
        let version = self.config.totem.ip_version;
        let allowed = match version {
            IpVersion::Ipv4 => ip.is_ipv4(),
            IpVersion::Ipv6 => ip.is_ipv6(),
            IpVersion::Ipv4Then6 | IpVersion::Ipv6Then4 => true,
        };
        if !allowed {
            let message = format!(
                "{ip} is {}, but totem.ip_version is {version}{}",
                family(ip),
                origin(self.totem("ip_version"))
            );
            self.diagnostics.error(at, path, message);
        }
    }

    /// One interface section per link number, at most eight.
    fn interfaces(&mut self) {
        let interfaces = &self.config.totem.interfaces;
        let mut first: BTreeMap<u8, usize> = BTreeMap::new();
        for (index, interface) in interfaces.iter().enumerate() {
            if let Some(&earlier) = first.get(&interface.linknumber) {
                let line = self
                    .sources
                    .section(SectionId::Interface, earlier)
                    .unwrap_or(Span::START);
                let message = format!(
                    "linknumber {} is already used by the interface on line {}",
                    interface.linknumber, line.line
                );
                let at = self.interface_at(index, "linknumber");
                self.diagnostics
                    .error(at, "totem.interface.linknumber", message);
            } else {
                first.insert(interface.linknumber, index);
            }
        }
        if interfaces.len() > MAX_LINKS {
            let at = self
                .sources
                .section(SectionId::Interface, MAX_LINKS)
                .unwrap_or(Span::START);
            let message = format!("at most {MAX_LINKS} interface sections (links 0 to 7)");
            self.diagnostics.error(at, "totem.interface", message);
        }
    }

    /// Warnings about weak protection.
    fn crypto(&mut self) {
        let totem = &self.config.totem;
        match (totem.crypto_cipher, totem.crypto_hash) {
            (Cipher::None, Hash::None) => {
                let at = ["crypto_cipher", "crypto_hash", "secauth"]
                    .iter()
                    .find_map(|key| self.totem(key))
                    .unwrap_or_else(|| self.section(SectionId::Totem));
                let message = "packets are neither authenticated nor encrypted";
                self.diagnostics.warning(at, "totem.crypto_cipher", message);
            }
            (cipher, Hash::None) => {
                let at = self
                    .totem("crypto_hash")
                    .unwrap_or_else(|| self.at(SectionId::Totem, "crypto_cipher"));
                let message = format!(
                    "crypto_cipher {cipher} with crypto_hash none: allowed, the AEAD cipher \
                     authenticates packets (corosync would refuse it)"
                );
                self.diagnostics.warning(at, "totem.crypto_hash", message);
            }
            _ => {}
        }
    }

    fn logging_and_system(&mut self) {
        let logging = &self.config.logging;
        if let (true, None) = (logging.to_logfile, &logging.logfile) {
            let at = self.at(SectionId::Logging, "to_logfile");
            let message = "to_logfile is on but logfile is not set";
            self.diagnostics.error(at, "logging.to_logfile", message);
        }
        let system = &self.config.system;
        if let (true, Some(_), Some(at)) = (
            system.sched_rr,
            system.priority,
            self.given(SectionId::System, "priority"),
        ) {
            let message = format!(
                "ignored while sched_rr is on{}; set sched_rr: no to use it",
                origin(self.given(SectionId::System, "sched_rr"))
            );
            self.diagnostics.warning(at, "system.priority", message);
        }
    }
}
