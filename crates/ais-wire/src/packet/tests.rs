use proptest::collection::{btree_set, vec};
use proptest::prelude::*;

use super::*;

fn ring() -> impl Strategy<Value = RingId> {
    (1u32.., any::<u64>()).prop_map(|(rep, seq)| RingId::new(NodeId(rep), seq))
}

fn nodes() -> impl Strategy<Value = Vec<NodeId>> {
    btree_set(1u32.., 0..20).prop_map(|s| s.into_iter().map(NodeId).collect())
}

fn chunk() -> impl Strategy<Value = Chunk> {
    (
        any::<bool>(),
        vec(any::<u8>(), 0..64),
        proptest::option::of((any::<u64>(), 0u32..1000)),
    )
        .prop_map(|(safe, data, frag)| {
            let order = if safe { Order::Safe } else { Order::Agreed };
            let frag = frag
                .filter(|_| !data.is_empty())
                .map(|(msg_no, offset)| Frag {
                    msg_no,
                    total: offset + data.len() as u32 + 7,
                    offset,
                });
            Chunk {
                order,
                frag,
                data: Bytes::from(data),
            }
        })
}

fn regular_mcast() -> impl Strategy<Value = Mcast> {
    (ring(), 1u64.., 1u32.., vec(chunk(), 0..6)).prop_map(|(ring_id, seq, origin, chunks)| Mcast {
        ring_id,
        seq,
        origin: NodeId(origin),
        payload: McastPayload::Regular(chunks),
    })
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        (
            ring(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>()
        )
            .prop_flat_map(|(ring_id, token_seq, a, b, fcc, backlog)| {
                let (aru, seq) = (a.min(b), a.max(b));
                (
                    proptest::option::of(1u32..),
                    any::<bool>(),
                    vec(any::<u64>(), 0..RTR_MAX),
                )
                    .prop_map(move |(addr, retrans_flg, rtr)| {
                        Packet::Token(Token {
                            ring_id,
                            token_seq,
                            seq,
                            aru,
                            aru_addr: addr.map(NodeId),
                            fcc,
                            backlog,
                            retrans_flg,
                            rtr,
                        })
                    })
            }),
        regular_mcast().prop_map(Packet::Mcast),
        (ring(), 1u64.., 1u32.., regular_mcast()).prop_map(|(ring_id, seq, origin, inner)| {
            Packet::Mcast(Mcast {
                ring_id,
                seq,
                origin: NodeId(origin),
                payload: McastPayload::Recovered(Box::new(inner)),
            })
        }),
        ring().prop_map(|ring_id| Packet::MergeDetect { ring_id }),
        ring().prop_map(|ring_id| Packet::TokenHoldCancel { ring_id }),
        (any::<u64>(), any::<bool>(), nodes(), nodes()).prop_map(|(ring_seq, leave, p, f)| {
            Packet::Join(Join {
                ring_seq,
                leave,
                proc_list: p,
                fail_list: f,
            })
        }),
        (
            ring(),
            any::<u64>(),
            nodes().prop_filter("non-empty", |m| !m.is_empty())
        )
            .prop_flat_map(|(ring_id, token_seq, members)| {
                let n = members.len();
                vec((ring(), any::<u64>(), any::<u64>(), any::<u64>()), 0..=n).prop_map(
                    move |raw| {
                        let entries = raw
                            .into_iter()
                            .map(|(old_ring, aru, high_seq, high_delivered)| CommitEntry {
                                old_ring,
                                aru,
                                high_seq,
                                high_delivered,
                            })
                            .collect();
                        Packet::Commit(CommitToken {
                            ring_id,
                            token_seq,
                            members: members.clone(),
                            entries,
                        })
                    },
                )
            }),
    ]
}

proptest! {
    #[test]
    fn a_frame_encodes_the_same_alone_or_as_a_packet(m in regular_mcast(), sender in 1u32..) {
        prop_assert_eq!(m.encode(NodeId(sender)), Packet::Mcast(m).encode(NodeId(sender)));
    }

    #[test]
    fn every_packet_round_trips(p in packet(), sender in 1u32..) {
        let bytes = p.encode(NodeId(sender));
        let (from, back) = Packet::decode(bytes).unwrap();
        prop_assert_eq!(from, NodeId(sender));
        prop_assert_eq!(back, p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = Packet::decode(Bytes::from(bytes));
    }

    #[test]
    fn valid_header_with_arbitrary_body_never_panics(
        kind in 0u8..8,
        body in vec(any::<u8>(), 0..256),
    ) {
        let mut b = vec![0x5e, 0xa1, VERSION, kind, 1, 0, 0, 0];
        b.extend(body);
        let _ = Packet::decode(Bytes::from(b));
    }

    #[test]
    fn every_truncation_of_a_valid_packet_is_an_error(p in packet()) {
        let bytes = p.encode(NodeId(1));
        for cut in 0..bytes.len() {
            prop_assert!(Packet::decode(bytes.slice(..cut)).is_err());
        }
    }
}

#[test]
fn merge_detect_layout_is_exact() {
    let p = Packet::MergeDetect {
        ring_id: RingId::new(NodeId(2), 0x0102),
    };
    assert_eq!(
        &p.encode(NodeId(3))[..],
        &[
            0x5e, 0xa1, 1, 2, 3, 0, 0, 0, 2, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0
        ]
    );
}

#[test]
fn typed_errors_name_the_problem() {
    assert_eq!(
        Packet::decode(Bytes::from_static(&[1])),
        Err(DecodeError::Truncated {
            what: "magic",
            need: 2,
            got: 1
        })
    );
    assert_eq!(
        Packet::decode(Bytes::from_static(&[0, 0, 1, 0])),
        Err(DecodeError::BadMagic(0))
    );
    assert_eq!(
        Packet::decode(Bytes::from_static(&[0x5e, 0xa1, 9, 0])),
        Err(DecodeError::UnsupportedVersion(9))
    );
    assert_eq!(
        Packet::decode(Bytes::from_static(&[0x5e, 0xa1, 1, 77, 1, 0, 0, 0])),
        Err(DecodeError::UnknownType(77))
    );
    let mut p = Packet::MergeDetect {
        ring_id: RingId::new(NodeId(2), 1),
    }
    .encode(NodeId(1))
    .to_vec();
    p.push(0);
    assert_eq!(
        Packet::decode(Bytes::from(p)),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn a_fragment_claiming_more_than_a_mebibyte_is_rejected() {
    let frag = Chunk {
        order: Order::Agreed,
        frag: Some(Frag {
            msg_no: 1,
            total: (1 << 20) + 1,
            offset: 0,
        }),
        data: Bytes::from_static(b"x"),
    };
    let m = Mcast {
        ring_id: RingId::new(NodeId(1), 1),
        seq: 1,
        origin: NodeId(1),
        payload: McastPayload::Regular(vec![frag]),
    };
    assert_eq!(
        Packet::decode(m.encode(NodeId(1))),
        Err(DecodeError::Invalid("fragment bounds"))
    );
}
