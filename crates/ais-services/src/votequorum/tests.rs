//! votequorum on an ideal ring: every multicast of a partition is delivered to all its
//! members in one order; configuration changes are injected by hand. Clients talk the
//! corosync formats through the `quorum` (endpoint 0) and `votequorum` (endpoint 1)
//! endpoints.

use std::collections::BTreeMap;
use std::time::Duration;

use ais_totem::Delivery;
use ais_types::{ConnId, RingId};
use ais_wire::Order;
use ais_wire::ipc::{
    CsStatus, QdeviceName, QuorumEvent, QuorumModel, QuorumRequest, QuorumResponse, TrackFlags,
    VotequorumEvent, VotequorumRequest, VotequorumResponse, quorum_response_id, quorum_type,
    votequorum_info_flags,
};
use bytes::Bytes;

use super::{NodeState, Settings, SettingsError, TieBreaker, Votequorum};

mod harness;

use self::harness::*;

#[test]
fn a_partition_of_three_of_five_keeps_quorum_the_two_lose_it_and_the_heal_restores_it() {
    let mut c = Cluster::new(5, &settings(5));
    for i in 1..=5 {
        assert!(c.quorate(i));
    }
    let s = c.status(1);
    assert_eq!((s.expected_votes, s.total_votes, s.quorum), (5, 5, 3));
    assert_eq!(s.members, ids(&[1, 2, 3, 4, 5]));
    tracing::info!("the network splits three and two");
    c.split(&[&[1, 2, 3], &[4, 5]]);
    for i in 1..=3 {
        assert!(c.quorate(i), "n{i}");
    }
    assert!(!c.quorate(4) && !c.quorate(5));
    let s = c.status(4);
    assert_eq!((s.expected_votes, s.total_votes, s.quorum), (5, 2, 3));
    assert_eq!(s.members, ids(&[4, 5]));
    let states: Vec<(u32, NodeState)> = s.nodes.iter().map(|x| (x.nodeid.0, x.state)).collect();
    assert_eq!(
        states,
        vec![
            (1, NodeState::Dead),
            (2, NodeState::Dead),
            (3, NodeState::Dead),
            (4, NodeState::Member),
            (5, NodeState::Member)
        ]
    );
    c.assert_replicas_equal();
    tracing::info!("the network heals");
    c.split(&[&[1, 2, 3, 4, 5]]);
    for i in 1..=5 {
        assert!(c.quorate(i));
    }
    c.assert_replicas_equal();
}

#[test]
fn quorum_trackers_hear_every_change_in_their_model() {
    let mut c = Cluster::new(5, &settings(5));
    c.connect(4, 10, QUORUM);
    c.connect(4, 11, QUORUM);
    let changes = QuorumRequest::TrackStart {
        flags: TrackFlags::CHANGES,
    };
    assert_eq!(
        c.quorum(4, 10, changes),
        QuorumResponse::Status {
            id: quorum_response_id::TRACKSTART,
            error: CsStatus::OK
        }
    );
    let v1 = QuorumRequest::ModelGetType {
        model: QuorumModel::V1,
    };
    assert_eq!(
        c.quorum(4, 11, v1),
        QuorumResponse::ModelGetType {
            error: CsStatus::OK,
            quorum_type: quorum_type::SET
        }
    );
    c.quorum(4, 11, changes);
    let view = |quorate, members: &[u32], seq| {
        Got::Quorum(QuorumEvent::Notification {
            quorate,
            ring_seq: seq,
            view_list: ais_wire::ipc::MemberList::new(ids(members)).unwrap(),
        })
    };
    let ring = c.status(4).ring_id;
    assert_eq!(
        c.take_events(4, 10),
        vec![view(true, &[1, 2, 3, 4, 5], ring.seq)]
    );
    assert_eq!(c.take_events(4, 11).len(), 2, "V1: nodelist, then quorum");
    c.split(&[&[1, 2, 3], &[4, 5]]);
    let ring = c.status(4).ring_id;
    assert_eq!(c.take_events(4, 10), vec![view(false, &[4, 5], ring.seq)]);
    let list = |l: &[u32]| ais_wire::ipc::MemberList::new(ids(l)).unwrap();
    assert_eq!(
        c.take_events(4, 11),
        vec![
            Got::Quorum(QuorumEvent::V1Nodelist {
                ring_id: ring,
                members: list(&[4, 5]),
                joined: list(&[]),
                left: list(&[1, 2, 3]),
            }),
            Got::Quorum(QuorumEvent::V1Quorum {
                quorate: false,
                ring_id: ring,
                view_list: list(&[4, 5]),
            })
        ]
    );
    // A second TRACKSTART is EXIST (after the current state); TRACKSTOP ends it.
    assert_eq!(
        c.quorum(4, 10, changes),
        QuorumResponse::Status {
            id: quorum_response_id::TRACKSTART,
            error: CsStatus::ERR_EXIST
        }
    );
    assert_eq!(c.take_events(4, 10).len(), 1);
    c.quorum(4, 10, QuorumRequest::TrackStop);
    c.split(&[&[1, 2, 3, 4, 5]]);
    assert_eq!(c.take_events(4, 10), vec![]);
    let ring = c.status(4).ring_id;
    assert_eq!(
        c.take_events(4, 11)[0],
        Got::Quorum(QuorumEvent::V1Nodelist {
            ring_id: ring,
            members: list(&[1, 2, 3, 4, 5]),
            joined: list(&[1, 2, 3]),
            left: list(&[]),
        })
    );
}

