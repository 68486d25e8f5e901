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
pub mod cmap;
pub mod cpg;
mod envelope;
pub mod keys;
mod sync;
pub mod votequorum;

use std::collections::{BTreeMap, VecDeque};

use ais_totem::{ConfigChange, Delivery};
use ais_types::{ConnId, Credentials, NodeId, RingId};
use ais_wire::Order;
use bytes::Bytes;

/// The most a request's handling adds to the multicast queue beyond the request's own
/// length: a CPG multicast's message is its payload with the group and sender instead of
/// the request's header, plus the service envelope. The shell charges each request read
/// this much more, so that what it reads always fits the room it has.
pub const REQUEST_OVERHEAD_MAX: usize = 256;

pub use cfg::Cfg;
pub use cmap::Cmap;
pub use cpg::Cpg;
pub use keys::Keys;
pub use votequorum::Votequorum;

use crate::envelope::{Class, Envelope};
use crate::sync::Sync;

/// A service's number, as corosync numbers them (`enum corosync_service_types`); it prefixes
/// each of the service's messages on the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u8);

impl ServiceId {
    /// cmap, corosync's `CMAP_SERVICE` (0); local only, it sends nothing on the ring.
    pub const CMAP: Self = Self(0);
    /// cfg, corosync's `CFG_SERVICE` (1).
    pub const CFG: Self = Self(1);
    /// CPG, corosync's `CPG_SERVICE` (2).
    pub const CPG: Self = Self(2);
    /// votequorum, corosync's `VOTEQUORUM_SERVICE` (5); it also serves `quorum`.
    pub const VOTEQUORUM: Self = Self(5);
    /// The sync layer's own barrier messages.
    pub(crate) const SYNC: Self = Self(255);
}

/// Something the shell must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Submit a message to Totem. The shell must not drop it: when the send queue is full
    /// it keeps it, in order, and submits it later (requests that answer are refused with
    /// TRY_AGAIN when there is no room; the rest, CPG's MCAST, are bounded by the shell
    /// reading a request only when [`REQUEST_OVERHEAD_MAX`] plus the largest request fits).
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
    /// Something only the daemon can do (cfg's reload, shutdown, log reopening).
    Control(Control),
}

/// An order from a service to the daemon around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Re-read the configuration file and apply what changed; if `reply` names a client,
    /// answer its RELOAD_CONFIG with the result.
    ReloadConfig {
        /// The client that asked, on this node.
        reply: Option<ConnId>,
    },
    /// Reopen the log files (after rotation).
    ReopenLogs,
    /// Leave the ring and exit (cfg shutdown, or this node was killed).
    Exit {
        /// Why, for the log.
        reason: String,
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
    keys: &'a mut Keys,
}

