//! Properties: a printed configuration parses back to itself, and no text makes the parser
//! panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use ais_config::{
    Account, Cipher, Config, DebugLevel, Hash, Interface, IpVersion, IpcType, KnetTransport,
    LinkMode, LogPriority, LoggerSubsys, Logging, MAX_LINKS, Node, NodeAddr, ProcessPriority,
    Quorum, QuorumProvider, SyslogFacility, System, TieBreaker, Timestamp, Totem, Transport,
    UidGid, parse,
};
use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

fn ms(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Duration> {
    range.prop_map(Duration::from_millis)
}

fn nonzero() -> impl Strategy<Value = NonZeroU32> {
    (1u32..).prop_map(|n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// Free text as names and paths may hold: blanks, quotes, `#` and `:` included.
fn text() -> impl Strategy<Value = String> {
    "[ a-zA-Z0-9_./\"#:-]{1,16}"
}

fn ip(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        any::<u128>()
            .prop_map(|n| IpAddr::V6(Ipv6Addr::from(n)))
            .boxed()
    } else {
        any::<u32>()
            .prop_map(|n| IpAddr::V4(Ipv4Addr::from(n)))
            .boxed()
    }
}

fn multicast() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (224u8..=239, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| IpAddr::from([a, b, c, d])),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n | (0xff << 120)))),
    ]
}

fn node_addr(v6: bool) -> impl Strategy<Value = NodeAddr> {
    prop_oneof![
        3 => ip(v6).prop_map(NodeAddr::Ip),
        1 => "[a-z][a-z0-9-]{0,8}(\\.[a-z0-9_]{1,6}){0,2}".prop_map(NodeAddr::Name),
    ]
}

fn interface(linknumber: u8) -> impl Strategy<Value = Interface> {
    (
        (
            option::of(ip(false)),
            option::of(multicast()),
            1u16..,
            any::<u8>(),
        ),
        (
            option::of(any::<u8>()),
            option::of(ms(1..=5000)),
            option::of(ms(1..=5000)),
        ),
        (
            option::of(1u32..),
            option::of(1u32..),
            option::of(select(KnetTransport::ALL)),
        ),
    )
        .prop_map(
            move |((bind, mcast, port, ttl), (prio, ping, timeout), (prec, pong, kt))| Interface {
                linknumber,
                bindnetaddr: bind,
                mcastaddr: mcast,
                mcastport: port,
                ttl,
                knet_link_priority: prio,
                knet_ping_interval: ping,
                knet_ping_timeout: timeout,
                knet_ping_precision: prec,
                knet_pong_count: pong,
                knet_transport: kt,
            },
        )
}

/// Transport, nodes and links that satisfy every cross-field rule: an address on every
/// used link for every node, one IP family per link, an `ip_version` that allows it.
fn network() -> impl Strategy<Value = (Totem, Vec<Node>)> {
    (select(Transport::ALL), 1usize..=5)
        .prop_flat_map(|(transport, nodes)| {
            let links = if transport == Transport::Udp {
                1..=1
            } else {
                1..=3usize
            };
            let ids = btree_set(1u32.., nodes);
            (
                Just(transport),
                ids,
                links.prop_flat_map(|k| vec(any::<bool>(), k)),
            )
        })
        .prop_flat_map(|(transport, ids, v6_links)| {
            let ids: Vec<u32> = ids.into_iter().collect();
            let addrs: Vec<Vec<_>> = ids
                .iter()
                .map(|_| v6_links.iter().map(|&v6| node_addr(v6)).collect())
                .collect();
            let mut versions = vec![IpVersion::Ipv4Then6, IpVersion::Ipv6Then4];
            if v6_links.iter().all(|v6| !v6) {
                versions.push(IpVersion::Ipv4);
            }
            if v6_links.iter().all(|v6| *v6) {
                versions.push(IpVersion::Ipv6);
            }
            let interfaces: Vec<_> = (0..v6_links.len())
                .map(|l| option::of(interface(l as u8)))
                .collect();
            let nodes = (
                addrs,
                vec(option::of(text()), ids.len()),
                vec(option::of(0u32..10), ids.len()),
            );
            (
                Just(transport),
                Just(ids.clone()),
                nodes,
                select(versions),
                interfaces,
                option::of(select(ids)),
            )
        })
        .prop_flat_map(
            |(transport, ids, (addrs, names, votes), ip_version, interfaces, local)| {
                let nodes: Vec<Node> = ids
                    .iter()
                    .zip(addrs)
                    .zip(names.into_iter().zip(votes))
                    .map(|((&nodeid, addrs), (name, quorum_votes))| {
                        let mut ring_addrs: [Option<NodeAddr>; MAX_LINKS] = Default::default();
                        for (slot, addr) in ring_addrs.iter_mut().zip(addrs) {
                            *slot = Some(addr);
                        }
                        Node {
                            nodeid,
                            name,
                            ring_addrs,
                            quorum_votes,
                        }
                    })
                    .collect();
                let interfaces: Vec<Interface> = interfaces.into_iter().flatten().collect();
                (
                    Just((transport, ip_version, interfaces, local)),
                    Just(nodes),
                    timers(ids.len()),
                )
            },
        )
        .prop_map(
            |((transport, ip_version, interfaces, nodeid), nodes, timers)| {
                let mut totem = timers;
                totem.transport = transport;
                totem.ip_version = ip_version;
                totem.interfaces = interfaces;
                totem.nodeid = nodeid;
                (totem, nodes)
            },
        )
}

