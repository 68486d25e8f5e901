//! The daemon's one thread: a mio loop that feeds packets, timeouts, signals and client
//! requests to the transport, the Totem core and the services, and carries out every output
//! before the next input (STYLE §3). Network first, then timers, then clients.

use std::collections::VecDeque;
use std::time::Duration;

use ais_ipc::{IpcServer, ServerEvent};
use ais_services::{Control, Effect, Services};
use ais_totem::{ConfigChange, Dest, Order, Output, Totem};
use ais_transport::{LinkEvent, Recipient, Transport};
use ais_types::{ConnId, Instant, NodeId, NodeList};
use anyhow::Context;
use bytes::Bytes;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};

use crate::clients::AccessPolicy;
use crate::clock::Clock;
use crate::state_dir::StateDir;

/// The signal pipe's token; sockets take 0..socket_count.
const SIGNALS: Token = Token(usize::MAX - 1);

/// The first of the IPC server's tokens.
const IPC_TOKENS: usize = 1 << 30;

/// How soon the loop comes back to clients whose requests or events wait (the IPC server
/// has no wake-up for a client that reads its shared-memory ring).
const CLIENT_RETRY: Duration = Duration::from_millis(1);

/// CPG clients are flow-controlled (TRY_AGAIN) once Totem's send queue holds this fraction
/// of its limit, so local senders back off before the queue refuses anything.
const FLOW_CONTROL_NUM: usize = 1;
const FLOW_CONTROL_DEN: usize = 2;

/// Everything the loop drives.
pub(crate) struct Daemon {
    pub(crate) totem: Totem,
    pub(crate) transport: Transport,
    pub(crate) state: StateDir,
    pub(crate) clock: Clock,
    /// The effective token timeout: the loop warns when it was not scheduled for a large
    /// fraction of it, a top cause of spurious membership changes.
    pub(crate) token_timeout: Duration,
    /// Totem's send-queue limit, in bytes.
    pub(crate) send_queue_limit: usize,
    pub(crate) ipc: IpcServer,
    pub(crate) access: AccessPolicy,
    pub(crate) services: Services,
    /// Service multicasts Totem's queue could not take yet, in order.
    pub(crate) pending: VecDeque<(Bytes, Order)>,
    pub(crate) pending_bytes: usize,
    /// The flow-control level CPG clients were last given.
    pub(crate) flow_level: i32,
    /// A burst (a large queue, a dropped slow client) left freed memory in the heap: give it
    /// back to the system once the queues are empty again.
    pub(crate) trim_when_idle: bool,
    /// Since when the queues have been empty.
    pub(crate) idle_since: Option<Instant>,
    /// The configuration in effect, where it came from, and its text (cmap shows it).
    pub(crate) config: ais_config::Config,
    pub(crate) config_path: Option<std::path::PathBuf>,
    pub(crate) config_text: String,
    /// Every configured node's addresses, link 0 first.
    pub(crate) node_addrs: std::collections::BTreeMap<NodeId, Vec<std::net::IpAddr>>,
    /// Totem's settings in effect.
    pub(crate) totem_config: ais_totem::TotemConfig,
    /// `runtime.members.*`.
    pub(crate) members: crate::cmap_keys::MemberRecord,
    /// When the statistics map is next refreshed.
    pub(crate) stats_due: Instant,
    /// A client connected or left since the statistics were last refreshed.
    pub(crate) clients_changed: bool,
    /// A service asked the daemon to exit, and why.
    pub(crate) exit_request: Option<String>,
    /// The quorum status last put in cmap.
    pub(crate) quorum_published: Option<ais_services::votequorum::QuorumStatus>,
}

/// How often the statistics map is refreshed, and the services' clock ticks.
const STATS_PERIOD: Duration = Duration::from_secs(1);
/// A cmap request finds statistics at most this old: corosync computes them on each read,
/// so `corosync-cmapctl -m stats` expects fresh values (and its own connection listed).
const STATS_FRESH: Duration = Duration::from_millis(100);
const TICK_PERIOD: Duration = Duration::from_millis(100);

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// SIGTERM or SIGINT: left the ring gracefully.
    Signal,
    /// cfg asked (a shutdown, or this node was killed): left the ring gracefully.
    Requested,
}