#[test]
fn votequorum_trackers_get_the_nodelist_then_the_quorum_and_expected_votes() {
    let mut c = Cluster::new(5, &settings(5));
    c.connect(1, 20, VOTEQUORUM);
    let start = VotequorumRequest::TrackStart {
        context: 77,
        flags: TrackFlags::CHANGES,
    };
    assert_eq!(status_ok(c.votequorum(1, 20, start.clone())), CsStatus::OK);
    let first = c.take_events(1, 20);
    assert!(matches!(
        &first[..],
        [
            Got::Votequorum(VotequorumEvent::Nodelist { context: 77, .. }),
            Got::Votequorum(VotequorumEvent::Quorum {
                context: 77,
                quorate: true,
                ..
            })
        ]
    ));
    assert_eq!(status_ok(c.votequorum(1, 20, start)), CsStatus::ERR_EXIST);
    c.take_events(1, 20);
    c.split(&[&[1, 2, 3], &[4, 5]]);
    let got = c.take_events(1, 20);
    let ring = c.status(1).ring_id;
    assert_eq!(
        got[0],
        Got::Votequorum(VotequorumEvent::Nodelist {
            context: 77,
            ring_id: ring,
            nodes: ais_wire::ipc::MemberList::new(ids(&[1, 2, 3])).unwrap(),
        })
    );
    let Got::Votequorum(VotequorumEvent::Quorum { quorate, nodes, .. }) = &got[1] else {
        panic!("{got:?}");
    };
    assert!(*quorate);
    let states: Vec<(u32, u32)> = nodes.iter().map(|x| (x.nodeid.0, x.state)).collect();
    assert_eq!(states, vec![(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)]);
    // SETEXPECTED goes round the ring; every member applies it; the tracker hears it.
    assert_eq!(
        status_ok(c.votequorum(1, 20, VotequorumRequest::SetExpected { expected_votes: 3 })),
        CsStatus::OK
    );
    c.settle();
    assert_eq!(
        c.take_events(1, 20),
        vec![Got::Votequorum(VotequorumEvent::ExpectedVotes {
            context: 77,
            expected_votes: 3
        })]
    );
    for i in 1..=3 {
        let s = c.status(i);
        assert_eq!((s.expected_votes, s.quorum), (3, 2), "n{i}");
    }
    assert_eq!(
        c.status(4).expected_votes,
        5,
        "the other partition is untouched"
    );
    c.assert_replicas_equal();
    assert_eq!(
        status_ok(c.votequorum(1, 20, VotequorumRequest::TrackStop)),
        CsStatus::OK
    );
    assert_eq!(
        status_ok(c.votequorum(1, 20, VotequorumRequest::TrackStop)),
        CsStatus::ERR_NOT_EXIST
    );
}

