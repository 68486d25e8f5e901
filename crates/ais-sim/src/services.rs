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
//! - **client delivery**: each client multicast names itself (node, life, client, number,
//!   group) in a trailer. A node logs its groups' multicasts in the order Totem delivers
//!   them; a member client receives them as consecutive entries of that log (in order, none
//!   missed or repeated while it is a member), and once the services are idle at the end of
//!   a run, every member client has received the last.
//!
//! Service messages travel on the simulated ring behind a header of their own: a tag byte,
//! then an identity from the node's one submission counter (as the workload's messages
//! have) and a hash of the service's bytes, so that the EVS checker holds them to every
//! property it checks for the workload's messages.

use std::collections::{BTreeMap, VecDeque};

use ais_services::votequorum::Settings;
use ais_services::{Effect, ServiceSettings, Services};
use ais_totem::{Delivery, Order};
use ais_types::{ConnId, Credentials, NodeId, RingId};
use ais_wire::ipc::{CpgEvent, CpgName, CpgPayload, CpgRequest, Guarantee};
use bytes::{BufMut, Bytes, BytesMut};

use crate::invariants::{Check, Life, fail};
use crate::rng::SimRng;
use crate::workload::MsgKey;

/// First byte of a service message on the simulated ring (never a workload origin).
pub const SERVICE_TAG: u8 = 0xEE;

/// Tag, origin, incarnation, counter, order, whole length, hash of the service bytes.
pub const SERVICE_HEADER: usize = 1 + 4 + 4 + 8 + 1 + 4 + 8;

const GROUPS: [&str; 3] = ["alpha", "beta", "gamma"];

/// A service message for the ring, as message `key` of its node.
pub fn tag(key: MsgKey, order: Order, payload: &Bytes) -> Bytes {
    let mut b = BytesMut::with_capacity(SERVICE_HEADER + payload.len());
    b.put_u8(SERVICE_TAG);
    b.put_u32_le(key.origin.0);
    b.put_u32_le(key.inc);
    b.put_u64_le(key.counter);
    b.put_u8(u8::from(order == Order::Safe));
    b.put_u32_le((SERVICE_HEADER + payload.len()) as u32);
    b.put_u64_le(fnv64(payload));
    b.put_slice(payload);
    b.freeze()
}