impl Daemon {
    pub(crate) fn run(mut self) -> anyhow::Result<Exit> {
        let mut poll = Poll::new().context("cannot create the event loop")?;
        self.transport.register(poll.registry(), 0)?;
        self.ipc
            .register(poll.registry(), IPC_TOKENS)
            .context("cannot register the IPC sockets")?;
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGTERM, SIGINT, SIGUSR1])
            .context("cannot install signal handlers")?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let mut events = Events::with_capacity(64);
        let mut loopback: VecDeque<Bytes> = VecDeque::new();
        let mut batch: Vec<Bytes> = Vec::new();
        // Sockets that may hold more datagrams than one batch read.
        let mut unfinished: Vec<usize> = Vec::new();
        // Corosync warns when the main loop was not scheduled for 80 % of the token timeout.
        let stall_threshold = self.token_timeout.mul_f64(0.8);

        let now = self.clock.now();
        let origin = now;
        self.publish_keys(now);
        self.drain(now, &mut loopback)?;
        let mut exit: Option<String> = None;
        let mut tick_due = now;
        loop {
            if let Some(reason) = exit.take() {
                tracing::info!("{reason}: leaving the ring and shutting down");
                let now = self.clock.now();
                self.services.handle_shutdown();
                self.carry_out_effects(now);
                self.submit_pending(now);
                self.drain(now, &mut loopback)?;
                self.totem.leave(now);
                self.drain(now, &mut loopback)?;
                self.ipc.flush_notifications();
                return Ok(Exit::Requested);
            }
            let before = self.clock.now();
            let clients_waiting =
                (self.ipc.has_backlog() || !self.pending.is_empty()).then(|| before + CLIENT_RETRY);
            let deadline = [
                self.totem.poll_timeout(),
                self.transport.poll_timeout(),
                self.ipc.poll_timeout(),
                clients_waiting,
                Some(tick_due),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = if unfinished.is_empty() {
                deadline.map(|d| d.saturating_duration_since(before))
            } else {
                Some(Duration::ZERO)
            };
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("event loop poll failed"),
            }
            let now = self.clock.now();
            let expected = deadline.map_or(now, |d| d.max(before));
            let late = now.saturating_duration_since(expected);
            if late > stall_threshold {
                tracing::warn!(
                    "aisexec main process was not scheduled for {:.4} ms (threshold is {:.4} ms). \
                     Consider token timeout increase.",
                    late.as_secs_f64() * 1e3,
                    stall_threshold.as_secs_f64() * 1e3
                );
            }

            self.ipc.handle_timeout(now);
            self.ipc.set_request_room(self.request_room());
            let mut ready: Vec<usize> = std::mem::take(&mut unfinished);
            for event in &events {
                if event.token() == SIGNALS {
                    for signal in signals.pending() {
                        match signal {
                            SIGUSR1 => self.log_stats(),
                            _ => {
                                tracing::info!(signal, "leaving the ring and shutting down");
                                self.services.handle_shutdown();
                                self.carry_out_effects(now);
                                self.submit_pending(now);
                                self.drain(now, &mut loopback)?;
                                self.totem.leave(now);
                                self.drain(now, &mut loopback)?;
                                return Ok(Exit::Signal);
                            }
                        }
                    }
                    continue;
                }
                if self.ipc.owns(event.token()) {
                    let access = &mut self.access;
                    let keys = &self.services.keys().default;
                    self.ipc
                        .handle_ready(poll.registry(), event, &mut |service, creds| {
                            access.decide(now, service, creds, keys)
                        });
                    if self.access.take_changed() {
                        self.publish_uidgid();
                    }
                    continue;
                }
                if !ready.contains(&event.token().0) {
                    ready.push(event.token().0);
                }
            }
            for socket in ready {
                batch.clear();
                let more = self.transport.recv(now, socket, |_sender, payload| {
                    batch.push(Bytes::copy_from_slice(payload));
                });
                if more {
                    unfinished.push(socket);
                }
                for packet in batch.drain(..) {
                    self.totem.handle_packet(now, packet);
                    self.drain(now, &mut loopback)?;
                }
            }
            self.transport.handle_timeout(now);
            while let Some(event) = self.transport.poll_event() {
                log_link_event(event);
            }
            self.totem.handle_timeout(now);
            if now >= tick_due {
                tick_due = now + TICK_PERIOD;
                self.services
                    .handle_tick(now.saturating_duration_since(origin));
                self.publish_quorum();
            }
            if now >= self.stats_due {
                self.stats_due = now + STATS_PERIOD;
                self.publish_stats();
            }
            self.drain(now, &mut loopback)?;
            self.serve_clients(now, poll.registry(), &mut loopback)?;
            if let Some(reason) = self.exit_request.take() {
                exit = Some(reason);
            }
            let busy = self.clock.now().saturating_duration_since(now);
            if busy > stall_threshold {
                tracing::warn!(
                    "aisexec main loop was busy for {:.4} ms (threshold is {:.4} ms)",
                    busy.as_secs_f64() * 1e3,
                    stall_threshold.as_secs_f64() * 1e3
                );
            }
        }
    }

    /// Carries out every output of the core, feeding packets it sent to itself (the token
    /// of a one-node ring) straight back in.
    fn drain(&mut self, now: Instant, loopback: &mut VecDeque<Bytes>) -> anyhow::Result<()> {
        let me = self.totem.node_id();
        loop {
            while let Some(output) = self.totem.poll_output() {
                match output {
                    Output::Transmit {
                        to: Dest::Node(node),
                        packet,
                    } if node == me => loopback.push_back(packet),
                    Output::Transmit { to, packet } => {
                        let to = match to {
                            Dest::Ring => Recipient::All,
                            Dest::Node(node) => Recipient::Node(node.0),
                        };
                        self.transport.send(to, &packet);
                    }
                    Output::Deliver(delivery) => self.services.handle_delivery(&delivery),
                    Output::Configuration(change) => {
                        log_configuration(&change);
                        self.services.handle_configuration(&change);
                        if let ConfigChange::Regular {
                            members, joined, ..
                        } = &change
                        {
                            self.record_members(members, joined);
                        }
                    }
                    Output::Persist(seq) => self
                        .state
                        .persist_ring_seq(seq)
                        .context("cannot persist the ring sequence number")?,
                }
            }
            self.carry_out_effects(now);
            let submitted = self.submit_pending(now);
            match loopback.pop_front() {
                Some(packet) => self.totem.handle_packet(now, packet),
                // A submission may have given Totem something to say: one more turn.
                None if submitted => {}
                None => return Ok(()),
            }
        }
    }

    /// Replies and events to clients; multicasts wait in `pending` for Totem; orders from
    /// the services are carried out.
    fn carry_out_effects(&mut self, now: Instant) {
        while let Some(effect) = self.services.poll_effect() {
            match effect {
                Effect::Multicast { payload, order } => {
                    self.pending_bytes += payload.len();
                    self.pending.push_back((payload, order));
                }
                Effect::Reply { conn, msg } => self.ipc.respond(ipc_conn(conn), &msg),
                Effect::Event { conn, msg } => self.ipc.send_event(ipc_conn(conn), &msg),
                Effect::Disconnect { conn } => self.ipc.disconnect(ipc_conn(conn)),
                Effect::Control(control) => self.control(now, control),
            }
        }
    }

    fn control(&mut self, now: Instant, control: Control) {
        match control {
            Control::ReloadConfig { reply } => {
                let result = self.reload_config(now);
                match &result {
                    Ok(summary) => tracing::info!("{summary}"),
                    Err(why) => tracing::error!("configuration reload refused: {why}"),
                }
                self.services.update_keys(|keys| {
                    crate::cmap_keys::reload_status(
                        keys,
                        result.as_ref().err().map(String::as_str),
                    );
                });
                if let Some(conn) = reply {
                    self.services.reload_done(conn, result.is_ok());
                }
            }
            Control::ReopenLogs => {
                // After logrotate renamed the file: the same settings, opened anew.
                match crate::logging::prepare(&crate::setup::log_settings(&self.config)) {
                    Ok(log) => {
                        log.apply();
                        tracing::info!("log files reopened");
                    }
                    Err(e) => tracing::error!("log files not reopened: {e:#}"),
                }
            }
            Control::Exit { reason } => {
                if self.exit_request.is_none() {
                    self.exit_request = Some(reason);
                }
            }
        }
    }

    /// Puts the configuration, the services and the runtime settings in cmap (at start).
    fn publish_keys(&mut self, now: Instant) {
        let me = self.totem.node_id().0;
        let pos = self.config.nodelist.iter().position(|n| n.nodeid == me);
        let text = &self.config_text;
        let totem = &self.totem_config;
        let transport = self.config.totem.transport.keyword();
        self.services.update_keys(|keys| {
            crate::cmap_keys::load_config_keys(keys, text, pos);
            crate::cmap_keys::default_keys(keys, transport);
            crate::cmap_keys::service_keys(keys);
            crate::cmap_keys::totem_runtime_keys(keys, totem);
        });
        self.publish_uidgid();
        self.stats_due = now;
    }

    /// `uidgid.config.*`: who the configuration and the `uidgid.d` files admit.
    pub(crate) fn publish_uidgid(&mut self) {
        let entries = self.access.config_keys();
        self.services
            .update_keys(|keys| crate::cmap_keys::uidgid_keys(keys, &entries));
    }

    /// `runtime.votequorum.*`, when the decision or its inputs changed.
    fn publish_quorum(&mut self) {
        let Some(status) = self
            .services
            .engine::<ais_services::Votequorum>()
            .map(ais_services::Votequorum::status)
        else {
            return;
        };
        if self.quorum_published.as_ref() == Some(&status) {
            return;
        }
        if self.quorum_published.as_ref().map(|s| s.quorate) != Some(status.quorate) {
            tracing::info!(
                "quorum: {} (total votes {}, expected {}, quorum {}; members {})",
                if status.quorate {
                    "quorate"
                } else {
                    "NOT quorate"
                },
                status.total_votes,
                status.expected_votes,
                status.quorum,
                ids(&status.members)
            );
        }
        self.services
            .update_keys(|keys| crate::cmap_keys::votequorum_keys(keys, &status));
        self.quorum_published = Some(status);
    }

    /// Refreshes the statistics map.
    fn publish_stats(&mut self) {
        use crate::cmap_keys::{
            conn_stats, ipc_stats, link_stats, publish_stats, totem_stats, transport_stats,
        };
        self.clients_changed = false;
        let me = self.totem.node_id().0;
        let own: Vec<u8> = self.transport.links().iter().map(|l| l.number).collect();
        let srp = totem_stats(
            self.totem.stats(),
            self.clock.now(),
            self.totem.send_queue_bytes(),
            self.totem.retained_frames(),
        );
        let transport = transport_stats(self.transport.stats());
        let links = link_stats(me, &self.transport.link_status(), &own);
        let conns = conn_stats(&self.ipc.connection_stats());
        let ipc = ipc_stats(
            self.ipc.stats(),
            self.ipc.connection_count(),
            self.services.stats(),
        );
        self.services.update_keys(|keys| {
            publish_stats(keys, "stats.srp.", srp);
            publish_stats(keys, "stats.transport.", transport);
            publish_stats(keys, "stats.knet.", links);
            publish_stats(keys, "stats.ipcs.service", conns);
            publish_stats(
                keys,
                "stats.ipcs.global.",
                ipc.iter()
                    .filter(|(k, _)| k.starts_with("stats.ipcs."))
                    .cloned()
                    .collect(),
            );
            publish_stats(
                keys,
                "stats.services.",
                ipc.into_iter()
                    .filter(|(k, _)| k.starts_with("stats.services."))
                    .collect(),
            );
        });
    }

    /// `runtime.members.*` after a regular configuration.
    fn record_members(&mut self, members: &[NodeId], joined: &[NodeId]) {
        let members: Vec<u32> = members.iter().map(|n| n.0).collect();
        let joined: Vec<u32> = joined.iter().map(|n| n.0).collect();
        let addrs = self
            .node_addrs
            .iter()
            .map(|(n, a)| (n.0, a.clone()))
            .collect();
        let record = &mut self.members;
        self.services
            .update_keys(|keys| record.update(keys, &members, &joined, &addrs));
    }

    /// Hands waiting service multicasts to Totem while its queue has room; whether any
    /// went.
    fn submit_pending(&mut self, now: Instant) -> bool {
        let mut submitted = false;
        while let Some((payload, order)) = self.pending.front() {
            let len = payload.len();
            if self.totem.submit(now, payload.clone(), *order).is_err() {
                break;
            }
            self.pending.pop_front();
            self.pending_bytes -= len;
            submitted = true;
        }
        submitted
    }

    /// Accepts, reads and answers clients, feeding their requests to the services.
    fn serve_clients(
        &mut self,
        now: Instant,
        registry: &mio::Registry,
        loopback: &mut VecDeque<Bytes>,
    ) -> anyhow::Result<()> {
        if self.ipc.has_backlog() {
            self.ipc.set_request_room(self.request_room());
            self.ipc.flush(registry);
        }
        let slow_before = self.ipc.stats().disconnected_slow;
        while let Some(event) = self.ipc.poll_event() {
            match event {
                ServerEvent::Connected {
                    conn,
                    service,
                    creds,
                } => {
                    tracing::debug!(
                        "IPC client connected: {conn} service {service} pid {}",
                        creds.pid
                    );
                    self.services.handle_connect(ConnId(conn.0), service, creds);
                    self.clients_changed = true;
                }
                ServerEvent::Request { conn, service, msg } => {
                    if service == crate::clients::CMAP_ENDPOINT
                        && (self.clients_changed
                            || now + (STATS_PERIOD - STATS_FRESH) >= self.stats_due)
                    {
                        self.stats_due = now + STATS_PERIOD;
                        self.publish_stats();
                    }
                    // Flow control stops libcpg senders at half of Totem's queue; requests
                    // already written by then wait in their channels until the daemon has
                    // room for them (`set_request_room`), so no multicast libcpg accepted
                    // is ever dropped. Requests that answer get TRY_AGAIN without room.
                    let room = self.request_room();
                    self.services.handle_request(ConnId(conn.0), &msg, room);
                }
                ServerEvent::Disconnected { conn, .. } => {
                    tracing::debug!("IPC client disconnected: {conn}");
                    self.services.handle_disconnect(ConnId(conn.0));
                    self.clients_changed = true;
                }
            }
            self.drain(now, loopback)?;
            self.update_flow_control();
        }
        self.ipc.flush_notifications();
        if self.ipc.stats().disconnected_slow > slow_before {
            self.trim_when_idle = true;
        }
        self.update_flow_control();
        self.trim_after_burst(now);
        Ok(())
    }

    /// Returns freed heap to the system once a burst is over: the queues empty, the ring's
    /// frames released, and nothing new for `TRIM_IDLE`.
    fn trim_after_burst(&mut self, now: Instant) {
        if self.totem.retained_frames() > TRIM_AFTER_FRAMES {
            self.trim_when_idle = true;
        }
        let idle = self.pending.is_empty()
            && self.totem.send_queue_bytes() == 0
            && self.totem.retained_frames() == 0
            && !self.ipc.has_backlog();
        if !idle {
            self.idle_since = None;
            return;
        }
        let since = *self.idle_since.get_or_insert(now);
        if self.trim_when_idle && now.saturating_duration_since(since) >= TRIM_IDLE {
            self.trim_when_idle = false;
            release_freed_memory();
        }
    }

    /// Bytes of client multicasts the daemon can still queue: twice Totem's queue limit,
    /// less what Totem and `pending` hold.
    fn request_room(&self) -> usize {
        (2 * self.send_queue_limit)
            .saturating_sub(self.totem.send_queue_bytes() + self.pending_bytes)
    }

    /// CPG clients stop sending (TRY_AGAIN in the library) during a sync and while Totem's
    /// queue is over its high-water mark; level 2 blocks only libcpg, as corosync does.
    /// Beyond that the IPC server reads a request only when the daemon has room for it.
    fn update_flow_control(&mut self) {
        self.ipc.set_request_room(self.request_room());
        let queued = self.totem.send_queue_bytes() + self.pending_bytes;
        if queued > TRIM_AFTER_QUEUED {
            self.trim_when_idle = true;
        }
        let high = self.send_queue_limit / FLOW_CONTROL_DEN * FLOW_CONTROL_NUM;
        let level = if self.services.is_syncing() || queued > high {
            2
        } else {
            0
        };
        if level != self.flow_level {
            self.flow_level = level;
            for service in 0..crate::clients::SERVICE_NAMES.len() {
                self.ipc.set_flow_control(service, level);
            }
        }
    }

    fn log_stats(&self) {
        let t = self.transport.stats();
        let s = self.totem.stats();
        tracing::info!(
            "stats: ring {} members {:?} | transport tx_packets={} tx_errors={} rx_packets={} \
             rx_totem={} rx_invalid_digest={} rx_malformed={} rx_duplicate={} rx_misdirected={} rx_stale_epoch={} \
             rx_unknown_node={} rx_unproven={} link_up={} link_down={} | totem delivered={} configurations={} \
             rx_malformed={} retained_frames={} send_queue_bytes={} | ipc connections={} accepted={} refused={} malformed={} \
             handshake_failed={} foreign_datagrams={} disconnected_slow={} requests={} requests_gated={} events={} | services held={} syncs={} \
             syncs_aborted={}",
            self.totem.ring_id(),
            ids(self.totem.members()),
            t.tx_packets,
            t.tx_errors,
            t.rx_packets,
            t.rx_totem,
            t.rx_invalid_digest,
            t.rx_malformed,
            t.rx_duplicate,
            t.rx_misdirected,
            t.rx_stale_epoch,
            t.rx_unknown_node,
            t.rx_unproven,
            t.link_up,
            t.link_down,
            s.delivered,
            s.configurations,
            s.rx_malformed,
            self.totem.retained_frames(),
            self.totem.send_queue_bytes(),
            self.ipc.connection_count(),
            self.ipc.stats().accepted,
            self.ipc.stats().refused,
            self.ipc.stats().malformed,
            self.ipc.stats().handshake_failed,
            self.ipc.stats().foreign_datagrams,
            self.ipc.stats().disconnected_slow,
            self.ipc.stats().requests,
            self.ipc.requests_gated(),
            self.ipc.stats().events,
            self.services.stats().held,
            self.services.stats().syncs_completed,
            self.services.stats().syncs_aborted,
        );
    }
}

