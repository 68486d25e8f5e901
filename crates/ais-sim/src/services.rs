//! The services inside the simulator: each node runs `ais_services::Services` on its Totem,
//! with simulated CPG clients that connect, join one of a few groups, multicast, leave and
//! disconnect at random.
//!
//! Invariants (the CPG and sync properties of issue 4):
//! - **replica agreement**: every node that applies the same delivered service message
//!   (same ring, seq and index) outside a sync holds the same replicated state afterwards:
//!   "equal service replicas at equal delivery points". Since a group's membership is that
//!   state and every confchg reports it, members of a configuration see the same group
//!   membership and the same confchg sequence.
//! - **client view**: a client's confchg always lists the client itself once its join is
//!   delivered, never after its leave; every event names the group the client joined; a
//!   client that is not in a group receives no deliveries; and the services never disconnect
//!   a well-behaved client.
//!
//! Service messages travel on the simulated ring behind a one-byte tag, so the EVS checker,
//! which knows only the workload's self-describing payloads, can tell them apart.

use std::collections::{BTreeMap, VecDeque};

use ais_services::votequorum::Settings;
use ais_services::{Effect, ServiceSettings, Services};
use ais_totem::{Delivery, Order};
use ais_types::{ConnId, Credentials, NodeId, RingId};
use ais_wire::ipc::{CpgEvent, CpgName, CpgPayload, CpgRequest, Guarantee};
use bytes::{BufMut, Bytes, BytesMut};

use crate::invariants::{Check, Life, fail};
use crate::rng::SimRng;

/// First byte of a service message on the simulated ring (never a workload origin).
pub const SERVICE_TAG: u8 = 0xEE;

const GROUPS: [&str; 3] = ["alpha", "beta", "gamma"];

