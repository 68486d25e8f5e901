//! From configuration to a running daemon: finds the configuration file and the authkey
//! (flags, then `AIS_MAIN_CONFIG_FILE` / `AIS_TOTEM_AUTHKEY_FILE`, then `/etc/ais/…`),
//! works out which nodelist entry is this host, resolves addresses, and builds the
//! transport's links and the Totem settings. Every refusal says what to change.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};

use ais_config::{Config, CryptoMode as ConfigCrypto, NodeAddr};
use ais_services::ServiceSettings;
use ais_totem::{Persisted, Totem};
use ais_transport::crypto::{Crypto, CryptoMode};
use ais_transport::{LinkConfig, LinkMode, Multicast, PeerConfig, Transport, TransportConfig};
use ais_types::{Instant, NodeId};
use anyhow::{Context, bail};

use crate::clients::{self, AccessPolicy};
use crate::clock::{self, Clock};
use crate::event_loop::Daemon;
use crate::logging::LogSettings;
use crate::state_dir::StateDir;

const DEFAULT_CONFIG_FILE: &str = "/etc/ais/ais.conf";
const DEFAULT_AUTHKEY_FILE: &str = "/etc/ais/authkey";
const DEFAULT_STATE_DIR: &str = "/var/lib/ais";
/// corosync's default port for every link.
const DEFAULT_PORT: u16 = 5405;
/// IPv4 (20) or IPv6 (40) header plus UDP's 8 bytes, taken from `netmtu`.
const IPV4_UDP_HEADERS: usize = 28;
const IPV6_UDP_HEADERS: usize = 48;

/// A parsed configuration and where it came from.
pub(crate) struct Loaded {
    pub(crate) config: Config,
    pub(crate) warnings: Vec<String>,
    /// The file name, or "the embedded default configuration".
    pub(crate) source: String,
    /// The file, to re-read on reload; none for the embedded default.
    pub(crate) path: Option<PathBuf>,
    /// The text, as cmap shows it.
    pub(crate) text: String,
}

/// Reads and parses the configuration: `-c FILE`, else `$AIS_MAIN_CONFIG_FILE`, else
/// `/etc/ais/ais.conf` if it exists, else the embedded single-node default.
pub(crate) fn load_config(flag: Option<&Path>) -> anyhow::Result<Loaded> {
    let explicit = flag
        .map(Path::to_path_buf)
        .or_else(|| env_path("AIS_MAIN_CONFIG_FILE"));
    let path = match explicit {
        Some(path) => Some(path),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => Some(PathBuf::from(DEFAULT_CONFIG_FILE)),
        None => None,
    };
    let (text, source) = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read configuration {}", path.display()))?;
            (text, path.display().to_string())
        }
        None => (
            ais_config::DEFAULT_CONFIG.to_owned(),
            "the embedded default configuration".to_owned(),
        ),
    };
    let file_name = if source.starts_with('/') || source.contains('.') {
        source.clone()
    } else {
        "default.conf".to_owned()
    };
    match ais_config::parse(&text, &file_name) {
        Ok(parsed) => Ok(Loaded {
            config: parsed.config,
            warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
            source,
            path,
            text,
        }),
        Err(errors) => bail!("{errors}"),
    }
}

/// A path from the environment; set but empty counts as unset.
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `logging {}` as the log installer wants it.
pub(crate) fn log_settings(config: &Config) -> LogSettings {
    let level = |debug: ais_config::DebugLevel| match debug {
        ais_config::DebugLevel::Off => "info",
        ais_config::DebugLevel::On => "debug",
        ais_config::DebugLevel::Trace => "trace",
    };
    let logging = &config.logging;
    LogSettings {
        to_stderr: logging.to_stderr,
        logfile: logging
            .to_logfile
            .then(|| logging.logfile.clone().map(PathBuf::from))
            .flatten(),
        to_syslog: logging.to_syslog,
        level: level(logging.debug),
        subsystems: logging
            .logger_subsys
            .iter()
            .filter_map(|s| Some((s.subsys.clone(), level(s.debug?))))
            .collect(),
        timestamps: logging.timestamp != ais_config::Timestamp::Off,
        tag: None,
    }
}

