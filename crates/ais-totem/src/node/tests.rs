//! Handler tests: exact outputs for single inputs, and short stories on the in-memory
//! cluster (`crate::testing`).

use std::time::Duration;

use ais_types::{Instant, NodeId, RingId};
use ais_wire::{Join, Packet};
use bytes::Bytes;

use crate::testing::Cluster;
use crate::{ConfigChange, Dest, Order, Output, Persisted, SubmitError, Totem, TotemConfig};

const T0: Instant = Instant(1_000_000_000);

fn n(id: u32) -> NodeId {
    NodeId(id)
}

fn ids(v: &[u32]) -> Vec<NodeId> {
    v.iter().copied().map(NodeId).collect()
}

/// A Join (not a leave) with ring seq `seq`.
fn join(seq: u64, procs: &[u32], fails: &[u32]) -> Join {
    Join {
        ring_seq: seq,
        leave: false,
        proc_list: ids(procs),
        fail_list: ids(fails),
    }
}

/// Outputs with packets decoded, so tests can state them exactly.
#[derive(Debug, PartialEq)]
enum Out {
    Persist(u64),
    Config(ConfigChange),
    Deliver(NodeId, Bytes),
    Sent(Dest, Packet),
}

fn drain(t: &mut Totem) -> Vec<Out> {
    let mut v = Vec::new();
    while let Some(o) = t.poll_output() {
        v.push(match o {
            Output::Persist(s) => Out::Persist(s),
            Output::Configuration(c) => Out::Config(c),
            Output::Deliver(d) => Out::Deliver(d.origin, d.payload),
            Output::Transmit { to, packet } => Out::Sent(to, Packet::decode(packet).unwrap().1),
        });
    }
    v
}

fn formed(n_nodes: usize) -> Cluster {
    let mut c = Cluster::new(n_nodes, |_| {});
    assert!(
        c.run_until(Duration::from_secs(30), Cluster::formed),
        "ring did not form"
    );
    c
}

/// Node `from` multicasts `payload` (agreed) and every node delivers it, as its first
/// message.
fn deliver_everywhere(c: &mut Cluster, from: usize, payload: &'static [u8]) {
    c.nodes[from]
        .submit(c.now, Bytes::from_static(payload), Order::Agreed)
        .unwrap();
    c.drain(from);
    assert!(c.run_until(Duration::from_secs(5), |c| {
        c.delivered_count.iter().all(|d| *d == 1)
    }));
}

#[test]
fn a_new_processor_installs_a_singleton_above_its_persisted_seq_then_forms_alone() {
    let mut t = Totem::new(TotemConfig::new(n(1), 3), Persisted { ring_seq: 7 }, T0);
    let out = drain(&mut t);
    assert_eq!(out[0], Out::Persist(8));
    assert_eq!(
        out[1],
        Out::Config(ConfigChange::Regular {
            ring_id: RingId::new(n(1), 8),
            members: ids(&[1]),
            joined: ids(&[1]),
            left: vec![],
        })
    );
    assert_eq!(
        out[2],
        Out::Sent(Dest::Ring, Packet::Join(join(8, &[1], &[])))
    );
    // Alone, consensus is immediate: the commit token for ring 1.12 goes to itself.
    assert_eq!(out[3], Out::Persist(12));
    let Out::Sent(Dest::Node(to), Packet::Commit(c)) = &out[4] else {
        panic!("{:?}", out[4])
    };
    assert_eq!(
        (*to, c.ring_id, c.entries.len()),
        (n(1), RingId::new(n(1), 12), 1)
    );
    assert_eq!(out.len(), 5);
}

#[test]
fn a_malformed_packet_is_counted_and_changes_nothing() {
    let mut t = Totem::new(TotemConfig::new(n(1), 3), Persisted::default(), T0);
    drain(&mut t);
    let before = t.poll_timeout();
    t.handle_packet(T0, Bytes::from_static(b"\x5e\xa1\x01\x00garbage"));
    assert_eq!(drain(&mut t), vec![]);
    assert_eq!(t.stats().rx_malformed, 1);
    assert_eq!(t.poll_timeout(), before);
}

