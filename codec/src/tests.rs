//! Round trips of every payload through MessagePack, checked against the
//! byte layouts waSCC actors and providers expect.

use super::*;
use std::collections::HashMap;

#[test]
fn structs_are_maps_with_camel_case_keys_and_bin_bodies() {
    let response = http::Response {
        status_code: 200,
        status: "OK".into(),
        header: HashMap::new(),
        body: b"hi".to_vec(),
    };
    let bytes = encode(&response).unwrap();
    // fixmap of 4 entries, first key "statusCode"
    assert_eq!(bytes[0], 0x84);
    assert_eq!(&bytes[1..12], b"\xaastatusCode");
    // the body is bin8 (0xc4), not a string or an array
    let tail = &bytes[bytes.len() - 4..];
    assert_eq!(tail, b"\xc4\x02hi");
}

#[test]
fn signed_integers_use_signed_formats_only() {
    let cases: [(i64, &[u8]); 9] = [
        (0, &[0x00]),
        (127, &[0x7f]),
        (128, &[0xd1, 0x00, 0x80]),
        (200, &[0xd1, 0x00, 0xc8]),
        (-1, &[0xd0, 0xff]),
        (-128, &[0xd0, 0x80]),
        (40_000, &[0xd2, 0x00, 0x00, 0x9c, 0x40]),
        (-40_000, &[0xd2, 0xff, 0xff, 0x63, 0xc0]),
        (1 << 40, &[0xd3, 0, 0, 1, 0, 0, 0, 0, 0]),
    ];
    for (value, expected) in cases {
        assert_eq!(encode(&value).unwrap(), expected, "encoding {value}");
        assert_eq!(decode::<i64>(expected).unwrap(), value);
    }
    assert_eq!(encode(&200i32).unwrap(), [0xd1, 0x00, 0xc8]);
}

#[test]
fn unsigned_integers_stay_compact() {
    assert_eq!(encode(&200u32).unwrap(), [0xcc, 0xc8]);
    assert_eq!(encode(&5u32).unwrap(), [0x05]);
}

#[test]
fn decoding_accepts_arrays_unknown_keys_and_trailing_bytes() {
    // {"key": "a", "extra": 1} followed by a stray zero byte
    let mut bytes = vec![0x82, 0xa3, b'k', b'e', b'y', 0xa1, b'a'];
    bytes.extend_from_slice(&[0xa5, b'e', b'x', b't', b'r', b'a', 0x01, 0x00]);
    let request: keyvalue::KeyRequest = decode(&bytes).unwrap();
    assert_eq!(request.key, "a");

    // the same struct written as an array
    let as_array = [0x91, 0xa1, b'b'];
    assert_eq!(decode::<keyvalue::KeyRequest>(&as_array).unwrap().key, "b");
}

#[test]
fn decoding_accepts_unsigned_formats_for_signed_fields() {
    // {"value": uint8 200}
    let bytes = [0x81, 0xa5, b'v', b'a', b'l', b'u', b'e', 0xcc, 0xc8];
    assert_eq!(decode::<keyvalue::AddResponse>(&bytes).unwrap().value, 200);
}

#[test]
fn missing_fields_take_defaults() {
    let empty_map = [0x80];
    let request: http::Request = decode(&empty_map).unwrap();
    assert_eq!(request, http::Request::default());
}

#[test]
fn garbage_is_a_decode_error_naming_the_type() {
    let err = decode::<http::Request>(&[0xc1]).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot decode http::Request"),
        "{err}"
    );
}

#[test]
fn health_request_is_never_empty() {
    let bytes = encode(&core::HealthRequest { placeholder: true }).unwrap();
    assert_eq!(bytes, b"\x81\xabplaceholder\xc3");
}

#[test]
fn every_wire_type_roundtrips() {
    let message = messaging::BrokerMessage {
        subject: "s".into(),
        reply_to: "r".into(),
        body: vec![1, 2, 3],
    };
    assert_eq!(
        decode::<messaging::BrokerMessage>(&encode(&message).unwrap()).unwrap(),
        message
    );
    let config = core::CapabilityConfiguration {
        module: "M".into(),
        values: HashMap::from([("PORT".to_string(), "8080".to_string())]),
    };
    assert_eq!(
        decode::<core::CapabilityConfiguration>(&encode(&config).unwrap()).unwrap(),
        config
    );
    let range = keyvalue::RangeRequest {
        key: "k".into(),
        start: -3,
        stop: 300,
    };
    assert_eq!(
        decode::<keyvalue::RangeRequest>(&encode(&range).unwrap()).unwrap(),
        range
    );
    let log = logging::WriteLogRequest {
        level: logging::level::INFO,
        body: "x".into(),
    };
    assert_eq!(
        decode::<logging::WriteLogRequest>(&encode(&log).unwrap()).unwrap(),
        log
    );
}
