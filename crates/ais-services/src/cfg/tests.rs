//! cfg through the services host on a one-node ring: multicasts come straight back.

use std::collections::BTreeMap;
use std::time::Duration;

use ais_totem::Delivery;
use ais_types::{ConnId, Credentials, NodeId, RingId};
use ais_wire::ipc::{
    CfgEvent, CfgRequest, CfgResponse, CmapValue, CsName, CsStatus, cfg_response_id,
    cfg_shutdown_flags, cfg_shutdown_reply,
};

use super::{Cfg, SHUTDOWN_TIMEOUT};
use crate::{Control, Effect, Services};

struct Node {
    services: Services,
    seq: u64,
    replies: Vec<(u64, CfgResponse)>,
    events: Vec<(u64, CfgEvent)>,
    controls: Vec<Control>,
    /// Every multicast, for delivering to another node.
    sent: Vec<(bytes::Bytes, ais_wire::Order)>,
}

impl Node {
    fn new(me: u32) -> Self {
        let addrs = BTreeMap::from([
            (NodeId(1), vec!["10.0.0.1".parse().expect("ip")]),
            (NodeId(2), vec!["10.0.0.2".parse().expect("ip")]),
        ]);
        let services = Services::new(
            NodeId(me),
            vec![Box::new(Cfg::new(NodeId(me), addrs))],
            vec![(0, 0)],
        );
        Self {
            services,
            seq: 0,
            replies: Vec::new(),
            events: Vec::new(),
            controls: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Delivers another node's multicast here.
    fn deliver_from(&mut self, origin: u32, (payload, order): (bytes::Bytes, ais_wire::Order)) {
        self.seq += 1;
        self.services.handle_delivery(&Delivery {
            origin: NodeId(origin),
            ring_id: RingId::new(NodeId(1), 4),
            seq: self.seq,
            index: 0,
            order,
            payload,
        });
        self.run(origin);
    }

    /// Carries out effects, delivering multicasts back as node `me`'s.
    fn run(&mut self, me: u32) {
        while let Some(effect) = self.services.poll_effect() {
            match effect {
                Effect::Multicast { payload, order } => {
                    self.sent.push((payload.clone(), order));
                    self.seq += 1;
                    self.services.handle_delivery(&Delivery {
                        origin: NodeId(me),
                        ring_id: RingId::new(NodeId(me), 4),
                        seq: self.seq,
                        index: 0,
                        order,
                        payload,
                    });
                }
                Effect::Reply { conn, msg } => self
                    .replies
                    .push((conn.0, CfgResponse::decode(&msg).expect("reply decodes"))),
                Effect::Event { conn, msg } => self
                    .events
                    .push((conn.0, CfgEvent::decode(&msg).expect("event decodes"))),
                Effect::Control(c) => self.controls.push(c),
                Effect::Disconnect { conn } => panic!("client {conn} dropped"),
            }
        }
    }

    fn ask(&mut self, conn: u64, request: CfgRequest) {
        self.services
            .handle_request(ConnId(conn), &request.to_vec(), 1 << 20);
        self.run(1);
    }

    fn tick(&mut self, at: Duration) {
        self.services.handle_tick(at);
        self.run(1);
    }
}

fn bare(id: i32, error: CsStatus) -> CfgResponse {
    CfgResponse::Bare { id, error }
}

#[test]
fn a_tracking_client_vetoes_a_requested_shutdown_but_not_a_forced_one() {
    let mut n = Node::new(1);
    for c in [1, 2, 3] {
        n.services
            .handle_connect(ConnId(c), 0, Credentials::root(100 + c as u32));
    }
    n.ask(2, CfgRequest::TrackStart { flags: 0 });
    assert_eq!(
        n.replies.pop(),
        Some((2, bare(cfg_response_id::TRACKSTART, CsStatus::OK)))
    );
    n.ask(
        1,
        CfgRequest::TryShutdown {
            flags: cfg_shutdown_flags::REQUEST,
        },
    );
    assert!(
        n.replies.is_empty(),
        "the answer waits for the tracking client"
    );
    assert_eq!(
        n.events,
        vec![(
            2,
            CfgEvent::TestShutdown {
                flags: cfg_shutdown_flags::REQUEST
            }
        )]
    );
    n.ask(
        2,
        CfgRequest::ReplyToShutdown {
            response: cfg_shutdown_reply::NO,
        },
    );
    assert_eq!(
        n.replies,
        vec![
            (2, bare(cfg_response_id::REPLYTOSHUTDOWN, CsStatus::OK)),
            (1, bare(cfg_response_id::TRYSHUTDOWN, CsStatus::ERR_BUSY)),
        ]
    );
    assert!(n.controls.is_empty());
    n.replies.clear();

    n.ask(
        1,
        CfgRequest::TryShutdown {
            flags: cfg_shutdown_flags::REGARDLESS,
        },
    );
    n.ask(
        2,
        CfgRequest::ReplyToShutdown {
            response: cfg_shutdown_reply::NO,
        },
    );
    assert_eq!(
        n.replies.last(),
        Some(&(1, bare(cfg_response_id::TRYSHUTDOWN, CsStatus::OK)))
    );
    assert!(matches!(n.controls.as_slice(), [Control::Exit { .. }]));
}

#[test]
fn a_silent_tracking_client_delays_the_shutdown_only_until_the_timeout() {
    let mut n = Node::new(1);
    n.services
        .handle_connect(ConnId(1), 0, Credentials::root(101));
    n.services
        .handle_connect(ConnId(2), 0, Credentials::root(102));
    n.ask(2, CfgRequest::TrackStart { flags: 0 });
    n.ask(
        1,
        CfgRequest::TryShutdown {
            flags: cfg_shutdown_flags::REQUEST,
        },
    );
    n.tick(Duration::from_secs(10));
    n.tick(Duration::from_secs(12));
    assert!(n.controls.is_empty(), "still within the timeout");
    n.tick(Duration::from_secs(10) + SHUTDOWN_TIMEOUT);
    assert!(matches!(n.controls.as_slice(), [Control::Exit { .. }]));
    assert_eq!(
        n.replies.last(),
        Some(&(1, bare(cfg_response_id::TRYSHUTDOWN, CsStatus::OK)))
    );
}

#[test]
fn an_immediate_shutdown_asks_nobody() {
    let mut n = Node::new(1);
    n.services
        .handle_connect(ConnId(1), 0, Credentials::root(101));
    n.services
        .handle_connect(ConnId(2), 0, Credentials::root(102));
    n.ask(2, CfgRequest::TrackStart { flags: 0 });
    n.ask(
        1,
        CfgRequest::TryShutdown {
            flags: cfg_shutdown_flags::IMMEDIATE,
        },
    );
    assert!(n.events.is_empty());
    assert!(matches!(n.controls.as_slice(), [Control::Exit { .. }]));
}

#[test]
fn reload_goes_through_the_ring_and_kill_reaches_only_its_target() {
    let mut n = Node::new(1);
    n.services
        .handle_connect(ConnId(1), 0, Credentials::root(101));
    n.ask(1, CfgRequest::ReloadConfig);
    assert!(n.replies.is_empty(), "answered after the daemon reloaded");
    assert_eq!(
        n.controls,
        vec![Control::ReloadConfig {
            reply: Some(ConnId(1))
        }]
    );
    n.controls.clear();
    let kill = |nodeid| CfgRequest::KillNode {
        nodeid: NodeId(nodeid),
        reason: CsName::new("test").expect("short"),
    };
    n.ask(1, kill(2));
    assert!(n.controls.is_empty(), "node 2 is killed, not this one");
    n.ask(1, kill(1));
    assert!(matches!(n.controls.as_slice(), [Control::Exit { reason }] if reason.contains("test")));
    n.ask(1, kill(9));
    assert_eq!(
        n.replies.last(),
        Some(&(1, bare(cfg_response_id::KILLNODE, CsStatus::ERR_NOT_EXIST)))
    );
}

#[test]
fn a_cluster_wide_shutdown_lets_each_node_ask_its_own_clients() {
    let mut one = Node::new(1);
    let mut two = Node::new(2);
    one.services
        .handle_connect(ConnId(1), 0, Credentials::root(101));
    one.ask(1, CfgRequest::ShutdownCluster { flags: 3 });
    assert_eq!(
        one.replies.pop(),
        Some((
            1,
            bare(
                cfg_response_id::SHUTDOWN_CLUSTER,
                CsStatus::ERR_INVALID_PARAM
            )
        )),
        "unknown flags are refused before anything is sent"
    );
    assert!(one.sent.is_empty());
    two.services
        .handle_connect(ConnId(7), 0, Credentials::root(107));
    two.services
        .handle_connect(ConnId(8), 0, Credentials::root(108));
    two.ask(7, CfgRequest::TrackStart { flags: 0 });
    two.replies.clear();
    one.ask(
        1,
        CfgRequest::ShutdownCluster {
            flags: cfg_shutdown_flags::REQUEST,
        },
    );
    // Node 1 has no tracking client: it goes, and tells its requester so.
    assert_eq!(
        one.replies,
        vec![(1, bare(cfg_response_id::SHUTDOWN_CLUSTER, CsStatus::OK))]
    );
    assert!(matches!(one.controls.as_slice(), [Control::Exit { .. }]));
    let message = one.sent.pop().expect("multicast");
    assert_eq!(message.1, ais_wire::Order::Safe);
    // Node 2 asks its tracking client, which refuses: node 2 stays.
    two.deliver_from(1, message);
    assert_eq!(
        two.events,
        vec![(
            7,
            CfgEvent::TestShutdown {
                flags: cfg_shutdown_flags::REQUEST
            }
        )]
    );
    two.ask(
        7,
        CfgRequest::ReplyToShutdown {
            response: cfg_shutdown_reply::NO,
        },
    );
    assert!(two.controls.is_empty(), "vetoed on node 2");
    assert_eq!(
        two.replies,
        vec![(7, bare(cfg_response_id::REPLYTOSHUTDOWN, CsStatus::OK))],
        "the requester is on node 1: nobody here hears the outcome"
    );
    // A forced one goes through on node 2 as well.
    one.ask(
        1,
        CfgRequest::ShutdownCluster {
            flags: cfg_shutdown_flags::IMMEDIATE,
        },
    );
    two.deliver_from(1, one.sent.pop().expect("multicast"));
    assert!(matches!(two.controls.as_slice(), [Control::Exit { .. }]));
}

#[test]
fn node_status_reports_links_from_the_statistics() {
    let mut n = Node::new(1);
    n.services
        .handle_connect(ConnId(1), 0, Credentials::root(101));
    n.services.update_keys(|k| {
        k.stats
            .set("stats.knet.node2.link0.connected", CmapValue::U8(1));
        k.default
            .set("runtime.config.totem.netmtu", CmapValue::U32(1410));
    });
    n.ask(
        1,
        CfgRequest::NodeStatusGet {
            nodeid: NodeId(2),
            version: 1,
        },
    );
    let Some((1, CfgResponse::NodeStatus { error, status })) = n.replies.pop() else {
        panic!("{:?}", n.replies)
    };
    assert_eq!(error, CsStatus::OK);
    assert!(status.reachable && status.links[0].enabled && status.links[0].connected);
    assert_eq!(status.links[0].mtu, 1410);
    assert_eq!(
        status.links[0].src_ipaddr.to_string_lossy(),
        "10.0.0.2",
        "udpu's layout"
    );
    assert!(!status.links[1].enabled);
    n.services.update_keys(|k| {
        k.stats
            .set("stats.knet.node2.link0.connected", CmapValue::U8(0));
    });
    n.ask(
        1,
        CfgRequest::NodeStatusGet {
            nodeid: NodeId(2),
            version: 1,
        },
    );
    let Some((1, CfgResponse::NodeStatus { status, .. })) = n.replies.pop() else {
        panic!()
    };
    assert!(!status.reachable);
    n.ask(1, CfgRequest::LocalGet);
    assert_eq!(
        n.replies.pop(),
        Some((
            1,
            CfgResponse::LocalGet {
                local_nodeid: NodeId(1)
            }
        ))
    );
}