#[test]
fn a_failed_submit_changes_nothing() {
    let mut config = TotemConfig::new(n(1), 3);
    config.max_send_queue_bytes = 100;
    let mut t = Totem::new(config, Persisted::default(), T0);
    drain(&mut t);
    t.submit(T0, Bytes::from(vec![0; 60]), Order::Agreed)
        .unwrap();
    drain(&mut t);
    let err = t
        .submit(T0, Bytes::from(vec![0; 60]), Order::Agreed)
        .unwrap_err();
    assert_eq!(err, SubmitError::Backlog { queued: 60 });
    let err = t
        .submit(T0, Bytes::from(vec![0; (1 << 20) + 1]), Order::Safe)
        .unwrap_err();
    assert_eq!(err, SubmitError::TooLarge((1 << 20) + 1));
    assert_eq!(t.send_queue_bytes(), 60);
    assert_eq!(drain(&mut t), vec![]);
}

#[test]
fn token_loss_starts_gather_with_the_full_proc_list() {
    let mut c = formed(3);
    // Nodes 2 and 3 go silent; node 1 fires timers until it notices.
    c.crash(1);
    c.crash(2);
    let t = &mut c.nodes[0];
    drain(t);
    let last = loop {
        let at = t.poll_timeout().unwrap();
        t.handle_timeout(at);
        let out = drain(t);
        if t.state_name() == "GATH" {
            break out;
        }
    };
    assert_eq!(
        last,
        vec![Out::Sent(
            Dest::Ring,
            Packet::Join(join(c.nodes[0].ring_id().seq, &[1, 2, 3], &[]))
        )]
    );
}

#[test]
fn a_duplicate_token_is_discarded() {
    let mut c = formed(3);
    c.run_for(Duration::from_secs(2));
    c.last_token = None;
    assert!(c.run_until(Duration::from_secs(5), |c| {
        c.last_token.as_ref().is_some_and(|(to, _)| *to == 1)
    }));
    let (_, token) = c.last_token.clone().unwrap();
    // Let node 2 take it the first time, then hand it the same copy again.
    while c.step()
        && c.nodes[1].stats().tokens_discarded == 0
        && c.last_token.as_ref().is_some_and(|(to, _)| *to == 1)
    {}
    drain(&mut c.nodes[1]);
    let discarded = c.nodes[1].stats().tokens_discarded;
    c.nodes[1].handle_packet(c.now, token);
    assert_eq!(drain(&mut c.nodes[1]), vec![]);
    assert_eq!(c.nodes[1].stats().tokens_discarded, discarded + 1);
}

#[test]
fn every_node_delivers_agreed_and_safe_messages_in_one_order() {
    let mut c = formed(3);
    for round in 0..50u32 {
        for i in 0..3 {
            let order = if round % 3 == 0 {
                Order::Safe
            } else {
                Order::Agreed
            };
            let msg = Bytes::from(format!("{i}:{round}"));
            c.nodes[i].submit(c.now, msg, order).unwrap();
            c.drain(i);
        }
    }
    assert!(c.run_until(Duration::from_secs(10), |c| {
        c.delivered_count.iter().all(|d| *d == 150)
    }));
    let order0: Vec<_> = c.delivered[0].iter().map(|d| d.payload.clone()).collect();
    for i in 1..3 {
        let order: Vec<_> = c.delivered[i].iter().map(|d| d.payload.clone()).collect();
        assert_eq!(order, order0);
    }
    // FIFO per sender.
    for sender in 0..3 {
        let rounds: Vec<u32> = order0
            .iter()
            .filter_map(|p| {
                let s = std::str::from_utf8(p).unwrap();
                let (who, r) = s.split_once(':').unwrap();
                (who == sender.to_string()).then(|| r.parse().unwrap())
            })
            .collect();
        assert_eq!(rounds, (0..50).collect::<Vec<_>>());
    }
}

