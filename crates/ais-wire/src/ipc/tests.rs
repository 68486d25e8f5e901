//! libqb's framing (connection, headers): golden layouts (expected bytes written from the
//! reference's offsets, not from the encoder), error cases across the services, and
//! property tests: round trips, truncation, arbitrary bytes. Each service's own messages
//! are tested beside it (`cpg/tests.rs`, `cmap/tests.rs`, …).

use ais_types::NodeId;
use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use super::cpg::tests::name;
use super::fuzzing::fuzz_ipc_decode;
use super::*;

/// A zeroed buffer of `len` bytes with `fields` (offset, bytes) written in.
pub(super) fn golden(len: usize, fields: &[(usize, &[u8])]) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    for (off, bytes) in fields {
        buf[*off..off + bytes.len()].copy_from_slice(bytes);
    }
    buf
}

pub(super) fn list<T>(entries: Vec<T>) -> MemberList<T> {
    MemberList::new(entries).unwrap()
}

// ---- golden layouts -------------------------------------------------------------------

#[test]
fn connection_request_layout() {
    let bytes = ConnectionRequest {
        max_msg_size: 1_048_576,
    }
    .to_vec();
    let expected = golden(
        24,
        &[
            (0, &[0xff, 0xff, 0xff, 0xff]), // hdr.id = QB_IPC_MSG_AUTHENTICATE (-1)
            (8, &[24, 0, 0, 0]),            // hdr.size
            (16, &[0x00, 0x00, 0x10, 0x00]), // max_msg_size = 1 MiB
        ],
    );
    assert_eq!(bytes, expected);
    assert_eq!(
        ConnectionRequest::decode(&expected),
        Ok(ConnectionRequest {
            max_msg_size: 1 << 20
        })
    );
}

#[test]
fn connection_response_layout_socket() {
    let response = ConnectionResponse::Accepted(ConnectionAccepted {
        transport: IpcTransport::Socket,
        max_msg_size: 1_048_576,
        connection: 0x1122_3344_5566_7788,
        request: IpcPath::new("/dev/shm/qb-1-2-3-x/qb-control-cpg").unwrap(),
        response: IpcPath::new("/dev/shm/qb-1-2-3-x/qb-cpg").unwrap(),
        event: IpcPath::default(),
    });
    let expected = golden(
        12_328,
        &[
            (0, &[0xff; 4]),
            (8, &[0x28, 0x30, 0, 0]), // 12 328
            (24, &[0, 0, 0, 0]),      // connection_type = QB_IPC_SOCKET
            (28, &[0x00, 0x00, 0x10, 0x00]),
            (32, &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]),
            (40, b"/dev/shm/qb-1-2-3-x/qb-control-cpg"),
            (4136, b"/dev/shm/qb-1-2-3-x/qb-cpg"),
        ],
    );
    assert_eq!(response.to_vec(), expected);
    assert_eq!(ConnectionResponse::decode(&expected), Ok(response));
}

#[test]
fn connection_response_layout_shm_and_refusal() {
    let shm = ConnectionResponse::Accepted(ConnectionAccepted {
        transport: IpcTransport::Shm,
        max_msg_size: 4096,
        connection: 0,
        request: IpcPath::new("/r").unwrap(),
        response: IpcPath::new("/s").unwrap(),
        event: IpcPath::new("/e").unwrap(),
    });
    let expected = golden(
        12_328,
        &[
            (0, &[0xff; 4]),
            (8, &[0x28, 0x30, 0, 0]),
            (24, &[1, 0, 0, 0]), // QB_IPC_SHM
            (28, &[0x00, 0x10, 0, 0]),
            (40, b"/r"),
            (4136, b"/s"),
            (8232, b"/e"),
        ],
    );
    assert_eq!(shm.to_vec(), expected);

    let refused = ConnectionResponse::Refused(Errno::EAGAIN).to_vec();
    let expected = golden(
        12_328,
        &[
            (0, &[0xff; 4]),
            (8, &[0x28, 0x30, 0, 0]),
            (16, &[0xf5, 0xff, 0xff, 0xff]),
        ],
    );
    assert_eq!(refused, expected); // error = -EAGAIN = -11
    assert_eq!(
        ConnectionResponse::decode(&expected),
        Ok(ConnectionResponse::Refused(Errno::EAGAIN))
    );
}