/// Tags a service message for the ring.
pub fn tag(payload: &Bytes) -> Bytes {
    let mut b = BytesMut::with_capacity(payload.len() + 1);
    b.put_u8(SERVICE_TAG);
    b.put_slice(payload);
    b.freeze()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ClientState {
    Connected,
    Joining(usize),
    Joined(usize),
    Leaving(usize),
}

/// One simulated CPG client.
#[derive(Debug)]
struct Client {
    conn: ConnId,
    state: ClientState,
}

/// A node's services, its clients and the service messages Totem has not taken yet.
pub struct NodeServices {
    /// The services.
    pub services: Services,
    clients: Vec<Client>,
    /// Multicasts waiting for room in Totem's send queue, in order.
    pub pending: VecDeque<(Bytes, Order)>,
    next_conn: u64,
}

impl NodeServices {
    /// Fresh services for node `id` (after a boot or restart everything local is gone),
    /// with votequorum's `quorum` settings.
    pub fn new(id: NodeId, inc: u32, quorum: &Settings) -> Self {
        let settings = ServiceSettings {
            quorum: quorum.clone(),
            ..ServiceSettings::default()
        };
        Self {
            services: Services::standard(id, &settings)
                .expect("the scenario's quorum settings are valid"),
            clients: Vec::new(),
            pending: VecDeque::new(),
            next_conn: u64::from(inc) << 32,
        }
    }

    fn pid(conn: ConnId) -> u32 {
        (conn.0 as u32) | 1 << 31
    }

    /// One random client action; `room` is the free space in Totem's send queue.
    pub fn act(&mut self, rng: &mut SimRng, room: usize) {
        if self.clients.is_empty() || (self.clients.len() < 4 && rng.chance(0.25)) {
            self.next_conn += 1;
            let conn = ConnId(self.next_conn);
            self.services
                .handle_connect(conn, 0, Credentials::root(Self::pid(conn)));
            self.clients.push(Client {
                conn,
                state: ClientState::Connected,
            });
            return;
        }
        let i = rng.range(0, self.clients.len() as u64) as usize;
        let conn = self.clients[i].conn;
        let r = rng.unit();
        let request = match self.clients[i].state.clone() {
            ClientState::Connected if r < 0.1 => {
                self.services.handle_disconnect(conn);
                self.clients.remove(i);
                return;
            }
            ClientState::Connected => {
                let g = rng.range(0, GROUPS.len() as u64) as usize;
                self.clients[i].state = ClientState::Joining(g);
                CpgRequest::Join {
                    group: group(g),
                    pid: Self::pid(conn),
                    flags: 0,
                }
            }
            ClientState::Joined(g) if r < 0.1 => {
                self.clients[i].state = ClientState::Leaving(g);
                CpgRequest::Leave {
                    group: group(g),
                    pid: Self::pid(conn),
                }
            }
            ClientState::Joined(_) | ClientState::Joining(_) | ClientState::Leaving(_)
                if r < 0.15 =>
            {
                // Killed: the service reports it PROCDOWN.
                self.services.handle_disconnect(conn);
                self.clients.remove(i);
                return;
            }
            ClientState::Joined(_) => {
                let len = rng.range(1, 300) as usize;
                let guarantee = if rng.chance(0.3) {
                    Guarantee::SAFE
                } else {
                    Guarantee::AGREED
                };
                let payload: Vec<u8> = (0..len).map(|b| b as u8).collect();
                CpgRequest::Mcast {
                    guarantee,
                    payload: CpgPayload::new(Bytes::from(payload)).expect("small"),
                }
            }
            ClientState::Joining(_) | ClientState::Leaving(_) => return,
        };
        self.services.handle_request(conn, &request.to_vec(), room);
    }

    /// Carries out the services' effects: multicasts wait in `pending`; replies and events
    /// go to the clients, whose views are checked.
    pub fn drain(&mut self, life: Life) -> Check {
        while let Some(effect) = self.services.poll_effect() {
            match effect {
                Effect::Multicast { payload, order } => self.pending.push_back((payload, order)),
                Effect::Reply { conn, msg } => self.reply(conn, &msg),
                Effect::Event { conn, msg } => self.event(life, conn, &msg)?,
                Effect::Control(_) => {}
                Effect::Disconnect { conn } => {
                    return fail(
                        "client_view",
                        format!("{life} disconnected well-behaved client {}", conn.0),
                    );
                }
            }
        }
        Ok(())
    }

    fn reply(&mut self, conn: ConnId, msg: &[u8]) {
        let Ok(reply) = ais_wire::ipc::CpgResponse::decode(msg) else {
            return;
        };
        // A refused join or leave (TRY_AGAIN with a full queue) leaves the client as it was.
        if reply.error() != ais_wire::ipc::CsStatus::OK
            && let Some(c) = self.clients.iter_mut().find(|c| c.conn == conn)
        {
            c.state = match c.state {
                ClientState::Joining(_) => ClientState::Connected,
                ClientState::Leaving(g) => ClientState::Joined(g),
                ref other => other.clone(),
            };
        }
    }

    fn event(&mut self, life: Life, conn: ConnId, msg: &[u8]) -> Check {
        let Some(client) = self.clients.iter_mut().find(|c| c.conn == conn) else {
            return fail(
                "client_view",
                format!("{life} sent an event to departed client {}", conn.0),
            );
        };
        let event = match CpgEvent::decode(msg) {
            Ok(e) => e,
            Err(e) => {
                return fail(
                    "client_view",
                    format!("{life} sent client {} an undecodable event: {e}", conn.0),
                );
            }
        };
        let me = (life.node, Self::pid(conn));
        match event {
            CpgEvent::Confchg(c) => {
                let g = match client.state {
                    ClientState::Joining(g) | ClientState::Joined(g) | ClientState::Leaving(g) => g,
                    ClientState::Connected => {
                        return fail(
                            "client_view",
                            format!("{life} client {} got a confchg outside any group", conn.0),
                        );
                    }
                };
                if c.group != group(g) {
                    return fail(
                        "client_view",
                        format!("{life} client {} got a confchg of another group", conn.0),
                    );
                }
                let listed = c.members.iter().any(|a| (a.nodeid, a.pid) == me);
                let left = c.left.iter().any(|a| (a.nodeid, a.pid) == me);
                match client.state {
                    ClientState::Joining(_) if listed => client.state = ClientState::Joined(g),
                    ClientState::Leaving(_) if left => client.state = ClientState::Connected,
                    ClientState::Joined(_) | ClientState::Leaving(_) if !listed => {
                        return fail(
                            "client_view",
                            format!(
                                "{life} client {} is missing from its group's confchg {:?}",
                                conn.0,
                                c.members
                                    .iter()
                                    .map(|a| (a.nodeid.0, a.pid))
                                    .collect::<Vec<_>>()
                            ),
                        );
                    }
                    _ => {}
                }
            }
            CpgEvent::Deliver(d) => {
                let ok = matches!(client.state, ClientState::Joined(g) | ClientState::Leaving(g) if d.group == group(g));
                if !ok {
                    return fail(
                        "client_view",
                        format!("{life} client {} got a message while not a member", conn.0),
                    );
                }
            }
            CpgEvent::PartialDeliver(_) | CpgEvent::TotemConfchg(_) => {}
        }
        Ok(())
    }
}

fn group(g: usize) -> CpgName {
    CpgName::new(GROUPS[g].as_bytes().to_vec()).expect("short name")
}

/// A delivery point: the message's place in its ring's order, and for a message delivered
/// in a transitional configuration, the ring that configuration leads to. EVS lets the
/// partitions of a broken ring deliver different subsets of its last messages, so replicas
/// agree only among the nodes that moved on together.
type Point = (RingId, u64, u32, Option<RingId>);

/// Replica digests seen at each delivery point.
#[derive(Default)]
pub struct ReplicaChecker {
    seen: BTreeMap<Point, (Life, Vec<u64>, String)>,
}

impl ReplicaChecker {
    /// Node `life` applied `d` and now holds `digests` (only outside a sync).
    pub fn applied(
        &mut self,
        life: Life,
        d: &Delivery,
        transitional_to: Option<RingId>,
        services: &Services,
    ) -> Check {
        let key = (d.ring_id, d.seq, d.index, transitional_to);
        let digests = services.digests();
        match self.seen.get(&key) {
            Some((other, expected, theirs)) if *expected != digests => fail(
                "replica_agreement",
                format!(
                    "{life} and {other} hold different service state after ({}, seq {}, #{}): {} vs {theirs}",
                    d.ring_id,
                    d.seq,
                    d.index,
                    services.describe()
                ),
            ),
            Some(_) => Ok(()),
            None => {
                self.seen.insert(key, (life, digests, services.describe()));
                Ok(())
            }
        }
    }
}