#[test]
fn requests_are_answered_from_the_local_replica_and_refused_as_corosync_refuses_them() {
    let mut c = Cluster::new(5, &settings(5));
    c.split(&[&[1, 2, 3], &[4, 5]]);
    c.connect(2, 30, QUORUM);
    c.connect(2, 31, VOTEQUORUM);
    assert_eq!(
        c.quorum(2, 30, QuorumRequest::GetQuorate),
        QuorumResponse::GetQuorate {
            error: CsStatus::OK,
            quorate: true
        }
    );
    assert_eq!(
        c.quorum(2, 30, QuorumRequest::GetType),
        QuorumResponse::GetType {
            error: CsStatus::OK,
            quorum_type: quorum_type::SET
        }
    );
    assert_eq!(
        c.quorum(
            2,
            30,
            QuorumRequest::ModelGetType {
                model: QuorumModel(9)
            }
        ),
        QuorumResponse::ModelGetType {
            error: CsStatus::ERR_INVALID_PARAM,
            quorum_type: quorum_type::SET
        }
    );
    // GETINFO: 0 is the local node; any known node; an unknown one is NOT_EXIST.
    let info = |r: VotequorumResponse| match r {
        VotequorumResponse::GetInfo { error, info } => (error, info),
        other => panic!("{other:?}"),
    };
    let (error, me) = info(c.votequorum(2, 31, VotequorumRequest::GetInfo { nodeid: n(0) }));
    assert_eq!(error, CsStatus::OK);
    assert_eq!((me.nodeid, me.state, me.votes), (n(2), 1, 1));
    assert_eq!(
        (
            me.expected_votes,
            me.highest_expected,
            me.total_votes,
            me.quorum
        ),
        (5, 5, 3, 3)
    );
    assert_eq!(me.flags, votequorum_info_flags::QUORATE);
    let (_, dead) = info(c.votequorum(2, 31, VotequorumRequest::GetInfo { nodeid: n(5) }));
    assert_eq!((dead.nodeid, dead.state), (n(5), 2));
    let (error, _) = info(c.votequorum(2, 31, VotequorumRequest::GetInfo { nodeid: n(9) }));
    assert_eq!(error, CsStatus::ERR_NOT_EXIST);
    // Changes that would cost the quorum are refused.
    let set = |e| VotequorumRequest::SetExpected { expected_votes: e };
    assert_eq!(
        status_ok(c.votequorum(2, 31, set(7))),
        CsStatus::ERR_INVALID_PARAM
    );
    let votes = |nodeid, votes| VotequorumRequest::SetVotes {
        votes,
        nodeid: n(nodeid),
    };
    assert_eq!(
        status_ok(c.votequorum(2, 31, votes(0, 0))),
        CsStatus::ERR_INVALID_PARAM
    );
    assert_eq!(
        status_ok(c.votequorum(2, 31, votes(9, 1))),
        CsStatus::ERR_NAME_NOT_FOUND
    );
    c.settle();
    assert_eq!(c.status(2).expected_votes, 5, "nothing was sent");
    // SETVOTES of the local node (0) goes round the ring.
    assert_eq!(status_ok(c.votequorum(2, 31, votes(0, 2))), CsStatus::OK);
    c.settle();
    assert_eq!((c.status(1).total_votes, c.status(3).total_votes), (4, 4));
    c.assert_replicas_equal();
    // No quorum device here.
    let name = QdeviceName::new(b"qd".to_vec()).unwrap();
    assert_eq!(
        status_ok(c.votequorum(
            2,
            31,
            VotequorumRequest::QdeviceRegister { name: name.clone() }
        )),
        CsStatus::ERR_NOT_SUPPORTED
    );
    assert_eq!(
        status_ok(c.votequorum(2, 31, VotequorumRequest::QdeviceUnregister { name })),
        CsStatus::ERR_NOT_EXIST
    );
    // An unknown request id: the dispatcher's generic reply. Garbage: the client is dropped.
    let mut unknown = VotequorumRequest::TrackStop.to_vec();
    unknown[0..4].copy_from_slice(&42i32.to_le_bytes());
    c.node(2)
        .services
        .handle_request(ConnId(31), &unknown, ROOM);
    c.node(2)
        .services
        .handle_request(ConnId(30), &unknown, ROOM);
    c.drain();
    let replies: Vec<Vec<u8>> = c.node(2).replies.drain(..).map(|(_, m)| m).collect();
    assert_eq!(
        VotequorumResponse::decode(&replies[0]).unwrap(),
        VotequorumResponse::Status(CsStatus::ERR_INVALID_PARAM)
    );
    assert_eq!(
        QuorumResponse::decode(&replies[1]).unwrap(),
        QuorumResponse::Status {
            id: 0,
            error: CsStatus::ERR_INVALID_PARAM
        }
    );
    c.node(2)
        .services
        .handle_request(ConnId(31), b"garbage!", ROOM);
    c.drain();
    assert_eq!(c.node(2).disconnects, vec![ConnId(31)]);
    // No room in Totem's queue: TRY_AGAIN, nothing sent.
    c.connect(2, 32, VOTEQUORUM);
    c.node(2)
        .services
        .handle_request(ConnId(32), &set(5).to_vec(), 0);
    c.drain();
    let (_, msg) = c.node(2).replies.pop().unwrap();
    assert_eq!(
        VotequorumResponse::decode(&msg).unwrap(),
        VotequorumResponse::Status(CsStatus::ERR_TRY_AGAIN)
    );
    assert!(c.node(2).outbox.is_empty());
}

