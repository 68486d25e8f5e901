//! cmap: golden layouts written from the reference's offsets, values as cmapctl prints and
//! parses them, error cases, round trips.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::ipc::tests::{assert_prefixes_fail, golden, status};

fn key(s: &str) -> String {
    s.to_owned()
}

// ---- golden layouts -------------------------------------------------------------------

#[test]
fn set_layout() {
    let set = CmapRequest::Set {
        key: key("totem.token"),
        value: CmapValue::U32(5000),
    };
    let expected = golden(
        300,
        &[
            (0, &[0, 0, 0, 0]),
            (8, &[0x2c, 1, 0, 0]), // 296 + 4
            (16, &[11, 0]),        // key_name.length
            (24, b"totem.token"),  // key_name.value
            (280, &[4, 0, 0, 0, 0, 0, 0, 0]),
            (288, &[6]), // CMAP_VALUETYPE_UINT32
            (296, &[0x88, 0x13, 0, 0]),
        ],
    );
    assert_eq!(set.to_vec(), Ok(expected.clone()));
    assert_eq!(CmapRequest::decode(&expected), Ok(set));

    // A string's length counts its NUL.
    let set = CmapRequest::Set {
        key: key("totem.transport"),
        value: CmapValue::Str(b"udpu".to_vec()),
    };
    let expected = golden(
        301,
        &[
            (0, &[0, 0, 0, 0]),
            (8, &[0x2d, 1, 0, 0]),
            (16, &[15, 0]),
            (24, b"totem.transport"),
            (280, &[5, 0, 0, 0, 0, 0, 0, 0]),
            (288, &[11]),
            (296, b"udpu\0"),
        ],
    );
    assert_eq!(set.to_vec(), Ok(expected.clone()));
    assert_eq!(CmapRequest::decode(&expected), Ok(set.clone()));

    // libcmap callers may send strlen bytes without the NUL: the same value.
    let mut no_nul = expected[..300].to_vec();
    no_nul[8] = 0x2c;
    no_nul[280] = 4;
    assert_eq!(CmapRequest::decode(&no_nul), Ok(set));
}

#[test]
fn other_request_layouts() {
    let cases: Vec<(CmapRequest, Vec<u8>)> = vec![
        (
            CmapRequest::Delete { key: key("a.b") },
            golden(
                280,
                &[
                    (0, &[1, 0, 0, 0]),
                    (8, &[24, 1, 0, 0]),
                    (16, &[3, 0]),
                    (24, b"a.b"),
                ],
            ),
        ),
        (
            CmapRequest::Get {
                key: key("a.b"),
                value_len: 16,
            },
            golden(
                288,
                &[
                    (0, &[2, 0, 0, 0]),
                    (8, &[32, 1, 0, 0]),
                    (16, &[3, 0]),
                    (24, b"a.b"),
                    (280, &[16, 0, 0, 0, 0, 0, 0, 0]),
                ],
            ),
        ),
        (
            CmapRequest::AdjustInt {
                key: key("a.b"),
                step: -1,
            },
            golden(
                288,
                &[
                    (0, &[3, 0, 0, 0]),
                    (8, &[32, 1, 0, 0]),
                    (16, &[3, 0]),
                    (24, b"a.b"),
                    (280, &[0xff, 0xff, 0xff, 0xff]),
                ],
            ),
        ),
        (
            CmapRequest::IterInit {
                prefix: key("nodelist."),
            },
            golden(
                280,
                &[
                    (0, &[4, 0, 0, 0]),
                    (8, &[24, 1, 0, 0]),
                    (16, &[9, 0]),
                    (24, b"nodelist."),
                ],
            ),
        ),
        (
            CmapRequest::IterNext { iter_handle: 0x42 },
            golden(
                24,
                &[(0, &[5, 0, 0, 0]), (8, &[24, 0, 0, 0]), (16, &[0x42])],
            ),
        ),
        (
            CmapRequest::IterFinalize { iter_handle: 0x42 },
            golden(
                24,
                &[(0, &[6, 0, 0, 0]), (8, &[24, 0, 0, 0]), (16, &[0x42])],
            ),
        ),
        (
            CmapRequest::TrackAdd {
                key: key("totem."),
                track_type: cmap_track::ADD | cmap_track::DELETE | cmap_track::PREFIX,
                track_inst_handle: 0x1122_3344_5566_7788,
            },
            golden(
                296,
                &[
                    (0, &[7, 0, 0, 0]),
                    (8, &[40, 1, 0, 0]),
                    (16, &[6, 0]),
                    (24, b"totem."),
                    (280, &[13, 0, 0, 0]),
                    (288, &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]),
                ],
            ),
        ),
        (
            CmapRequest::TrackDelete { track_handle: 9 },
            golden(24, &[(0, &[8, 0, 0, 0]), (8, &[24, 0, 0, 0]), (16, &[9])]),
        ),
        (
            CmapRequest::SetCurrentMap {
                map: cmap_map::STATS,
            },
            golden(
                24,
                &[(0, &[9, 0, 0, 0]), (8, &[24, 0, 0, 0]), (16, &[1, 0, 0, 0])],
            ),
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(request.to_vec(), Ok(expected.clone()), "{request:?}");
        assert_eq!(
            request.response_id(),
            cmap_response_id_for(request.id()).unwrap()
        );
        assert_eq!(CmapRequest::decode(&expected), Ok(request));
    }
}

