//! Services and the sync layer on an ideal ring: every multicast is delivered to every member
//! in one total order; configuration changes are injected by hand.

use std::collections::BTreeMap;

use ais_totem::{ConfigChange, Delivery};
use ais_types::{ConnId, Credentials, NodeId, RingId};
use ais_wire::Order;
use ais_wire::ipc::{
    CpgAddress, CpgEvent, CpgName, CpgPayload, CpgReason, CpgRequest, CpgResponse, CsStatus,
    Guarantee, IterationType,
};
use bytes::Bytes;

use crate::{Effect, Services};

const ROOM: usize = 1 << 20;

/// A confchg as (members, left, joined).
type Confchg = (
    Vec<(u32, u32)>,
    Vec<(u32, u32, CpgReason)>,
    Vec<(u32, u32, CpgReason)>,
);

/// Nodes, and the ring's pending multicasts in submission order per node.
struct Ring {
    nodes: BTreeMap<NodeId, Node>,
    ring: RingId,
    members: Vec<NodeId>,
    seq: u64,
    partitions: Vec<Vec<u32>>,
}

struct Node {
    services: Services,
    outbox: Vec<(Bytes, Order)>,
    replies: Vec<(ConnId, CpgResponse)>,
    events: Vec<(ConnId, CpgEvent)>,
    disconnects: Vec<ConnId>,
}

impl Ring {
    fn new(ids: &[u32]) -> Self {
        let mut ring = Self {
            nodes: BTreeMap::new(),
            ring: RingId::default(),
            members: Vec::new(),
            seq: 0,
            partitions: Vec::new(),
        };
        for &id in ids {
            ring.nodes.insert(
                NodeId(id),
                Node {
                    services: Services::standard(NodeId(id), &crate::ServiceSettings::default())
                        .expect("settings"),
                    outbox: Vec::new(),
                    replies: Vec::new(),
                    events: Vec::new(),
                    disconnects: Vec::new(),
                },
            );
        }
        ring.configure(&[ids], ids.len() as u64);
        ring
    }

    fn node(&mut self, id: u32) -> &mut Node {
        self.nodes.get_mut(&NodeId(id)).expect("node")
    }

    /// Collects every node's effects.
    fn drain(&mut self) {
        for node in self.nodes.values_mut() {
            while let Some(effect) = node.services.poll_effect() {
                match effect {
                    Effect::Multicast { payload, order } => node.outbox.push((payload, order)),
                    Effect::Reply { conn, msg } => {
                        node.replies
                            .push((conn, CpgResponse::decode(&msg).expect("reply")));
                    }
                    Effect::Event { conn, msg } => {
                        node.events
                            .push((conn, CpgEvent::decode(&msg).expect("event")));
                    }
                    Effect::Disconnect { conn } => node.disconnects.push(conn),
                    Effect::Control(_) => {}
                }
            }
        }
    }

    /// Orders every queued multicast of the current members and delivers it to them, until
    /// nothing is left.
    fn settle(&mut self) {
        loop {
            self.drain();
            let mut batch = Vec::new();
            for &id in &self.members {
                batch.extend(
                    std::mem::take(&mut self.nodes.get_mut(&id).expect("member").outbox)
                        .into_iter()
                        .map(|m| (id, m)),
                );
            }
            if batch.is_empty() {
                return;
            }
            for (origin, (payload, order)) in batch {
                self.seq += 1;
                let delivery = Delivery {
                    origin,
                    ring_id: self.ring,
                    seq: self.seq,
                    index: 0,
                    order,
                    payload,
                };
                for &id in &self.members.clone() {
                    self.node(id.0).services.handle_delivery(&delivery);
                }
            }
        }
    }

