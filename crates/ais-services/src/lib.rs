//! The replicated services that run on the Totem ring, sans-IO, and the sync layer that
//! brings their replicas to one state after every configuration change.
//!
//! Every service is a replicated state machine (`reference/ais-services.md` §3.1): a client
//! request arrives on the local executive; a mutation becomes a totally ordered multicast;
//! every node applies it when it is delivered, in the same order, to the same state; only
//! the requester's node answers the client. Pure queries are answered from the local
//! replica.
//!
//! [`Services`] hosts the engines. Inputs are `handle_*` calls (a client connected, sent a
//! request or went away; Totem delivered a message or a configuration change); outputs are
//! [`Effect`]s pulled with [`Services::poll_effect`]: multicasts for Totem, replies and
//! events for clients, disconnects. Nothing here reads a clock or touches a socket, so the
//! simulator runs the same code as the daemon.
//!
//! # Sync
//! After every regular configuration the services are synchronized one after another, in
//! the order they were registered (a phase each): the phase's service multicasts its state
//! ([`Service::sync_init`]), then every member multicasts a barrier for the phase; once the
//! barriers of every member are delivered the next phase starts; after the last phase every
//! service activates its new state at the same point of the total order on every member.
//! A newer configuration aborts a running sync and starts again. Application messages
//! delivered while a sync runs are held and applied after activation, in delivery order, so
//! they always meet the synchronized state ("application messages wait until sync ends").
//! Sync messages carry the ring they were sent for; those of an older ring are ignored.

pub mod cfg;
pub mod cpg;
mod envelope;
mod sync;

use std::collections::{BTreeMap, VecDeque};

use ais_totem::{ConfigChange, Delivery};
use ais_types::{ConnId, NodeId, RingId};
use ais_wire::Order;
use bytes::Bytes;

pub use cfg::Cfg;
pub use cpg::Cpg;

use crate::envelope::{Class, Envelope};
use crate::sync::Sync;

/// A service's number, as corosync numbers them (`enum corosync_service_types`); it prefixes
/// each of the service's messages on the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u8);

impl ServiceId {
    /// cfg, corosync's `CFG_SERVICE` (1).
    pub const CFG: Self = Self(1);
    /// CPG, corosync's `CPG_SERVICE` (2).
    pub const CPG: Self = Self(2);
    /// The sync layer's own barrier messages.
    pub(crate) const SYNC: Self = Self(255);
}

/// Something the shell must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Submit a message to Totem. The shell must not drop it: when the send queue is full
    /// it keeps it, in order, and submits it later (client requests were already refused
    /// with TRY_AGAIN when there was no room, so this queue stays short).
    Multicast {
        /// The encoded message.
        payload: Bytes,
        /// Its ordering guarantee.
        order: Order,
    },
    /// Answer a client's request (exactly one per request that expects an answer).
    Reply {
        /// The client.
        conn: ConnId,
        /// The IPC response.
        msg: Vec<u8>,
    },
    /// Send a client an event (a callback for its dispatch loop).
    Event {
        /// The client.
        conn: ConnId,
        /// The IPC event.
        msg: Vec<u8>,
    },
    /// Drop a client that broke the protocol.
    Disconnect {
        /// The client.
        conn: ConnId,
    },
}

/// The membership a sync runs for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The new ring.
    pub ring_id: RingId,
    /// Its members, ascending.
    pub members: Vec<NodeId>,
    /// The members that come from this node's previous ring (the transitional
    /// configuration); the others come from another partition or restarted.
    pub transitional: Vec<NodeId>,
}

/// The output side handed to a service: it queues effects and frames multicasts.
#[derive(Debug)]
pub struct Effects<'a> {
    queue: &'a mut VecDeque<Effect>,
    service: ServiceId,
    sync_ring: Option<RingId>,
}

impl Effects<'_> {
    /// Answers a client's request.
    pub fn reply(&mut self, conn: ConnId, msg: Vec<u8>) {
        self.queue.push_back(Effect::Reply { conn, msg });
    }

    /// Sends a client an event.
    pub fn event(&mut self, conn: ConnId, msg: Vec<u8>) {
        self.queue.push_back(Effect::Event { conn, msg });
    }

    /// Drops a client.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.queue.push_back(Effect::Disconnect { conn });
    }

    /// Multicasts an application message of this service; it comes back through
    /// [`Service::deliver`] on every member, in total order.
    pub fn multicast(&mut self, body: &[u8], order: Order) {
        let payload = Envelope::app(self.service).encode(body);
        self.queue.push_back(Effect::Multicast { payload, order });
    }

    /// Multicasts a sync message for the running sync; it comes back through
    /// [`Service::sync_deliver`] on every member. Outside a sync it does nothing.
    pub fn sync_multicast(&mut self, body: &[u8]) {
        if let Some(ring) = self.sync_ring {
            let payload = Envelope::sync(self.service, ring).encode(body);
            self.queue.push_back(Effect::Multicast {
                payload,
                order: Order::Agreed,
            });
        }
    }
}