/// The identity and order a tagged service message claims, if it is intact.
pub fn untag(p: &[u8]) -> Option<(MsgKey, Order)> {
    if p.len() < SERVICE_HEADER || p[0] != SERVICE_TAG {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(p[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_le_bytes(p[i..i + 8].try_into().expect("8 bytes"));
    let key = MsgKey {
        origin: NodeId(u32_at(1)),
        inc: u32_at(5),
        counter: u64_at(9),
    };
    let order = match p[17] {
        0 => Order::Agreed,
        1 => Order::Safe,
        _ => return None,
    };
    if u32_at(18) as usize != p.len() || u64_at(22) != fnv64(&p[SERVICE_HEADER..]) {
        return None;
    }
    Some((key, order))
}

/// FNV-1a: enough to tell an altered message from the one sent.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
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
    /// Multicasts sent.
    sent: u32,
    /// Where in its node's log of its group the last message it received is.
    last: Option<usize>,
}

/// A client multicast's identity: node, incarnation, client, number.
type ClientMsg = (u32, u32, u64, u32);

/// The end of every client multicast's payload: its identity and group, then a magic.
const TRAILER: usize = 4 + 4 + 8 + 4 + 1 + 8;
const TRAILER_MAGIC: u64 = 0xC11E_47D0_5EED_F00D;

fn trailer(id: ClientMsg, g: usize) -> [u8; TRAILER] {
    let mut t = [0; TRAILER];
    t[0..4].copy_from_slice(&id.0.to_le_bytes());
    t[4..8].copy_from_slice(&id.1.to_le_bytes());
    t[8..16].copy_from_slice(&id.2.to_le_bytes());
    t[16..20].copy_from_slice(&id.3.to_le_bytes());
    t[20] = g as u8;
    t[21..29].copy_from_slice(&TRAILER_MAGIC.to_le_bytes());
    t
}

/// The identity and group a message's trailer names, if it ends in one.
fn parse_trailer(p: &[u8]) -> Option<(ClientMsg, usize)> {
    let t = p.get(p.len().checked_sub(TRAILER)?..)?;
    if t[21..29] != TRAILER_MAGIC.to_le_bytes() || usize::from(t[20]) >= GROUPS.len() {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(t[i..i + 4].try_into().expect("4 bytes"));
    let id = (
        u32_at(0),
        u32_at(4),
        u64::from_le_bytes(t[8..16].try_into().expect("8 bytes")),
        u32_at(16),
    );
    Some((id, usize::from(t[20])))
}

/// A node's services, its clients and the service messages Totem has not taken yet.
pub struct NodeServices {
    /// The services.
    pub services: Services,
    clients: Vec<Client>,
    /// Multicasts waiting for room in Totem's send queue, in order.
    pub pending: VecDeque<(Bytes, Order)>,
    next_conn: u64,
    id: NodeId,
    inc: u32,
    /// Per group, the client multicasts Totem delivered here, in its order.
    log: [Vec<ClientMsg>; GROUPS.len()],
    /// Where each logged multicast is in its group's log.
    logged: BTreeMap<ClientMsg, usize>,
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
            id,
            inc,
            log: Default::default(),
            logged: BTreeMap::new(),
        }
    }

    /// Totem delivered a service message here (before the services handle it): a client
    /// multicast goes into its group's log.
    pub fn record(&mut self, service_bytes: &[u8]) {
        if let Some((id, g)) = parse_trailer(service_bytes)
            && !self.logged.contains_key(&id)
        {
            self.logged.insert(id, self.log[g].len());
            self.log[g].push(id);
        }
    }

    /// With the services idle, every member client has received its group's last
    /// multicast (if it received any since it joined).
    pub fn check_clients_complete(&self, life: Life) -> Check {
        for c in &self.clients {
            let (ClientState::Joined(g) | ClientState::Leaving(g)) = c.state else {
                continue;
            };
            if let Some(k) = c.last
                && k + 1 != self.log[g].len()
            {
                return fail(
                    "client_delivery",
                    format!(
                        "{life} client {} received {} of group {} and none of the {} after it",
                        c.conn.0,
                        k,
                        GROUPS[g],
                        self.log[g].len() - k - 1
                    ),
                );
            }
        }
        Ok(())
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
                sent: 0,
                last: None,
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
            ClientState::Joined(g) => {
                let len = rng.range(1, 300) as usize;
                let guarantee = if rng.chance(0.3) {
                    Guarantee::SAFE
                } else {
                    Guarantee::AGREED
                };
                // A multicast is never refused (CPG's MCAST has no answer).
                let client = &mut self.clients[i];
                client.sent += 1;
                let id = (self.id.0, self.inc, conn.0, client.sent);
                let mut payload: Vec<u8> = (0..len).map(|b| b as u8).collect();
                payload.extend_from_slice(&trailer(id, g));
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
                    ClientState::Joining(_) if listed => {
                        client.state = ClientState::Joined(g);
                        client.last = None;
                    }
                    ClientState::Leaving(_) if left => {
                        client.state = ClientState::Connected;
                        client.last = None;
                    }
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
                let payload = d.payload.bytes();
                let Some((id, g)) = parse_trailer(payload) else {
                    return fail(
                        "client_delivery",
                        format!("{life} client {} got a message no client sent", conn.0),
                    );
                };
                if d.group != group(g) || (d.nodeid.0, d.pid) != (id.0, Self::pid(ConnId(id.2))) {
                    return fail(
                        "client_delivery",
                        format!("{life} client {} got {id:?} with the wrong sender", conn.0),
                    );
                }
                let Some(&k) = self.logged.get(&id) else {
                    return fail(
                        "client_delivery",
                        format!("{life} client {} got {id:?}, never delivered here", conn.0),
                    );
                };
                if let Some(j) = client.last
                    && k != j + 1
                {
                    return fail(
                        "client_delivery",
                        format!(
                            "{life} client {} got entry {k} of group {} right after entry {j}",
                            conn.0, GROUPS[g]
                        ),
                    );
                }
                client.last = Some(k);
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

#[cfg(test)]
mod tests {
    use super::*;
    use ais_wire::ipc::DeliverEvent;

    fn deliver(s: &mut NodeServices, conn: ConnId, id: ClientMsg) -> Check {
        let mut payload = vec![1, 2, 3];
        payload.extend_from_slice(&trailer(id, 0));
        let event = CpgEvent::Deliver(DeliverEvent {
            group: group(0),
            nodeid: NodeId(id.0),
            pid: NodeServices::pid(ConnId(id.2)),
            payload: CpgPayload::new(Bytes::from(payload)).unwrap(),
        });
        let life = Life {
            node: NodeId(1),
            inc: 0,
        };
        s.event(life, conn, &event.to_vec())
    }

    /// A member client that misses a message of its group, or gets one twice, is caught;
    /// one that falls behind is caught at the end.
    #[test]
    fn client_deliveries_must_follow_the_nodes_log() {
        let quorum = Settings::votequorum([(NodeId(1), 1)].into_iter().collect());
        let mut s = NodeServices::new(NodeId(1), 0, &quorum);
        let conn = ConnId(7);
        s.clients.push(Client {
            conn,
            state: ClientState::Joined(0),
            sent: 0,
            last: None,
        });
        let ids: Vec<ClientMsg> = (1..=4).map(|n| (2, 0, 9, n)).collect();
        for id in &ids {
            let mut bytes = vec![0; 10];
            bytes.extend_from_slice(&trailer(*id, 0));
            s.record(&bytes);
        }
        let life = Life {
            node: NodeId(1),
            inc: 0,
        };
        deliver(&mut s, conn, ids[0]).unwrap();
        deliver(&mut s, conn, ids[1]).unwrap();
        assert!(
            s.check_clients_complete(life).is_err(),
            "two behind at the end"
        );
        let skipped = deliver(&mut s, conn, ids[3]).unwrap_err();
        assert_eq!(skipped.invariant, "client_delivery");
        s.clients[0].last = Some(1);
        deliver(&mut s, conn, ids[2]).unwrap();
        assert!(deliver(&mut s, conn, ids[2]).is_err(), "a repeat");
        s.clients[0].last = Some(2);
        deliver(&mut s, conn, ids[3]).unwrap();
        s.check_clients_complete(life).unwrap();
    }
}