/// One line per membership change, in corosync's words so that operators' scripts and
/// habits carry over: `A new membership (1.2f) was formed. Members[3]: 1 2 3`.
fn log_configuration(change: &ConfigChange) {
    match change {
        ConfigChange::Transitional { members, left, .. } => {
            tracing::debug!(
                "transitional configuration: Members[{}]: {}; left: {}",
                members.len(),
                ids(members),
                ids(left)
            );
        }
        ConfigChange::Regular {
            ring_id,
            members,
            joined,
            left,
        } => {
            tracing::info!(
                "A new membership ({ring_id}) was formed. Members[{}]: {}",
                members.len(),
                ids(members)
            );
            if !joined.is_empty() {
                tracing::info!("Members joined: {}", ids(joined));
            }
            if !left.is_empty() {
                tracing::info!("Members left: {}", ids(left));
            }
        }
    }
}

fn log_link_event(event: LinkEvent) {
    match event {
        LinkEvent::Up { node, link } => {
            tracing::info!("link {link} to node {node} is up");
        }
        LinkEvent::Down {
            node,
            link,
            reachable,
        } => {
            if reachable {
                tracing::warn!(
                    "link {link} to node {node} is down; node {node} is reachable on another link"
                );
            } else {
                tracing::warn!("link {link} to node {node} is down; node {node} has no link up");
            }
        }
    }
}

/// Queued bytes, or frames kept for retransmission, after which the heap is trimmed once
/// the daemon is idle again.
const TRIM_AFTER_QUEUED: usize = 4 * 1024 * 1024;
const TRIM_AFTER_FRAMES: usize = 4096;
/// How long the daemon must have been idle before it trims.
const TRIM_IDLE: Duration = Duration::from_secs(1);

/// After a burst — up to 64 MiB queued for a client that stopped reading, or megabytes in
/// Totem's queue — the heap holds many small freed blocks that glibc keeps mapped unless
/// asked. Called only when a burst is over, so rarely.
fn release_freed_memory() {
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists; it takes no
    // pointers of ours and is safe to call at any time from the thread that allocates.
    unsafe {
        libc::malloc_trim(0);
    }
    tracing::debug!("freed heap memory returned to the system after a burst");
}

/// The IPC server's name for a client.
fn ipc_conn(conn: ConnId) -> ais_ipc::ConnId {
    ais_ipc::ConnId(conn.0)
}

fn ids(nodes: &[NodeId]) -> NodeList<'_> {
    NodeList(nodes)
}
