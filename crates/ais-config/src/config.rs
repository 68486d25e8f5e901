//! The typed configuration: one struct per corosync.conf section, every value already parsed
//! (durations, enums, addresses, non-zero counts), every default already applied. A `Config`
//! that came out of [`crate::parse`] also passed the cross-field rules of `validate.rs`.
//!
//! Durations hold whole milliseconds, the unit corosync.conf uses.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::keyword::{
    Cipher, DebugLevel, Hash, IpVersion, KnetTransport, LinkMode, LogPriority, QuorumProvider,
    SyslogFacility, Timestamp, Transport,
};

/// Links a node may have: `ring0_addr` … `ring7_addr`, `linknumber` 0 to 7.
pub const MAX_LINKS: usize = 8;

/// A whole corosync.conf. `Default` is the value of an empty file, which is not valid on its
/// own (udpu needs a nodelist); [`crate::default_config`] is a runnable one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `totem {}`: the protocol and its network.
    pub totem: Totem,
    /// `nodelist { node {} … }`, in file order.
    pub nodelist: Vec<Node>,
    /// `quorum {}`: votequorum.
    pub quorum: Quorum,
    /// `logging {}`.
    pub logging: Logging,
    /// `system {}`: process settings.
    pub system: System,
    /// Every `uidgid {}` section, merged.
    pub uidgid: UidGid,
}

/// `totem {}`. Field docs give corosync's key name when it differs, and the default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totem {
    /// `cluster_name`. None by default.
    pub cluster_name: Option<String>,
    /// `nodeid`: names the local node when several nodelist entries have addresses on this
    /// host (several daemons on one machine). None by default.
    pub nodeid: Option<u32>,
    /// `token`: token-loss timeout before `token_coefficient` is added. 3000 ms.
    pub token: Duration,
    /// `token_coefficient`: added to `token` per node above two. 650 ms.
    pub token_coefficient: Duration,
    /// `token_retransmit`; derived from the token timeout when None.
    pub token_retransmit: Option<Duration>,
    /// `hold`; derived from `token_retransmit` when None.
    pub hold: Option<Duration>,
    /// `token_retransmits_before_loss_const`. 4.
    pub token_retransmits_before_loss_const: u32,
    /// `join`. 50 ms.
    pub join: Duration,
    /// `send_join`: upper bound of a random delay before each Join. 0 ms.
    pub send_join: Duration,
    /// `consensus`; 1.2 × the effective token timeout when None.
    pub consensus: Option<Duration>,
    /// `merge`. 200 ms.
    pub merge: Duration,
    /// `downcheck`. 1000 ms.
    pub downcheck: Duration,
    /// `fail_recv_const`. 2500.
    pub fail_recv_const: NonZeroU32,
    /// `seqno_unchanged_const`. 30.
    pub seqno_unchanged_const: u32,
    /// `miss_count_const`. 5.
    pub miss_count_const: NonZeroU32,
    /// `window_size`, 1 to 8192. 50.
    pub window_size: NonZeroU32,
    /// `max_messages`. 17.
    pub max_messages: NonZeroU32,
    /// `netmtu` in bytes, 256 to 65536. 1500 (corosync uses 65536 for knet; our knet is
    /// carried over UDP datagrams, so it keeps the udpu default).
    pub netmtu: u32,
    /// `fail_fast`, our extension: while gathering, a processor silent this long is failed
    /// without waiting for `consensus`. Off (0, corosync's behaviour) by default: under
    /// bursty loss it splits live processors off far more often (`ais-sim spurious`); set
    /// it (at least 4 × join, below consensus) to trade that for faster failover.
    pub fail_fast: Duration,
    /// `transport`. Udpu (corosync defaults to knet).
    pub transport: Transport,
    /// `ip_version`. Defaults as corosync: ipv4 for udp, ipv6-4 otherwise.
    pub ip_version: IpVersion,
    /// `link_mode`. Passive.
    pub link_mode: LinkMode,
    /// `crypto_cipher`. SECURE BY DEFAULT, unlike corosync: when none of `crypto_cipher`,
    /// `crypto_hash` and `secauth` is given, the cipher is aes256 and the hash sha256.
    /// `secauth: on` (legacy) means aes256 and sha256 unless set explicitly; otherwise an
    /// unset cipher or hash is none, as in corosync.
    pub crypto_cipher: Cipher,
    /// `crypto_hash`. See `crypto_cipher` for the default.
    pub crypto_hash: Hash,
    /// `keyfile`: path of the shared key. None means the daemon's default path.
    pub keyfile: Option<String>,
    /// `interface {}` sections, in file order, each with a distinct `linknumber`.
    pub interfaces: Vec<Interface>,
}