    /// Installs one new ring per partition (each a list of node ids) with ring seq `seq`;
    /// every node keeps its unsent multicasts, as Totem does.
    fn configure(&mut self, partitions: &[&[u32]], seq: u64) {
        let old: BTreeMap<NodeId, Vec<NodeId>> = self
            .nodes
            .keys()
            .map(|&id| (id, self.partition_of(id)))
            .collect();
        for part in partitions {
            let members: Vec<NodeId> = part.iter().map(|&i| NodeId(i)).collect();
            let ring = RingId::new(members[0], seq);
            for &id in &members {
                let trans: Vec<NodeId> = members
                    .iter()
                    .copied()
                    .filter(|m| old[&id].contains(m))
                    .collect();
                let node = self.node(id.0);
                node.services
                    .handle_configuration(&ConfigChange::Transitional {
                        old_ring_id: RingId::default(),
                        ring_id: ring,
                        members: trans.clone(),
                        left: Vec::new(),
                    });
                node.services.handle_configuration(&ConfigChange::Regular {
                    ring_id: ring,
                    members: members.clone(),
                    joined: Vec::new(),
                    left: Vec::new(),
                });
            }
        }
        // The ring this harness drives is the first partition; `settle_partition` drives
        // the others.
        self.members = partitions[0].iter().map(|&i| NodeId(i)).collect();
        self.ring = RingId::new(self.members[0], seq);
        self.partitions = partitions.iter().map(|p| p.to_vec()).collect();
    }

    fn partition_of(&self, id: NodeId) -> Vec<NodeId> {
        self.partitions
            .iter()
            .find(|p| p.contains(&id.0))
            .map(|p| p.iter().map(|&i| NodeId(i)).collect())
            .unwrap_or_else(|| vec![id])
    }

    /// Settles every partition in turn.
    fn settle_all(&mut self, seq: u64) {
        for part in self.partitions.clone() {
            self.members = part.iter().map(|&i| NodeId(i)).collect();
            self.ring = RingId::new(self.members[0], seq);
            self.settle();
        }
    }

    fn request(&mut self, node: u32, conn: u64, request: CpgRequest) {
        let n = self.node(node);
        n.services
            .handle_request(ConnId(conn), &request.to_vec(), ROOM);
    }

    fn connect(&mut self, node: u32, conn: u64) {
        self.node(node)
            .services
            .handle_connect(ConnId(conn), 0, Credentials::root(conn as u32));
    }

    fn join(&mut self, node: u32, conn: u64, group: &str) {
        self.connect(node, conn);
        self.request(
            node,
            conn,
            CpgRequest::Join {
                group: name(group),
                pid: conn as u32,
                flags: 0,
            },
        );
    }

    fn mcast(&mut self, node: u32, conn: u64, data: &[u8]) {
        self.request(
            node,
            conn,
            CpgRequest::Mcast {
                guarantee: Guarantee::AGREED,
                payload: CpgPayload::new(Bytes::copy_from_slice(data)).unwrap(),
            },
        );
    }

    /// Every group's members on every node must agree.
    fn assert_replicas_equal(&self) {
        let mut digests = self.nodes.values().map(|n| n.services.digests());
        let first = digests.next().unwrap();
        for d in digests {
            assert_eq!(d, first, "replicas differ");
        }
    }

    fn confchgs(&self, node: u32, conn: u64) -> Vec<Confchg> {
        self.nodes[&NodeId(node)]
            .events
            .iter()
            .filter(|(c, _)| *c == ConnId(conn))
            .filter_map(|(_, e)| match e {
                CpgEvent::Confchg(c) => {
                    Some((pairs(&c.members), triples(&c.left), triples(&c.joined)))
                }
                _ => None,
            })
            .collect()
    }

    fn delivered(&self, node: u32, conn: u64) -> Vec<(u32, Vec<u8>)> {
        self.nodes[&NodeId(node)]
            .events
            .iter()
            .filter(|(c, _)| *c == ConnId(conn))
            .filter_map(|(_, e)| match e {
                CpgEvent::Deliver(d) => Some((d.nodeid.0, d.payload.bytes().to_vec())),
                _ => None,
            })
            .collect()
    }
}

fn name(s: &str) -> CpgName {
    CpgName::new(s.as_bytes().to_vec()).unwrap()
}

fn pairs(list: &[CpgAddress]) -> Vec<(u32, u32)> {
    list.iter().map(|a| (a.nodeid.0, a.pid)).collect()
}

fn triples(list: &[CpgAddress]) -> Vec<(u32, u32, CpgReason)> {
    list.iter().map(|a| (a.nodeid.0, a.pid, a.reason)).collect()
}