/// Opens the state directory, the key and the sockets, and starts Totem.
pub(crate) fn build(loaded: &Loaded, clock: Clock, now: Instant) -> anyhow::Result<Daemon> {
    let config = &loaded.config;
    let resolved = resolve_nodelist(config)?;
    let (me, my_addrs) = if config.nodelist.is_empty() {
        multicast_without_nodelist(config)?
    } else {
        let local_addrs: Vec<IpAddr> = resolved
            .iter()
            .flat_map(|(_, addrs)| addrs.iter().flatten().copied())
            .filter(|ip| is_local(*ip))
            .collect();
        let local = config
            .local_node(&local_addrs)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let my_addrs = resolved
            .iter()
            .find(|(id, _)| *id == local.nodeid)
            .map(|(_, a)| *a)
            .unwrap_or_default();
        (local.nodeid, my_addrs)
    };
    let state_dir = config
        .system
        .state_dir
        .clone()
        .unwrap_or_else(|| DEFAULT_STATE_DIR.to_owned());
    let state = StateDir::open(Path::new(&state_dir), me)?;
    // Random low bits: should the state directory be lost while the clock is behind, a
    // reused epoch (and with it reused AES-GCM nonces) stays improbable.
    let jitter = u64::from(random_u32()? & 0xF_FFFF);
    let epoch = state.next_epoch(clock::unix_nanos().saturating_add(jitter))?;
    let crypto = open_crypto(config, me, epoch)?;

    let totem_cfg_for_token = config.totem_config(NodeId(me));
    let token = totem_cfg_for_token.token_timeout();
    let mut links = Vec::new();
    for (number, addr) in my_addrs.iter().enumerate() {
        let Some(ip) = addr else { continue };
        let number = u8::try_from(number).expect("at most 8 links");
        let iface = config
            .totem
            .interfaces
            .iter()
            .find(|i| i.linknumber == number);
        let port = iface.map_or(DEFAULT_PORT, |i| i.mcastport);
        let multicast = if config.totem.transport == ais_config::Transport::Udp {
            let group = iface
                .and_then(|i| i.mcastaddr)
                .unwrap_or_else(|| default_group(*ip));
            Some(Multicast {
                group: SocketAddr::new(group, port),
                interface: *ip,
                ttl: iface.map_or(1, |i| u32::from(i.ttl)),
                // IPv6 joins a group on an interface index: the one carrying my address.
                ifindex: interface_addrs()
                    .into_iter()
                    .find(|(a, _, _)| a == ip)
                    .map_or(0, |(_, _, index)| index),
            })
        } else {
            None
        };
        // knet's defaults: ping every token / (2 × pong_count), down after token /
        // pong_count, with pong_count 2. When only one is set, the other follows it so that
        // a link never times out between two pings.
        let (ping_interval, ping_timeout) = match (
            iface.and_then(|i| i.knet_ping_interval),
            iface.and_then(|i| i.knet_ping_timeout),
        ) {
            (Some(interval), Some(timeout)) => (interval, timeout),
            (Some(interval), None) => (interval, (token / 2).max(interval * 2)),
            (None, Some(timeout)) => ((token / 4).min(timeout / 2), timeout),
            (None, None) => (token / 4, token / 2),
        };
        if ping_timeout <= ping_interval {
            tracing::warn!(
                link = number,
                "knet_ping_timeout ({ping_timeout:?}) is not above knet_ping_interval \
                 ({ping_interval:?}): the link will flap"
            );
        }
        links.push(LinkConfig {
            number,
            bind: SocketAddr::new(*ip, port),
            multicast,
            priority: iface.and_then(|i| i.knet_link_priority).unwrap_or(1),
            ping_interval,
            ping_timeout,
        });
    }
    if links.is_empty() {
        bail!("node {me} has no address on any link");
    }
    let peers = peer_configs(&resolved, me, &links);
    let transport_config = TransportConfig {
        local_node: me,
        mode: match config.totem.link_mode {
            ais_config::LinkMode::Passive => LinkMode::Passive,
            ais_config::LinkMode::Active => LinkMode::Active,
            ais_config::LinkMode::Rr => LinkMode::RoundRobin,
        },
        links,
        peers,
    };
    let ipv6 = transport_config.links.iter().any(|l| l.bind.is_ipv6());
    let transport = Transport::new(transport_config, crypto, now)?;

    let mut totem_config = config.totem_config(NodeId(me));
    let headers = if ipv6 {
        IPV6_UDP_HEADERS
    } else {
        IPV4_UDP_HEADERS
    };
    totem_config.netmtu = totem_config
        .netmtu
        .saturating_sub(headers + transport.overhead());
    totem_config.rng_seed = u64::from(random_u32()?) << 32 | u64::from(random_u32()?);
    totem_config
        .validate()
        .map_err(|e| anyhow::anyhow!("totem settings: {e}"))?;
    let persisted = Persisted {
        ring_seq: state.ring_seq()?,
    };
    tracing::info!(
        node = me,
        links = transport.socket_count(),
        token_ms = token.as_millis(),
        crypto = ?transport.crypto_mode(),
        "node {me} starting; state directory {state_dir}"
    );
    let send_queue_limit = totem_config.max_send_queue_bytes;
    let mut mine = BTreeMap::new();
    mine.insert(NodeId(me), my_addrs.iter().flatten().copied().collect());
    let node_addrs = node_addrs(&resolved, me, &mine);
    let settings = service_settings(config, me, &node_addrs);
    let services = ais_services::Services::standard(NodeId(me), &settings)
        .map_err(|e| anyhow::anyhow!("quorum settings: {e}"))?;
    let totem_config_copy = totem_config.clone();
    let totem = Totem::new(totem_config, persisted, now);
    let ipc_config = clients::server_config(config);
    let prefix = ipc_config.prefix.clone();
    let mode = ipc_config.mode;
    let ipc = ais_ipc::IpcServer::bind(ipc_config).context("cannot serve client IPC")?;
    tracing::info!(
        "serving clients on IPC names {} ({mode:?})",
        clients::SERVICE_NAMES
            .iter()
            .map(|s| format!("{prefix}{s}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Daemon {
        totem,
        transport,
        state,
        clock,
        token_timeout: token,
        send_queue_limit,
        ipc,
        access: AccessPolicy::new(config, Path::new(clients::UIDGID_DIR)),
        services,
        config: config.clone(),
        config_path: loaded.path.clone(),
        config_text: loaded.text.clone(),
        node_addrs,
        totem_config: totem_config_copy,
        members: crate::cmap_keys::MemberRecord::default(),
        stats_due: now,
        clients_changed: false,
        exit_request: None,
        quorum_published: None,
        pending: std::collections::VecDeque::new(),
        pending_bytes: 0,
        flow_level: 0,
        trim_when_idle: false,
        idle_since: None,
    })
}

/// Reads the authkey the crypto settings need. Never falls back to cleartext: a cipher or
/// hash without a readable key is a start-up error.
fn open_crypto(config: &Config, me: u32, epoch: u64) -> anyhow::Result<Crypto> {
    let mode = match config.totem.crypto() {
        ConfigCrypto::None => {
            tracing::warn!(
                "crypto_cipher and crypto_hash are none: packets are neither authenticated \
                 nor encrypted"
            );
            CryptoMode::None
        }
        ConfigCrypto::AuthOnly { .. } => CryptoMode::AuthOnly,
        ConfigCrypto::Encrypted { cipher } => match cipher {
            ais_config::Cipher::Aes128 => CryptoMode::Aes128Gcm,
            ais_config::Cipher::Aes192 | ais_config::Cipher::Aes256 => CryptoMode::Aes256Gcm,
            ais_config::Cipher::Chacha20 => CryptoMode::ChaCha20Poly1305,
            ais_config::Cipher::None => CryptoMode::AuthOnly,
        },
    };
    let key = if mode == CryptoMode::None {
        vec![0u8; 128]
    } else {
        let path = config
            .totem
            .keyfile
            .clone()
            .map(PathBuf::from)
            .or_else(|| env_path("AIS_TOTEM_AUTHKEY_FILE"))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_AUTHKEY_FILE));
        std::fs::read(&path).with_context(|| {
            format!(
                "crypto is on ({mode:?}) but the authkey {} cannot be read; create it with \
                 `ais-keygen -k {}` and copy it to every node (or set crypto_cipher: none and \
                 crypto_hash: none)",
                path.display(),
                path.display()
            )
        })?
    };
    Crypto::new(mode, &key, me, epoch).map_err(|e| anyhow::anyhow!("authkey: {e}"))
}