impl Default for Totem {
    fn default() -> Self {
        let nonzero = |n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Self {
            cluster_name: None,
            nodeid: None,
            token: Duration::from_millis(3000),
            token_coefficient: Duration::from_millis(650),
            token_retransmit: None,
            hold: None,
            token_retransmits_before_loss_const: 4,
            join: Duration::from_millis(50),
            send_join: Duration::ZERO,
            consensus: None,
            merge: Duration::from_millis(200),
            downcheck: Duration::from_millis(1000),
            fail_recv_const: nonzero(2500),
            seqno_unchanged_const: 30,
            miss_count_const: nonzero(5),
            window_size: nonzero(50),
            max_messages: nonzero(17),
            netmtu: 1500,
            fail_fast: Duration::ZERO,
            transport: Transport::Udpu,
            ip_version: IpVersion::default_for(Transport::Udpu),
            link_mode: LinkMode::Passive,
            crypto_cipher: Cipher::Aes256,
            crypto_hash: Hash::Sha256,
            keyfile: None,
            interfaces: Vec::new(),
        }
    }
}

/// What protects packets on the wire, from `crypto_cipher` and `crypto_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoMode {
    /// Neither: packets are neither authenticated nor encrypted.
    None,
    /// An HMAC authenticates packets; they travel in clear.
    AuthOnly {
        /// The HMAC.
        hash: Hash,
    },
    /// An AEAD encrypts and authenticates packets.
    Encrypted {
        /// The cipher.
        cipher: Cipher,
    },
}

impl Totem {
    /// How packets are protected. A cipher is an AEAD, so it authenticates with or without
    /// `crypto_hash`.
    pub fn crypto(&self) -> CryptoMode {
        match (self.crypto_cipher, self.crypto_hash) {
            (Cipher::None, Hash::None) => CryptoMode::None,
            (Cipher::None, hash) => CryptoMode::AuthOnly { hash },
            (cipher, _) => CryptoMode::Encrypted { cipher },
        }
    }

    /// The effective token-loss timeout for `node_count` configured nodes, as corosync
    /// computes it: `token + (node_count − 2) × token_coefficient` above two nodes.
    pub fn effective_token(&self, node_count: usize) -> Duration {
        let extra = u32::try_from(node_count.saturating_sub(2)).unwrap_or(u32::MAX);
        self.token
            .saturating_add(self.token_coefficient.saturating_mul(extra))
    }

    /// `consensus`, or 1.2 × the effective token timeout when it is not set.
    pub fn effective_consensus(&self, node_count: usize) -> Duration {
        self.consensus
            .unwrap_or_else(|| self.effective_token(node_count).mul_f64(1.2))
    }
}

/// `totem { interface {} }`: settings of one link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// `linknumber`, 0 to 7. 0.
    pub linknumber: u8,
    /// `bindnetaddr`: address or network to bind to (udp).
    pub bindnetaddr: Option<IpAddr>,
    /// `mcastaddr`: a multicast group (udp).
    pub mcastaddr: Option<IpAddr>,
    /// `mcastport`. 5405.
    pub mcastport: u16,
    /// `ttl` of multicast packets. 1.
    pub ttl: u8,
    /// `knet_link_priority`, for passive link mode.
    pub knet_link_priority: Option<u8>,
    /// `knet_ping_interval`.
    pub knet_ping_interval: Option<Duration>,
    /// `knet_ping_timeout`.
    pub knet_ping_timeout: Option<Duration>,
    /// `knet_ping_precision`: samples in the latency average.
    pub knet_ping_precision: Option<u32>,
    /// `knet_pong_count`: pongs before a link is up.
    pub knet_pong_count: Option<u32>,
    /// `knet_transport`.
    pub knet_transport: Option<KnetTransport>,
}