#[test]
fn last_man_standing_waits_for_the_window_and_only_the_lowest_member_sends() {
    let mut s = settings(4);
    s.last_man_standing = true;
    s.last_man_standing_window = Duration::from_secs(10);
    let mut c = Cluster::new(4, &s);
    c.split(&[&[1, 2, 3], &[4]]);
    assert!(c.quorate(1));
    assert_eq!(c.status(1).expected_votes, 4);
    let tick = |c: &mut Cluster, id: u32, secs: u64| {
        c.node(id).services.handle_tick(Duration::from_secs(secs));
        c.settle();
    };
    for t in [0, 20, 40] {
        tick(&mut c, 2, t);
    }
    assert_eq!(
        c.status(2).expected_votes,
        4,
        "node 2 does not time the window"
    );
    tick(&mut c, 1, 100);
    tick(&mut c, 1, 109);
    assert_eq!(c.status(1).expected_votes, 4, "the window has not ended");
    tick(&mut c, 1, 110);
    for i in 1..=3 {
        let st = c.status(i);
        assert_eq!((st.expected_votes, st.quorum), (3, 2), "n{i}");
    }
    c.assert_replicas_equal();
    // A membership change restarts the window.
    c.split(&[&[1, 2], &[3], &[4]]);
    assert!(c.quorate(1));
    tick(&mut c, 1, 200);
    c.split(&[&[1, 2], &[3], &[4]]);
    tick(&mut c, 1, 205);
    assert_eq!(c.status(1).expected_votes, 3);
    tick(&mut c, 1, 215);
    assert_eq!(c.status(1).expected_votes, 2);
    assert!(c.quorate(2));
}

#[test]
fn a_clean_leave_lowers_expected_votes_with_allow_downscale() {
    let mut s = settings(4);
    s.allow_downscale = true;
    s.expected_votes = Some(2);
    let mut c = Cluster::new(4, &s);
    assert_eq!(c.status(1).expected_votes, 4);
    c.node(4).services.handle_shutdown();
    c.settle();
    let st = c.status(1);
    assert_eq!((st.expected_votes, st.total_votes), (3, 3));
    assert_eq!(st.nodes[3].state, NodeState::Leaving);
    c.assert_replicas_equal();
    c.split(&[&[1, 2, 3]]);
    c.node(3).services.handle_shutdown();
    c.settle();
    c.split(&[&[1, 2]]);
    c.node(2).services.handle_shutdown();
    c.settle();
    let st = c.status(1);
    assert_eq!(
        st.expected_votes, 2,
        "not below the configured expected votes"
    );
    assert!(!st.quorate, "one vote of two");
}

#[test]
fn wait_for_all_holds_quorum_back_until_every_node_was_seen() {
    let mut s = settings(3);
    s.wait_for_all = Some(true);
    let mut c = Cluster::cold(3, &s);
    c.split(&[&[1, 2], &[3]]);
    assert!(!c.quorate(1), "a cold start waits for all three");
    assert!(c.status(1).wait_for_all_status);
    c.split(&[&[1, 2, 3]]);
    assert!(c.quorate(1));
    c.split(&[&[1, 2], &[3]]);
    assert!(c.quorate(1), "all three were seen once: a majority will do");
    assert!(!c.quorate(3));
    assert!(
        c.status(3).wait_for_all_status,
        "the inquorate side waits again"
    );
    // Once every partition lost quorum, the cluster waits for all again (corosync re-arms
    // the wait whenever it is inquorate).
    c.split(&[&[1], &[2], &[3]]);
    c.split(&[&[1, 2], &[3]]);
    assert!(!c.quorate(1));
}

#[test]
fn auto_tie_breaker_keeps_the_half_with_the_lowest_node() {
    let mut s = settings(4);
    s.auto_tie_breaker = Some(TieBreaker::Lowest);
    let mut c = Cluster::new(4, &s);
    c.split(&[&[1, 4], &[2, 3]]);
    assert!(c.quorate(1) && c.quorate(4));
    assert!(!c.quorate(2) && !c.quorate(3));
    assert_eq!(c.status(4).tie_breaker, ids(&[1]));
    c.assert_replicas_equal();
}

