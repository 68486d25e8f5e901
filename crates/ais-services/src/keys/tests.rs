//! The store against a model: a `BTreeMap` and a list of trackers, driven by random
//! operations; values, errors, iteration and the notifications must all agree.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

#[test]
fn names_are_checked_like_icmap() {
    assert_eq!(check_name("totem.token"), Ok(()));
    assert_eq!(check_name("a.b"), Ok(()));
    assert_eq!(check_name("ab"), Err(KeyError::NameLength));
    assert_eq!(check_name(&"k".repeat(256)), Err(KeyError::NameLength));
    assert_eq!(check_name("bad key"), Err(KeyError::InvalidName));
    assert_eq!(check_name("uidgid.gid.189"), Ok(()));
}

#[test]
fn read_only_keys_are_refused_but_the_daemon_may_write_them() {
    let mut keys = Keys::default();
    keys.default
        .set("runtime.votequorum.this_node_id", CmapValue::U32(1));
    assert_eq!(
        keys.default
            .client_set("runtime.votequorum.this_node_id", CmapValue::U32(2)),
        Err(KeyError::ReadOnly)
    );
    assert_eq!(
        keys.default
            .client_delete("runtime.votequorum.this_node_id"),
        Err(KeyError::ReadOnly)
    );
    assert_eq!(
        keys.stats
            .client_set("stats.srp.orf_token_tx", CmapValue::U64(1)),
        Err(KeyError::ReadOnly)
    );
    assert_eq!(
        keys.default.client_set("totem.token", CmapValue::U32(5000)),
        Ok(())
    );
}

#[test]
fn read_only_entries_are_prefixes_with_a_dot_and_exact_names_without() {
    let mut keys = Keys::default();
    let read_only = Err(KeyError::ReadOnly);
    for (key, expected) in [
        ("runtime.config.totem.token", read_only),
        ("runtime.totem.pg.mrp.srp.members", read_only),
        ("internal_configuration.service.0.name", read_only),
        ("totem.crypto_cipher", read_only),
        ("quorum.wait_for_all", read_only),
        ("nodelist.local_node_pos", read_only),
        // As in corosync: other runtime keys (corosync-blackbox writes runtime.blackbox.*),
        // keys that merely start like a read-only name, and the tunable settings.
        ("runtime.blackbox.dump_flight_data", Ok(())),
        ("totem.crypto_cipher_extra", Ok(())),
        ("totem.token", Ok(())),
        ("quorum.expected_votes", Ok(())),
        ("nodelist.node.0.ring0_addr", Ok(())),
    ] {
        assert_eq!(
            keys.default.client_set(key, CmapValue::U8(1)),
            expected,
            "{key}"
        );
    }
}

#[test]
fn an_unchanged_value_notifies_nobody_and_adjust_wraps() {
    let mut s = Store::new(&[]);
    s.set("a.b.c", CmapValue::U8(255));
    s.track_add(ConnId(1), "a.b.", track::MODIFY | track::PREFIX, 7);
    s.set("a.b.c", CmapValue::U8(255));
    assert!(!s.has_notifications());
    s.client_adjust("a.b.c", 1).expect("adjust");
    assert_eq!(s.get("a.b.c"), Some(&CmapValue::U8(0)));
    let n = s.take_notifications();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].cookie, 7);
    assert_eq!(n[0].old, Some(CmapValue::U8(255)));
    s.set("a.b.s", CmapValue::Str(b"x".to_vec()));
    assert_eq!(s.client_adjust("a.b.s", 1), Err(KeyError::NotInteger));
}

#[test]
fn iteration_survives_changes_between_steps() {
    let mut s = Store::new(&[]);
    for k in ["n.1", "n.2", "n.3", "o.1"] {
        s.set(k, CmapValue::U32(1));
    }
    let first = s.next_key("n.", None).map(|(k, _)| k.to_owned());
    assert_eq!(first.as_deref(), Some("n.1"));
    s.delete("n.2");
    let second = s
        .next_key("n.", first.as_deref())
        .map(|(k, _)| k.to_owned());
    assert_eq!(second.as_deref(), Some("n.3"));
    assert_eq!(s.next_key("n.", second.as_deref()), None);
}