impl Effects<'_> {
    /// The node's key/value store (cmap's maps): services publish their runtime keys here,
    /// and trackers of the changed keys are notified.
    pub fn keys(&mut self) -> &mut Keys {
        self.keys
    }

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

    /// Asks the daemon to act.
    pub fn control(&mut self, control: Control) {
        self.queue.push_back(Effect::Control(control));
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
    /// A client connected to the service's IPC endpoint number `channel` (0 for a service
    /// with one endpoint; see [`Services::new`]), with the credentials the kernel gave.
    fn connect(&mut self, fx: &mut Effects<'_>, conn: ConnId, client: Credentials, channel: u8);
    /// A client went away (closed, crashed, or was dropped).
    fn disconnect(&mut self, fx: &mut Effects<'_>, conn: ConnId);
    /// A client's request: exactly one IPC message. `room` is how many bytes Totem's send
    /// queue can still take; a request that needs more and can be answered gets TRY_AGAIN.
    /// One that cannot be answered (CPG's MCAST) is multicast all the same: the shell only
    /// reads a request when its multicast fits (see [`REQUEST_OVERHEAD_MAX`]).
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
    /// Whether the service has a sync phase. A service with no replicated state (cfg, cmap)
    /// says no and costs the sync nothing; the answer must be the same on every node.
    fn needs_sync(&self) -> bool {
        true
    }
    /// Time passed: `now` is the time since an arbitrary origin, from the shell's clock
    /// (never going back). It may come at any moment, in or out of a sync, so it may only
    /// change local state; a timed decision that must be replicated is multicast.
    fn tick(&mut self, _fx: &mut Effects<'_>, _now: std::time::Duration) {}
    /// The configuration was reloaded: take what changed.
    fn reconfigure(&mut self, _fx: &mut Effects<'_>, _settings: &ServiceSettings) {}
    /// The node shuts down cleanly: a last chance to tell the others (before Totem leaves).
    fn shutdown(&mut self, _fx: &mut Effects<'_>) {}
    /// The engine itself, for [`Services::engine`]; an engine with an API of its own (such
    /// as votequorum's status) returns `Some(self)`.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// A digest of the replicated state, for the simulator's replica check.
    fn digest(&self) -> u64;
    /// The replicated state in words, for a failing seed's report.
    fn describe(&self) -> String;
}

/// What the services take from the configuration, at start and on every reload. The
/// default knows no node addresses and has no quorum provider (always quorate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSettings {
    /// Every configured node's addresses, link 0 first (cfg reports them).
    pub node_addrs: BTreeMap<NodeId, Vec<std::net::IpAddr>>,
    /// votequorum's settings.
    pub quorum: votequorum::Settings,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            node_addrs: BTreeMap::new(),
            quorum: votequorum::Settings::disabled(),
        }
    }
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
    /// IPC endpoint number -> (engine index, the engine's channel).
    endpoints: Vec<(usize, u8)>,
    conns: BTreeMap<ConnId, usize>,
    keys: Keys,
    sync: Sync,
    /// The last transitional configuration, for the next regular one.
    transitional: Option<(RingId, Vec<NodeId>)>,
    effects: VecDeque<Effect>,
    stats: ServicesStats,
}

impl Services {
    /// The services of node `me`, synchronized in the given order. `endpoints` lists, for
    /// each IPC endpoint by number, the engine that serves it and the engine's channel for
    /// it (an engine may serve several endpoints, as votequorum serves `quorum` too).
    pub fn new(me: NodeId, engines: Vec<Box<dyn Service>>, endpoints: Vec<(usize, u8)>) -> Self {
        Self {
            me,
            engines,
            endpoints,
            conns: BTreeMap::new(),
            keys: Keys::default(),
            sync: Sync::Idle,
            transitional: None,
            effects: VecDeque::new(),
            stats: ServicesStats::default(),
        }
    }

    /// The services this build runs: CPG, cfg, cmap, and votequorum (which also serves
    /// `quorum`); their IPC endpoints are [`Services::STANDARD_NAMES`] by number.
    pub fn standard(
        me: NodeId,
        settings: &ServiceSettings,
    ) -> Result<Self, votequorum::SettingsError> {
        Ok(Self::new(
            me,
            vec![
                Box::new(Cpg::new(me)),
                Box::new(Cfg::new(me, settings.node_addrs.clone())),
                Box::new(Cmap::new()),
                Box::new(Votequorum::new(me, &settings.quorum)?),
            ],
            vec![(0, 0), (1, 0), (2, 0), (3, 0), (3, 1)],
        ))
    }

    /// The IPC names of [`Services::standard`]'s endpoints, by number.
    pub const STANDARD_NAMES: [&'static str; 5] = ["cpg", "cfg", "cmap", "quorum", "votequorum"];

    /// The engine of type `T`, if it runs here and offers itself ([`Service::as_any`]).
    pub fn engine<T: 'static>(&self) -> Option<&T> {
        self.engines
            .iter()
            .find_map(|e| e.as_any().and_then(|a| a.downcast_ref::<T>()))
    }

    /// Time passed (see [`Service::tick`]); the shell calls this now and then, at least a few
    /// times a second, in or out of a sync.
    pub fn handle_tick(&mut self, now: std::time::Duration) {
        for service in 0..self.engines.len() {
            self.with_engine(service, |e, fx| e.tick(fx, now));
        }
    }

    /// The daemon finished the reload a client of this node asked for: its answer.
    pub fn reload_done(&mut self, conn: ConnId, ok: bool) {
        self.effects.push_back(Effect::Reply {
            conn,
            msg: cfg::reload_response(ok),
        });
    }

    /// The configuration was reloaded (see [`Service::reconfigure`]).
    pub fn reconfigure(&mut self, settings: &ServiceSettings) {
        for service in 0..self.engines.len() {
            self.with_engine(service, |e, fx| e.reconfigure(fx, settings));
        }
    }

    /// The node shuts down cleanly; the shell then submits the multicasts before Totem leaves.
    pub fn handle_shutdown(&mut self) {
        for service in 0..self.engines.len() {
            self.with_engine(service, |e, fx| e.shutdown(fx));
        }
    }

    /// The index of the engine with id `id`, the name the IPC layer knows it by.
    pub fn index_of(&self, id: ServiceId) -> Option<usize> {
        self.engines.iter().position(|e| e.id() == id)
    }

    /// Whether a sync is running (clients of most services are then flow-controlled, as
    /// corosync does, though requests that do arrive are still served).
    pub fn is_syncing(&self) -> bool {
        matches!(self.sync, Sync::Running(_))
    }

    /// The node's key/value store, to read.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Changes the key/value store from outside (the daemon's configuration, runtime and
    /// statistics keys); trackers of changed keys are notified.
    pub fn update_keys(&mut self, f: impl FnOnce(&mut Keys)) {
        f(&mut self.keys);
        self.flush_notifications();
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

    /// A client of IPC endpoint `endpoint` connected, with the credentials the kernel gave.
    pub fn handle_connect(&mut self, conn: ConnId, endpoint: usize, client: Credentials) {
        let Some(&(service, channel)) = self.endpoints.get(endpoint) else {
            self.effects.push_back(Effect::Disconnect { conn });
            return;
        };
        self.conns.insert(conn, service);
        self.with_engine(service, |e, fx| e.connect(fx, conn, client, channel));
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
            keys: &mut self.keys,
        };
        f(engine.as_mut(), &mut fx);
        self.flush_notifications();
    }

    /// Turns the key trackers' notifications into client events.
    fn flush_notifications(&mut self) {
        for store in [&mut self.keys.default, &mut self.keys.stats] {
            if store.has_notifications() {
                for n in store.take_notifications() {
                    let conn = n.conn;
                    if let Some(msg) = cmap::notification_event(n) {
                        self.effects.push_back(Effect::Event { conn, msg });
                    }
                }
            }
        }
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
        let Sync::Running(running) = &mut self.sync else {
            return;
        };
        while running.phase < self.engines.len() && !self.engines[running.phase].needs_sync() {
            running.phase += 1;
        }
        if running.phase == self.engines.len() {
            self.activate();
            return;
        }
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
        self.start_phase();
    }

    /// Every phase is done: every service switches to its synchronized state, then the
    /// held application messages are applied.
    fn activate(&mut self) {
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
    use ais_totem::{ConfigChange, Delivery};
    use ais_types::{ConnId, Credentials, NodeId, RingId};
    use ais_wire::Order;
    use ais_wire::ipc::{CpgName, CpgRequest};
    use bytes::Bytes;

    use crate::{ServiceSettings, Services};

    /// Bytes from the ring and from clients into a node's services, in and out of a sync:
    /// nothing may panic, whatever arrives. The first byte picks the origin node, the rest is
    /// cut into messages at 0xFF bytes; each is delivered, then sent as a client request.
    pub fn fuzz_services(data: &[u8]) {
        let me = NodeId(1);
        let nodes = [me, NodeId(2), NodeId(3)];
        let settings = ServiceSettings {
            node_addrs: nodes
                .iter()
                .map(|n| (*n, vec![std::net::IpAddr::from([10, 0, 0, n.0 as u8])]))
                .collect(),
            quorum: crate::votequorum::Settings::votequorum(
                nodes.iter().map(|n| (*n, 1)).collect(),
            ),
        };
        let mut s = Services::standard(me, &settings).expect("valid settings");
        let member = ConnId(1);
        s.handle_connect(member, 0, Credentials::root(100));
        let join = CpgRequest::Join {
            group: CpgName::new(b"g".to_vec()).expect("short"),
            pid: 100,
            flags: 1,
        };
        s.handle_request(member, &join.to_vec(), 1 << 20);
        // Two clients per endpoint (cpg, cfg, cmap, quorum, votequorum): one of root's, one
        // unprivileged (admitted by a uidgid entry), which cmap refuses some writes.
        let clients = 2 * Services::STANDARD_NAMES.len() as u64;
        for client in 0..clients {
            let endpoint = (client / 2) as usize;
            let pid = 200 + client as u32;
            let credentials = if client % 2 == 0 {
                Credentials::root(pid)
            } else {
                Credentials {
                    pid,
                    uid: 102,
                    gid: 105,
                }
            };
            s.handle_connect(ConnId(2 + client), endpoint, credentials);
        }
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
            s.handle_request(ConnId(2 + (i as u64 % clients)), chunk, 1 << 20);
            s.handle_tick(std::time::Duration::from_secs(i as u64));
            while s.poll_effect().is_some() {}
        }
        s.handle_disconnect(member);
        while s.poll_effect().is_some() {}
    }
}

#[cfg(test)]
mod tests;
