//! CPG: golden layouts written from the reference's offsets, the limits of the largest
//! messages, libcpg's quirks, and round trips of every request, response and event.

use ais_types::{NodeId, RingId};
use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::ipc::tests::{assert_prefixes_fail, golden, list, status};

pub(crate) fn name(s: &str) -> CpgName {
    CpgName::new(s.as_bytes()).unwrap()
}

fn addr(nodeid: u32, pid: u32, reason: CpgReason) -> CpgAddress {
    CpgAddress {
        nodeid: NodeId(nodeid),
        pid,
        reason,
    }
}
#[test]
fn cpg_join_layout() {
    let join = CpgRequest::Join {
        group: name("abc"),
        pid: 1234,
        flags: 1,
    };
    let expected = golden(
        168,
        &[
            (0, &[0, 0, 0, 0]),   // MESSAGE_REQ_CPG_JOIN
            (8, &[168, 0, 0, 0]), // size
            (16, &[3, 0, 0, 0]),  // group_name.length
            (24, b"abc"),         // group_name.value
            (152, &[0xd2, 0x04, 0, 0]),
            (160, &[1, 0, 0, 0]), // CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF
        ],
    );
    assert_eq!(join.to_vec(), expected);
    assert_eq!(CpgRequest::decode(&expected), Ok(join));
}