#[test]
fn join_mcast_leave_on_one_node() {
    let mut r = Ring::new(&[1]);
    r.settle();
    r.join(1, 10, "g");
    r.settle();
    assert_eq!(
        r.node(1).replies[0],
        (ConnId(10), CpgResponse::Join(CsStatus::OK))
    );
    assert_eq!(
        r.confchgs(1, 10),
        vec![(vec![(1, 10)], vec![], vec![(1, 10, CpgReason::Join)])]
    );
    r.mcast(1, 10, b"hello");
    r.settle();
    assert_eq!(r.delivered(1, 10), vec![(1, b"hello".to_vec())]);
    r.request(
        1,
        10,
        CpgRequest::Leave {
            group: name("g"),
            pid: 10,
        },
    );
    r.settle();
    assert_eq!(
        r.confchgs(1, 10).last().unwrap(),
        &(vec![], vec![(1, 10, CpgReason::Leave)], vec![])
    );
    assert!(
        r.node(1).services.digests()
            == Services::standard(NodeId(1), &crate::ServiceSettings::default())
                .expect("settings")
                .digests()
    );
}

#[test]
fn every_member_delivers_the_same_sequence_and_procdown_is_reported() {
    let mut r = Ring::new(&[1, 2, 3]);
    r.settle();
    for n in 1..=3 {
        r.join(n, 10 + u64::from(n), "g");
    }
    r.settle();
    for i in 0..5u8 {
        for n in 1..=3 {
            r.mcast(n, 10 + u64::from(n), &[n as u8, i]);
        }
    }
    r.settle();
    let first = r.delivered(1, 11);
    assert_eq!(first.len(), 15);
    assert_eq!(r.delivered(2, 12), first);
    assert_eq!(r.delivered(3, 13), first);
    r.node(3).services.handle_disconnect(ConnId(13));
    r.settle();
    let last = r.confchgs(1, 11).last().unwrap().clone();
    assert_eq!(
        last,
        (
            vec![(1, 11), (2, 12)],
            vec![(3, 13, CpgReason::ProcDown)],
            vec![]
        )
    );
    r.assert_replicas_equal();
}

#[test]
fn partition_reports_nodedown_and_merge_reports_nodeup() {
    let mut r = Ring::new(&[1, 2, 3]);
    r.settle();
    for n in 1..=3 {
        r.join(n, 10 + u64::from(n), "g");
    }
    r.settle();
    r.configure(&[&[1, 2], &[3]], 10);
    r.settle_all(10);
    assert_eq!(
        r.confchgs(1, 11).last().unwrap(),
        &(
            vec![(1, 11), (2, 12)],
            vec![(3, 13, CpgReason::NodeDown)],
            vec![]
        )
    );
    assert_eq!(
        r.confchgs(3, 13).last().unwrap(),
        &(
            vec![(3, 13)],
            vec![(1, 11, CpgReason::NodeDown), (2, 12, CpgReason::NodeDown)],
            vec![]
        )
    );
    // While apart, node 3's process leaves and another joins on node 1.
    r.node(3).services.handle_disconnect(ConnId(13));
    r.join(1, 21, "g");
    r.settle_all(10);
    r.configure(&[&[1, 2, 3]], 20);
    r.settle();
    r.assert_replicas_equal();
    let groups = r.node(2).services.digests();
    assert_eq!(groups, r.node(3).services.digests());
    assert_eq!(
        r.confchgs(1, 11).last().unwrap().0,
        vec![(1, 11), (1, 21), (2, 12)],
        "joinlists rebuild the membership"
    );
}

#[test]
fn messages_delivered_during_sync_wait_for_the_synchronized_state() {
    let mut r = Ring::new(&[1, 2]);
    r.settle();
    r.join(1, 11, "g");
    r.settle();
    // A new configuration starts a sync; node 2's join and node 1's message are ordered in
    // the middle of it.
    r.configure(&[&[1, 2]], 30);
    r.drain();
    r.join(2, 12, "g");
    r.mcast(1, 11, b"m");
    assert!(r.node(1).services.is_syncing());
    r.settle();
    assert!(!r.node(1).services.is_syncing());
    // Node 1's message and then node 2's join were ordered inside the sync (CPG's phase,
    // then cfg's): held, then applied in that order on the synchronized state, so node 2
    // was not yet a member when the message applied.
    assert_eq!(r.node(1).services.stats().held, 2);
    assert_eq!(r.delivered(1, 11), vec![(1, b"m".to_vec())]);
    assert_eq!(r.delivered(2, 12), vec![]);
    assert_eq!(r.confchgs(2, 12).last().unwrap().0, vec![(1, 11), (2, 12)]);
    assert_eq!(r.node(1).services.stats().syncs_completed, 2);
    r.assert_replicas_equal();
}