#[test]
fn header_layouts() {
    let mut out = Vec::new();
    RequestHeader { id: 2, size: 49 }.encode(&mut out);
    assert_eq!(out, golden(16, &[(0, &[2, 0, 0, 0]), (8, &[49, 0, 0, 0])]));
    assert_eq!(
        RequestHeader::peek(&out),
        Ok(RequestHeader { id: 2, size: 49 })
    );

    let mut out = Vec::new();
    ResponseHeader {
        id: 5,
        size: 193,
        error: CsStatus::OK,
    }
    .encode(&mut out);
    assert_eq!(
        out,
        golden(
            24,
            &[
                (0, &[5, 0, 0, 0]),
                (8, &[193, 0, 0, 0]),
                (16, &[1, 0, 0, 0])
            ]
        )
    );
    assert_eq!(
        ResponseHeader::peek(&out),
        Ok(ResponseHeader {
            id: 5,
            size: 193,
            error: CsStatus::OK
        })
    );
}

// ---- errors ---------------------------------------------------------------------------

#[test]
fn generic_error_reply_decodes_as_id_zero() {
    let bytes = golden(24, &[(8, &[24, 0, 0, 0]), (16, &[6, 0, 0, 0])]);
    assert_eq!(
        CpgResponse::decode(&bytes),
        Ok(CpgResponse::Join(CsStatus::ERR_TRY_AGAIN))
    );
}

#[test]
fn decode_errors_are_typed() {
    let join = CpgRequest::Join {
        group: name("abc"),
        pid: 1,
        flags: 0,
    }
    .to_vec();

    let mut long_name = join.clone();
    long_name[16] = 129;
    assert_eq!(
        CpgRequest::decode(&long_name),
        Err(IpcDecodeError::NameTooLong { len: 129 })
    );

    assert_eq!(
        CpgRequest::decode(&join[..100]),
        Err(IpcDecodeError::BadSize {
            what: "cpg request",
            size: 168,
            len: 100
        })
    );
    assert_eq!(
        CpgRequest::decode(&join[..10]),
        Err(IpcDecodeError::Truncated {
            what: "cpg request",
            need: 16,
            got: 10
        })
    );

    let mut zc_alloc = golden(16, &[(0, &[9, 0, 0, 0]), (8, &[16, 0, 0, 0])]);
    assert_eq!(
        CpgRequest::decode(&zc_alloc),
        Err(IpcDecodeError::UnknownId {
            what: "cpg request",
            id: 9
        })
    );
    zc_alloc[0] = 4; // LOCAL_GET with 4 extra bytes and a size that says so
    zc_alloc.extend([0; 4]);
    zc_alloc[8] = 20;
    assert_eq!(
        CpgRequest::decode(&zc_alloc),
        Err(IpcDecodeError::TrailingBytes {
            what: "cpg request",
            extra: 4
        })
    );

    // A membership count over PROCESSOR_COUNT_MAX.
    let mut membership = CpgResponse::Membership {
        error: CsStatus::OK,
        members: list(vec![]),
    }
    .to_vec();
    membership[24..28].copy_from_slice(&385u32.to_le_bytes());
    assert_eq!(
        CpgResponse::decode(&membership),
        Err(IpcDecodeError::ListTooLong {
            what: "cpg membership",
            count: 385,
            max: 384
        })
    );

    // An MCAST whose msglen claims more than any payload may hold.
    let mut mcast = golden(40, &[(0, &[2, 0, 0, 0]), (8, &[40, 0, 0, 0])]);
    mcast[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        CpgRequest::decode(&mcast),
        Err(IpcDecodeError::PayloadTooLarge { .. })
    ));

    // A confchg whose counts promise an entry that is not there.
    let mut confchg = CpgEvent::Confchg(ConfchgEvent {
        group: name("g"),
        members: list(vec![]),
        left: list(vec![]),
        joined: list(vec![]),
    })
    .to_vec();
    confchg[160] = 1;
    assert_eq!(
        CpgEvent::decode(&confchg),
        Err(IpcDecodeError::Truncated {
            what: "cpg event",
            need: 208,
            got: 184
        })
    );

    // A path field without NUL.
    let mut response = ConnectionResponse::Refused(Errno::EACCES).to_vec();
    response[16..20].copy_from_slice(&0i32.to_le_bytes());
    response[40..4136].fill(b'a');
    assert_eq!(
        ConnectionResponse::decode(&response),
        Err(IpcDecodeError::PathUnterminated { what: "request" })
    );
    response[24] = 2; // QB_IPC_POSIX_MQ
    assert_eq!(
        ConnectionResponse::decode(&response),
        Err(IpcDecodeError::InvalidValue {
            what: "connection type",
            value: 2
        })
    );

    let mut header = golden(16, &[(8, &[0xff, 0xff, 0xff, 0x7f])]);
    assert!(matches!(
        RequestHeader::peek(&header),
        Err(IpcDecodeError::BadSize { .. })
    ));
    header[8..12].copy_from_slice(&8i32.to_le_bytes());
    assert!(matches!(
        RequestHeader::peek(&header),
        Err(IpcDecodeError::BadSize { .. })
    ));
}

