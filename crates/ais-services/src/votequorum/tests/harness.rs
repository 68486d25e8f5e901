//! The test cluster for votequorum: nodes with the services host, partitions injected by
//! hand, every multicast of a partition delivered to all its members in one order.

use std::collections::BTreeMap;

use ais_totem::{ConfigChange, Delivery};
use ais_types::{ConnId, Credentials, NodeId, RingId};
use ais_wire::Order;
use ais_wire::ipc::{
    CsStatus, QuorumEvent, QuorumRequest, QuorumResponse, VotequorumEvent, VotequorumRequest,
    VotequorumResponse,
};
use bytes::Bytes;

use crate::votequorum::{QuorumStatus, Settings, Votequorum};
use crate::{Effect, Services};

pub(super) const ROOM: usize = 1 << 20;
pub(super) const QUORUM: usize = 0;
pub(super) const VOTEQUORUM: usize = 1;

pub(super) fn n(id: u32) -> NodeId {
    NodeId(id)
}

/// What a client received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Got {
    Quorum(QuorumEvent),
    Votequorum(VotequorumEvent),
}

pub(super) struct Node {
    pub(super) services: Services,
    pub(super) outbox: Vec<(Bytes, Order)>,
    pub(super) replies: Vec<(ConnId, Vec<u8>)>,
    pub(super) events: Vec<(ConnId, Vec<u8>)>,
    pub(super) disconnects: Vec<ConnId>,
    /// Which endpoint each client came through.
    pub(super) endpoints: BTreeMap<ConnId, usize>,
}

pub(super) struct Cluster {
    pub(super) nodes: BTreeMap<NodeId, Node>,
    pub(super) partitions: Vec<Vec<u32>>,
    pub(super) seq: u64,
}

pub(super) fn settings(nodes: u32) -> Settings {
    Settings::votequorum((1..=nodes).map(|i| (n(i), 1)).collect())
}

impl Cluster {
    /// `nodes` nodes with `settings`, each booted in a ring of its own, then all in one.
    pub(super) fn new(nodes: u32, settings: &Settings) -> Self {
        let mut c = Self::cold(nodes, settings);
        let all: Vec<u32> = (1..=nodes).collect();
        c.configure(&[all]);
        c
    }

    /// `nodes` nodes with `settings`, each booted in a ring of its own.
    pub(super) fn cold(nodes: u32, settings: &Settings) -> Self {
        let mut c = Self {
            nodes: BTreeMap::new(),
            partitions: Vec::new(),
            seq: 0,
        };
        for i in 1..=nodes {
            let engine = Votequorum::new(n(i), settings).expect("valid settings");
            let services = Services::new(n(i), vec![Box::new(engine)], vec![(0, 0), (0, 1)]);
            c.nodes.insert(
                n(i),
                Node {
                    services,
                    outbox: Vec::new(),
                    replies: Vec::new(),
                    events: Vec::new(),
                    disconnects: Vec::new(),
                    endpoints: BTreeMap::new(),
                },
            );
        }
        let singles: Vec<Vec<u32>> = (1..=nodes).map(|i| vec![i]).collect();
        c.configure(&singles);
        c
    }

    pub(super) fn node(&mut self, id: u32) -> &mut Node {
        self.nodes.get_mut(&n(id)).expect("node")
    }

    pub(super) fn vq(&self, id: u32) -> &Votequorum {
        self.nodes[&n(id)]
            .services
            .engine::<Votequorum>()
            .expect("votequorum runs")
    }

    pub(super) fn status(&self, id: u32) -> QuorumStatus {
        self.vq(id).status()
    }

    pub(super) fn quorate(&self, id: u32) -> bool {
        self.vq(id).quorate()
    }

    pub(super) fn drain(&mut self) {
        for node in self.nodes.values_mut() {
            while let Some(effect) = node.services.poll_effect() {
                match effect {
                    Effect::Multicast { payload, order } => node.outbox.push((payload, order)),
                    Effect::Reply { conn, msg } => node.replies.push((conn, msg)),
                    Effect::Event { conn, msg } => node.events.push((conn, msg)),
                    Effect::Disconnect { conn } => node.disconnects.push(conn),
                    _ => {}
                }
            }
        }
    }