/// `transport: udp` with no nodelist, as corosync 2 clusters ran: the local address is the
/// interface address inside `bindnetaddr`'s network, the node id `totem.nodeid` or else the
/// IPv4 address (corosync's rule), and peers are learned from authenticated packets.
fn multicast_without_nodelist(config: &Config) -> anyhow::Result<(u32, [Option<IpAddr>; 8])> {
    let bind = config
        .totem
        .interfaces
        .iter()
        .find(|i| i.linknumber == 0)
        .and_then(|i| i.bindnetaddr)
        .context("transport: udp without a nodelist needs interface { bindnetaddr } on link 0")?;
    let ip = interface_addrs()
        .into_iter()
        .find(|(addr, mask, _)| *addr == bind || same_network(*addr, bind, *mask))
        .map(|(addr, _, _)| addr)
        .with_context(|| format!("no interface address in the network of bindnetaddr {bind}"))?;
    let me = match (config.totem.nodeid, ip) {
        (Some(id), _) => id,
        (None, IpAddr::V4(v4)) => u32::from(v4),
        (None, IpAddr::V6(_)) => bail!("IPv6 without a nodelist needs totem {{ nodeid: N }}"),
    };
    let mut addrs = [None; 8];
    addrs[0] = Some(ip);
    Ok((me, addrs))
}