impl Default for Interface {
    fn default() -> Self {
        Self {
            linknumber: 0,
            bindnetaddr: None,
            mcastaddr: None,
            mcastport: 5405,
            ttl: 1,
            knet_link_priority: None,
            knet_ping_interval: None,
            knet_ping_timeout: None,
            knet_ping_precision: None,
            knet_pong_count: None,
            knet_transport: None,
        }
    }
}

/// `nodelist { node {} }`: one member of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `nodeid`: required, nonzero and unique.
    pub nodeid: u32,
    /// `name`: used by clients (pacemaker) to identify the node.
    pub name: Option<String>,
    /// `ring0_addr` … `ring7_addr`: the node's address on each link.
    pub ring_addrs: [Option<NodeAddr>; MAX_LINKS],
    /// `quorum_votes`: votes of this node (votequorum's default is 1).
    pub quorum_votes: Option<u32>,
}

impl Node {
    /// The IP literal addresses of this node, by link.
    pub fn ip_addrs(&self) -> impl Iterator<Item = (usize, IpAddr)> + '_ {
        self.ring_addrs
            .iter()
            .enumerate()
            .filter_map(|(link, addr)| match addr {
                Some(NodeAddr::Ip(ip)) => Some((link, *ip)),
                _ => None,
            })
    }
}

/// A `ringX_addr`: an IP literal, or a host name the daemon resolves (per `ip_version`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeAddr {
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A host name.
    Name(String),
}

impl std::fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ip(ip) => ip.fmt(f),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// `quorum {}`: votequorum (`man 5 votequorum`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// `provider`; None disables quorum.
    pub provider: Option<QuorumProvider>,
    /// `expected_votes`; None means computed from the nodelist.
    pub expected_votes: Option<NonZeroU32>,
    /// `two_node`. false.
    pub two_node: bool,
    /// `wait_for_all`. Defaults to `two_node`, as in votequorum.
    pub wait_for_all: bool,
    /// `last_man_standing`. false.
    pub last_man_standing: bool,
    /// `last_man_standing_window`. 10000 ms.
    pub last_man_standing_window: Duration,
    /// `auto_tie_breaker`. false.
    pub auto_tie_breaker: bool,
    /// `auto_tie_breaker_node`. Lowest.
    pub auto_tie_breaker_node: TieBreaker,
    /// `allow_downscale` (incomplete in corosync; it implies expected_votes_tracking there).
    pub allow_downscale: bool,
    /// `expected_votes_tracking`. false.
    pub expected_votes_tracking: bool,
    /// `votes` (deprecated): this node's votes when the nodelist does not say.
    pub votes: Option<u32>,
}

impl Default for Quorum {
    fn default() -> Self {
        Self {
            provider: None,
            expected_votes: None,
            two_node: false,
            wait_for_all: false,
            last_man_standing: false,
            last_man_standing_window: Duration::from_millis(10_000),
            auto_tie_breaker: false,
            auto_tie_breaker_node: TieBreaker::Lowest,
            allow_downscale: false,
            expected_votes_tracking: false,
            votes: None,
        }
    }
}

/// `quorum.auto_tie_breaker_node`: which half of an even split stays quorate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TieBreaker {
    /// The half holding the lowest node id.
    #[default]
    Lowest,
    /// The half holding the highest node id.
    Highest,
    /// The half holding the first of these node ids that is present (never empty).
    Nodes(Vec<u32>),
}

/// `logging {}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    /// `to_stderr`. true.
    pub to_stderr: bool,
    /// `to_logfile`. false. When true, `logfile` is set.
    pub to_logfile: bool,
    /// `logfile`.
    pub logfile: Option<String>,
    /// `to_syslog`. true.
    pub to_syslog: bool,
    /// `syslog_facility`. daemon.
    pub syslog_facility: SyslogFacility,
    /// `syslog_priority`. info.
    pub syslog_priority: LogPriority,
    /// `logfile_priority`. info.
    pub logfile_priority: LogPriority,
    /// `debug`. off.
    pub debug: DebugLevel,
    /// `timestamp`. hires.
    pub timestamp: Timestamp,
    /// `fileline`. false.
    pub fileline: bool,
    /// `function_name`. false.
    pub function_name: bool,
    /// `logger_subsys {}` sections, in file order.
    pub logger_subsys: Vec<LoggerSubsys>,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            to_stderr: true,
            to_logfile: false,
            logfile: None,
            to_syslog: true,
            syslog_facility: SyslogFacility::Daemon,
            syslog_priority: LogPriority::Info,
            logfile_priority: LogPriority::Info,
            debug: DebugLevel::Off,
            timestamp: Timestamp::Hires,
            fileline: false,
            function_name: false,
            logger_subsys: Vec::new(),
        }
    }
}