#[test]
fn get_replies_follow_corosync() {
    // cmap_get_uint32: a 16-byte buffer for a 4-byte value.
    let reply = CmapResponse::get_reply(Some(&CmapValue::U32(5000)), 16);
    let expected = golden(
        56,
        &[
            (0, &[2, 0, 0, 0]),
            (8, &[56, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[4, 0, 0, 0, 0, 0, 0, 0]), // the real length
            (32, &[6]),
            (40, &[0x88, 0x13, 0, 0]),
        ],
    );
    assert_eq!(reply.to_vec(), Ok(expected.clone()));
    assert_eq!(CmapResponse::decode(&expected), Ok(reply.clone()));
    assert_eq!(reply.get_value(), Some(Ok(CmapValue::U32(5000))));

    // cmap_get_string, first call: type and length only.
    let udpu = CmapValue::Str(b"udpu".to_vec());
    let reply = CmapResponse::get_reply(Some(&udpu), 0);
    let expected = golden(
        40,
        &[
            (0, &[2, 0, 0, 0]),
            (8, &[40, 0, 0, 0]),
            (16, &[1, 0, 0, 0]),
            (24, &[5, 0, 0, 0, 0, 0, 0, 0]),
            (32, &[11]),
        ],
    );
    assert_eq!(reply.to_vec(), Ok(expected.clone()));
    assert_eq!(CmapResponse::decode(&expected), Ok(reply.clone()));
    assert_eq!(reply.get_value(), None);
    // Second call, with the length just learnt.
    let reply = CmapResponse::get_reply(Some(&udpu), 5);
    assert_eq!(reply.encoded_len(), 45);
    assert_eq!(reply.get_value(), Some(Ok(udpu.clone())));

    // Errors are the bare 40 bytes.
    let missing = golden(
        40,
        &[
            (0, &[2, 0, 0, 0]),
            (8, &[40, 0, 0, 0]),
            (16, &[12, 0, 0, 0]),
        ],
    );
    assert_eq!(CmapResponse::get_reply(None, 16).to_vec(), Ok(missing));
    let small = CmapResponse::get_reply(Some(&udpu), 2);
    assert_eq!(small.error(), CsStatus::ERR_INVALID_PARAM);
    assert_eq!(small.encoded_len(), 40);
    let huge = CmapResponse::get_reply(Some(&udpu), u64::MAX);
    assert_eq!(huge.error(), CsStatus::ERR_NO_MEMORY);
}

#[test]
fn other_response_layouts() {
    let cases: Vec<(CmapResponse, Vec<u8>)> = vec![
        (
            CmapResponse::Status {
                id: cmap_response_id::SET_CURRENT_MAP,
                error: CsStatus::OK,
            },
            golden(
                24,
                &[
                    (0, &[10, 0, 0, 0]),
                    (8, &[24, 0, 0, 0]),
                    (16, &[1, 0, 0, 0]),
                ],
            ),
        ),
        (
            CmapResponse::IterInit {
                error: CsStatus::OK,
                iter_handle: 3,
            },
            golden(
                32,
                &[
                    (0, &[4, 0, 0, 0]),
                    (8, &[32, 0, 0, 0]),
                    (16, &[1, 0, 0, 0]),
                    (24, &[3]),
                ],
            ),
        ),
        (
            CmapResponse::IterNext {
                error: CsStatus::OK,
                key: key("totem.token"),
                value_len: 4,
                value_type: cmap_value_type::UINT32,
            },
            golden(
                304,
                &[
                    (0, &[5, 0, 0, 0]),
                    (8, &[48, 1, 0, 0]),
                    (16, &[1, 0, 0, 0]),
                    (24, &[11, 0]),
                    (32, b"totem.token"),
                    (288, &[4]),
                    (296, &[6]),
                ],
            ),
        ),
        (
            CmapResponse::TrackAdd {
                error: CsStatus::OK,
                track_handle: 5,
            },
            golden(
                32,
                &[
                    (0, &[7, 0, 0, 0]),
                    (8, &[32, 0, 0, 0]),
                    (16, &[1, 0, 0, 0]),
                    (24, &[5]),
                ],
            ),
        ),
        (
            CmapResponse::TrackDelete {
                error: CsStatus::OK,
                track_inst_handle: 6,
            },
            golden(
                32,
                &[
                    (0, &[8, 0, 0, 0]),
                    (8, &[32, 0, 0, 0]),
                    (16, &[1, 0, 0, 0]),
                    (24, &[6]),
                ],
            ),
        ),
    ];
    for (response, expected) in cases {
        assert_eq!(response.to_vec(), Ok(expected.clone()), "{response:?}");
        assert_eq!(CmapResponse::decode(&expected), Ok(response));
    }
    // The end of an iteration: NO_SECTIONS with an empty key.
    let end = golden(
        304,
        &[
            (0, &[5, 0, 0, 0]),
            (8, &[48, 1, 0, 0]),
            (16, &[27, 0, 0, 0]),
        ],
    );
    assert!(matches!(
        CmapResponse::decode(&end),
        Ok(CmapResponse::IterNext { error: CsStatus::ERR_NO_SECTIONS, key, .. }) if key.is_empty()
    ));
}

#[test]
fn notify_layout() {
    let event = CmapEvent::Notify {
        track_inst_handle: 0x77,
        key: key("a.b"),
        event: cmap_track::MODIFY,
        new: Some(CmapValue::U8(1)),
        old: Some(CmapValue::U16(0x0302)),
    };
    let expected = golden(
        339,
        &[
            (0, &[9, 0, 0, 0]),
            (8, &[0x53, 1, 0, 0]), // 336 + 1 + 2
            (16, &[1, 0, 0, 0]),
            (24, &[0x77]),
            (32, &[3, 0]),
            (40, b"a.b"),
            (296, &[2, 0, 0, 0]), // MODIFY
            (304, &[2]),          // new: UINT8
            (312, &[4]),          // old: UINT16
            (320, &[1]),
            (328, &[2]),
            (336, &[1, 2, 3]), // new then old
        ],
    );
    assert_eq!(event.to_vec(), Ok(expected.clone()));
    assert_eq!(CmapEvent::decode(&expected), Ok(event));

    // An add has no old value: type 0, length 0.
    let add = CmapEvent::Notify {
        track_inst_handle: 1,
        key: key("a.b"),
        event: cmap_track::ADD,
        new: Some(CmapValue::Str(b"x".to_vec())),
        old: None,
    };
    let bytes = add.to_vec().unwrap();
    assert_eq!(bytes.len(), 338);
    assert_eq!((bytes[312], bytes[328]), (0, 0));
    assert_eq!(&bytes[336..], b"x\0");
    assert_eq!(CmapEvent::decode(&bytes), Ok(add));
}

// ---- values -----------------------------------------------------------------------------

#[test]
fn values_print_as_cmapctl_does() {
    let cases: [(CmapValue, &str); 14] = [
        (CmapValue::I8(-5), "(i8) = -5"),
        (CmapValue::U8(255), "(u8) = 255"),
        (CmapValue::I16(-300), "(i16) = -300"),
        (CmapValue::U16(65535), "(u16) = 65535"),
        (CmapValue::I32(-1), "(i32) = -1"),
        (CmapValue::U32(5000), "(u32) = 5000"),
        (CmapValue::I64(i64::MIN), "(i64) = -9223372036854775808"),
        (CmapValue::U64(u64::MAX), "(u64) = 18446744073709551615"),
        (CmapValue::Float(1.5), "(flt) = 1.500000"),
        (CmapValue::Double(-0.1), "(dbl) = -0.100000"),
        (CmapValue::Double(f64::INFINITY), "(dbl) = inf"),
        (CmapValue::Float(f32::NAN), "(flt) = nan"),
        (CmapValue::Str(b"udpu".to_vec()), "(str) = udpu"),
        (
            CmapValue::Binary(b"a\\ \x01\xff".to_vec()),
            "(bin) = a\\\\ \\x01\\xFF",
        ),
    ];
    for (value, text) in cases {
        assert_eq!(value.to_string(), text);
    }
    // %s stops at the first NUL.
    assert_eq!(CmapValue::Str(b"ab\0cd".to_vec()).to_string(), "(str) = ab");
    // Plain cmapctl (no -b) prints only the type of a binary value.
    assert_eq!(format!("{:#}", CmapValue::Binary(vec![1])), "(bin)");
    assert_eq!(format!("{:#}", CmapValue::U8(1)), "(u8) = 1");
}

#[test]
fn values_parse_as_cmapctl_does() {
    let ok: [(&str, &str, CmapValue); 13] = [
        ("i8", "-128", CmapValue::I8(-128)),
        ("u8", "255", CmapValue::U8(255)),
        ("i16", "-2", CmapValue::I16(-2)),
        ("u16", "2", CmapValue::U16(2)),
        ("i32", "+7", CmapValue::I32(7)),
        ("u32", " 5000", CmapValue::U32(5000)),
        ("i64", "-9", CmapValue::I64(-9)),
        ("u64", "18446744073709551615", CmapValue::U64(u64::MAX)),
        ("flt", "1.5", CmapValue::Float(1.5)),
        ("dbl", "2e3", CmapValue::Double(2000.0)),
        ("str", "udpu", CmapValue::Str(b"udpu".to_vec())),
        ("str", "", CmapValue::Str(Vec::new())),
        ("bin", "raw", CmapValue::Binary(b"raw".to_vec())),
    ];
    for (type_name, text, value) in ok {
        assert_eq!(CmapValue::parse(type_name, text), Ok(value.clone()));
        assert_eq!(value.type_name(), type_name);
        assert_eq!(CmapValue::type_code_of(type_name), Some(value.type_code()));
    }
    assert_eq!(
        CmapValue::parse("u128", "1").unwrap_err().to_string(),
        "Unknown type u128"
    );
    assert_eq!(
        CmapValue::parse("u32", "x").unwrap_err().to_string(),
        "x is not valid u32 type value"
    );
    assert_eq!(
        CmapValue::parse("i8", "128").unwrap_err().to_string(),
        "128 is not valid i8 integer"
    );
    assert_eq!(
        CmapValue::parse("u16", "65536").unwrap_err().to_string(),
        "65536 is not valid u16 integer"
    );
}

#[test]
fn value_decoding_checks_type_and_length() {
    use cmap_value_type as t;
    assert_eq!(
        CmapValue::decode_value(t::UINT32, &[1, 0, 0, 0]),
        Ok(CmapValue::U32(1))
    );
    assert_eq!(
        CmapValue::decode_value(t::UINT32, &[1, 0, 0]),
        Err(IpcDecodeError::InvalidValue {
            what: "cmap value length",
            value: 3
        })
    );
    assert_eq!(
        CmapValue::decode_value(13, &[]),
        Err(IpcDecodeError::InvalidValue {
            what: "cmap value type",
            value: 13
        })
    );
    assert!(CmapValue::decode_value(0, &[]).is_err());
    // One trailing NUL is stripped, not more.
    assert_eq!(
        CmapValue::decode_value(t::STRING, b"a\0\0"),
        Ok(CmapValue::Str(b"a\0".to_vec()))
    );
    assert_eq!(
        CmapValue::decode_value(t::STRING, b""),
        Ok(CmapValue::Str(Vec::new()))
    );
    assert_eq!(CmapValue::Str(Vec::new()).encode_value(), [0]);
}

// ---- errors -------------------------------------------------------------------------------

#[test]
fn keys_are_bounded() {
    let long = CmapRequest::Delete {
        key: "k".repeat(CMAP_KEY_MAX + 1),
    };
    assert_eq!(
        long.to_vec(),
        Err(IpcEncodeError::BadString { len: 256, max: 255 })
    );
    let mut out = vec![7];
    assert!(long.encode(&mut out).is_err());
    assert_eq!(out, [7], "a failed encode leaves the buffer unchanged");
    assert!(
        CmapRequest::Delete {
            key: "k\0".to_owned()
        }
        .to_vec()
        .is_err()
    );

    let mut bytes = CmapRequest::Delete {
        key: "k".repeat(CMAP_KEY_MAX),
    }
    .to_vec()
    .unwrap();
    assert!(CmapRequest::decode(&bytes).is_ok());
    bytes[16..18].copy_from_slice(&256u16.to_le_bytes());
    assert_eq!(
        CmapRequest::decode(&bytes),
        Err(IpcDecodeError::StringTooLong {
            what: "cmap key",
            len: 256,
            max: 255
        })
    );
    bytes[16..18].copy_from_slice(&1u16.to_le_bytes());
    bytes[24] = 0xff;
    assert_eq!(
        CmapRequest::decode(&bytes),
        Err(IpcDecodeError::BadText { what: "cmap key" })
    );
}

#[test]
fn values_are_bounded() {
    let big = CmapRequest::Set {
        key: key("k"),
        value: CmapValue::Binary(vec![0; CMAP_VALUE_MAX + 1]),
    };
    assert!(matches!(
        big.to_vec(),
        Err(IpcEncodeError::PayloadTooLarge { .. })
    ));
    let fits = CmapRequest::Set {
        key: key("k"),
        value: CmapValue::Binary(vec![0; CMAP_VALUE_MAX]),
    };
    let bytes = fits.to_vec().unwrap();
    assert_eq!(CmapRequest::decode(&bytes), Ok(fits));

    // A value_len claiming more than any value may hold.
    let mut bytes = CmapRequest::Set {
        key: key("k"),
        value: CmapValue::U8(1),
    }
    .to_vec()
    .unwrap();
    bytes[280..288].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        CmapRequest::decode(&bytes),
        Err(IpcDecodeError::PayloadTooLarge { .. })
    ));
    // A string of CMAP_VALUE_MAX bytes without its NUL would not re-encode: refused.
    let mut set = golden(
        SET_VALUE + CMAP_VALUE_MAX,
        &[(16, &[1, 0]), (24, b"k"), (288, &[cmap_value_type::STRING])],
    );
    let size = (set.len() as i32).to_le_bytes();
    set[8..12].copy_from_slice(&size);
    set[280..288].copy_from_slice(&(CMAP_VALUE_MAX as u64).to_le_bytes());
    set[SET_VALUE..].fill(b'x');
    assert!(matches!(
        CmapRequest::decode(&set),
        Err(IpcDecodeError::PayloadTooLarge { .. })
    ));
}