/// Are `a` and `b` in the same network under `mask`?
fn same_network(a: IpAddr, b: IpAddr, mask: Option<IpAddr>) -> bool {
    match (a, b, mask) {
        (IpAddr::V4(a), IpAddr::V4(b), Some(IpAddr::V4(m))) => {
            let m = u32::from(m);
            u32::from(a) & m == u32::from(b) & m
        }
        (IpAddr::V6(a), IpAddr::V6(b), Some(IpAddr::V6(m))) => {
            let m = u128::from(m);
            u128::from(a) & m == u128::from(b) & m
        }
        _ => false,
    }
}

/// What cfg reports as each node's addresses: the configured ones, link 0 first; this
/// node's own from `previous` when the nodelist does not list it (multicast without one).
pub(crate) fn node_addrs(
    resolved: &[(u32, [Option<IpAddr>; 8])],
    me: u32,
    previous: &BTreeMap<NodeId, Vec<IpAddr>>,
) -> BTreeMap<NodeId, Vec<IpAddr>> {
    let mut out: BTreeMap<NodeId, Vec<IpAddr>> = resolved
        .iter()
        .map(|(id, addrs)| (NodeId(*id), addrs.iter().flatten().copied().collect()))
        .collect();
    if let Some(own) = previous.get(&NodeId(me)) {
        out.entry(NodeId(me)).or_insert_with(|| own.clone());
    }
    out
}

