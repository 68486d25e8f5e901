//! cfg: golden layouts written from the reference's offsets, error cases, round trips.

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::ipc::tests::{assert_prefixes_fail, golden, status};

fn header(id: i32, size: u16) -> [(usize, Vec<u8>); 2] {
    [
        (0, id.to_le_bytes().to_vec()),
        (8, size.to_le_bytes().to_vec()),
    ]
}

fn bytes_of(len: usize, fields: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let fields: Vec<(usize, &[u8])> = fields.iter().map(|(o, b)| (*o, b.as_slice())).collect();
    golden(len, &fields)
}

#[test]
fn node_addrs_layout() {
    let bytes = CfgResponse::NodeAddrs {
        error: CsStatus::OK,
        addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2))],
    }
    .to_vec();
    assert_eq!(bytes.len(), 48);
    assert_eq!(&bytes[0..4], &11i32.to_le_bytes());
    assert_eq!(&bytes[8..12], &48i32.to_le_bytes());
    assert_eq!(&bytes[16..20], &1i32.to_le_bytes());
    assert_eq!(&bytes[24..28], &2u32.to_le_bytes());
    assert_eq!(&bytes[28..32], &1u32.to_le_bytes());
    assert_eq!(&bytes[32..36], &[10, 77, 0, 2]);
    assert_eq!(&bytes[36..48], &[0; 12]);
}