#[test]
fn decode_errors() {
    // A set of an unknown type, and one whose length does not fit its type.
    let mut set = CmapRequest::Set {
        key: key("k"),
        value: CmapValue::U32(1),
    }
    .to_vec()
    .unwrap();
    set[288] = 13;
    assert!(matches!(
        CmapRequest::decode(&set),
        Err(IpcDecodeError::InvalidValue {
            what: "cmap value type",
            value: 13
        })
    ));
    set[288] = cmap_value_type::UINT64;
    assert!(matches!(
        CmapRequest::decode(&set),
        Err(IpcDecodeError::InvalidValue {
            what: "cmap value length",
            value: 4
        })
    ));
    // Id 9 is the notify event, never a response.
    let bytes = golden(24, &[(0, &[9, 0, 0, 0]), (8, &[24, 0, 0, 0])]);
    assert!(matches!(
        CmapResponse::decode(&bytes),
        Err(IpcDecodeError::UnknownId { id: 9, .. })
    ));
    // SET's response is header-only.
    let bytes = golden(32, &[(0, &[0, 0, 0, 0]), (8, &[32, 0, 0, 0])]);
    assert!(matches!(
        CmapResponse::decode(&bytes),
        Err(IpcDecodeError::TrailingBytes { extra: 8, .. })
    ));
    // A notification's "no value" has no bytes.
    let mut event = CmapEvent::Notify {
        track_inst_handle: 1,
        key: key("k"),
        event: cmap_track::ADD,
        new: Some(CmapValue::U8(1)),
        old: None,
    }
    .to_vec()
    .unwrap();
    event[304] = 0;
    assert!(CmapEvent::decode(&event).is_err());
    assert_eq!(cmap_response_id_for(10), None);
}