    /// Delivers every partition's multicasts to its members, in one order, until quiet.
    pub(super) fn settle(&mut self) {
        loop {
            self.drain();
            let mut any = false;
            for part in self.partitions.clone() {
                let ring = RingId::new(n(part[0]), self.seq);
                let mut batch = Vec::new();
                for &id in &part {
                    let out = std::mem::take(&mut self.node(id).outbox);
                    batch.extend(out.into_iter().map(|m| (n(id), m)));
                }
                for (i, (origin, (payload, order))) in batch.into_iter().enumerate() {
                    any = true;
                    let d = Delivery {
                        origin,
                        ring_id: ring,
                        seq: i as u64 + 1,
                        index: 0,
                        order,
                        payload,
                    };
                    for &id in &part {
                        self.node(id).services.handle_delivery(&d);
                    }
                }
            }
            if !any {
                return;
            }
        }
    }

    /// New rings, one per partition; then every partition settles (its sync runs).
    pub(super) fn configure(&mut self, partitions: &[Vec<u32>]) {
        self.drain();
        for node in self.nodes.values_mut() {
            node.outbox.clear();
        }
        self.seq += 4;
        let old = self.partitions.clone();
        for part in partitions {
            let members: Vec<NodeId> = part.iter().map(|&i| n(i)).collect();
            let ring = RingId::new(members[0], self.seq);
            for &id in part {
                let before = old.iter().find(|p| p.contains(&id)).cloned();
                let trans: Vec<NodeId> = part
                    .iter()
                    .filter(|m| before.as_ref().is_some_and(|b| b.contains(m)))
                    .map(|&m| n(m))
                    .collect();
                let s = &mut self.node(id).services;
                s.handle_configuration(&ConfigChange::Transitional {
                    old_ring_id: RingId::default(),
                    ring_id: ring,
                    members: trans,
                    left: Vec::new(),
                });
                s.handle_configuration(&ConfigChange::Regular {
                    ring_id: ring,
                    members: members.clone(),
                    joined: Vec::new(),
                    left: Vec::new(),
                });
            }
        }
        self.partitions = partitions.to_vec();
        self.settle();
    }

    pub(super) fn split(&mut self, parts: &[&[u32]]) {
        let parts: Vec<Vec<u32>> = parts.iter().map(|p| p.to_vec()).collect();
        self.configure(&parts);
    }

    pub(super) fn connect(&mut self, id: u32, conn: u64, endpoint: usize) {
        let node = self.node(id);
        node.endpoints.insert(ConnId(conn), endpoint);
        node.services
            .handle_connect(ConnId(conn), endpoint, Credentials::root(conn as u32));
    }

    pub(super) fn quorum(&mut self, id: u32, conn: u64, request: QuorumRequest) -> QuorumResponse {
        self.node(id)
            .services
            .handle_request(ConnId(conn), &request.to_vec(), ROOM);
        self.drain();
        let (c, msg) = self.node(id).replies.pop().expect("a reply");
        assert_eq!(c, ConnId(conn));
        QuorumResponse::decode(&msg).expect("a quorum response")
    }

    pub(super) fn votequorum(
        &mut self,
        id: u32,
        conn: u64,
        request: VotequorumRequest,
    ) -> VotequorumResponse {
        self.node(id)
            .services
            .handle_request(ConnId(conn), &request.to_vec(), ROOM);
        self.drain();
        let (c, msg) = self.node(id).replies.pop().expect("a reply");
        assert_eq!(c, ConnId(conn));
        VotequorumResponse::decode(&msg).expect("a votequorum response")
    }

    /// The events a client received since the last call, decoded.
    pub(super) fn take_events(&mut self, id: u32, conn: u64) -> Vec<Got> {
        let node = self.node(id);
        let endpoint = node.endpoints[&ConnId(conn)];
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut node.events)
            .into_iter()
            .partition(|(c, _)| *c == ConnId(conn));
        node.events = rest;
        mine.into_iter()
            .map(|(_, msg)| match endpoint {
                QUORUM => Got::Quorum(QuorumEvent::decode(&msg).expect("quorum event")),
                _ => Got::Votequorum(VotequorumEvent::decode(&msg).expect("votequorum event")),
            })
            .collect()
    }

    /// Every member of a partition holds the same replicated state.
    pub(super) fn assert_replicas_equal(&self) {
        for part in &self.partitions {
            let first = self.nodes[&n(part[0])].services.digests();
            for id in part {
                assert_eq!(
                    self.nodes[&n(*id)].services.digests(),
                    first,
                    "n{id} differs from n{}: {} vs {}",
                    part[0],
                    self.nodes[&n(*id)].services.describe(),
                    self.nodes[&n(part[0])].services.describe()
                );
            }
        }
    }
}

pub(super) fn ids(list: &[u32]) -> Vec<NodeId> {
    list.iter().map(|&i| n(i)).collect()
}

pub(super) fn status_ok(r: VotequorumResponse) -> CsStatus {
    match r {
        VotequorumResponse::Status(s) => s,
        other => panic!("{other:?}"),
    }
}