#[test]
fn request_layouts() {
    use cfg_request_id as id;
    let bare = |id: i32| bytes_of(16, &header(id, 16));
    let with_u32 = |id: i32, arg: u32| {
        let [h0, h1] = header(id, 24);
        bytes_of(24, &[h0, h1, (16, arg.to_le_bytes().to_vec())])
    };
    let cases: Vec<(CfgRequest, Vec<u8>)> = vec![
        (CfgRequest::RingStatusGet, bare(id::RINGSTATUSGET)),
        (CfgRequest::RingReenable, bare(id::RINGREENABLE)),
        (
            CfgRequest::TryShutdown {
                flags: cfg_shutdown_flags::IMMEDIATE,
            },
            with_u32(id::TRYSHUTDOWN, 2),
        ),
        (
            CfgRequest::ShutdownCluster {
                flags: cfg_shutdown_flags::REQUEST,
            },
            with_u32(id::SHUTDOWN_CLUSTER, 0),
        ),
        (
            CfgRequest::ReplyToShutdown {
                response: cfg_shutdown_reply::YES,
            },
            with_u32(id::REPLYTOSHUTDOWN, 1),
        ),
        (
            CfgRequest::GetNodeAddrs { nodeid: NodeId(3) },
            with_u32(id::GET_NODE_ADDRS, 3),
        ),
        (CfgRequest::LocalGet, bare(id::LOCAL_GET)),
        (CfgRequest::ReloadConfig, bare(id::RELOAD_CONFIG)),
        (CfgRequest::ReopenLogFiles, bare(id::REOPEN_LOG_FILES)),
        (
            CfgRequest::TrackStart { flags: 0 },
            with_u32(id::TRACKSTART, 0),
        ),
        (CfgRequest::TrackStop, bare(id::TRACKSTOP)),
        (CfgRequest::Other { id: 42 }, bare(42)),
        (
            CfgRequest::KillNode {
                nodeid: NodeId(3),
                reason: CsName::new("fenced").unwrap(),
            },
            bytes_of(
                288,
                &[
                    (0, vec![2, 0, 0, 0]),
                    (8, vec![32, 1, 0, 0]),
                    (16, vec![3, 0, 0, 0]),
                    (24, vec![7, 0]), // strlen + 1, as libcfg sends it
                    (26, b"fenced".to_vec()),
                ],
            ),
        ),
        (
            CfgRequest::NodeStatusGet {
                nodeid: NodeId(2),
                version: CfgNodeStatus::V1,
            },
            bytes_of(
                32,
                &[
                    (0, vec![9, 0, 0, 0]),
                    (8, vec![32, 0, 0, 0]),
                    (16, vec![2, 0, 0, 0]),
                    (24, vec![1, 0, 0, 0]),
                ],
            ),
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(request.to_vec(), expected, "{request:?}");
        assert_eq!(CfgRequest::decode(&expected), Ok(request.clone()));
        let response_id = request.response_id();
        assert_eq!(
            response_id.is_none(),
            matches!(request, CfgRequest::Other { .. })
        );
    }
}

#[test]
fn kill_reasons_are_read_up_to_the_nul() {
    let mut bytes = CfgRequest::KillNode {
        nodeid: NodeId(1),
        reason: CsName::new("abc").unwrap(),
    }
    .to_vec();
    // Without the NUL counted, as a strlen-only client would send it.
    bytes[24] = 3;
    let reason = |bytes: &[u8]| match CfgRequest::decode(bytes) {
        Ok(CfgRequest::KillNode { reason, .. }) => Ok(reason.as_bytes().to_vec()),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    assert_eq!(reason(&bytes), Ok(b"abc".to_vec()));
    bytes[24..26].copy_from_slice(&257u16.to_le_bytes());
    assert!(matches!(
        reason(&bytes),
        Err(IpcDecodeError::StringTooLong { len: 257, .. })
    ));
    bytes[24..26].copy_from_slice(&256u16.to_le_bytes());
    bytes[26..282].fill(b'x');
    assert_eq!(
        reason(&bytes),
        Err(IpcDecodeError::StringUnterminated {
            what: "cfg kill reason"
        })
    );
    assert!(CsName::new(vec![b'x'; 255]).is_ok());
    assert!(CsName::new(vec![b'x'; 256]).is_err());
    assert!(CsName::new("a\0").is_err());
}

#[test]
fn ring_status_layout() {
    let response = CfgResponse::RingStatus {
        error: CsStatus::OK,
        interfaces: CfgRingStatus::new(vec![(
            CfgInterfaceName::new("127.0.0.1").unwrap(),
            CfgInterfaceStatus::new("ring 0 active with no faults").unwrap(),
        )])
        .unwrap(),
    };
    let expected = bytes_of(
        10_272,
        &[
            (0, vec![0, 0, 0, 0]),
            (8, vec![0x20, 0x28, 0, 0]),
            (16, vec![1, 0, 0, 0]),
            (24, vec![1, 0, 0, 0]),
            (32, b"127.0.0.1".to_vec()),
            (2080, b"ring 0 active with no faults".to_vec()),
        ],
    );
    assert_eq!(response.to_vec(), expected);
    assert_eq!(CfgResponse::decode(&expected), Ok(response));
    assert!(CfgRingStatus::new(vec![Default::default(); 17]).is_err());
}

#[test]
fn node_status_layout() {
    let mut status = CfgNodeStatus {
        version: CfgNodeStatus::V1,
        nodeid: NodeId(2),
        reachable: true,
        remote: true,
        external: false,
        onwire_min: 1,
        onwire_max: 3,
        onwire_ver: 2,
        links: Default::default(),
    };
    status.links[0] = CfgLinkStatus {
        enabled: true,
        connected: true,
        dynconnected: false,
        mtu: 1397,
        src_ipaddr: CfgLinkAddress::new("10.0.0.1").unwrap(),
        dst_ipaddr: CfgLinkAddress::new("10.0.0.2").unwrap(),
    };
    status.links[1].enabled = true;
    let response = CfgResponse::NodeStatus {
        error: CsStatus::OK,
        status: Box::new(status),
    };
    let expected = bytes_of(
        4200,
        &[
            (0, vec![16, 0, 0, 0]),
            (8, vec![0x68, 0x10, 0, 0]),
            (16, vec![1, 0, 0, 0]),
            (24, vec![1, 0, 0, 0]), // version
            (28, vec![2, 0, 0, 0]), // nodeid
            (32, vec![1, 1, 0, 1, 3, 2]),
            (40, vec![1, 1, 0]), // link 0: enabled, connected, dynconnected
            (44, vec![0x75, 0x05, 0, 0]), // mtu 1397
            (48, b"10.0.0.1".to_vec()), // src_ipaddr
            (304, b"10.0.0.2".to_vec()), // dst_ipaddr
            (560, vec![1]),      // link 1: enabled
        ],
    );
    assert_eq!(response.to_vec(), expected);
    assert_eq!(CfgResponse::decode(&expected), Ok(response));

    let unsupported = CfgResponse::NodeStatusVersion {
        error: CsStatus::ERR_NOT_SUPPORTED,
        version: 7,
    };
    let expected = bytes_of(
        32,
        &[
            (0, vec![16, 0, 0, 0]),
            (8, vec![32, 0, 0, 0]),
            (16, vec![19, 0, 0, 0]),
            (24, vec![7, 0, 0, 0]),
        ],
    );
    assert_eq!(unsupported.to_vec(), expected);
    assert_eq!(CfgResponse::decode(&expected), Ok(unsupported));
}

#[test]
fn other_response_and_event_layouts() {
    let local = CfgResponse::LocalGet {
        local_nodeid: NodeId(0x0102_0304),
    };
    let expected = bytes_of(
        32,
        &[
            (0, vec![12, 0, 0, 0]),
            (8, vec![32, 0, 0, 0]),
            (16, vec![1, 0, 0, 0]),
            (24, vec![4, 3, 2, 1]),
        ],
    );
    assert_eq!(local.to_vec(), expected);
    assert_eq!(CfgResponse::decode(&expected), Ok(local));

    let killed = CfgResponse::Bare {
        id: cfg_response_id::KILLNODE,
        error: CsStatus::OK,
    };
    let expected = bytes_of(
        24,
        &[
            (0, vec![8, 0, 0, 0]),
            (8, vec![24, 0, 0, 0]),
            (16, vec![1, 0, 0, 0]),
        ],
    );
    assert_eq!(killed.to_vec(), expected);
    assert_eq!(CfgResponse::decode(&expected), Ok(killed));

    let event = CfgEvent::TestShutdown {
        flags: cfg_shutdown_flags::REGARDLESS,
    };
    let expected = bytes_of(
        32,
        &[
            (0, vec![10, 0, 0, 0]),
            (8, vec![32, 0, 0, 0]),
            (16, vec![1, 0, 0, 0]),
            (24, vec![1, 0, 0, 0]),
        ],
    );
    assert_eq!(event.to_vec(), expected);
    assert_eq!(CfgEvent::decode(&expected), Ok(event));
}

#[test]
fn decode_errors() {
    let mut short = CfgRequest::GetNodeAddrs { nodeid: NodeId(3) }.to_vec();
    short.truncate(20);
    short[8..12].copy_from_slice(&20i32.to_le_bytes());
    assert!(CfgRequest::decode(&short).is_err());

    // Response id 4 does not exist.
    let bytes = golden(24, &[(0, &[4, 0, 0, 0]), (8, &[24, 0, 0, 0])]);
    assert!(matches!(
        CfgResponse::decode(&bytes),
        Err(IpcDecodeError::UnknownId { id: 4, .. })
    ));
    // An address of an unknown family; too many addresses.
    let mut addrs = CfgResponse::NodeAddrs {
        error: CsStatus::OK,
        addrs: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    }
    .to_vec();
    addrs[24] = 7;
    assert!(matches!(
        CfgResponse::decode(&addrs),
        Err(IpcDecodeError::InvalidValue {
            what: "cfg address family",
            value: 7
        })
    ));
    addrs[28] = 9;
    assert!(matches!(
        CfgResponse::decode(&addrs),
        Err(IpcDecodeError::ListTooLong { count: 9, .. })
    ));
    // No address: the family is not looked at.
    let empty = golden(
        32,
        &[
            (0, &[11, 0, 0, 0]),
            (8, &[32, 0, 0, 0]),
            (16, &[12, 0, 0, 0]),
        ],
    );
    assert_eq!(
        CfgResponse::decode(&empty),
        Ok(CfgResponse::NodeAddrs {
            error: CsStatus::ERR_NOT_EXIST,
            addrs: vec![]
        })
    );
    // LOCAL_GET always carries CS_OK.
    let mut local = CfgResponse::LocalGet {
        local_nodeid: NodeId(1),
    }
    .to_vec();
    local[16] = 2;
    assert!(CfgResponse::decode(&local).is_err());
    // Only TESTSHUTDOWN is an event.
    let bytes = golden(32, &[(0, &[11, 0, 0, 0]), (8, &[32, 0, 0, 0])]);
    assert!(CfgEvent::decode(&bytes).is_err());
}

// ---- properties -----------------------------------------------------------------------

fn cstr<const N: usize>(max: usize) -> impl Strategy<Value = FixedCStr<N>> {
    vec(1u8.., 0..=max.min(N - 1)).prop_map(|v| FixedCStr::new(v).unwrap())
}

pub(in crate::ipc) fn cfg_request() -> impl Strategy<Value = CfgRequest> {
    let reason = vec(1u8.., 0..=CsName::MAX).prop_map(|v| CsName::new(v).unwrap());
    prop_oneof![
        Just(CfgRequest::RingStatusGet),
        Just(CfgRequest::RingReenable),
        (any::<u32>(), reason).prop_map(|(n, reason)| CfgRequest::KillNode {
            nodeid: NodeId(n),
            reason
        }),
        any::<u32>().prop_map(|flags| CfgRequest::TryShutdown { flags }),
        any::<u32>().prop_map(|flags| CfgRequest::ShutdownCluster { flags }),
        any::<u32>().prop_map(|response| CfgRequest::ReplyToShutdown { response }),
        any::<u32>().prop_map(|n| CfgRequest::GetNodeAddrs { nodeid: NodeId(n) }),
        Just(CfgRequest::LocalGet),
        Just(CfgRequest::ReloadConfig),
        Just(CfgRequest::ReopenLogFiles),
        (any::<u32>(), any::<u32>()).prop_map(|(n, version)| CfgRequest::NodeStatusGet {
            nodeid: NodeId(n),
            version
        }),
        any::<u8>().prop_map(|flags| CfgRequest::TrackStart { flags }),
        Just(CfgRequest::TrackStop),
        (12..i32::MAX)
            .prop_filter("ours", |id| *id != cfg_request_id::SHUTDOWN_CLUSTER)
            .prop_map(|id| CfgRequest::Other { id }),
    ]
}

fn addrs() -> impl Strategy<Value = Vec<IpAddr>> {
    prop_oneof![
        vec(any::<[u8; 4]>(), 0..=CFG_ADDRS_MAX)
            .prop_map(|v| v.into_iter().map(IpAddr::from).collect()),
        vec(any::<[u8; 16]>(), 1..=CFG_ADDRS_MAX)
            .prop_map(|v| v.into_iter().map(IpAddr::from).collect()),
    ]
}

fn link() -> impl Strategy<Value = CfgLinkStatus> {
    (any::<[bool; 3]>(), any::<u32>(), cstr(40), cstr(40)).prop_map(
        |([enabled, connected, dynconnected], mtu, src_ipaddr, dst_ipaddr)| CfgLinkStatus {
            enabled,
            connected,
            dynconnected,
            mtu,
            src_ipaddr,
            dst_ipaddr,
        },
    )
}

fn node_status() -> impl Strategy<Value = CfgNodeStatus> {
    (
        any::<(u32, u32)>(),
        any::<[bool; 3]>(),
        any::<[u8; 3]>(),
        vec(link(), CFG_LINKS_MAX),
    )
        .prop_map(|((version, n), flags, onwire, links)| CfgNodeStatus {
            version,
            nodeid: NodeId(n),
            reachable: flags[0],
            remote: flags[1],
            external: flags[2],
            onwire_min: onwire[0],
            onwire_max: onwire[1],
            onwire_ver: onwire[2],
            links: links.try_into().unwrap(),
        })
}

pub(in crate::ipc) fn cfg_response() -> impl Strategy<Value = CfgResponse> {
    let bare_id = prop_oneof![0..=3, Just(8), Just(9), 11..=16];
    let interfaces = vec((cstr(127), cstr(511)), 0..=CFG_INTERFACES_MAX)
        .prop_map(|v| CfgRingStatus::new(v).unwrap());
    prop_oneof![
        (status(), addrs()).prop_map(|(error, addrs)| CfgResponse::NodeAddrs { error, addrs }),
        any::<u32>().prop_map(|n| CfgResponse::LocalGet {
            local_nodeid: NodeId(n)
        }),
        (status(), interfaces)
            .prop_map(|(error, interfaces)| CfgResponse::RingStatus { error, interfaces }),
        (status(), node_status()).prop_map(|(error, status)| CfgResponse::NodeStatus {
            error,
            status: Box::new(status)
        }),
        (status(), any::<u32>())
            .prop_map(|(error, version)| CfgResponse::NodeStatusVersion { error, version }),
        (bare_id, status()).prop_map(|(id, error)| CfgResponse::Bare { id, error }),
    ]
}

pub(in crate::ipc) fn cfg_event() -> impl Strategy<Value = CfgEvent> {
    any::<u32>().prop_map(|flags| CfgEvent::TestShutdown { flags })
}

proptest! {
    #[test]
    fn requests_round_trip(request in cfg_request()) {
        let bytes = request.to_vec();
        prop_assert_eq!(bytes.len(), request.encoded_len());
        prop_assert_eq!(CfgRequest::decode(&bytes), Ok(request));
        assert_prefixes_fail(&bytes, CfgRequest::decode);
    }

    #[test]
    fn responses_round_trip(response in cfg_response()) {
        let bytes = response.to_vec();
        prop_assert_eq!(bytes.len(), response.encoded_len());
        prop_assert_eq!(CfgResponse::decode(&bytes), Ok(response));
        assert_prefixes_fail(&bytes, CfgResponse::decode);
    }

    #[test]
    fn events_round_trip(event in cfg_event()) {
        let bytes = event.to_vec();
        prop_assert_eq!(bytes.len(), event.encoded_len());
        prop_assert_eq!(CfgEvent::decode(&bytes), Ok(event));
        assert_prefixes_fail(&bytes, CfgEvent::decode);
    }
}