#[test]
fn a_newer_configuration_aborts_the_sync() {
    let mut r = Ring::new(&[1, 2]);
    r.settle();
    r.join(1, 11, "g");
    r.join(2, 12, "g");
    r.settle();
    r.configure(&[&[1, 2]], 40);
    r.drain();
    // The sync of ring 40 never completes: its messages are lost with the ring.
    for node in r.nodes.values_mut() {
        node.outbox.clear();
    }
    r.configure(&[&[1, 2]], 41);
    r.settle();
    assert_eq!(r.node(1).services.stats().syncs_aborted, 1);
    r.assert_replicas_equal();
    assert_eq!(r.confchgs(1, 11).last().unwrap().0, vec![(1, 11), (2, 12)]);
}

#[test]
fn queries_and_iteration_use_the_local_replica() {
    let mut r = Ring::new(&[1, 2]);
    r.settle();
    r.join(1, 11, "a");
    r.join(2, 12, "b");
    r.settle();
    r.connect(1, 99);
    r.request(1, 99, CpgRequest::LocalGet);
    r.request(
        1,
        99,
        CpgRequest::IterationInitialize {
            group: name(""),
            iteration_type: IterationType::All,
        },
    );
    r.drain();
    let handle = match r.node(1).replies.last().unwrap().1 {
        CpgResponse::IterationInitialize { handle, error } => {
            assert_eq!(error, CsStatus::OK);
            handle
        }
        ref other => panic!("{other:?}"),
    };
    for _ in 0..3 {
        r.request(1, 99, CpgRequest::IterationNext { handle });
    }
    r.drain();
    let replies: Vec<_> = r
        .node(1)
        .replies
        .iter()
        .filter(|(c, _)| *c == ConnId(99))
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(
        replies[0],
        CpgResponse::LocalGet {
            error: CsStatus::OK,
            local_nodeid: NodeId(1)
        }
    );
    let entries: Vec<_> = replies[2..]
        .iter()
        .map(|r| match r {
            CpgResponse::IterationNext { error, description } => (
                *error,
                description.group.as_bytes().to_vec(),
                description.nodeid.0,
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            (CsStatus::OK, b"a".to_vec(), 1),
            (CsStatus::OK, b"b".to_vec(), 2),
            (CsStatus::ERR_NO_SECTIONS, Vec::new(), 0)
        ]
    );
}

#[test]
fn bad_requests_and_double_joins_are_refused() {
    let mut r = Ring::new(&[1]);
    r.settle();
    r.join(1, 11, "g");
    r.request(
        1,
        11,
        CpgRequest::Join {
            group: name("g"),
            pid: 11,
            flags: 0,
        },
    );
    r.node(1)
        .services
        .handle_request(ConnId(11), b"garbage!", ROOM);
    r.drain();
    assert_eq!(
        r.node(1).replies[1].1,
        CpgResponse::Join(CsStatus::ERR_EXIST)
    );
    assert_eq!(r.node(1).disconnects, vec![ConnId(11)]);
    // No room in Totem's queue: TRY_AGAIN, nothing sent.
    r.connect(1, 12);
    r.node(1).services.handle_request(
        ConnId(12),
        &CpgRequest::Join {
            group: name("h"),
            pid: 12,
            flags: 0,
        }
        .to_vec(),
        0,
    );
    r.drain();
    assert_eq!(
        r.node(1).replies[2].1,
        CpgResponse::Join(CsStatus::ERR_TRY_AGAIN)
    );
}

/// A multicast is never answered, so it is never refused: with no room left it goes all the
/// same (the shell bounds the queue by reading requests only when they fit), and what it
/// queues is at most the request plus REQUEST_OVERHEAD_MAX.
#[test]
fn a_multicast_is_never_dropped_and_stays_within_the_overhead() {
    let mut r = Ring::new(&[1]);
    r.settle();
    let group = "g".repeat(ais_wire::ipc::CPG_NAME_MAX);
    r.join(1, 11, &group);
    r.settle();
    r.node(1).outbox.clear();
    let request = CpgRequest::Mcast {
        guarantee: Guarantee::SAFE,
        payload: CpgPayload::new(Bytes::from(vec![7; ais_wire::ipc::CPG_MCAST_PAYLOAD_MAX]))
            .unwrap(),
    }
    .to_vec();
    r.node(1).services.handle_request(ConnId(11), &request, 0);
    r.drain();
    let outbox = &r.node(1).outbox;
    assert_eq!(outbox.len(), 1, "the multicast was dropped");
    assert!(
        outbox[0].0.len() <= request.len() + crate::REQUEST_OVERHEAD_MAX,
        "{} bytes queued for a request of {}",
        outbox[0].0.len(),
        request.len()
    );
}

#[test]
fn a_process_that_exits_across_a_membership_change_leaves_after_its_last_message() {
    let mut r = Ring::new(&[1, 2]);
    r.settle();
    r.join(1, 11, "g");
    r.join(2, 12, "g");
    r.settle();
    // Node 1's client multicasts and exits; before the ring orders either, a new
    // configuration starts a sync.
    r.mcast(1, 11, b"last words");
    r.node(1).services.handle_disconnect(ConnId(11));
    r.configure(&[&[1, 2]], 50);
    r.settle();
    let events: Vec<&CpgEvent> = r.nodes[&NodeId(2)]
        .events
        .iter()
        .filter(|(c, _)| *c == ConnId(12))
        .map(|(_, e)| e)
        .collect();
    let said = events
        .iter()
        .position(
            |e| matches!(e, CpgEvent::Deliver(d) if d.payload.bytes().as_ref() == b"last words"),
        )
        .expect("the last message is delivered");
    let left = events
        .iter()
        .position(|e| matches!(e, CpgEvent::Confchg(c) if !c.left.is_empty()))
        .expect("the departure is reported");
    assert!(said < left, "message after the leave: {events:?}");
    assert_eq!(
        r.confchgs(2, 12).last().unwrap().1,
        vec![(1, 11, CpgReason::ProcDown)]
    );
    r.assert_replicas_equal();
}

#[test]
fn a_second_join_of_the_same_process_is_exist_and_one_whose_leave_is_pending_try_again() {
    let mut r = Ring::new(&[1]);
    r.settle();
    r.join(1, 5, "g");
    r.settle();
    // Another connection of the same process (pid 5).
    r.connect(1, 6);
    let again = CpgRequest::Join {
        group: name("g"),
        pid: 5,
        flags: 0,
    };
    r.request(1, 6, again.clone());
    r.request(
        1,
        5,
        CpgRequest::Leave {
            group: name("g"),
            pid: 5,
        },
    );
    r.request(1, 6, again.clone());
    r.drain();
    let replies: Vec<CpgResponse> = r
        .node(1)
        .replies
        .iter()
        .filter(|(c, _)| *c == ConnId(6))
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(
        replies,
        vec![
            CpgResponse::Join(CsStatus::ERR_EXIST),
            CpgResponse::Join(CsStatus::ERR_TRY_AGAIN)
        ]
    );
    r.settle();
    r.request(1, 6, again);
    r.settle();
    assert_eq!(
        r.node(1).replies.last().unwrap(),
        &(ConnId(6), CpgResponse::Join(CsStatus::OK))
    );
    assert_eq!(r.confchgs(1, 6).last().unwrap().0, vec![(1, 5)]);
}

#[test]
fn a_confchg_between_fragments_interrupts_the_fragmented_message() {
    use ais_wire::ipc::{FragmentKind, PartialFragment};
    let mut r = Ring::new(&[1, 2]);
    r.settle();
    r.join(1, 11, "g");
    r.settle();
    let fragment = |kind| CpgRequest::PartialMcast {
        guarantee: Guarantee::AGREED,
        fragment: PartialFragment::new(6, kind, Bytes::from_static(b"abc")).unwrap(),
    };
    r.request(1, 11, fragment(FragmentKind::First));
    r.settle();
    // Someone joins the group between the two fragments.
    r.join(2, 12, "g");
    r.settle();
    r.request(1, 11, fragment(FragmentKind::Last));
    r.drain();
    let sends: Vec<CsStatus> = r
        .node(1)
        .replies
        .iter()
        .filter_map(|(_, m)| match m {
            CpgResponse::PartialSend(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(sends, vec![CsStatus::OK, CsStatus::ERR_INTERRUPT]);
    // Without a confchg in between, a message goes through whole.
    r.request(1, 11, fragment(FragmentKind::First));
    r.request(1, 11, fragment(FragmentKind::Last));
    r.settle();
    assert_eq!(
        r.node(1)
            .replies
            .iter()
            .filter(|(_, m)| *m == CpgResponse::PartialSend(CsStatus::OK))
            .count(),
        3
    );
}
