//! votequorum: golden layouts written from the reference's offsets, error cases, round trips.

use ais_types::{NodeId, RingId};
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::ipc::tests::{assert_prefixes_fail, golden, list, status};

fn qdevice(name: &str) -> QdeviceName {
    QdeviceName::new(name).unwrap()
}

#[test]
fn request_layouts() {
    let cases: Vec<(VotequorumRequest, Vec<u8>)> = vec![
        (
            VotequorumRequest::GetInfo { nodeid: NodeId(0) },
            golden(24, &[(0, &[0, 0, 0, 0]), (8, &[24, 0, 0, 0])]),
        ),
        (
            VotequorumRequest::SetExpected { expected_votes: 3 },
            golden(
                24,
                &[(0, &[1, 0, 0, 0]), (8, &[24, 0, 0, 0]), (16, &[3, 0, 0, 0])],
            ),
        ),
        (
            VotequorumRequest::SetVotes {
                votes: 2,
                nodeid: NodeId(5),
            },
            golden(
                24,
                &[
                    (0, &[2, 0, 0, 0]),
                    (8, &[24, 0, 0, 0]),
                    (16, &[2, 0, 0, 0]),
                    (20, &[5, 0, 0, 0]),
                ],
            ),
        ),
        (
            VotequorumRequest::TrackStart {
                context: 0xabcd,
                flags: TrackFlags::CURRENT,
            },
            golden(
                32,
                &[
                    (0, &[3, 0, 0, 0]),
                    (8, &[32, 0, 0, 0]),
                    (16, &[0xcd, 0xab, 0, 0, 0, 0, 0, 0]),
                    (24, &[1, 0, 0, 0]),
                ],
            ),
        ),
        (
            VotequorumRequest::TrackStop,
            golden(16, &[(0, &[4, 0, 0, 0]), (8, &[16, 0, 0, 0])]),
        ),
        (
            VotequorumRequest::QdeviceRegister {
                name: qdevice("Qdevice"),
            },
            golden(
                272,
                &[(0, &[5, 0, 0, 0]), (8, &[16, 1, 0, 0]), (16, b"Qdevice")],
            ),
        ),
        (
            VotequorumRequest::QdeviceUnregister {
                name: qdevice("Qdevice"),
            },
            golden(
                272,
                &[(0, &[6, 0, 0, 0]), (8, &[16, 1, 0, 0]), (16, b"Qdevice")],
            ),
        ),
        (
            VotequorumRequest::QdeviceUpdate {
                old_name: qdevice("old"),
                new_name: qdevice("new"),
            },
            golden(
                528,
                &[
                    (0, &[7, 0, 0, 0]),
                    (8, &[16, 2, 0, 0]),
                    (16, b"old"),
                    (271, b"new"), // right after the 255-byte oldname, unaligned
                ],
            ),
        ),
        (
            VotequorumRequest::QdevicePoll {
                name: qdevice("q"),
                cast_vote: true,
                ring_id: RingId::new(NodeId(1), 0x0102),
            },
            golden(
                296,
                &[
                    (0, &[8, 0, 0, 0]),
                    (8, &[40, 1, 0, 0]),
                    (16, b"q"),
                    (272, &[1, 0, 0, 0]), // cast_vote, realigned to 4
                    (280, &[1, 0, 0, 0]), // ring_id.nodeid, realigned to 8
                    (288, &[2, 1, 0, 0, 0, 0, 0, 0]),
                ],
            ),
        ),
        (
            VotequorumRequest::QdeviceMasterWins {
                name: qdevice("q"),
                allow: true,
            },
            golden(
                280,
                &[
                    (0, &[9, 0, 0, 0]),
                    (8, &[24, 1, 0, 0]),
                    (16, b"q"),
                    (272, &[1, 0, 0, 0]),
                ],
            ),
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(request.to_vec(), expected, "{request:?}");
        assert_eq!(VotequorumRequest::decode(&expected), Ok(request));
    }
}

#[test]
fn getinfo_layout() {
    use votequorum_info_flags as flag;
    let response = VotequorumResponse::GetInfo {
        error: CsStatus::OK,
        info: VotequorumInfo {
            nodeid: NodeId(1),
            state: votequorum_node_state::MEMBER,
            votes: 1,
            expected_votes: 3,
            highest_expected: 3,
            total_votes: 2,
            quorum: 2,
            flags: flag::QUORATE | flag::WAIT_FOR_ALL,
            qdevice_votes: 0,
            qdevice_name: qdevice("Qdevice"),
        },
    };
    let expected = golden(
        320,
        &[
            (0, &[1, 0, 0, 0]),
            (8, &[64, 1, 0, 0]), // 320
            (16, &[1, 0, 0, 0]),
            (24, &[1, 0, 0, 0]), // nodeid
            (28, &[1, 0, 0, 0]), // state
            (32, &[1, 0, 0, 0]), // votes
            (36, &[3, 0, 0, 0]), // expected_votes
            (40, &[3, 0, 0, 0]), // highest_expected
            (44, &[2, 0, 0, 0]), // total_votes
            (48, &[2, 0, 0, 0]), // quorum
            (52, &[6, 0, 0, 0]), // flags
            (56, &[0, 0, 0, 0]), // qdevice_votes
            (60, b"Qdevice"),
        ],
    );
    assert_eq!(response.to_vec(), expected);
    assert_eq!(VotequorumResponse::decode(&expected), Ok(response));

    let status = VotequorumResponse::Status(CsStatus::ERR_NAME_NOT_FOUND);
    let expected = golden(
        24,
        &[
            (0, &[0, 0, 0, 0]),
            (8, &[24, 0, 0, 0]),
            (16, &[17, 0, 0, 0]),
        ],
    );
    assert_eq!(status.to_vec(), expected);
    assert_eq!(VotequorumResponse::decode(&expected), Ok(status));
}

#[test]
fn an_unknown_node_reply_with_garbage_decodes() {
    // corosync leaves the body of a NOT_EXIST GETINFO reply uninitialised.
    let mut bytes = golden(
        320,
        &[
            (0, &[1, 0, 0, 0]),
            (8, &[64, 1, 0, 0]),
            (16, &[12, 0, 0, 0]),
        ],
    );
    bytes[24..320].fill(0xa5);
    let Ok(VotequorumResponse::GetInfo { error, info }) = VotequorumResponse::decode(&bytes) else {
        panic!("garbage GETINFO body did not decode");
    };
    assert_eq!(error, CsStatus::ERR_NOT_EXIST);
    assert_eq!(info.qdevice_name.as_bytes().len(), QdeviceName::MAX);
    // With CS_OK the same name is an error.
    bytes[16] = 1;
    assert_eq!(
        VotequorumResponse::decode(&bytes),
        Err(IpcDecodeError::StringUnterminated {
            what: "votequorum qdevice name"
        })
    );
}

#[test]
fn event_layouts() {
    let quorum = VotequorumEvent::Quorum {
        context: 7,
        quorate: true,
        nodes: list(vec![
            VotequorumNode {
                nodeid: NodeId(1),
                state: votequorum_node_state::MEMBER,
            },
            VotequorumNode {
                nodeid: NodeId(2),
                state: votequorum_node_state::DEAD,
            },
        ]),
    };
    let expected = golden(
        64,
        &[
            (0, &[3, 0, 0, 0]),
            (8, &[64, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[1, 0, 0, 0]),
            (32, &[7, 0, 0, 0, 0, 0, 0, 0]),
            (40, &[2, 0, 0, 0]),
            (48, &[1, 0, 0, 0]),
            (52, &[1, 0, 0, 0]),
            (56, &[2, 0, 0, 0]),
            (60, &[2, 0, 0, 0]),
        ],
    );
    assert_eq!(quorum.to_vec(), expected);
    assert_eq!(VotequorumEvent::decode(&expected), Ok(quorum));

    let expected_votes = VotequorumEvent::ExpectedVotes {
        context: 7,
        expected_votes: 5,
    };
    let expected = golden(
        40,
        &[
            (0, &[4, 0, 0, 0]),
            (8, &[40, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[7, 0, 0, 0, 0, 0, 0, 0]),
            (32, &[5, 0, 0, 0]),
        ],
    );
    assert_eq!(expected_votes.to_vec(), expected);
    assert_eq!(VotequorumEvent::decode(&expected), Ok(expected_votes));

    let nodelist = VotequorumEvent::Nodelist {
        context: 7,
        ring_id: RingId::new(NodeId(1), 3),
        nodes: list(vec![NodeId(1), NodeId(2), NodeId(3)]),
    };
    let expected = golden(
        68,
        &[
            (0, &[5, 0, 0, 0]),
            (8, &[68, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[7, 0, 0, 0, 0, 0, 0, 0]),
            (32, &[1, 0, 0, 0]),
            (40, &[3, 0, 0, 0, 0, 0, 0, 0]),
            (48, &[3, 0, 0, 0]),
            (56, &[1, 0, 0, 0]),
            (60, &[2, 0, 0, 0]),
            (64, &[3, 0, 0, 0]),
        ],
    );
    assert_eq!(nodelist.to_vec(), expected);
    assert_eq!(VotequorumEvent::decode(&expected), Ok(nodelist));
}

#[test]
fn names_are_bounded_and_terminated() {
    assert!(QdeviceName::new(vec![b'q'; 254]).is_ok());
    assert!(QdeviceName::new(vec![b'q'; 255]).is_err());
    assert!(QdeviceName::new("a\0b").is_err());
    let mut register = VotequorumRequest::QdeviceRegister { name: qdevice("x") }.to_vec();
    register[16..271].fill(b'x');
    assert_eq!(
        VotequorumRequest::decode(&register),
        Err(IpcDecodeError::StringUnterminated {
            what: "votequorum qdevice name"
        })
    );
    // The padding byte after the field is not part of it.
    register[270] = 0;
    register[271] = b'y';
    assert!(VotequorumRequest::decode(&register).is_ok());
}

// ---- properties -----------------------------------------------------------------------

fn name() -> impl Strategy<Value = QdeviceName> {
    vec(1u8.., 0..=QdeviceName::MAX).prop_map(|v| QdeviceName::new(v).unwrap())
}

fn ring_id() -> impl Strategy<Value = RingId> {
    (any::<u32>(), any::<u64>()).prop_map(|(n, s)| RingId::new(NodeId(n), s))
}

pub(in crate::ipc) fn votequorum_request() -> impl Strategy<Value = VotequorumRequest> {
    prop_oneof![
        any::<u32>().prop_map(|n| VotequorumRequest::GetInfo { nodeid: NodeId(n) }),
        any::<u32>().prop_map(|e| VotequorumRequest::SetExpected { expected_votes: e }),
        (any::<u32>(), any::<u32>()).prop_map(|(votes, n)| VotequorumRequest::SetVotes {
            votes,
            nodeid: NodeId(n)
        }),
        (any::<u64>(), any::<u32>()).prop_map(|(context, f)| VotequorumRequest::TrackStart {
            context,
            flags: TrackFlags(f)
        }),
        Just(VotequorumRequest::TrackStop),
        name().prop_map(|name| VotequorumRequest::QdeviceRegister { name }),
        name().prop_map(|name| VotequorumRequest::QdeviceUnregister { name }),
        (name(), name()).prop_map(|(old_name, new_name)| VotequorumRequest::QdeviceUpdate {
            old_name,
            new_name
        }),
        (name(), any::<bool>(), ring_id()).prop_map(|(name, cast_vote, ring_id)| {
            VotequorumRequest::QdevicePoll {
                name,
                cast_vote,
                ring_id,
            }
        }),
        (name(), any::<bool>())
            .prop_map(|(name, allow)| VotequorumRequest::QdeviceMasterWins { name, allow }),
    ]
}

pub(in crate::ipc) fn votequorum_response() -> impl Strategy<Value = VotequorumResponse> {
    let info = (vec(any::<u32>(), 9), name()).prop_map(|(w, qdevice_name)| VotequorumInfo {
        nodeid: NodeId(w[0]),
        state: w[1],
        votes: w[2],
        expected_votes: w[3],
        highest_expected: w[4],
        total_votes: w[5],
        quorum: w[6],
        flags: w[7],
        qdevice_votes: w[8],
        qdevice_name,
    });
    prop_oneof![
        status().prop_map(VotequorumResponse::Status),
        (status(), info).prop_map(|(error, info)| VotequorumResponse::GetInfo { error, info }),
    ]
}

pub(in crate::ipc) fn votequorum_event() -> impl Strategy<Value = VotequorumEvent> {
    let node = (any::<u32>(), any::<u32>()).prop_map(|(n, state)| VotequorumNode {
        nodeid: NodeId(n),
        state,
    });
    prop_oneof![
        (
            any::<u64>(),
            any::<bool>(),
            vec(node, 0..=MemberList::<VotequorumNode>::MAX)
        )
            .prop_map(|(context, quorate, nodes)| VotequorumEvent::Quorum {
                context,
                quorate,
                nodes: list(nodes)
            }),
        (any::<u64>(), any::<u32>()).prop_map(|(context, expected_votes)| {
            VotequorumEvent::ExpectedVotes {
                context,
                expected_votes,
            }
        }),
        (any::<u64>(), ring_id(), vec(any::<u32>(), 0..50)).prop_map(
            |(context, ring_id, nodes)| VotequorumEvent::Nodelist {
                context,
                ring_id,
                nodes: list(nodes.into_iter().map(NodeId).collect())
            }
        ),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(request in votequorum_request()) {
        let bytes = request.to_vec();
        prop_assert_eq!(bytes.len(), request.encoded_len());
        prop_assert_eq!(VotequorumRequest::decode(&bytes), Ok(request));
        assert_prefixes_fail(&bytes, VotequorumRequest::decode);
    }

    #[test]
    fn responses_round_trip(response in votequorum_response()) {
        let bytes = response.to_vec();
        prop_assert_eq!(bytes.len(), response.encoded_len());
        prop_assert_eq!(VotequorumResponse::decode(&bytes), Ok(response));
        assert_prefixes_fail(&bytes, VotequorumResponse::decode);
    }

    #[test]
    fn events_round_trip(event in votequorum_event()) {
        let bytes = event.to_vec();
        prop_assert_eq!(bytes.len(), event.encoded_len());
        prop_assert_eq!(VotequorumEvent::decode(&bytes), Ok(event));
        assert_prefixes_fail(&bytes, VotequorumEvent::decode);
    }
}