#[test]
fn a_nan_survives_the_round_trip_bit_for_bit() {
    let nan = f32::from_bits(0x7fc0_1234);
    let set = CmapRequest::Set {
        key: key("k"),
        value: CmapValue::Float(nan),
    };
    let bytes = set.to_vec().unwrap();
    let Ok(CmapRequest::Set {
        value: CmapValue::Float(back),
        ..
    }) = CmapRequest::decode(&bytes)
    else {
        panic!("a NaN float did not decode");
    };
    assert_eq!(back.to_bits(), nan.to_bits());
}

// ---- properties -----------------------------------------------------------------------

fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._/:-]{0,255}",
        any::<String>().prop_filter("a valid key", |k| k.len() <= CMAP_KEY_MAX
            && !k.contains('\0')),
    ]
}

pub(in crate::ipc) fn value() -> impl Strategy<Value = CmapValue> {
    let float = any::<f32>().prop_filter("not NaN", |f| !f.is_nan());
    let double = any::<f64>().prop_filter("not NaN", |f| !f.is_nan());
    prop_oneof![
        any::<i8>().prop_map(CmapValue::I8),
        any::<u8>().prop_map(CmapValue::U8),
        any::<i16>().prop_map(CmapValue::I16),
        any::<u16>().prop_map(CmapValue::U16),
        any::<i32>().prop_map(CmapValue::I32),
        any::<u32>().prop_map(CmapValue::U32),
        any::<i64>().prop_map(CmapValue::I64),
        any::<u64>().prop_map(CmapValue::U64),
        float.prop_map(CmapValue::Float),
        double.prop_map(CmapValue::Double),
        vec(any::<u8>(), 0..64).prop_map(CmapValue::Str),
        vec(any::<u8>(), 0..64).prop_map(CmapValue::Binary),
    ]
}

