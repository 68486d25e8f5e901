//! cmap through the services host, as a client sees it: requests in, responses and tracking
//! events out.

use ais_types::{ConnId, Credentials, NodeId};
use ais_wire::ipc::{CmapEvent, CmapRequest, CmapResponse, CmapValue, CsStatus};

use super::Cmap;
use crate::{Effect, Services};

struct Node {
    services: Services,
}

impl Node {
    fn new() -> Self {
        let mut services = Services::new(NodeId(1), vec![Box::new(Cmap::new())], vec![(0, 0)]);
        services.update_keys(|k| {
            k.default.set("totem.token", CmapValue::U32(3000));
            k.default
                .set("runtime.votequorum.this_node_id", CmapValue::U32(1));
            k.stats.set("stats.srp.mcast_tx", CmapValue::U64(5));
        });
        Self { services }
    }

    fn connect(&mut self, conn: u64) {
        self.services
            .handle_connect(ConnId(conn), 0, Credentials::root(100));
    }

    /// A client of `uid`:`gid` (the daemon admitted it through a uidgid entry).
    fn connect_as(&mut self, conn: u64, uid: u32, gid: u32) {
        let client = Credentials { pid: 200, uid, gid };
        self.services.handle_connect(ConnId(conn), 0, client);
    }

    /// Sends a request; returns its response and any events that came with it.
    fn ask(&mut self, conn: u64, request: CmapRequest) -> (CmapResponse, Vec<(u64, CmapEvent)>) {
        self.services
            .handle_request(ConnId(conn), &request.to_vec().expect("encodes"), 1 << 20);
        let mut response = None;
        let mut events = Vec::new();
        while let Some(effect) = self.services.poll_effect() {
            match effect {
                Effect::Reply { conn: c, msg } => {
                    assert_eq!(c, ConnId(conn));
                    assert!(response.is_none(), "one response per request");
                    response = Some(CmapResponse::decode(&msg).expect("response decodes"));
                }
                Effect::Event { conn: c, msg } => {
                    events.push((c.0, CmapEvent::decode(&msg).expect("event decodes")));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        (response.expect("a response"), events)
    }

    fn get(&mut self, conn: u64, key: &str) -> (CsStatus, Option<CmapValue>) {
        match self.ask(
            conn,
            CmapRequest::Get {
                key: key.into(),
                value_len: 1024,
            },
        ) {
            (r @ CmapResponse::Get { error, .. }, _) => {
                (error, r.get_value().map(|v| v.expect("value decodes")))
            }
            (other, _) => panic!("not a GET response: {other:?}"),
        }
    }
}

fn status(r: &CmapResponse) -> CsStatus {
    r.error()
}

#[test]
fn get_set_delete_and_read_only_keys() {
    let mut n = Node::new();
    n.connect(1);
    assert_eq!(
        n.get(1, "totem.token"),
        (CsStatus::OK, Some(CmapValue::U32(3000)))
    );
    assert_eq!(n.get(1, "no.such.key").0, CsStatus::ERR_NOT_EXIST);
    let set = CmapRequest::Set {
        key: "uidgid.gid.189".into(),
        value: CmapValue::U8(1),
    };
    assert_eq!(status(&n.ask(1, set).0), CsStatus::OK);
    assert_eq!(n.get(1, "uidgid.gid.189").1, Some(CmapValue::U8(1)));
    let ro = CmapRequest::Set {
        key: "runtime.votequorum.this_node_id".into(),
        value: CmapValue::U32(9),
    };
    assert_eq!(status(&n.ask(1, ro).0), CsStatus::ERR_ACCESS);
    let del = CmapRequest::Delete {
        key: "uidgid.gid.189".into(),
    };
    assert_eq!(status(&n.ask(1, del.clone()).0), CsStatus::OK);
    assert_eq!(status(&n.ask(1, del).0), CsStatus::ERR_NOT_EXIST);
    let inc = CmapRequest::AdjustInt {
        key: "totem.token".into(),
        step: 1,
    };
    assert_eq!(status(&n.ask(1, inc).0), CsStatus::OK);
    assert_eq!(n.get(1, "totem.token").1, Some(CmapValue::U32(3001)));
}

/// Who may connect is decided on the `uidgid.` keys, so an unprivileged client (admitted
/// through one of them) must not be able to admit anyone else, or to lock users out.
#[test]
fn only_privileged_clients_change_the_uidgid_keys() {
    let mut n = Node::new();
    n.connect(1);
    n.connect_as(2, 107, 113);
    n.connect_as(3, 107, 0);
    let set = |key: &str| CmapRequest::Set {
        key: key.into(),
        value: CmapValue::U8(1),
    };
    assert_eq!(status(&n.ask(1, set("uidgid.gid.113")).0), CsStatus::OK);
    for request in [
        set("uidgid.uid.1000"),
        set("uidgid.gid.113"),
        CmapRequest::Delete {
            key: "uidgid.gid.113".into(),
        },
        CmapRequest::AdjustInt {
            key: "uidgid.gid.113".into(),
            step: 1,
        },
    ] {
        assert_eq!(status(&n.ask(2, request).0), CsStatus::ERR_ACCESS);
    }
    assert_eq!(n.get(2, "uidgid.gid.113").1, Some(CmapValue::U8(1)));
    assert_eq!(n.get(2, "uidgid.uid.1000").0, CsStatus::ERR_NOT_EXIST);
    // Its other keys are its own to change; group root counts as privileged.
    assert_eq!(status(&n.ask(2, set("app.ready")).0), CsStatus::OK);
    assert_eq!(status(&n.ask(3, set("uidgid.uid.1000")).0), CsStatus::OK);
    // The configuration's entries stay read-only to everyone.
    assert_eq!(
        status(&n.ask(1, set("uidgid.config.uid.1000")).0),
        CsStatus::ERR_ACCESS
    );
}

#[test]
fn the_stats_map_is_separate_and_read_only() {
    let mut n = Node::new();
    n.connect(1);
    assert_eq!(n.get(1, "stats.srp.mcast_tx").0, CsStatus::ERR_NOT_EXIST);
    let (r, _) = n.ask(1, CmapRequest::SetCurrentMap { map: 1 });
    assert_eq!(status(&r), CsStatus::OK);
    assert_eq!(n.get(1, "stats.srp.mcast_tx").1, Some(CmapValue::U64(5)));
    let set = CmapRequest::Set {
        key: "stats.srp.mcast_tx".into(),
        value: CmapValue::U64(0),
    };
    assert_eq!(status(&n.ask(1, set).0), CsStatus::ERR_ACCESS);
}

#[test]
fn iteration_walks_a_prefix_and_ends_with_no_sections() {
    let mut n = Node::new();
    n.connect(1);
    n.services.update_keys(|k| {
        k.default.set("nodelist.node.0.nodeid", CmapValue::U32(1));
        k.default.set("nodelist.node.1.nodeid", CmapValue::U32(2));
    });
    let (r, _) = n.ask(
        1,
        CmapRequest::IterInit {
            prefix: "nodelist.".into(),
        },
    );
    let CmapResponse::IterInit { iter_handle, .. } = r else {
        panic!("{r:?}")
    };
    let mut keys = Vec::new();
    loop {
        let (r, _) = n.ask(1, CmapRequest::IterNext { iter_handle });
        match r {
            CmapResponse::IterNext {
                error: CsStatus::OK,
                key,
                ..
            } => keys.push(key),
            CmapResponse::IterNext { error, .. } => {
                assert_eq!(error, CsStatus::ERR_NO_SECTIONS);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(keys, ["nodelist.node.0.nodeid", "nodelist.node.1.nodeid"]);
    let (r, _) = n.ask(1, CmapRequest::IterFinalize { iter_handle });
    assert_eq!(status(&r), CsStatus::OK);
    let (r, _) = n.ask(1, CmapRequest::IterNext { iter_handle });
    assert_eq!(status(&r), CsStatus::ERR_BAD_HANDLE);
}

#[test]
fn trackers_hear_changes_by_others_and_by_the_daemon_until_they_stop() {
    let mut n = Node::new();
    n.connect(1);
    n.connect(2);
    let (r, _) = n.ask(
        1,
        CmapRequest::TrackAdd {
            key: "uidgid.".into(),
            track_type: 1 | 2 | 4 | 8,
            track_inst_handle: 77,
        },
    );
    let CmapResponse::TrackAdd { track_handle, .. } = r else {
        panic!("{r:?}")
    };
    let (_, events) = n.ask(
        2,
        CmapRequest::Set {
            key: "uidgid.uid.0".into(),
            value: CmapValue::U8(1),
        },
    );
    assert_eq!(events.len(), 1);
    let (
        to,
        CmapEvent::Notify {
            track_inst_handle,
            key,
            event,
            new,
            old,
        },
    ) = &events[0];
    assert_eq!(
        (*to, *track_inst_handle, key.as_str(), *event),
        (1, 77, "uidgid.uid.0", 4)
    );
    assert_eq!((new.clone(), old.clone()), (Some(CmapValue::U8(1)), None));
    let (r, _) = n.ask(1, CmapRequest::TrackDelete { track_handle });
    assert_eq!(
        r,
        CmapResponse::TrackDelete {
            error: CsStatus::OK,
            track_inst_handle: 77
        }
    );
    let (_, events) = n.ask(
        2,
        CmapRequest::Delete {
            key: "uidgid.uid.0".into(),
        },
    );
    assert!(events.is_empty());
}

#[test]
fn a_client_that_goes_away_takes_its_trackers_and_a_bad_request_is_refused() {
    let mut n = Node::new();
    n.connect(1);
    n.ask(
        1,
        CmapRequest::TrackAdd {
            key: "totem.token".into(),
            track_type: 2,
            track_inst_handle: 1,
        },
    );
    n.services.handle_disconnect(ConnId(1));
    n.services
        .update_keys(|k| k.default.set("totem.token", CmapValue::U32(1)));
    assert!(n.services.poll_effect().is_none());

    n.connect(2);
    let mut unknown = CmapRequest::SetCurrentMap { map: 0 }
        .to_vec()
        .expect("encodes");
    unknown[0..4].copy_from_slice(&42i32.to_le_bytes());
    n.services.handle_request(ConnId(2), &unknown, 1 << 20);
    let Some(Effect::Reply { msg, .. }) = n.services.poll_effect() else {
        panic!("unknown request ids are answered")
    };
    assert_eq!(&msg[0..4], &0i32.to_le_bytes());
    assert_eq!(&msg[16..20], &CsStatus::ERR_INVALID_PARAM.0.to_le_bytes());
    n.services.handle_request(ConnId(2), &[1, 2, 3], 1 << 20);
    assert_eq!(
        n.services.poll_effect(),
        Some(Effect::Disconnect { conn: ConnId(2) })
    );
}