#[test]
fn a_one_mebibyte_message_crosses_the_ring_whole() {
    let mut c = formed(3);
    let big: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    c.nodes[2]
        .submit(c.now, Bytes::from(big.clone()), Order::Safe)
        .unwrap();
    c.drain(2);
    assert!(c.run_until(Duration::from_secs(60), |c| {
        c.delivered_count.iter().all(|d| *d == 1)
    }));
    for i in 0..3 {
        assert_eq!(c.delivered[i][0].payload.as_ref(), big.as_slice());
    }
}

#[test]
fn a_graceful_leave_is_seen_at_once_not_after_a_token_timeout() {
    let mut c = formed(3);
    let start = c.now;
    c.nodes[2].leave(c.now);
    c.drain(2);
    c.crash(2);
    assert!(c.run_until(Duration::from_secs(30), Cluster::formed));
    let took = c.now - start;
    let token = c.nodes[0].config.token_timeout();
    assert!(took < token / 4, "took {took:?}, token timeout {token:?}");
    assert_eq!(c.nodes[0].members(), ids(&[1, 2]).as_slice());
}

#[test]
fn a_crashed_node_is_dropped_before_token_plus_consensus() {
    let mut c = formed(3);
    c.run_for(Duration::from_secs(5));
    let start = c.now;
    c.crash(1);
    assert!(c.run_until(Duration::from_secs(60), Cluster::formed));
    let cfg = &c.nodes[0].config;
    let took = c.now - start;
    assert!(took < cfg.token_timeout() + cfg.consensus, "took {took:?}");
    assert_eq!(c.nodes[2].members(), ids(&[1, 3]).as_slice());
}

#[test]
fn a_long_pause_fires_every_due_timer_in_one_call() {
    let mut c = formed(3);
    c.run_for(Duration::from_secs(1));
    // Node 1 forwards the token and then is not scheduled for thirty seconds.
    c.crash(1);
    c.crash(2);
    let t = &mut c.nodes[0];
    drain(t);
    let jump = c.now + Duration::from_secs(30);
    t.handle_timeout(jump);
    let out = drain(t);
    // Both overdue timers fire, in deadline order: the token retransmission, then token loss.
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        matches!(out[0], Out::Sent(Dest::Node(_), Packet::Token(_))),
        "{out:?}"
    );
    assert!(
        matches!(&out[1], Out::Sent(Dest::Ring, Packet::Join(j)) if j.proc_list == ids(&[1, 2, 3]))
    );
    assert_eq!(t.state_name(), "GATH");
    // Later timers count from the new time, not the old one.
    assert!(t.poll_timeout().unwrap() > jump);
}

#[test]
fn ring_ids_rise_across_restarts() {
    let mut c = formed(3);
    let seq = c.nodes[0].ring_id().seq;
    let t = Totem::new(
        TotemConfig::new(n(1), 3),
        Persisted { ring_seq: seq },
        c.now,
    );
    assert!(t.ring_id().seq > seq);
    c.nodes[0] = t;
    c.drain(0);
    assert!(c.run_until(Duration::from_secs(30), Cluster::formed));
    assert!(c.nodes[0].ring_id().seq > seq + 1);
}

#[test]
fn a_join_from_a_stranger_moves_an_operational_node_to_gather_with_both() {
    let mut c = formed(2);
    let t = &mut c.nodes[0];
    drain(t);
    t.handle_packet(c.now, Packet::Join(join(1, &[7], &[])).encode(n(7)));
    let seq = t.ring_id().seq;
    assert_eq!(
        drain(t),
        vec![Out::Sent(
            Dest::Ring,
            Packet::Join(join(seq, &[1, 2, 7], &[]))
        )]
    );
    assert_eq!(t.state_name(), "GATH");
}