/// Timers that keep consensus ≥ 1.2 × effective token > join.
fn timers(nodes: usize) -> impl Strategy<Value = Totem> {
    (
        (
            ms(100..=20_000),
            ms(0..=1000),
            1u32..=10,
            option::of(ms(1..=1000)),
            option::of(ms(1..=1000)),
        ),
        (
            ms(1..=100),
            ms(0..=200),
            option::of(0u64..5000),
            ms(1..=1000),
            ms(0..=5000),
        ),
        (
            nonzero(),
            any::<u32>(),
            nonzero(),
            1u32..=8192,
            nonzero(),
            256u32..=65536,
            ms(0..=2000),
        ),
        (
            select(LinkMode::ALL),
            select(Cipher::ALL),
            select(Hash::ALL),
        ),
        (option::of(text()), option::of(text())),
    )
        .prop_map(move |(a, b, c, d, e)| {
            let (token, token_coefficient, retransmits, token_retransmit, hold) = a;
            let (join, send_join, consensus_extra, merge, downcheck) = b;
            let (fail_recv, seqno, miss, window, max_messages, netmtu, fail_fast) = c;
            let (link_mode, crypto_cipher, crypto_hash) = d;
            let (cluster_name, keyfile) = e;
            let mut totem = Totem {
                cluster_name,
                token,
                token_coefficient,
                token_retransmit,
                hold,
                token_retransmits_before_loss_const: retransmits,
                join,
                send_join,
                merge,
                downcheck,
                fail_recv_const: fail_recv,
                seqno_unchanged_const: seqno,
                miss_count_const: miss,
                window_size: NonZeroU32::new(window).unwrap_or(NonZeroU32::MIN),
                max_messages,
                netmtu,
                fail_fast,
                link_mode,
                crypto_cipher,
                crypto_hash,
                keyfile,
                ..Totem::default()
            };
            let minimum = (totem.effective_token(nodes).as_millis() as u64 * 6).div_ceil(5);
            totem.consensus = consensus_extra.map(|extra| Duration::from_millis(minimum + extra));
            // fail_fast off, or whole milliseconds from 4 × join to below consensus.
            let consensus = totem.effective_consensus(nodes);
            let low = (totem.join * 4).as_millis() as u64;
            let high = ((consensus.as_nanos() - 1) / 1_000_000) as u64;
            if !totem.fail_fast.is_zero() {
                totem.fail_fast = if low <= high {
                    Duration::from_millis((totem.fail_fast.as_millis() as u64).clamp(low, high))
                } else {
                    Duration::ZERO
                };
            }
            totem
        })
}

fn quorum() -> impl Strategy<Value = Quorum> {
    let tie_breaker = prop_oneof![
        Just(TieBreaker::Lowest),
        Just(TieBreaker::Highest),
        vec(1u32.., 1..4).prop_map(TieBreaker::Nodes),
    ];
    (
        (
            option::of(select(QuorumProvider::ALL)),
            option::of(nonzero()),
            any::<[bool; 6]>(),
        ),
        (ms(1..=100_000), tie_breaker, option::of(any::<u32>())),
    )
        .prop_map(
            |((provider, expected_votes, b), (window, tie, votes))| Quorum {
                provider,
                expected_votes,
                two_node: b[0],
                wait_for_all: b[1],
                last_man_standing: b[2],
                last_man_standing_window: window,
                auto_tie_breaker: b[3],
                auto_tie_breaker_node: tie,
                allow_downscale: b[4],
                expected_votes_tracking: b[5],
                votes,
            },
        )
}