/// A replicated service engine: CPG now; cmap, quorum, CLM, CKPT, EVT, LCK, MSG and AMF
/// later. Every method is an input; every output goes through [`Effects`].
///
/// Rule: the replicated state changes only in [`Service::deliver`], [`Service::sync_deliver`]
/// and [`Service::sync_activate`], so replicas stay identical; everything else may change
/// only local (per-connection) state.
pub trait Service {
    /// The service's number on the ring.
    fn id(&self) -> ServiceId;
    /// A client connected.
    fn connect(&mut self, fx: &mut Effects<'_>, conn: ConnId, pid: u32);
    /// A client went away (closed, crashed, or was dropped).
    fn disconnect(&mut self, fx: &mut Effects<'_>, conn: ConnId);
    /// A client's request: exactly one IPC message. `room` is how many bytes Totem's send
    /// queue can still take; a request that needs more gets TRY_AGAIN.
    fn request(&mut self, fx: &mut Effects<'_>, conn: ConnId, msg: &[u8], room: usize);
    /// One of this service's application messages, in total order (never during a sync).
    fn deliver(&mut self, fx: &mut Effects<'_>, origin: NodeId, body: Bytes);
    /// A new regular configuration; its sync follows.
    fn configuration(&mut self, fx: &mut Effects<'_>, membership: &Membership);
    /// This service's sync phase starts: multicast whatever the others need.
    fn sync_init(&mut self, fx: &mut Effects<'_>, membership: &Membership);
    /// A sync message of the running sync, in total order.
    fn sync_deliver(&mut self, origin: NodeId, body: Bytes);
    /// Every phase completed on every member: switch to the synchronized state.
    fn sync_activate(&mut self, fx: &mut Effects<'_>);
    /// A newer configuration interrupted the sync: forget what it gathered.
    fn sync_abort(&mut self);
    /// A digest of the replicated state, for the simulator's replica check.
    fn digest(&self) -> u64;
    /// The replicated state in words, for a failing seed's report.
    fn describe(&self) -> String;
}

/// Counters of the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServicesStats {
    /// Syncs completed.
    pub syncs_completed: u64,
    /// Syncs aborted by a newer configuration.
    pub syncs_aborted: u64,
    /// Application messages held during a sync.
    pub held: u64,
    /// Messages from the ring that did not decode, or named an unknown service.
    pub rx_malformed: u64,
    /// Sync messages of an older ring, ignored.
    pub rx_stale_sync: u64,
    /// Requests on an unknown connection.
    pub unknown_conn: u64,
}

/// The services of one node, and the sync layer between them and Totem.
pub struct Services {
    me: NodeId,
    engines: Vec<Box<dyn Service>>,
    conns: BTreeMap<ConnId, usize>,
    sync: Sync,
    /// The last transitional configuration, for the next regular one.
    transitional: Option<(RingId, Vec<NodeId>)>,
    effects: VecDeque<Effect>,
    stats: ServicesStats,
}

impl Services {
    /// The services of node `me`, synchronized in the given order.
    pub fn new(me: NodeId, engines: Vec<Box<dyn Service>>) -> Self {
        Self {
            me,
            engines,
            conns: BTreeMap::new(),
            sync: Sync::Idle,
            transitional: None,
            effects: VecDeque::new(),
            stats: ServicesStats::default(),
        }
    }

    /// The services this build runs, in [`Services::STANDARD_NAMES`] order: CPG, and the
    /// part of cfg that CPG's tools use; `addrs` are every configured node's addresses.
    pub fn standard(me: NodeId, addrs: BTreeMap<NodeId, Vec<std::net::IpAddr>>) -> Self {
        Self::new(
            me,
            vec![Box::new(Cpg::new(me)), Box::new(Cfg::new(me, addrs))],
        )
    }

    /// The IPC names of [`Services::standard`]'s engines, by index.
    pub const STANDARD_NAMES: [&'static str; 2] = ["cpg", "cfg"];

    /// The index of the engine with id `id`, the name the IPC layer knows it by.
    pub fn index_of(&self, id: ServiceId) -> Option<usize> {
        self.engines.iter().position(|e| e.id() == id)
    }

    /// Whether a sync is running (clients of most services are then flow-controlled, as
    /// corosync does, though requests that do arrive are still served).
    pub fn is_syncing(&self) -> bool {
        matches!(self.sync, Sync::Running(_))
    }

    /// The counters.
    pub fn stats(&self) -> &ServicesStats {
        &self.stats
    }

    /// The replicas' digests, one per service in order, for the simulator.
    pub fn digests(&self) -> Vec<u64> {
        self.engines.iter().map(|e| e.digest()).collect()
    }

    /// Every engine's replicated state in words.
    pub fn describe(&self) -> String {
        self.engines
            .iter()
            .map(|e| e.describe())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A client of engine `service` connected; `pid` from its credentials.
    pub fn handle_connect(&mut self, conn: ConnId, service: usize, pid: u32) {
        if service >= self.engines.len() {
            self.effects.push_back(Effect::Disconnect { conn });
            return;
        }
        self.conns.insert(conn, service);
        self.with_engine(service, |e, fx| e.connect(fx, conn, pid));
    }

    /// A client went away.
    pub fn handle_disconnect(&mut self, conn: ConnId) {
        if let Some(service) = self.conns.remove(&conn) {
            self.with_engine(service, |e, fx| e.disconnect(fx, conn));
        }
    }

    /// A client's request; `room` as in [`Service::request`].
    pub fn handle_request(&mut self, conn: ConnId, msg: &[u8], room: usize) {
        let Some(&service) = self.conns.get(&conn) else {
            self.stats.unknown_conn += 1;
            return;
        };
        self.with_engine(service, |e, fx| e.request(fx, conn, msg, room));
    }

    /// A message Totem delivered.
    pub fn handle_delivery(&mut self, delivery: &Delivery) {
        let Ok((envelope, body)) = Envelope::decode(&delivery.payload) else {
            self.stats.rx_malformed += 1;
            tracing::warn!(origin = %delivery.origin, "undecodable service message dropped");
            return;
        };
        match envelope.class {
            Class::App => {
                if let Sync::Running(running) = &mut self.sync {
                    running.held.push((delivery.origin, envelope.service, body));
                    self.stats.held += 1;
                } else {
                    self.apply(delivery.origin, envelope.service, body);
                }
            }
            Class::Sync(ring) => self.sync_message(delivery.origin, envelope.service, ring, body),
        }
    }

    /// A configuration change Totem delivered.
    pub fn handle_configuration(&mut self, change: &ConfigChange) {
        match change {
            ConfigChange::Transitional {
                ring_id, members, ..
            } => self.transitional = Some((*ring_id, members.clone())),
            ConfigChange::Regular {
                ring_id, members, ..
            } => {
                let transitional = match self.transitional.take() {
                    Some((ring, trans)) if ring == *ring_id => trans,
                    _ => vec![self.me],
                };
                let membership = Membership {
                    ring_id: *ring_id,
                    members: members.clone(),
                    transitional,
                };
                self.abort_sync();
                for service in 0..self.engines.len() {
                    self.with_engine(service, |e, fx| e.configuration(fx, &membership));
                }
                self.sync = Sync::start(membership);
                self.start_phase();
            }
        }
    }

    /// The next thing to do.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Runs `f` on engine `index` with an effect sink framed for it.
    fn with_engine(&mut self, index: usize, f: impl FnOnce(&mut dyn Service, &mut Effects<'_>)) {
        let sync_ring = match &self.sync {
            Sync::Running(r) => Some(r.membership.ring_id),
            Sync::Idle => None,
        };
        let engine = &mut self.engines[index];
        let mut fx = Effects {
            queue: &mut self.effects,
            service: engine.id(),
            sync_ring,
        };
        f(engine.as_mut(), &mut fx);
    }

    fn apply(&mut self, origin: NodeId, service: ServiceId, body: Bytes) {
        match self.index_of(service) {
            Some(index) => {
                self.with_engine(index, |e, fx| e.deliver(fx, origin, body));
            }
            None => {
                self.stats.rx_malformed += 1;
                tracing::warn!(%origin, service = service.0, "message for an unknown service dropped");
            }
        }
    }

    /// Starts the running sync's current phase: the service's state, then this node's
    /// barrier.
    fn start_phase(&mut self) {
        let Sync::Running(running) = &self.sync else {
            return;
        };
        let phase = running.phase;
        let membership = running.membership.clone();
        self.with_engine(phase, |e, fx| e.sync_init(fx, &membership));
        let barrier = Envelope::sync(ServiceId::SYNC, membership.ring_id).encode(&[phase as u8]);
        self.effects.push_back(Effect::Multicast {
            payload: barrier,
            order: Order::Agreed,
        });
    }

    fn sync_message(&mut self, origin: NodeId, service: ServiceId, ring: RingId, body: Bytes) {
        let Sync::Running(running) = &mut self.sync else {
            self.stats.rx_stale_sync += 1;
            return;
        };
        if ring != running.membership.ring_id {
            self.stats.rx_stale_sync += 1;
            return;
        }
        if service == ServiceId::SYNC {
            let phase = body.first().copied().map(usize::from);
            if phase != Some(running.phase) {
                self.stats.rx_stale_sync += 1;
                return;
            }
            running.barriers.insert(origin);
            if running
                .membership
                .members
                .iter()
                .all(|m| running.barriers.contains(m))
            {
                self.phase_done();
            }
            return;
        }
        let phase = running.phase;
        if self.engines[phase].id() == service {
            self.engines[phase].sync_deliver(origin, body);
        } else {
            self.stats.rx_stale_sync += 1;
        }
    }

    fn phase_done(&mut self) {
        let Sync::Running(running) = &mut self.sync else {
            return;
        };
        running.phase += 1;
        running.barriers.clear();
        if running.phase < self.engines.len() {
            self.start_phase();
            return;
        }
        let Sync::Running(running) = std::mem::replace(&mut self.sync, Sync::Idle) else {
            return;
        };
        for service in 0..self.engines.len() {
            self.with_engine(service, |e, fx| e.sync_activate(fx));
        }
        self.stats.syncs_completed += 1;
        tracing::debug!(ring = %running.membership.ring_id, held = running.held.len(), "sync completed");
        for (origin, service, body) in running.held {
            self.apply(origin, service, body);
        }
    }

    /// A newer configuration arrived during a sync: the engines drop what they gathered, and
    /// the held messages are applied now, in order, on every node that delivered them, so the
    /// local state the next sync reports includes them.
    fn abort_sync(&mut self) {
        let Sync::Running(running) = std::mem::replace(&mut self.sync, Sync::Idle) else {
            return;
        };
        self.stats.syncs_aborted += 1;
        for engine in &mut self.engines {
            engine.sync_abort();
        }
        for (origin, service, body) in running.held {
            self.apply(origin, service, body);
        }
    }
}

/// Fuzz entry points (STYLE §8); a `cargo fuzz` target only calls into here.
#[doc(hidden)]
pub mod fuzzing {
    use std::collections::BTreeMap;

    use ais_totem::{ConfigChange, Delivery};
    use ais_types::{ConnId, NodeId, RingId};
    use ais_wire::Order;
    use ais_wire::ipc::{CpgName, CpgRequest};
    use bytes::Bytes;

    use crate::Services;

    /// Bytes from the ring and from clients into a node's services, in and out of a sync:
    /// nothing may panic, whatever arrives. The first byte picks the origin node, the rest is
    /// cut into messages at 0xFF bytes; each is delivered, then sent as a client request.
    pub fn fuzz_services(data: &[u8]) {
        let me = NodeId(1);
        let mut s = Services::standard(me, BTreeMap::new());
        let member = ConnId(1);
        s.handle_connect(member, 0, 100);
        let join = CpgRequest::Join {
            group: CpgName::new(b"g".to_vec()).expect("short"),
            pid: 100,
            flags: 1,
        };
        s.handle_request(member, &join.to_vec(), 1 << 20);
        s.handle_connect(ConnId(2), 0, 200);
        s.handle_connect(ConnId(3), 1, 300);
        let ring = RingId::new(me, 4);
        let members = vec![me, NodeId(2), NodeId(3)];
        let Some((&origin, rest)) = data.split_first() else {
            return;
        };
        for (i, chunk) in rest.split(|b| *b == 0xff).enumerate() {
            if i % 7 == 0 {
                s.handle_configuration(&ConfigChange::Regular {
                    ring_id: RingId::new(me, 4 + i as u64),
                    members: members.clone(),
                    joined: Vec::new(),
                    left: Vec::new(),
                });
            }
            let delivery = Delivery {
                origin: NodeId(u32::from(origin % 4)),
                ring_id: ring,
                seq: i as u64 + 1,
                index: 0,
                order: Order::Agreed,
                payload: Bytes::copy_from_slice(chunk),
            };
            s.handle_delivery(&delivery);
            s.handle_request(ConnId(2 + (i as u64 % 2)), chunk, 1 << 20);
            while s.poll_effect().is_some() {}
        }
        s.handle_disconnect(member);
        while s.poll_effect().is_some() {}
    }
}

#[cfg(test)]
mod tests;