#[test]
fn a_stale_join_from_a_member_is_ignored_while_operational() {
    let mut c = formed(3);
    let t = &mut c.nodes[0];
    drain(t);
    // A Join from before the ring formed, still in flight: lower ring seq, sender a member.
    t.handle_packet(c.now, Packet::Join(join(1, &[2], &[])).encode(n(2)));
    assert_eq!(drain(t), vec![]);
    assert_eq!(t.state_name(), "OPER");
}

#[test]
fn a_merge_detect_from_another_ring_starts_gathering() {
    let mut c = formed(2);
    let t = &mut c.nodes[1];
    drain(t);
    let foreign = RingId::new(n(5), 1000);
    t.handle_packet(c.now, Packet::MergeDetect { ring_id: foreign }.encode(n(5)));
    let out = drain(t);
    assert!(
        matches!(&out[..], [Out::Sent(Dest::Ring, Packet::Join(j))] if j.proc_list == ids(&[1, 2, 5])),
        "{out:?}"
    );
}

#[test]
fn a_gathering_node_accepts_a_matching_commit_token_and_reports_its_old_ring() {
    use ais_wire::{CommitEntry, CommitToken};
    let mut t = operational_alone(n(2), 2);
    // Node 1 proposes {1, 2}: node 2 learns of it from its Join, then gets the commit token.
    t.handle_packet(T0, Packet::Join(join(1, &[1, 2], &[])).encode(n(1)));
    drain(&mut t);
    let commit = node_1_proposes_1_2();
    let entry1 = commit.entries[0];
    let (aru, high_seq, high_delivered) = t.ordering();
    let mine = CommitEntry {
        old_ring: t.ring_id(),
        aru,
        high_seq,
        high_delivered,
    };
    t.handle_packet(T0, Packet::Commit(commit).encode(n(1)));
    assert_eq!(
        drain(&mut t),
        vec![
            Out::Persist(100),
            Out::Sent(
                Dest::Node(n(1)),
                Packet::Commit(CommitToken {
                    ring_id: RingId::new(n(1), 100),
                    token_seq: 2,
                    members: ids(&[1, 2]),
                    entries: vec![entry1, mine],
                })
            ),
        ]
    );
    assert_eq!(t.state_name(), "COMM");
}

/// A processor that formed its own ring: its tokens are handed back until it is operational.
fn operational_alone(me: NodeId, node_count: usize) -> Totem {
    let mut t = Totem::new(TotemConfig::new(me, node_count), Persisted::default(), T0);
    while t.state_name() != "OPER" {
        let o = t.poll_output().expect("forming alone");
        if let Output::Transmit {
            to: Dest::Node(_),
            packet,
        } = o
        {
            t.handle_packet(T0, packet);
        }
    }
    drain(&mut t);
    t
}

/// Node 1's commit token for ring 1.100 = {1, 2}, after its own first-rotation entry.
fn node_1_proposes_1_2() -> ais_wire::CommitToken {
    ais_wire::CommitToken {
        ring_id: RingId::new(n(1), 100),
        token_seq: 1,
        members: ids(&[1, 2]),
        entries: vec![ais_wire::CommitEntry {
            old_ring: RingId::new(n(1), 5),
            aru: 0,
            high_seq: 0,
            high_delivered: 0,
        }],
    }
}

/// Node 2, alone and operational, then gathering with node 1 (the view {1, 2}).
fn gathering_with_node_1() -> Totem {
    let mut t = operational_alone(n(2), 3);
    t.handle_packet(T0, Packet::Join(join(1, &[1, 2], &[])).encode(n(1)));
    drain(&mut t);
    t
}