/// `logging { logger_subsys {} }`: overrides for one subsystem; None keeps the value of
/// `logging {}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggerSubsys {
    /// `subsys`: the subsystem name, as `QUORUM` or `CPG`. Required.
    pub subsys: String,
    /// `to_stderr`.
    pub to_stderr: Option<bool>,
    /// `to_logfile`.
    pub to_logfile: Option<bool>,
    /// `logfile`.
    pub logfile: Option<String>,
    /// `to_syslog`.
    pub to_syslog: Option<bool>,
    /// `syslog_facility`.
    pub syslog_facility: Option<SyslogFacility>,
    /// `syslog_priority`.
    pub syslog_priority: Option<LogPriority>,
    /// `logfile_priority`.
    pub logfile_priority: Option<LogPriority>,
    /// `debug`.
    pub debug: Option<DebugLevel>,
}

/// `system {}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct System {
    /// `state_dir` (corosync's older `run_dir` is an alias): where persistent state lives.
    /// None means the daemon's default.
    pub state_dir: Option<String>,
    /// `sched_rr`: try round-robin real-time scheduling. true.
    pub sched_rr: bool,
    /// `priority`: used when `sched_rr` is off.
    pub priority: Option<ProcessPriority>,
    /// `ipc_prefix`, our extension: prefix of the IPC socket names, so that several
    /// daemons can share one host.
    pub ipc_prefix: Option<String>,
    /// `qb_ipc_type`: how clients' messages travel. `native` (shared memory) by default.
    pub ipc_type: IpcType,
}

/// `system.qb_ipc_type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpcType {
    /// `native` or `shm`: ring buffers in shared memory, libqb's default. Pacemaker needs it.
    #[default]
    Shm,
    /// `socket`: Unix datagram sockets; simpler to trace, but Pacemaker refuses it.
    Socket,
}

impl Default for System {
    fn default() -> Self {
        Self {
            state_dir: None,
            sched_rr: true,
            priority: None,
            ipc_prefix: None,
            ipc_type: IpcType::Shm,
        }
    }
}

/// `system.priority`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessPriority {
    /// `max`: the highest priority (nice −20).
    Max,
    /// `min`: the lowest priority (nice 19).
    Min,
    /// A nice value, −20 to 19.
    Nice(i8),
}

/// `uidgid { uid: … gid: … }`: users and groups allowed to connect to the IPC, from every
/// `uidgid {}` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UidGid {
    /// `uid` entries, in file order.
    pub uids: Vec<Account>,
    /// `gid` entries, in file order.
    pub gids: Vec<Account>,
}

/// A user or group: a number, or a name the daemon looks up.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Account {
    /// A numeric id.
    Id(u32),
    /// A name.
    Name(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_mode_follows_cipher_then_hash() {
        let mut t = Totem::default();
        assert_eq!(
            t.crypto(),
            CryptoMode::Encrypted {
                cipher: Cipher::Aes256
            }
        );
        t.crypto_cipher = Cipher::None;
        assert_eq!(t.crypto(), CryptoMode::AuthOnly { hash: Hash::Sha256 });
        t.crypto_hash = Hash::None;
        assert_eq!(t.crypto(), CryptoMode::None);
    }

    #[test]
    fn effective_token_grows_above_two_nodes() {
        let t = Totem::default();
        assert_eq!(t.effective_token(2), Duration::from_millis(3000));
        assert_eq!(t.effective_token(5), Duration::from_millis(4950));
        assert_eq!(t.effective_consensus(2), Duration::from_millis(3600));
    }
}