#[test]
fn constructors_enforce_limits() {
    assert!(CpgName::new(vec![b'x'; CPG_NAME_MAX]).is_ok());
    assert_eq!(
        CpgName::new(vec![b'x'; 129]),
        Err(IpcEncodeError::NameTooLong { len: 129 })
    );
    assert!(MemberList::new(vec![NodeId(1); 384]).is_ok());
    assert_eq!(
        MemberList::new(vec![NodeId(1); 385]),
        Err(IpcEncodeError::ListTooLong { count: 385 })
    );
    assert!(CpgPayload::new(Bytes::from(vec![0; CPG_MCAST_PAYLOAD_MAX])).is_ok());
    assert!(CpgPayload::new(Bytes::from(vec![0; CPG_MCAST_PAYLOAD_MAX + 1])).is_err());
    assert_eq!(
        PartialFragment::new(2, FragmentKind::First, Bytes::from_static(b"abc")),
        Err(IpcEncodeError::FragmentExceedsMessage {
            fragment: 3,
            message: 2
        })
    );
    assert!(IpcPath::new(vec![b'/'; IPC_PATH_MAX]).is_ok());
    assert!(IpcPath::new(vec![b'/'; IPC_PATH_MAX + 1]).is_err());
    assert!(IpcPath::new("/a\0b").is_err());
    assert_eq!(Errno::new(0), None);
}

// ---- properties -----------------------------------------------------------------------

pub(super) fn status() -> impl Strategy<Value = CsStatus> {
    any::<i32>().prop_map(CsStatus)
}

fn path() -> impl Strategy<Value = IpcPath> {
    vec(1u8.., 0..64).prop_map(|v| IpcPath::new(v).unwrap())
}

fn connection_response() -> impl Strategy<Value = ConnectionResponse> {
    let transport = prop_oneof![Just(IpcTransport::Socket), Just(IpcTransport::Shm)];
    prop_oneof![
        (1u16..).prop_map(|e| ConnectionResponse::Refused(Errno::new(e).unwrap())),
        (
            transport,
            any::<u32>(),
            any::<u64>(),
            path(),
            path(),
            path()
        )
            .prop_map(
                |(transport, max_msg_size, connection, request, response, event)| {
                    ConnectionResponse::Accepted(ConnectionAccepted {
                        transport,
                        max_msg_size,
                        connection,
                        request,
                        response,
                        event,
                    })
                }
            ),
    ]
}