pub(in crate::ipc) fn cmap_request() -> impl Strategy<Value = CmapRequest> {
    prop_oneof![
        (any_key(), value()).prop_map(|(key, value)| CmapRequest::Set { key, value }),
        any_key().prop_map(|key| CmapRequest::Delete { key }),
        (any_key(), any::<u64>()).prop_map(|(key, value_len)| CmapRequest::Get { key, value_len }),
        (any_key(), any::<i32>()).prop_map(|(key, step)| CmapRequest::AdjustInt { key, step }),
        any_key().prop_map(|prefix| CmapRequest::IterInit { prefix }),
        any::<u64>().prop_map(|iter_handle| CmapRequest::IterNext { iter_handle }),
        any::<u64>().prop_map(|iter_handle| CmapRequest::IterFinalize { iter_handle }),
        (any_key(), any::<i32>(), any::<u64>()).prop_map(|(key, track_type, track_inst_handle)| {
            CmapRequest::TrackAdd {
                key,
                track_type,
                track_inst_handle,
            }
        }),
        any::<u64>().prop_map(|track_handle| CmapRequest::TrackDelete { track_handle }),
        any::<i32>().prop_map(|map| CmapRequest::SetCurrentMap { map }),
    ]
}

pub(in crate::ipc) fn cmap_response() -> impl Strategy<Value = CmapResponse> {
    let id = prop_oneof![0..=8, Just(10)];
    prop_oneof![
        (id, status()).prop_map(|(id, error)| CmapResponse::Status { id, error }),
        (status(), any::<u8>(), any::<u64>(), vec(any::<u8>(), 0..64)).prop_map(
            |(error, value_type, value_len, buffer)| CmapResponse::Get {
                error,
                value_type,
                value_len,
                buffer
            }
        ),
        (proptest::option::of(value()), 0u64..80)
            .prop_map(|(v, requested)| { CmapResponse::get_reply(v.as_ref(), requested) }),
        (status(), any::<u64>())
            .prop_map(|(error, iter_handle)| CmapResponse::IterInit { error, iter_handle }),
        (status(), any_key(), any::<u64>(), any::<u8>()).prop_map(
            |(error, key, value_len, value_type)| CmapResponse::IterNext {
                error,
                key,
                value_len,
                value_type
            }
        ),
        (status(), any::<u64>()).prop_map(|(error, track_handle)| CmapResponse::TrackAdd {
            error,
            track_handle
        }),
        (status(), any::<u64>()).prop_map(|(error, track_inst_handle)| {
            CmapResponse::TrackDelete {
                error,
                track_inst_handle,
            }
        }),
    ]
}