#[derive(Clone, Debug)]
enum Op {
    Set(usize, CmapValue),
    Daemon(usize, CmapValue),
    Delete(usize),
    Adjust(usize, i32),
    Track(u64, usize, i32),
    Untrack(u64, usize),
    Forget(u64),
    Iterate(usize),
}

/// A small alphabet of keys so operations collide; the last two are read-only.
const NAMES: [&str; 7] = [
    "aa.x",
    "aa.y",
    "aa.y.z",
    "ab.x",
    "b.q",
    "runtime.a",
    "runtime.b",
];
const PREFIXES: [&str; 4] = ["aa.", "a", "runtime.", "b.q"];

fn value() -> impl Strategy<Value = CmapValue> {
    prop_oneof![
        any::<u8>().prop_map(CmapValue::U8),
        any::<i16>().prop_map(CmapValue::I16),
        any::<u32>().prop_map(CmapValue::U32),
        any::<i64>().prop_map(CmapValue::I64),
        proptest::collection::vec(b'a'..=b'c', 0..4).prop_map(CmapValue::Str),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(CmapValue::Binary),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..NAMES.len();
    prop_oneof![
        (key.clone(), value()).prop_map(|(k, v)| Op::Set(k, v)),
        (key.clone(), value()).prop_map(|(k, v)| Op::Daemon(k, v)),
        key.clone().prop_map(Op::Delete),
        (key.clone(), -3..3i32).prop_map(|(k, s)| Op::Adjust(k, s)),
        (1..4u64, 0..NAMES.len() + PREFIXES.len(), 1..16i32)
            .prop_map(|(c, k, kind)| Op::Track(c, k, kind)),
        (1..4u64, 0..6usize).prop_map(|(c, h)| Op::Untrack(c, h)),
        (1..4u64).prop_map(Op::Forget),
        (0..PREFIXES.len()).prop_map(Op::Iterate),
    ]
}

/// The model's tracker: (conn, key, kind, cookie).
type ModelTracker = (u64, String, i32, u64);

fn model_notify(
    trackers: &BTreeMap<u64, ModelTracker>,
    out: &mut Vec<Notification>,
    key: &str,
    event: i32,
    new: Option<CmapValue>,
    old: Option<CmapValue>,
) {
    for (conn, tkey, kind, cookie) in trackers.values() {
        let hit = if kind & track::PREFIX != 0 {
            key.starts_with(tkey.as_str())
        } else {
            key == tkey
        };
        if hit && kind & event != 0 {
            out.push(Notification {
                conn: ConnId(*conn),
                cookie: *cookie,
                key: key.to_owned(),
                event,
                new: new.clone(),
                old: old.clone(),
            });
        }
    }
}

fn model_adjust(v: &CmapValue, step: i32) -> Option<CmapValue> {
    Some(match v {
        CmapValue::U8(x) => CmapValue::U8((i64::from(*x) + i64::from(step)).rem_euclid(256) as u8),
        CmapValue::I16(x) => CmapValue::I16(x.wrapping_add(step as i16)),
        CmapValue::U32(x) => {
            CmapValue::U32((i64::from(*x) + i64::from(step)).rem_euclid(1 << 32) as u32)
        }
        CmapValue::I64(x) => CmapValue::I64(x.wrapping_add(i64::from(step))),
        _ => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn store_behaves_like_a_btreemap_with_trackers(ops in proptest::collection::vec(op(), 1..60)) {
        let mut store = Store::new(&["runtime."]);
        let mut model: BTreeMap<String, CmapValue> = BTreeMap::new();
        let mut trackers: BTreeMap<u64, ModelTracker> = BTreeMap::new();
        let mut next_handle = 1u64;
        let mut expected: Vec<Notification> = Vec::new();
        for op in ops {
            match op {
                Op::Set(k, v) => {
                    let key = NAMES[k];
                    let got = store.client_set(key, v.clone());
                    if key.starts_with("runtime.") {
                        prop_assert_eq!(got, Err(KeyError::ReadOnly));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        model_set(&mut model, &trackers, &mut expected, key, v);
                    }
                }
                Op::Daemon(k, v) => {
                    let key = NAMES[k];
                    store.set(key, v.clone());
                    model_set(&mut model, &trackers, &mut expected, key, v);
                }
                Op::Delete(k) => {
                    let key = NAMES[k];
                    let got = store.client_delete(key);
                    if key.starts_with("runtime.") {
                        prop_assert_eq!(got, Err(KeyError::ReadOnly));
                    } else if let Some(old) = model.remove(key) {
                        prop_assert_eq!(got, Ok(()));
                        model_notify(&trackers, &mut expected, key, track::DELETE, None, Some(old));
                    } else {
                        prop_assert_eq!(got, Err(KeyError::NotExist));
                    }
                }
                Op::Adjust(k, step) => {
                    let key = NAMES[k];
                    let got = store.client_adjust(key, step);
                    if key.starts_with("runtime.") {
                        prop_assert_eq!(got, Err(KeyError::ReadOnly));
                    } else {
                        match model.get(key) {
                            None => prop_assert_eq!(got, Err(KeyError::NotExist)),
                            Some(old) => match model_adjust(old, step) {
                                None => prop_assert_eq!(got, Err(KeyError::NotInteger)),
                                Some(new) => {
                                    prop_assert_eq!(got, Ok(()));
                                    model_set(&mut model, &trackers, &mut expected, key, new);
                                }
                            },
                        }
                    }
                }
                Op::Track(conn, k, kind) => {
                    let key = NAMES.iter().chain(PREFIXES.iter()).nth(k).copied().unwrap_or("aa.");
                    let cookie = conn * 100 + next_handle;
                    let handle = store.track_add(ConnId(conn), key, kind, cookie);
                    prop_assert_eq!(handle, next_handle);
                    trackers.insert(handle, (conn, key.to_owned(), kind, cookie));
                    next_handle += 1;
                }
                Op::Untrack(conn, handle) => {
                    let got = store.track_delete(ConnId(conn), handle as u64);
                    let want = match trackers.get(&(handle as u64)) {
                        Some(t) if t.0 == conn => trackers.remove(&(handle as u64)).map(|t| t.3),
                        _ => None,
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Forget(conn) => {
                    // Pending notifications for the client go with it.
                    prop_assert_eq!(store.take_notifications(), std::mem::take(&mut expected));
                    store.forget(ConnId(conn));
                    trackers.retain(|_, t| t.0 != conn);
                }
                Op::Iterate(p) => {
                    let prefix = PREFIXES[p];
                    let mut walked = Vec::new();
                    let mut after: Option<String> = None;
                    while let Some((k, v)) = store.next_key(prefix, after.as_deref()) {
                        walked.push((k.to_owned(), v.clone()));
                        after = Some(k.to_owned());
                    }
                    let want: Vec<(String, CmapValue)> = model
                        .iter()
                        .filter(|(k, _)| k.starts_with(prefix))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let direct: Vec<(String, CmapValue)> = store
                        .prefixed(prefix)
                        .map(|(k, v)| (k.to_owned(), v.clone()))
                        .collect();
                    prop_assert_eq!(&walked, &want);
                    prop_assert_eq!(&direct, &want);
                }
            }
            for (k, v) in &model {
                prop_assert_eq!(store.get(k), Some(v));
            }
            prop_assert_eq!(store.len(), model.len());
        }
        prop_assert_eq!(store.take_notifications(), expected);
    }
}

fn model_set(
    model: &mut BTreeMap<String, CmapValue>,
    trackers: &BTreeMap<u64, ModelTracker>,
    expected: &mut Vec<Notification>,
    key: &str,
    v: CmapValue,
) {
    match model.insert(key.to_owned(), v.clone()) {
        None => model_notify(trackers, expected, key, track::ADD, Some(v), None),
        Some(old) if old != v => {
            model_notify(trackers, expected, key, track::MODIFY, Some(v), Some(old))
        }
        Some(_) => {}
    }
}