/// Any valid encoding of any message kind.
fn any_encoding() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<u32>().prop_map(|m| ConnectionRequest { max_msg_size: m }.to_vec()),
        connection_response().prop_map(|m| m.to_vec()),
        cpg::tests::cpg_request().prop_map(|m| m.to_vec()),
        cpg::tests::cpg_response().prop_map(|m| m.to_vec()),
        cpg::tests::cpg_event().prop_map(|m| m.to_vec()),
        quorum::tests::quorum_request().prop_map(|m| m.to_vec()),
        quorum::tests::quorum_response().prop_map(|m| m.to_vec()),
        quorum::tests::quorum_event().prop_map(|m| m.to_vec()),
        votequorum::tests::votequorum_request().prop_map(|m| m.to_vec()),
        votequorum::tests::votequorum_response().prop_map(|m| m.to_vec()),
        votequorum::tests::votequorum_event().prop_map(|m| m.to_vec()),
        cmap::tests::cmap_request().prop_map(|m| m.to_vec().unwrap()),
        cmap::tests::cmap_response().prop_map(|m| m.to_vec().unwrap()),
        cmap::tests::cmap_event().prop_map(|m| m.to_vec().unwrap()),
        cfg::tests::cfg_request().prop_map(|m| m.to_vec()),
        cfg::tests::cfg_response().prop_map(|m| m.to_vec()),
        cfg::tests::cfg_event().prop_map(|m| m.to_vec()),
    ]
}

/// Asserts that every strict prefix of `bytes`, and `bytes` plus one byte, fail to decode.
pub(super) fn assert_prefixes_fail<T: fmt::Debug>(
    bytes: &[u8],
    decode: fn(&[u8]) -> Result<T, IpcDecodeError>,
) {
    for len in 0..bytes.len() {
        assert!(
            decode(&bytes[..len]).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(decode(&longer).is_err(), "one extra byte decoded");
}

proptest! {
    #[test]
    fn connection_messages_round_trip(max in any::<u32>(), response in connection_response()) {
        let request = ConnectionRequest { max_msg_size: max };
        let bytes = request.to_vec();
        prop_assert_eq!(ConnectionRequest::decode(&bytes), Ok(request));
        assert_prefixes_fail(&bytes, ConnectionRequest::decode);

        let bytes = response.to_vec();
        prop_assert_eq!(bytes.len(), ConnectionResponse::LEN);
        prop_assert_eq!(ConnectionResponse::decode(&bytes), Ok(response));
        assert_prefixes_fail(&bytes, ConnectionResponse::decode);
    }

    #[test]
    fn headers_round_trip(id in any::<i32>(), size in 24u32..=IPC_MSG_SIZE_MAX as u32, error in status()) {
        let request = RequestHeader { id, size };
        let mut bytes = Vec::new();
        request.encode(&mut bytes);
        prop_assert_eq!(RequestHeader::peek(&bytes), Ok(request));
        let response = ResponseHeader { id, size, error };
        let mut bytes = Vec::new();
        response.encode(&mut bytes);
        prop_assert_eq!(ResponseHeader::peek(&bytes), Ok(response));
        prop_assert!(ResponseHeader::peek(&bytes[..23]).is_err());
    }


    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..600)) {
        fuzz_ipc_decode(&data);
    }

    /// Random bodies behind a plausible header (any small id, a size that matches), so the
    /// decoders get past the size check and into the layouts.
    #[test]
    fn framed_random_bytes_never_panic(id in -2i32..20, mut data in vec(any::<u8>(), 24..600)) {
        let len = data.len() as u32;
        data[..4].copy_from_slice(&id.to_le_bytes());
        data[8..12].copy_from_slice(&len.to_le_bytes());
        fuzz_ipc_decode(&data);
    }

    /// Valid encodings with a few bytes overwritten: lengths, counts and ids go wrong in
    /// ways random bytes rarely reach.
    #[test]
    fn mutated_encodings_never_panic(
        bytes in any_encoding(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = bytes;
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        fuzz_ipc_decode(&bytes);
    }
}