/// What the services take from the configuration: the nodes' addresses, and votequorum's
/// settings from `quorum {}` and the nodelist's votes.
pub(crate) fn service_settings(
    config: &Config,
    me: u32,
    node_addrs: &BTreeMap<NodeId, Vec<IpAddr>>,
) -> ServiceSettings {
    use ais_services::votequorum::{QuorumProvider, Settings, TieBreaker};
    let q = &config.quorum;
    let nodelist_votes = config
        .nodelist
        .iter()
        .map(|n| (NodeId(n.nodeid), n.quorum_votes.unwrap_or(1)))
        .collect();
    let votes = config
        .nodelist
        .iter()
        .find(|n| n.nodeid == me)
        .and_then(|n| n.quorum_votes)
        .or(q.votes)
        .unwrap_or(1);
    let quorum = Settings {
        provider: q.provider.map(|_| QuorumProvider::Votequorum),
        votes,
        expected_votes: q.expected_votes.map(std::num::NonZeroU32::get),
        nodelist_votes,
        two_node: q.two_node,
        wait_for_all: Some(q.wait_for_all),
        last_man_standing: q.last_man_standing,
        last_man_standing_window: q.last_man_standing_window,
        auto_tie_breaker: q.auto_tie_breaker.then(|| match &q.auto_tie_breaker_node {
            ais_config::TieBreaker::Lowest => TieBreaker::Lowest,
            ais_config::TieBreaker::Highest => TieBreaker::Highest,
            ais_config::TieBreaker::Nodes(list) => {
                TieBreaker::List(list.iter().copied().map(NodeId).collect())
            }
        }),
        allow_downscale: q.allow_downscale,
        expected_votes_tracking: q.expected_votes_tracking,
        expected_votes_tracking_barrier: 0,
    };
    ServiceSettings {
        node_addrs: node_addrs.clone(),
        quorum,
    }
}

/// The transport's peers: every other node's address on each of this node's links.
pub(crate) fn peer_configs(
    resolved: &[(u32, [Option<IpAddr>; 8])],
    me: u32,
    links: &[LinkConfig],
) -> Vec<PeerConfig> {
    resolved
        .iter()
        .filter(|(id, _)| *id != me)
        .map(|(id, addrs)| PeerConfig {
            node: *id,
            addrs: links
                .iter()
                .filter_map(|l| {
                    addrs[usize::from(l.number)]
                        .map(|ip| (l.number, SocketAddr::new(ip, l.bind.port())))
                })
                .collect(),
        })
        .collect()
}

/// Every node's addresses per link, host names resolved.
pub(crate) fn resolve_nodelist(config: &Config) -> anyhow::Result<Vec<(u32, [Option<IpAddr>; 8])>> {
    let mut out = Vec::new();
    for node in &config.nodelist {
        let mut addrs = [None; 8];
        for (link, addr) in node.ring_addrs.iter().enumerate() {
            addrs[link] = match addr {
                None => None,
                Some(NodeAddr::Ip(ip)) => Some(*ip),
                Some(NodeAddr::Name(name)) => {
                    let candidates: Vec<IpAddr> = (name.as_str(), 0)
                        .to_socket_addrs()
                        .with_context(|| format!("node {}: cannot resolve {name}", node.nodeid))?
                        .map(|a| a.ip())
                        .collect();
                    Some(
                        pick_family(&candidates, config.totem.ip_version).with_context(|| {
                            format!(
                                "node {}: {name} has no address allowed by ip_version: {}",
                                node.nodeid, config.totem.ip_version
                            )
                        })?,
                    )
                }
            };
        }
        out.push((node.nodeid, addrs));
    }
    Ok(out)
}

fn random_u32() -> anyhow::Result<u32> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
    Ok(u32::from_le_bytes(bytes))
}

/// The address `ip_version` prefers among a name's addresses, as corosync resolves them:
/// every node picks the same family, so links never mix IPv4 and IPv6.
fn pick_family(candidates: &[IpAddr], version: ais_config::IpVersion) -> Option<IpAddr> {
    use ais_config::IpVersion;
    let v4 = candidates.iter().copied().find(IpAddr::is_ipv4);
    let v6 = candidates.iter().copied().find(IpAddr::is_ipv6);
    match version {
        IpVersion::Ipv4 => v4,
        IpVersion::Ipv6 => v6,
        IpVersion::Ipv4Then6 => v4.or(v6),
        IpVersion::Ipv6Then4 => v6.or(v4),
    }
}