fn subsys() -> impl Strategy<Value = LoggerSubsys> {
    (
        "[A-Z]{2,8}",
        (
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
        ),
        option::of(text()),
        option::of(select(SyslogFacility::ALL)),
        (
            option::of(select(LogPriority::ALL)),
            option::of(select(LogPriority::ALL)),
        ),
        option::of(select(DebugLevel::ALL)),
    )
        .prop_map(
            |(subsys, (to_stderr, to_logfile, to_syslog), logfile, facility, (sp, lp), debug)| {
                LoggerSubsys {
                    subsys,
                    to_stderr,
                    to_logfile,
                    logfile,
                    to_syslog,
                    syslog_facility: facility,
                    syslog_priority: sp,
                    logfile_priority: lp,
                    debug,
                }
            },
        )
}

fn logging() -> impl Strategy<Value = Logging> {
    (
        any::<[bool; 5]>(),
        option::of(text()),
        (
            select(SyslogFacility::ALL),
            select(LogPriority::ALL),
            select(LogPriority::ALL),
        ),
        (select(DebugLevel::ALL), select(Timestamp::ALL)),
        vec(subsys(), 0..3),
    )
        .prop_map(
            |(b, logfile, (facility, sp, lp), (debug, timestamp), logger_subsys)| Logging {
                to_stderr: b[0],
                to_logfile: b[1] && logfile.is_some(),
                logfile,
                to_syslog: b[2],
                syslog_facility: facility,
                syslog_priority: sp,
                logfile_priority: lp,
                debug,
                timestamp,
                fileline: b[3],
                function_name: b[4],
                logger_subsys,
            },
        )
}

fn system_and_uidgid() -> impl Strategy<Value = (System, UidGid)> {
    let priority = prop_oneof![
        Just(ProcessPriority::Max),
        Just(ProcessPriority::Min),
        (-20i8..=19).prop_map(ProcessPriority::Nice),
    ];
    let account = prop_oneof![
        any::<u32>().prop_map(Account::Id),
        "[a-z_][a-z0-9_.$-]{0,10}".prop_map(Account::Name),
    ];
    (
        (
            option::of(text()),
            any::<bool>(),
            option::of(priority),
            option::of(text()),
            prop_oneof![Just(IpcType::Shm), Just(IpcType::Socket)],
        ),
        vec(account.clone(), 0..3),
        vec(account, 0..3),
    )
        .prop_map(
            |((state_dir, sched_rr, priority, ipc_prefix, ipc_type), uids, gids)| {
                let system = System {
                    state_dir,
                    sched_rr,
                    priority,
                    ipc_prefix,
                    ipc_type,
                };
                (system, UidGid { uids, gids })
            },
        )
}

fn config() -> impl Strategy<Value = Config> {
    (network(), quorum(), logging(), system_and_uidgid()).prop_map(
        |((totem, nodelist), quorum, logging, (system, uidgid))| Config {
            totem,
            nodelist,
            quorum,
            logging,
            system,
            uidgid,
        },
    )
}

proptest! {
    #[test]
    fn printed_configs_parse_back_to_themselves(config in config()) {
        let text = config.to_conf_string();
        let parsed = parse(&text, "printed.conf")
            .unwrap_or_else(|e| panic!("{e}\n--- printed text ---\n{text}"));
        prop_assert_eq!(&parsed.config, &config, "printed text:\n{}", text);
        let node = ais_types::NodeId(config.nodelist[0].nodeid);
        prop_assert_eq!(config.totem_config(node).validate(), Ok(()));
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text, "fuzz.conf");
    }

    #[test]
    fn config_shaped_noise_never_panics(text in "[a-z_0-9:{}#\" \t\r\n.\u{a0}-]{0,300}") {
        let _ = parse(&text, "fuzz.conf");
    }

    #[test]
    fn damaged_configs_never_panic(
        config in config(),
        at in any::<proptest::sample::Index>(),
        cut in 0usize..40,
        insert in "[ -~\n\t]{0,6}",
    ) {
        let text = config.to_conf_string();
        let start = at.index(text.len() + 1);
        let start = (0..=start).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let end = (start + cut).min(text.len());
        let end = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        let damaged = format!("{}{}{}", &text[..start], insert, &text[end..]);
        let _ = parse(&damaged, "damaged.conf");
    }
}