#[test]
fn a_refused_commit_token_is_answered_at_once_by_a_join_newer_than_its_ring() {
    let mut t = gathering_with_node_1();
    // Node 3 appears after node 1 reached consensus on {1, 2}: node 2's view is now
    // {1, 2, 3}, and node 1's commit token for {1, 2} cannot be accepted.
    t.handle_packet(T0, Packet::Join(join(3, &[3], &[])).encode(n(3)));
    drain(&mut t);
    let commit = node_1_proposes_1_2();
    t.handle_packet(T0, Packet::Commit(commit).encode(n(1)));
    let out = drain(&mut t);
    assert!(
        matches!(&out[..], [Out::Sent(Dest::Ring, Packet::Join(j))]
            if j.ring_seq == 100 && j.proc_list == ids(&[1, 2, 3])),
        "{out:?}"
    );
    assert_eq!(t.state_name(), "GATH");
}

#[test]
fn a_member_in_commit_returns_to_gather_on_a_join_newer_than_the_forming_ring() {
    let mut t = gathering_with_node_1();
    let commit = node_1_proposes_1_2();
    t.handle_packet(T0, Packet::Commit(commit).encode(n(1)));
    drain(&mut t);
    assert_eq!(t.state_name(), "COMM");
    // A stale Join of node 1 from the round that agreed on {1, 2}: ignored.
    t.handle_packet(T0, Packet::Join(join(1, &[1, 3], &[])).encode(n(1)));
    assert_eq!(t.state_name(), "COMM");
    // Node 1 refused the token (its Join carries the ring's seq): back to gathering.
    let mut refusal = join(1, &[1, 2, 3], &[]);
    refusal.ring_seq = 100;
    t.handle_packet(T0, Packet::Join(refusal).encode(n(1)));
    assert_eq!(t.state_name(), "GATH");
}

#[test]
fn a_token_behind_the_frames_already_sequenced_is_discarded_not_obeyed() {
    let mut c = formed(3);
    deliver_everywhere(&mut c, 0, b"m");
    let t = &mut c.nodes[1];
    drain(t);
    // Same ring, a fresh token_seq, but seq 0: sequencing from it would reuse seq 1.
    let mut bad = ais_wire::Token::first(t.ring_id());
    bad.token_seq = 1 << 40;
    let discarded = t.stats().tokens_discarded;
    t.handle_packet(c.now, Packet::Token(bad).encode(n(1)));
    assert_eq!(drain(t), vec![]);
    assert_eq!(t.stats().tokens_discarded, discarded + 1);
}

#[test]
#[should_panic(expected = "invalid Totem configuration")]
fn an_invalid_configuration_is_refused_with_its_reason() {
    let mut config = TotemConfig::new(n(1), 3);
    config.join = Duration::ZERO;
    let _ = Totem::new(config, Persisted::default(), T0);
}

#[test]
fn a_message_for_an_idle_ring_leaves_with_the_held_token_not_a_rotation_later() {
    let mut c = formed(3);
    // Idle long enough for the representative (node 1) to hold the token.
    c.run_for(Duration::from_secs(2));
    assert!(
        c.run_until(Duration::from_secs(5), |c| c.nodes[0].tok.held.is_some()),
        "the idle ring's token is held"
    );
    c.nodes[0]
        .submit(c.now, Bytes::from_static(b"now"), Order::Agreed)
        .unwrap();
    let out = drain(&mut c.nodes[0]);
    let frame = out
        .iter()
        .position(|o| matches!(o, Out::Sent(Dest::Ring, Packet::Mcast(_))));
    let token = out
        .iter()
        .position(|o| matches!(o, Out::Sent(Dest::Node(_), Packet::Token(_))));
    let delivered = out
        .iter()
        .position(|o| matches!(o, Out::Deliver(_, p) if p.as_ref() == b"now"));
    assert!(
        frame.is_some() && token.is_some() && frame < token,
        "the frame, then the token that covers it, leave at once: {out:?}"
    );
    assert!(
        delivered.is_some(),
        "and the sender delivers it at once: {out:?}"
    );
}