#[test]
fn without_a_provider_the_node_is_always_quorate_and_votequorum_is_absent() {
    let mut c = Cluster::new(3, &Settings::disabled());
    c.split(&[&[1], &[2, 3]]);
    c.connect(1, 40, QUORUM);
    assert_eq!(
        c.quorum(1, 40, QuorumRequest::GetQuorate),
        QuorumResponse::GetQuorate {
            error: CsStatus::OK,
            quorate: true
        }
    );
    assert_eq!(
        c.quorum(1, 40, QuorumRequest::GetType),
        QuorumResponse::GetType {
            error: CsStatus::OK,
            quorum_type: quorum_type::FREE
        }
    );
    c.quorum(
        1,
        40,
        QuorumRequest::TrackStart {
            flags: TrackFlags::CURRENT | TrackFlags::CHANGES,
        },
    );
    assert_eq!(
        c.take_events(1, 40),
        vec![Got::Quorum(QuorumEvent::Notification {
            quorate: true,
            ring_seq: 0,
            view_list: ais_wire::ipc::MemberList::new(Vec::new()).unwrap(),
        })]
    );
    c.split(&[&[1, 2, 3]]);
    assert_eq!(
        c.take_events(1, 40),
        vec![],
        "corosync sends no quorum change"
    );
    c.connect(1, 41, VOTEQUORUM);
    c.drain();
    assert_eq!(c.node(1).disconnects, vec![ConnId(41)]);
    assert!(c.status(1).provider.is_none());
}

#[test]
fn settings_are_checked_as_corosync_checks_them() {
    let mut s = Settings::votequorum(BTreeMap::new());
    assert_eq!(
        Votequorum::new(n(1), &s).err(),
        Some(SettingsError::NoExpectedVotes)
    );
    s.expected_votes = Some(3);
    assert!(Votequorum::new(n(1), &s).is_ok());
    // The tie-breaker in an odd cluster needs wait_for_all: off without it...
    s.auto_tie_breaker = Some(TieBreaker::Lowest);
    let v = Votequorum::new(n(1), &s).unwrap();
    assert!(!v.status().flags.auto_tie_breaker);
    // ... and with last_man_standing too, corosync refuses to start.
    s.last_man_standing = true;
    assert_eq!(
        Votequorum::new(n(1), &s).err(),
        Some(SettingsError::TieBreakerWithLastManStanding)
    );
    s.wait_for_all = Some(true);
    let v = Votequorum::new(n(1), &s).unwrap();
    assert!(v.status().flags.auto_tie_breaker);
    // two_node implies wait_for_all, and gives way to the tie-breaker.
    let mut s = settings(2);
    s.two_node = true;
    let f = Votequorum::new(n(1), &s).unwrap().status().flags;
    assert!(f.two_node && f.wait_for_all);
    s.auto_tie_breaker = Some(TieBreaker::Highest);
    let f = Votequorum::new(n(1), &s).unwrap().status().flags;
    assert!(!f.two_node && f.auto_tie_breaker);
    // The nodelist's votes for this node win over quorum.votes.
    let mut s = settings(3);
    s.nodelist_votes.insert(n(2), 3);
    s.votes = 7;
    let st = Votequorum::new(n(2), &s).unwrap().status();
    assert_eq!((st.nodes[0].votes, st.expected_votes), (3, 5));
}

#[test]
fn malformed_ring_messages_are_counted_and_dropped() {
    let mut c = Cluster::new(2, &settings(2));
    let before = c.node(1).services.digests();
    let mut payload = vec![super::ServiceId::VOTEQUORUM.0, 0];
    payload.extend_from_slice(&[9, 9, 9]);
    c.node(1).services.handle_delivery(&Delivery {
        origin: n(2),
        ring_id: RingId::default(),
        seq: 99,
        index: 0,
        order: Order::Agreed,
        payload: Bytes::from(payload),
    });
    assert_eq!(c.node(1).services.digests(), before);
    assert_eq!(c.vq(1).stats().rx_malformed, 1);
}

#[test]
fn a_reload_sends_changed_votes_and_expected_votes_round_the_ring() {
    let mut c = Cluster::new(3, &settings(3));
    let mut reloaded = crate::ServiceSettings {
        quorum: settings(3),
        ..Default::default()
    };
    reloaded.quorum.nodelist_votes.insert(n(2), 2);
    c.node(2).services.reconfigure(&reloaded);
    c.settle();
    for i in 1..=3 {
        let s = c.status(i);
        assert_eq!((s.total_votes, s.expected_votes), (4, 4), "n{i}");
    }
    c.assert_replicas_equal();
    // Nothing changed: nothing sent.
    c.node(2).services.reconfigure(&reloaded);
    c.drain();
    assert!(c.node(2).outbox.is_empty());
}
