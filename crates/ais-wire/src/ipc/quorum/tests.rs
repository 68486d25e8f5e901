//! quorum: golden layouts written from the reference's offsets, error cases, round trips.

use ais_types::{NodeId, RingId};
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::ipc::tests::{assert_prefixes_fail, golden, list, status};

fn nodes(ids: &[u32]) -> MemberList<NodeId> {
    list(ids.iter().copied().map(NodeId).collect())
}

#[test]
fn request_layouts() {
    let cases: [(QuorumRequest, Vec<u8>); 5] = [
        (
            QuorumRequest::GetQuorate,
            golden(16, &[(0, &[0, 0, 0, 0]), (8, &[16, 0, 0, 0])]),
        ),
        (
            QuorumRequest::TrackStart {
                flags: TrackFlags::CURRENT | TrackFlags::CHANGES,
            },
            golden(
                24,
                &[(0, &[1, 0, 0, 0]), (8, &[24, 0, 0, 0]), (16, &[3, 0, 0, 0])],
            ),
        ),
        (
            QuorumRequest::TrackStop,
            golden(16, &[(0, &[2, 0, 0, 0]), (8, &[16, 0, 0, 0])]),
        ),
        (
            QuorumRequest::GetType,
            golden(16, &[(0, &[3, 0, 0, 0]), (8, &[16, 0, 0, 0])]),
        ),
        (
            QuorumRequest::ModelGetType {
                model: QuorumModel::V1,
            },
            golden(
                24,
                &[(0, &[4, 0, 0, 0]), (8, &[24, 0, 0, 0]), (16, &[1, 0, 0, 0])],
            ),
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(request.to_vec(), expected, "{request:?}");
        assert_eq!(QuorumRequest::decode(&expected), Ok(request));
    }
}

#[test]
fn response_layouts() {
    let cases: [(QuorumResponse, Vec<u8>); 4] = [
        (
            QuorumResponse::GetQuorate {
                error: CsStatus::OK,
                quorate: true,
            },
            golden(
                32,
                &[
                    (0, &[0, 0, 0, 0]),
                    (8, &[32, 0, 0, 0]),
                    (16, &[1, 0, 0, 0]),
                    (24, &[1, 0, 0, 0]),
                ],
            ),
        ),
        (
            // GETTYPE is request 3 but response 4.
            QuorumResponse::GetType {
                error: CsStatus::OK,
                quorum_type: quorum_type::SET,
            },
            golden(
                32,
                &[
                    (0, &[4, 0, 0, 0]),
                    (8, &[32, 0, 0, 0]),
                    (16, &[1, 0, 0, 0]),
                    (24, &[1, 0, 0, 0]),
                ],
            ),
        ),
        (
            QuorumResponse::ModelGetType {
                error: CsStatus::ERR_INVALID_PARAM,
                quorum_type: quorum_type::FREE,
            },
            golden(
                32,
                &[(0, &[5, 0, 0, 0]), (8, &[32, 0, 0, 0]), (16, &[7, 0, 0, 0])],
            ),
        ),
        (
            QuorumResponse::Status {
                id: quorum_response_id::TRACKSTART,
                error: CsStatus::ERR_EXIST,
            },
            golden(
                24,
                &[
                    (0, &[1, 0, 0, 0]),
                    (8, &[24, 0, 0, 0]),
                    (16, &[14, 0, 0, 0]),
                ],
            ),
        ),
    ];
    for (response, expected) in cases {
        assert_eq!(response.to_vec(), expected, "{response:?}");
        assert_eq!(QuorumResponse::decode(&expected), Ok(response));
    }
}

#[test]
fn the_generic_error_reply_decodes_as_a_status() {
    // §2.1: TRY_AGAIN during sync is a 24-byte id-0 response, shorter than GETQUORATE's.
    let bytes = golden(24, &[(8, &[24, 0, 0, 0]), (16, &[6, 0, 0, 0])]);
    assert_eq!(
        QuorumResponse::decode(&bytes),
        Ok(QuorumResponse::Status {
            id: 0,
            error: CsStatus::ERR_TRY_AGAIN
        })
    );
}

#[test]
fn v0_notification_keeps_the_sizeof_slack() {
    let event = QuorumEvent::Notification {
        quorate: true,
        ring_seq: 0x1122_3344_5566_7788,
        view_list: nodes(&[1, 2]),
    };
    // sizeof 48 + 2 × 4 = 56, the list at 44: bytes 52..56 are slack.
    let expected = golden(
        56,
        &[
            (0, &[3, 0, 0, 0]),
            (8, &[56, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[1, 0, 0, 0]),
            (32, &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]),
            (40, &[2, 0, 0, 0]),
            (44, &[1, 0, 0, 0]),
            (48, &[2, 0, 0, 0]),
        ],
    );
    assert_eq!(event.to_vec(), expected);
    assert_eq!(QuorumEvent::decode(&expected), Ok(event));
    // corosync's size without the slack is not what it sends: refused.
    let mut short = expected[..52].to_vec();
    short[8] = 52;
    assert!(QuorumEvent::decode(&short).is_err());
}

#[test]
fn v1_layouts() {
    let quorum = QuorumEvent::V1Quorum {
        quorate: false,
        ring_id: RingId::new(NodeId(7), 9),
        view_list: nodes(&[7]),
    };
    let expected = golden(
        60,
        &[
            (0, &[6, 0, 0, 0]),
            (8, &[60, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (32, &[7, 0, 0, 0]),
            (40, &[9, 0, 0, 0, 0, 0, 0, 0]),
            (48, &[1, 0, 0, 0]),
            (52, &[7, 0, 0, 0]),
        ],
    );
    assert_eq!(quorum.to_vec(), expected);
    assert_eq!(QuorumEvent::decode(&expected), Ok(quorum));

    let nodelist = QuorumEvent::V1Nodelist {
        ring_id: RingId::new(NodeId(1), 0x20),
        members: nodes(&[1, 2]),
        joined: nodes(&[2]),
        left: nodes(&[3]),
    };
    let expected = golden(
        80,
        &[
            (0, &[7, 0, 0, 0]),
            (8, &[80, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[1, 0, 0, 0]),
            (32, &[0x20, 0, 0, 0, 0, 0, 0, 0]),
            (40, &[2, 0, 0, 0]), // member_list_entries
            (48, &[1, 0, 0, 0]), // joined_list_entries
            (56, &[1, 0, 0, 0]), // left_list_entries
            (60, &[1, 0, 0, 0]), // members, joined, left: in field order
            (64, &[2, 0, 0, 0]),
            (68, &[2, 0, 0, 0]),
            (72, &[3, 0, 0, 0]),
        ],
    );
    assert_eq!(nodelist.to_vec(), expected);
    assert_eq!(QuorumEvent::decode(&expected), Ok(nodelist));
}

#[test]
fn decode_errors() {
    // TRACKSTART is header-only: a 32-byte one has trailing bytes.
    let bytes = golden(32, &[(0, &[1, 0, 0, 0]), (8, &[32, 0, 0, 0])]);
    assert_eq!(
        QuorumResponse::decode(&bytes),
        Err(IpcDecodeError::TrailingBytes {
            what: "quorum response",
            extra: 8
        })
    );
    // Id 3 is an event, not a response.
    let bytes = golden(24, &[(0, &[3, 0, 0, 0]), (8, &[24, 0, 0, 0])]);
    assert!(matches!(
        QuorumResponse::decode(&bytes),
        Err(IpcDecodeError::UnknownId { id: 3, .. })
    ));
    // A request id past MODEL_GETTYPE.
    let bytes = golden(16, &[(0, &[5, 0, 0, 0]), (8, &[16, 0, 0, 0])]);
    assert!(matches!(
        QuorumRequest::decode(&bytes),
        Err(IpcDecodeError::UnknownId { id: 5, .. })
    ));
    // A view list promising an entry that is not there.
    let mut event = QuorumEvent::Notification {
        quorate: true,
        ring_seq: 1,
        view_list: nodes(&[]),
    }
    .to_vec();
    event[40] = 1;
    assert_eq!(
        QuorumEvent::decode(&event),
        Err(IpcDecodeError::Truncated {
            what: "quorum event",
            need: 52,
            got: 48
        })
    );
    // More entries than PROCESSOR_COUNT_MAX.
    event[40..44].copy_from_slice(&385u32.to_le_bytes());
    assert!(matches!(
        QuorumEvent::decode(&event),
        Err(IpcDecodeError::ListTooLong { count: 385, .. })
    ));
}

// ---- properties -----------------------------------------------------------------------

fn node_list(max: usize) -> impl Strategy<Value = MemberList<NodeId>> {
    vec(any::<u32>(), 0..=max).prop_map(|v| list(v.into_iter().map(NodeId).collect()))
}

fn ring_id() -> impl Strategy<Value = RingId> {
    (any::<u32>(), any::<u64>()).prop_map(|(n, s)| RingId::new(NodeId(n), s))
}

pub(in crate::ipc) fn quorum_request() -> impl Strategy<Value = QuorumRequest> {
    prop_oneof![
        Just(QuorumRequest::GetQuorate),
        any::<u32>().prop_map(|f| QuorumRequest::TrackStart {
            flags: TrackFlags(f)
        }),
        Just(QuorumRequest::TrackStop),
        Just(QuorumRequest::GetType),
        any::<u32>().prop_map(|m| QuorumRequest::ModelGetType {
            model: QuorumModel(m)
        }),
    ]
}

pub(in crate::ipc) fn quorum_response() -> impl Strategy<Value = QuorumResponse> {
    let id = prop_oneof![Just(0), Just(1), Just(2), Just(4), Just(5)];
    prop_oneof![
        (status(), any::<bool>())
            .prop_map(|(error, quorate)| QuorumResponse::GetQuorate { error, quorate }),
        (status(), any::<u32>())
            .prop_map(|(error, quorum_type)| QuorumResponse::GetType { error, quorum_type }),
        (status(), any::<u32>()).prop_map(|(error, quorum_type)| {
            QuorumResponse::ModelGetType { error, quorum_type }
        }),
        (id, status()).prop_map(|(id, error)| QuorumResponse::Status { id, error }),
    ]
}

pub(in crate::ipc) fn quorum_event() -> impl Strategy<Value = QuorumEvent> {
    prop_oneof![
        (
            any::<bool>(),
            any::<u64>(),
            node_list(MemberList::<NodeId>::MAX)
        )
            .prop_map(|(quorate, ring_seq, view_list)| QuorumEvent::Notification {
                quorate,
                ring_seq,
                view_list
            }),
        (any::<bool>(), ring_id(), node_list(40)).prop_map(|(quorate, ring_id, view_list)| {
            QuorumEvent::V1Quorum {
                quorate,
                ring_id,
                view_list,
            }
        }),
        (ring_id(), node_list(40), node_list(40), node_list(40)).prop_map(
            |(ring_id, members, joined, left)| QuorumEvent::V1Nodelist {
                ring_id,
                members,
                joined,
                left
            }
        ),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(request in quorum_request()) {
        let bytes = request.to_vec();
        prop_assert_eq!(bytes.len(), request.encoded_len());
        prop_assert_eq!(QuorumRequest::decode(&bytes), Ok(request));
        assert_prefixes_fail(&bytes, QuorumRequest::decode);
    }

    #[test]
    fn responses_round_trip(response in quorum_response()) {
        let bytes = response.to_vec();
        prop_assert_eq!(bytes.len(), response.encoded_len());
        prop_assert_eq!(QuorumResponse::decode(&bytes), Ok(response));
        assert_prefixes_fail(&bytes, QuorumResponse::decode);
    }

    #[test]
    fn events_round_trip(event in quorum_event()) {
        let bytes = event.to_vec();
        prop_assert_eq!(bytes.len(), event.encoded_len());
        prop_assert_eq!(QuorumEvent::decode(&bytes), Ok(event));
        assert_prefixes_fail(&bytes, QuorumEvent::decode);
    }
}