/// A reload's new settings replace the timers' settings (read each time a timer is set),
/// keep what cannot change, and settings that do not validate are refused whole.
#[test]
fn reconfigure_takes_new_timeouts_and_refuses_invalid_ones() {
    let mut long = TotemConfig::new(n(1), 3);
    long.derive_from_token(Duration::from_secs(10));
    long.netmtu = 1400;
    let mut t = Totem::new(long, Persisted::default(), T0);
    let mut short = TotemConfig::new(n(9), 4);
    short.derive_from_token(Duration::from_millis(200));
    t.reconfigure(&short).expect("valid settings");
    assert_eq!(t.config.token, Duration::from_millis(200));
    assert_eq!(t.config.node_count, 4);
    assert_eq!(t.config.consensus, short.consensus);
    assert_eq!(t.node_id(), n(1), "the node id stays");
    assert_eq!(t.config.netmtu, 1400, "the MTU stays");
    let mut broken = short.clone();
    broken.derive_from_token(Duration::from_millis(300));
    broken.window_size = 0;
    assert!(t.reconfigure(&broken).is_err());
    assert_eq!(
        t.config.token,
        Duration::from_millis(200),
        "nothing changed"
    );
}

#[test]
fn the_operator_counters_follow_the_membership_protocol() {
    let mut c = formed(3);
    c.run_for(Duration::from_secs(2));
    for t in &c.nodes {
        let s = t.stats();
        assert!(s.gather_entered >= 1, "{s:?}");
        assert!(s.commit_entered >= 1 && s.recovery_entered >= 1, "{s:?}");
        // The boot singleton, then the ring of three.
        assert!(s.configurations >= 2, "{s:?}");
        assert_eq!(s.continuous_gather, 0, "operational again: {s:?}");
        assert!(s.memb_join_tx >= 1 && s.memb_join_rx >= 1, "{s:?}");
        assert!(s.memb_commit_token_rx >= 1, "{s:?}");
        // The idle ring keeps its token going round: every node sends and receives it.
        assert!(s.orf_token_tx > 10 && s.orf_token_rx > 10, "{s:?}");
        assert!(s.last_token_received.is_some(), "{s:?}");
        assert!(s.mean_token_rotation_us().is_some(), "{s:?}");
        assert_eq!(s.operational_token_lost, 0, "{s:?}");
    }
    c.crash(2);
    assert!(
        c.run_until(Duration::from_secs(30), Cluster::formed),
        "the survivors did not re-form"
    );
    // The first survivor whose token timer fired sends the others to gather with its Join.
    let lost: u64 = c.nodes[..2]
        .iter()
        .map(|t| t.stats().operational_token_lost)
        .sum();
    assert!(lost >= 1, "no token loss counted");
    for t in &c.nodes[..2] {
        let s = t.stats();
        assert!(s.configurations >= 3, "{s:?}");
        assert_eq!(s.continuous_gather, 0, "{s:?}");
    }
}

/// The first hold after activity: the representative counts the idle rotation before the
/// others do (it sees the token first), so it already holds while another member's count
/// is one short. corosync's rule (`message_handler_orf_token`) makes every other member
/// treat the token as held one visit earlier (`>=`, the representative `>`); without it, a
/// message queued on another member in that first hold waits out the whole `hold` timer,
/// and a request-reply exchange (Pacemaker's join) waits it twice.
#[test]
fn a_message_queued_elsewhere_during_the_first_hold_cancels_it() {
    let mut c = formed(3);
    deliver_everywhere(&mut c, 1, b"burst");
    assert!(
        c.run_until(Duration::from_secs(5), |c| c.nodes[0].tok.held.is_some()),
        "the representative holds the idle ring's token"
    );
    c.nodes[1]
        .submit(c.now, Bytes::from_static(b"reply"), Order::Agreed)
        .unwrap();
    let out = drain(&mut c.nodes[1]);
    assert!(
        out.iter()
            .any(|o| matches!(o, Out::Sent(Dest::Ring, Packet::TokenHoldCancel { .. }))),
        "node 2 asks for the held token at once: {out:?}"
    );
}