pub(in crate::ipc) fn cmap_event() -> impl Strategy<Value = CmapEvent> {
    (
        any::<u64>(),
        any_key(),
        any::<i32>(),
        proptest::option::of(value()),
        proptest::option::of(value()),
    )
        .prop_map(
            |(track_inst_handle, key, event, new, old)| CmapEvent::Notify {
                track_inst_handle,
                key,
                event,
                new,
                old,
            },
        )
}

proptest! {
    #[test]
    fn requests_round_trip(request in cmap_request()) {
        let bytes = request.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), request.encoded_len());
        prop_assert_eq!(CmapRequest::decode(&bytes), Ok(request));
        assert_prefixes_fail(&bytes, CmapRequest::decode);
    }

    #[test]
    fn responses_round_trip(response in cmap_response()) {
        let bytes = response.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), response.encoded_len());
        prop_assert_eq!(CmapResponse::decode(&bytes), Ok(response));
        assert_prefixes_fail(&bytes, CmapResponse::decode);
    }

    #[test]
    fn events_round_trip(event in cmap_event()) {
        let bytes = event.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), event.encoded_len());
        prop_assert_eq!(CmapEvent::decode(&bytes), Ok(event));
        assert_prefixes_fail(&bytes, CmapEvent::decode);
    }

    #[test]
    fn values_round_trip_and_print(value in value()) {
        let bytes = value.encode_value();
        prop_assert_eq!(bytes.len(), value.encoded_len());
        prop_assert_eq!(CmapValue::decode_value(value.type_code(), &bytes), Ok(value.clone()));
        // Every integer parses back from what it prints (floats print 6 decimals only).
        let printed = value.to_string();
        let text = printed.split_once(" = ").map_or("", |(_, t)| t);
        let exact = !matches!(
            value,
            CmapValue::Str(_) | CmapValue::Binary(_) | CmapValue::Float(_) | CmapValue::Double(_)
        );
        if exact {
            prop_assert_eq!(CmapValue::parse(value.type_name(), text), Ok(value.clone()));
        }
    }
}
