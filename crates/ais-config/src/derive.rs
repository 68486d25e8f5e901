//! What the daemon derives from a [`Config`]: the Totem processor's settings and which
//! nodelist entry is this host.

use std::net::IpAddr;

use ais_totem::TotemConfig;
use ais_types::NodeId;

use crate::config::{Config, Node};

/// Why [`Config::local_node`] found no single local node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocalNodeError {
    /// The nodelist is empty (udp multicast without a nodelist).
    #[error("the nodelist is empty; the local node cannot be found in it")]
    EmptyNodelist,
    /// `totem.nodeid` names no node of the nodelist.
    #[error("totem.nodeid {0} names no node of the nodelist")]
    NodeIdNotListed(u32),
    /// No node has one of the host's addresses as an IP literal.
    #[error(
        "no node has a local address ({}); \
         check the ringX_addr values or set totem {{ nodeid: N }}",
        list(.local_addrs)
    )]
    NoLocalNode {
        /// The addresses searched for.
        local_addrs: Vec<IpAddr>,
    },
    /// Several nodes have local addresses: several daemons share this host.
    #[error("several nodes have local addresses ({}); set totem {{ nodeid: N }}", list(.nodeids))]
    SeveralLocalNodes {
        /// Their node ids, in nodelist order.
        nodeids: Vec<u32>,
    },
}

fn list<T: ToString>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    items.join(", ")
}

impl Config {
    /// The Totem settings of processor `node_id`: corosync's defaults for this nodelist's
    /// size, `token` with the timers derived from it, then every timer given explicitly.
    /// `rng_seed` is left for the caller.
    ///
    /// When `token_retransmit` is given but `hold` is not, `hold` is derived from it as
    /// corosync does (0.8 × token_retransmit − 10 ms, at least 1 ms).
    pub fn totem_config(&self, node_id: NodeId) -> TotemConfig {
        let t = &self.totem;
        let mut c = TotemConfig::new(node_id, self.nodelist.len().max(1));
        // Both feed the derivation in `derive_from_token`, so they go first.
        c.token_coefficient = t.token_coefficient;
        c.token_retransmits_before_loss_const = t.token_retransmits_before_loss_const;
        c.derive_from_token(t.token);
        if let Some(token_retransmit) = t.token_retransmit {
            c.token_retransmit = token_retransmit;
            c.hold = token_retransmit
                .mul_f64(0.8)
                .saturating_sub(std::time::Duration::from_millis(10))
                .max(std::time::Duration::from_millis(1));
        }
        if let Some(hold) = t.hold {
            c.hold = hold;
        }
        if let Some(consensus) = t.consensus {
            c.consensus = consensus;
        }
        c.join = t.join;
        c.send_join = t.send_join;
        c.merge = t.merge;
        c.downcheck = t.downcheck;
        c.fail_recv_const = t.fail_recv_const.get();
        c.seqno_unchanged_const = t.seqno_unchanged_const;
        c.miss_count_const = t.miss_count_const.get();
        c.window_size = t.window_size.get();
        c.max_messages = t.max_messages.get();
        c.netmtu = usize::try_from(t.netmtu).unwrap_or(usize::MAX);
        c.fail_fast = t.fail_fast;
        c
    }

    /// This host's node: the one `totem.nodeid` names if set, else the only node with an
    /// address in `local_addrs`. Only IP literals are compared; a node given by host name
    /// matches once the caller has resolved it, or through `totem.nodeid`.
    pub fn local_node(&self, local_addrs: &[IpAddr]) -> Result<&Node, LocalNodeError> {
        if self.nodelist.is_empty() {
            return Err(LocalNodeError::EmptyNodelist);
        }
        if let Some(id) = self.totem.nodeid {
            return self
                .nodelist
                .iter()
                .find(|n| n.nodeid == id)
                .ok_or(LocalNodeError::NodeIdNotListed(id));
        }
        let local: Vec<&Node> = self
            .nodelist
            .iter()
            .filter(|n| n.ip_addrs().any(|(_, ip)| local_addrs.contains(&ip)))
            .collect();
        match local.as_slice() {
            [node] => Ok(node),
            [] => Err(LocalNodeError::NoLocalNode {
                local_addrs: local_addrs.to_vec(),
            }),
            several => Err(LocalNodeError::SeveralLocalNodes {
                nodeids: several.iter().map(|n| n.nodeid).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::parse;

    fn nodes(body: &str, ids: &[(u32, &str)]) -> Config {
        let nodes: String = ids
            .iter()
            .map(|(id, addr)| format!("node {{\nnodeid: {id}\nring0_addr: {addr}\n}}\n"))
            .collect();
        let text = format!("totem {{\n{body}\n}}\nnodelist {{\n{nodes}}}\n");
        parse(&text, "c.conf")
            .unwrap_or_else(|e| panic!("{e}"))
            .config
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn totem_config_derives_from_token_then_applies_explicit_values() {
        let c = nodes(
            "token: 1000\nwindow_size: 100\nfail_fast: 0",
            &[(1, "10.0.0.1")],
        );
        let t = c.totem_config(NodeId(1));
        assert_eq!(
            (t.token, t.consensus, t.window_size),
            (ms(1000), ms(1200), 100)
        );
        assert_eq!(
            (t.token_retransmit.as_millis(), t.hold.as_millis()),
            (238, 180)
        );
        assert_eq!(
            (t.fail_fast, t.node_count, t.node_id),
            (Duration::ZERO, 1, NodeId(1))
        );
        assert_eq!(t.validate(), Ok(()));

        let three = [(1, "10.0.0.1"), (2, "10.0.0.2"), (3, "10.0.0.3")];
        let c = nodes(
            "token: 1000\ntoken_coefficient: 500\nconsensus: 5000\nhold: 50",
            &three,
        );
        let t = c.totem_config(NodeId(2));
        assert_eq!(
            (t.token_timeout(), t.consensus, t.hold),
            (ms(1500), ms(5000), ms(50))
        );
    }

    #[test]
    fn an_explicit_token_retransmit_sets_hold_unless_hold_is_given() {
        let c = nodes("token_retransmit: 500", &[(1, "10.0.0.1")]);
        let t = c.totem_config(NodeId(1));
        assert_eq!((t.token_retransmit, t.hold), (ms(500), ms(390)));
    }

    #[test]
    fn local_node_by_address_or_by_nodeid() {
        let three = [(1, "127.0.0.1"), (2, "127.0.0.2"), (3, "10.0.0.3")];
        let c = nodes("", &three);
        let lo: Vec<IpAddr> = vec![[127, 0, 0, 1].into(), [127, 0, 0, 2].into()];
        assert_eq!(
            c.local_node(&lo).map(|n| n.nodeid).unwrap_err().to_string(),
            "several nodes have local addresses (1, 2); set totem { nodeid: N }"
        );
        assert_eq!(
            c.local_node(&[[10, 0, 0, 3].into()]).map(|n| n.nodeid),
            Ok(3)
        );
        assert_eq!(
            c.local_node(&[[10, 9, 9, 9].into()])
                .unwrap_err()
                .to_string(),
            "no node has a local address (10.9.9.9); check the ringX_addr values or set \
             totem { nodeid: N }"
        );
        let c = nodes("nodeid: 2", &three);
        assert_eq!(c.local_node(&lo).map(|n| n.nodeid), Ok(2));
        let mut c = c;
        c.totem.nodeid = Some(9);
        assert_eq!(c.local_node(&lo), Err(LocalNodeError::NodeIdNotListed(9)));
        c.nodelist.clear();
        assert_eq!(c.local_node(&lo), Err(LocalNodeError::EmptyNodelist));
    }
}