#[test]
fn cpg_mcast_layout_matches_traced_size() {
    // The trace in §2.2: a 9-byte message travels as `REQ 2 (49)` and arrives as `5 (193)`.
    let mcast = CpgRequest::Mcast {
        guarantee: Guarantee::AGREED,
        payload: CpgPayload::new(Bytes::from_static(b"123456789")).unwrap(),
    };
    let expected = golden(
        49,
        &[
            (0, &[2, 0, 0, 0]),
            (8, &[49, 0, 0, 0]),
            (24, &[2, 0, 0, 0]), // guarantee
            (32, &[9, 0, 0, 0]), // msglen
            (40, b"123456789"),
        ],
    );
    assert_eq!(mcast.to_vec(), expected);
    assert_eq!(CpgRequest::decode(&expected), Ok(mcast));

    let deliver = CpgEvent::Deliver(DeliverEvent {
        group: name("g"),
        nodeid: NodeId(7),
        pid: 99,
        payload: CpgPayload::new(Bytes::from_static(b"123456789")).unwrap(),
    });
    let expected = golden(
        193,
        &[
            (0, &[5, 0, 0, 0]),
            (8, &[193, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[1, 0, 0, 0]),
            (32, b"g"),
            (160, &[9, 0, 0, 0]),
            (168, &[7, 0, 0, 0]),
            (176, &[99, 0, 0, 0]),
            (184, b"123456789"),
        ],
    );
    assert_eq!(deliver.to_vec(), expected);
    assert_eq!(CpgEvent::decode(&expected), Ok(deliver));
}

#[test]
fn cpg_confchg_layout_lists_members_left_joined() {
    let confchg = CpgEvent::Confchg(ConfchgEvent {
        group: name("grp"),
        members: list(vec![
            addr(1, 10, CpgReason::Join),
            addr(2, 20, CpgReason::Join),
        ]),
        left: list(vec![addr(3, 30, CpgReason::NodeDown)]),
        joined: list(vec![addr(2, 20, CpgReason::Join)]),
    });
    let expected = golden(
        280,
        &[
            (0, &[4, 0, 0, 0]),       // MESSAGE_RES_CPG_CONFCHG_CALLBACK
            (8, &[0x18, 0x01, 0, 0]), // 184 + 24 * 4 = 280
            (16, &[1, 0, 0, 0]),      // CS_OK
            (24, &[3, 0, 0, 0]),
            (32, b"grp"),
            (160, &[2, 0, 0, 0]), // member_list_entries
            (168, &[1, 0, 0, 0]), // joined_list_entries
            (176, &[1, 0, 0, 0]), // left_list_entries
            (184, &[1, 0, 0, 0]), // members[0]
            (192, &[10, 0, 0, 0]),
            (200, &[1, 0, 0, 0]),
            (208, &[2, 0, 0, 0]), // members[1]
            (216, &[20, 0, 0, 0]),
            (224, &[1, 0, 0, 0]),
            (232, &[3, 0, 0, 0]), // left[0], before joined
            (240, &[30, 0, 0, 0]),
            (248, &[3, 0, 0, 0]), // CPG_REASON_NODEDOWN
            (256, &[2, 0, 0, 0]), // joined[0]
            (264, &[20, 0, 0, 0]),
            (272, &[1, 0, 0, 0]),
        ],
    );
    assert_eq!(confchg.to_vec(), expected);
    assert_eq!(CpgEvent::decode(&expected), Ok(confchg));
}

#[test]
fn cpg_totem_confchg_layout_keeps_sizeof_slack() {
    let event = CpgEvent::TotemConfchg(TotemConfchgEvent {
        ring_id: RingId::new(NodeId(1), 0x10),
        members: list(vec![NodeId(1)]),
    });
    // §2.2 trace: `13 (52)` for one member; the array sits at 44, four zero bytes follow.
    let expected = golden(
        52,
        &[
            (0, &[13, 0, 0, 0]),
            (8, &[52, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[1, 0, 0, 0]),
            (32, &[0x10, 0, 0, 0, 0, 0, 0, 0]),
            (40, &[1, 0, 0, 0]),
            (44, &[1, 0, 0, 0]),
        ],
    );
    assert_eq!(event.to_vec(), expected);
    assert_eq!(CpgEvent::decode(&expected), Ok(event));
}

#[test]
fn cpg_response_layouts() {
    let local = CpgResponse::LocalGet {
        error: CsStatus::OK,
        local_nodeid: NodeId(0x0102_0304),
    };
    let expected = golden(
        32,
        &[
            (0, &[7, 0, 0, 0]),
            (8, &[32, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[4, 3, 2, 1]),
        ],
    );
    assert_eq!(local.to_vec(), expected);

    let membership = CpgResponse::Membership {
        error: CsStatus::OK,
        members: list(vec![addr(5, 6, CpgReason::Undefined)]),
    };
    let expected = golden(
        9248,
        &[
            (0, &[3, 0, 0, 0]),
            (8, &[0x20, 0x24, 0, 0]), // 9 248: the full 384-entry array
            (16, &[1, 0, 0, 0]),
            (24, &[1, 0, 0, 0]),
            (32, &[5, 0, 0, 0]),
            (40, &[6, 0, 0, 0]),
        ],
    );
    assert_eq!(membership.to_vec(), expected);
    assert_eq!(CpgResponse::decode(&expected), Ok(membership));

    let next = CpgResponse::IterationNext {
        error: CsStatus::OK,
        description: IterationDescription {
            group: name("g"),
            nodeid: NodeId(2),
            pid: 3,
        },
    };
    let expected = golden(
        168,
        &[
            (0, &[10, 0, 0, 0]),
            (8, &[168, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[1, 0, 0, 0]),
            (32, b"g"),
            (160, &[2, 0, 0, 0]),
            (164, &[3, 0, 0, 0]),
        ],
    );
    assert_eq!(next.to_vec(), expected);
}
#[test]
fn largest_messages_fit_the_ipc_limit() {
    let payload = CpgPayload::new(Bytes::from(vec![7; CPG_MCAST_PAYLOAD_MAX])).unwrap();
    let deliver = CpgEvent::Deliver(DeliverEvent {
        group: name("g"),
        nodeid: NodeId(1),
        pid: 1,
        payload,
    });
    assert_eq!(deliver.encoded_len(), IPC_MSG_SIZE_MAX);
    assert_eq!(CpgEvent::decode(&deliver.to_vec()), Ok(deliver));

    let data = Bytes::from(vec![7; CPG_FRAGMENT_MAX]);
    let fragment = PartialFragment::new(1 << 20, FragmentKind::First, data).unwrap();
    let event = CpgEvent::PartialDeliver(PartialDeliverEvent {
        group: name("g"),
        nodeid: NodeId(1),
        pid: 1,
        fragment,
    });
    assert_eq!(event.encoded_len(), IPC_MSG_SIZE_MAX);
    assert_eq!(CpgEvent::decode(&event.to_vec()), Ok(event));
}
fn cpg_name() -> impl Strategy<Value = CpgName> {
    vec(any::<u8>(), 0..=CPG_NAME_MAX).prop_map(|v| CpgName::new(v).unwrap())
}

fn reason() -> impl Strategy<Value = CpgReason> {
    prop_oneof![
        Just(CpgReason::Undefined),
        Just(CpgReason::Join),
        Just(CpgReason::Leave),
        Just(CpgReason::NodeDown),
        Just(CpgReason::NodeUp),
        Just(CpgReason::ProcDown),
    ]
}

fn addresses(max: usize) -> impl Strategy<Value = MemberList<CpgAddress>> {
    vec((any::<u32>(), any::<u32>(), reason()), 0..=max).prop_map(|v| {
        list(
            v.into_iter()
                .map(|(n, p, r)| CpgAddress {
                    nodeid: NodeId(n),
                    pid: p,
                    reason: r,
                })
                .collect(),
        )
    })
}

fn payload() -> impl Strategy<Value = CpgPayload> {
    vec(any::<u8>(), 0..200).prop_map(|v| CpgPayload::new(Bytes::from(v)).unwrap())
}

fn fragment() -> impl Strategy<Value = PartialFragment> {
    let kind = prop_oneof![
        Just(FragmentKind::First),
        Just(FragmentKind::Continued),
        Just(FragmentKind::Last)
    ];
    (vec(any::<u8>(), 0..200), 0u32..(1 << 20), kind).prop_map(|(data, extra, kind)| {
        let msglen = (data.len() as u32 + extra).min(1 << 20);
        PartialFragment::new(msglen, kind, Bytes::from(data)).unwrap()
    })
}
pub(crate) fn cpg_request() -> impl Strategy<Value = CpgRequest> {
    let iteration_type = prop_oneof![
        Just(IterationType::NameOnly),
        Just(IterationType::OneGroup),
        Just(IterationType::All)
    ];
    prop_oneof![
        (cpg_name(), any::<u32>(), any::<u32>()).prop_map(|(group, pid, flags)| CpgRequest::Join {
            group,
            pid,
            flags
        }),
        (cpg_name(), any::<u32>()).prop_map(|(group, pid)| CpgRequest::Leave { group, pid }),
        (any::<u32>(), payload()).prop_map(|(g, payload)| CpgRequest::Mcast {
            guarantee: Guarantee(g),
            payload
        }),
        (any::<u32>(), fragment()).prop_map(|(g, fragment)| CpgRequest::PartialMcast {
            guarantee: Guarantee(g),
            fragment
        }),
        cpg_name().prop_map(|group| CpgRequest::MembershipGet { group }),
        Just(CpgRequest::LocalGet),
        (cpg_name(), iteration_type).prop_map(|(group, iteration_type)| {
            CpgRequest::IterationInitialize {
                group: if iteration_type == IterationType::OneGroup {
                    group
                } else {
                    CpgName::default()
                },
                iteration_type,
            }
        }),
        any::<u64>().prop_map(|h| CpgRequest::IterationNext {
            handle: IterationHandle(h)
        }),
        any::<u64>().prop_map(|h| CpgRequest::IterationFinalize {
            handle: IterationHandle(h)
        }),
        Just(CpgRequest::Finalize),
    ]
}

pub(crate) fn cpg_response() -> impl Strategy<Value = CpgResponse> {
    prop_oneof![
        status().prop_map(CpgResponse::Join),
        status().prop_map(CpgResponse::Leave),
        (status(), addresses(MemberList::<CpgAddress>::MAX))
            .prop_map(|(error, members)| CpgResponse::Membership { error, members }),
        (status(), any::<u32>()).prop_map(|(error, n)| CpgResponse::LocalGet {
            error,
            local_nodeid: NodeId(n)
        }),
        (status(), any::<u64>()).prop_map(|(error, h)| CpgResponse::IterationInitialize {
            error,
            handle: IterationHandle(h)
        }),
        (status(), cpg_name(), any::<u32>(), any::<u32>()).prop_map(|(error, group, n, pid)| {
            CpgResponse::IterationNext {
                error,
                description: IterationDescription {
                    group,
                    nodeid: NodeId(n),
                    pid,
                },
            }
        }),
        status().prop_map(CpgResponse::IterationFinalize),
        status().prop_map(CpgResponse::Finalize),
        status().prop_map(CpgResponse::PartialSend),
    ]
}

pub(crate) fn cpg_event() -> impl Strategy<Value = CpgEvent> {
    prop_oneof![
        (cpg_name(), addresses(20), addresses(20), addresses(20)).prop_map(
            |(group, members, left, joined)| {
                CpgEvent::Confchg(ConfchgEvent {
                    group,
                    members,
                    left,
                    joined,
                })
            }
        ),
        (cpg_name(), any::<u32>(), any::<u32>(), payload()).prop_map(|(group, n, pid, payload)| {
            CpgEvent::Deliver(DeliverEvent {
                group,
                nodeid: NodeId(n),
                pid,
                payload,
            })
        }),
        (cpg_name(), any::<u32>(), any::<u32>(), fragment()).prop_map(
            |(group, n, pid, fragment)| {
                CpgEvent::PartialDeliver(PartialDeliverEvent {
                    group,
                    nodeid: NodeId(n),
                    pid,
                    fragment,
                })
            }
        ),
        (
            any::<u32>(),
            any::<u64>(),
            vec(any::<u32>(), 0..=MemberList::<NodeId>::MAX)
        )
            .prop_map(|(rep, seq, members)| {
                CpgEvent::TotemConfchg(TotemConfchgEvent {
                    ring_id: RingId::new(NodeId(rep), seq),
                    members: list(members.into_iter().map(NodeId).collect()),
                })
            }),
    ]
}
#[test]
fn a_fragment_of_a_message_larger_than_the_ring_limit_decodes() {
    // libcpg fragments exactly the messages above its IPC limit: a 5 MiB message arrives as
    // PARTIAL_MCAST fragments, each crossing the ring alone.
    let fragment =
        PartialFragment::new(5 << 20, FragmentKind::First, Bytes::from(vec![7u8; 1000])).unwrap();
    let request = CpgRequest::PartialMcast {
        guarantee: Guarantee::AGREED,
        fragment,
    };
    assert_eq!(CpgRequest::decode(&request.to_vec()), Ok(request));
}

/// libcpg fills `group_name` only for `CPG_ITERATION_ONE_GROUP`; for the other kinds the
/// field holds whatever was on the client's stack (`corosync-cpgtool` sent a length of
/// 3113239432), and the request is still valid.
#[test]
fn iteration_initialize_ignores_the_group_of_other_kinds() {
    for (kind, expected) in [(1u32, IterationType::NameOnly), (3, IterationType::All)] {
        let mut bytes = CpgRequest::IterationInitialize {
            group: CpgName::default(),
            iteration_type: expected,
        }
        .to_vec();
        bytes[16..20].copy_from_slice(&3_113_239_432u32.to_le_bytes());
        bytes[20..152].fill(0xb9);
        assert_eq!(
            CpgRequest::decode(&bytes),
            Ok(CpgRequest::IterationInitialize {
                group: CpgName::default(),
                iteration_type: expected,
            }),
            "iteration type {kind}"
        );
    }
    let mut one = CpgRequest::IterationInitialize {
        group: CpgName::default(),
        iteration_type: IterationType::OneGroup,
    }
    .to_vec();
    one[16..20].copy_from_slice(&3_113_239_432u32.to_le_bytes());
    assert!(CpgRequest::decode(&one).is_err());
}

// ---- round trips ----------------------------------------------------------------------

proptest! {
    #[test]
    fn cpg_requests_round_trip(request in cpg_request()) {
        let bytes = request.to_vec();
        prop_assert_eq!(bytes.len(), request.encoded_len());
        prop_assert_eq!(RequestHeader::peek(&bytes).map(|h| (h.id, h.size as usize)), Ok((request.id(), bytes.len())));
        prop_assert_eq!(CpgRequest::decode(&bytes), Ok(request));
        assert_prefixes_fail(&bytes, CpgRequest::decode);
    }

    #[test]
    fn cpg_responses_round_trip(response in cpg_response()) {
        let bytes = response.to_vec();
        prop_assert_eq!(bytes.len(), response.encoded_len());
        prop_assert_eq!(CpgResponse::decode(&bytes), Ok(response));
        assert_prefixes_fail(&bytes, CpgResponse::decode);
    }

    #[test]
    fn cpg_events_round_trip(event in cpg_event()) {
        let bytes = event.to_vec();
        prop_assert_eq!(bytes.len(), event.encoded_len());
        prop_assert_eq!(CpgEvent::decode(&bytes), Ok(event));
        assert_prefixes_fail(&bytes, CpgEvent::decode);
    }
}