/// The addresses of this host's interfaces, with their netmask and interface index.
fn interface_addrs() -> Vec<(IpAddr, Option<IpAddr>, u32)> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list that we only read, then free once.
    // Every pointer is checked for null before use; sockaddr casts follow `sa_family`.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cursor = list;
        while !cursor.is_null() {
            let entry = &*cursor;
            cursor = entry.ifa_next;
            if entry.ifa_addr.is_null() {
                continue;
            }
            let index = libc::if_nametoindex(entry.ifa_name);
            let Some(ip) = sockaddr_ip(entry.ifa_addr) else {
                continue;
            };
            let mask = if entry.ifa_netmask.is_null() {
                None
            } else {
                sockaddr_ip(entry.ifa_netmask)
            };
            out.push((ip, mask, index));
        }
        libc::freeifaddrs(list);
    }
    out
}

/// The IP address in a `sockaddr` of family AF_INET or AF_INET6.
///
/// # Safety
/// `addr` must be non-null and point to a sockaddr as long as its family says.
unsafe fn sockaddr_ip(addr: *const libc::sockaddr) -> Option<IpAddr> {
    // SAFETY: the caller passes a valid sockaddr; the cast follows `sa_family`.
    unsafe {
        match i32::from((*addr).sa_family) {
            libc::AF_INET => {
                let sin = &*addr.cast::<libc::sockaddr_in>();
                Some(IpAddr::V4(u32::from_be(sin.sin_addr.s_addr).into()))
            }
            libc::AF_INET6 => {
                let sin6 = &*addr.cast::<libc::sockaddr_in6>();
                Some(IpAddr::V6(sin6.sin6_addr.s6_addr.into()))
            }
            _ => None,
        }
    }
}

/// An address of this host: one of its interfaces carries it. Falls back to a bind test
/// when the interface list cannot be read.
fn is_local(ip: IpAddr) -> bool {
    // The whole of 127.0.0.0/8 (and ::1) is this host's, though `lo` lists only 127.0.0.1.
    if ip.is_loopback() {
        return true;
    }
    let interfaces = interface_addrs();
    if !interfaces.is_empty() {
        return interfaces.iter().any(|(a, _, _)| *a == ip);
    }
    UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// corosync derives a group from the cluster name; without `mcastaddr` we use a fixed
/// administratively scoped group per family.
fn default_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::from([239, 192, 0, 1]),
        IpAddr::V6(_) => "ff15::1".parse().expect("valid group"),
    }
}

/// `system { sched_rr, … }`: real-time scheduling and locked memory, as corosync, so that a
/// busy host does not starve the token. Failure is a warning: the ring works without it.
pub(crate) fn apply_system_settings(config: &Config) {
    if !config.system.sched_rr {
        return;
    }
    // SAFETY: plain system calls on this process with valid arguments.
    unsafe {
        let param = libc::sched_param {
            sched_priority: libc::sched_get_priority_max(libc::SCHED_RR),
        };
        if libc::sched_setscheduler(0, libc::SCHED_RR, &param) != 0 {
            tracing::warn!(
                "could not set SCHED_RR priority: {}",
                std::io::Error::last_os_error()
            );
        }
        if libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) != 0 {
            tracing::warn!("could not lock memory: {}", std::io::Error::last_os_error());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_version_decides_which_address_of_a_name_is_used() {
        use ais_config::IpVersion;
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let both = [v6, v4];
        assert_eq!(pick_family(&both, IpVersion::Ipv4), Some(v4));
        assert_eq!(pick_family(&both, IpVersion::Ipv4Then6), Some(v4));
        assert_eq!(pick_family(&both, IpVersion::Ipv6Then4), Some(v6));
        assert_eq!(pick_family(&[v4], IpVersion::Ipv6), None);
        assert_eq!(pick_family(&[v4], IpVersion::Ipv6Then4), Some(v4));
    }

    #[test]
    fn loopback_is_local_and_a_documentation_address_is_not() {
        assert!(is_local("127.0.0.1".parse().unwrap()));
        assert!(is_local("127.0.0.3".parse().unwrap()));
        assert!(!is_local("192.0.2.77".parse().unwrap()));
    }
}
