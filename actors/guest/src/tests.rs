//! Native tests against the stand-in host of `testing`.

use crate::codec::{self, keyvalue as kv, logging::WriteLogRequest};
use crate::testing::{self, call, set_host, take_console};
use crate::{host_call, register_function, HandlerResult, HostError};
use std::cell::RefCell;
use std::rc::Rc;

type Seen = Rc<RefCell<Vec<(String, String, String, Vec<u8>)>>>;

/// Records every host call and answers with `reply`.
fn recording_host(reply: Result<Vec<u8>, String>) -> Seen {
    let seen: Seen = Rc::default();
    let log = seen.clone();
    set_host(move |b, ns, op, payload| {
        log.borrow_mut()
            .push((b.to_owned(), ns.to_owned(), op.to_owned(), payload.to_vec()));
        reply.clone()
    });
    seen
}

fn reverse(payload: &[u8]) -> HandlerResult {
    Ok(payload.iter().rev().copied().collect())
}

fn refuse(_: &[u8]) -> HandlerResult {
    Err("refused on purpose".into())
}

#[test]
fn dispatches_to_the_registered_handler() {
    register_function("test.Reverse", reverse);
    assert_eq!(call("test.Reverse", b"abc").unwrap(), b"cba");
    assert_eq!(call("test.Reverse", b"").unwrap(), b"");
}

#[test]
fn unknown_operation_is_bad_dispatch() {
    assert_eq!(
        call("test.Nope", b"x").unwrap_err(),
        "bad dispatch: test.Nope"
    );
}

#[test]
fn handler_error_becomes_guest_error() {
    register_function("test.Refuse", refuse);
    assert_eq!(call("test.Refuse", b"").unwrap_err(), "refused on purpose");
}

#[test]
fn health_answers_a_health_request_and_refuses_other_payloads() {
    register_function(crate::OP_HEALTH_REQUEST, crate::health);
    let ping = codec::encode(&codec::core::HealthRequest { placeholder: true }).unwrap();
    assert_eq!(call(crate::OP_HEALTH_REQUEST, &ping).unwrap(), b"");
    assert!(call(crate::OP_HEALTH_REQUEST, b"").is_err());
    assert!(call(crate::OP_HEALTH_REQUEST, &[0xc1]).is_err());
}

#[test]
fn negative_lengths_are_refused_without_fetching() {
    assert_eq!(crate::__guest_call(-1, 0), 0);
}

#[test]
fn host_call_passes_everything_and_returns_the_result() {
    let seen = recording_host(Ok(b"result".to_vec()));
    assert_eq!(host_call("b", "ns", "Op", b"payload").unwrap(), b"result");
    assert_eq!(
        seen.borrow()[0],
        ("b".into(), "ns".into(), "Op".into(), b"payload".to_vec())
    );
}

#[test]
fn host_call_empty_result() {
    recording_host(Ok(Vec::new()));
    assert_eq!(host_call("default", "ns", "Op", b"").unwrap(), b"");
}

#[test]
fn host_call_failure_returns_the_host_error() {
    recording_host(Err("not allowed: wascc:keyvalue".into()));
    let err = host_call("default", "wascc:keyvalue", "Get", b"").unwrap_err();
    assert_eq!(err, HostError("not allowed: wascc:keyvalue".into()));
    assert_eq!(err.to_string(), "not allowed: wascc:keyvalue");
}

#[test]
fn host_call_without_host_fails_cleanly() {
    testing::clear_host();
    assert!(host_call("default", "ns", "Op", b"").is_err());
}

#[test]
fn keyvalue_add_encodes_and_decodes() {
    let reply = codec::encode(&kv::AddResponse { value: 200 }).unwrap();
    let seen = recording_host(Ok(reply));
    assert_eq!(crate::keyvalue::add("counter", 5).unwrap(), 200);
    let (b, ns, op, payload) = seen.borrow()[0].clone();
    assert_eq!(
        (b.as_str(), ns.as_str(), op.as_str()),
        ("default", "wascc:keyvalue", "Add")
    );
    let request: kv::AddRequest = codec::decode(&payload).unwrap();
    assert_eq!(
        request,
        kv::AddRequest {
            key: "counter".into(),
            value: 5
        }
    );
}

#[test]
fn keyvalue_get_missing_is_none() {
    let reply = codec::encode(&kv::GetResponse {
        value: String::new(),
        exists: false,
    })
    .unwrap();
    recording_host(Ok(reply));
    assert_eq!(crate::keyvalue::get("nope").unwrap(), None);
}

#[test]
fn keyvalue_on_named_binding() {
    let reply = codec::encode(&kv::ValuesResponse {
        values: vec!["a".into()],
    })
    .unwrap();
    let seen = recording_host(Ok(reply));
    let values = crate::keyvalue::KeyValue::on("other")
        .set_union(&["s1", "s2"])
        .unwrap();
    assert_eq!(values, ["a"]);
    let (b, _, op, payload) = seen.borrow()[0].clone();
    assert_eq!((b.as_str(), op.as_str()), ("other", "SetUnion"));
    let request: kv::KeysRequest = codec::decode(&payload).unwrap();
    assert_eq!(request.keys, ["s1", "s2"]);
}

#[test]
fn typed_call_reports_host_and_codec_errors() {
    recording_host(Err("no provider".into()));
    assert!(matches!(
        crate::keyvalue::add("k", 1),
        Err(crate::Error::Host(_))
    ));
    recording_host(Ok(vec![0xc1])); // never-used msgpack byte
    assert!(matches!(
        crate::keyvalue::add("k", 1),
        Err(crate::Error::Codec(_))
    ));
}

#[test]
fn logging_write_sends_write_log() {
    let seen = recording_host(Ok(Vec::new()));
    crate::logging::write(crate::logging::level::WARN, "careful").unwrap();
    let (_, ns, op, payload) = seen.borrow()[0].clone();
    assert_eq!((ns.as_str(), op.as_str()), ("wascc:logging", "WriteLog"));
    let request: WriteLogRequest = codec::decode(&payload).unwrap();
    assert_eq!(
        request,
        WriteLogRequest {
            level: 2,
            body: "careful".into()
        }
    );
}

#[test]
fn actor_call_uses_the_key_as_namespace() {
    let seen = recording_host(Ok(b"pong".to_vec()));
    let key = "MB4OLDIC3TCZ4Q4TGGOVAZC43VXFE2JQVRAXQMQFXUCREOOFEKOKZTY2";
    assert_eq!(crate::actor::call(key, "Ping", b"ping").unwrap(), b"pong");
    let (b, ns, op, _) = seen.borrow()[0].clone();
    assert_eq!(
        (b.as_str(), ns.as_str(), op.as_str()),
        ("default", key, "Ping")
    );
}

#[test]
fn http_client_request_puts_the_url_in_path() {
    let reply = codec::encode(&crate::http::ok("fine")).unwrap();
    let seen = recording_host(Ok(reply));
    let response =
        crate::http_client::request("POST", "http://x/y?z=1", &[("a", "b")], b"body".to_vec())
            .unwrap();
    assert_eq!(response.body, b"fine");
    let (_, ns, op, payload) = seen.borrow()[0].clone();
    assert_eq!(
        (ns.as_str(), op.as_str()),
        ("wascc:http_client", "PerformRequest")
    );
    let request: crate::http::Request = codec::decode(&payload).unwrap();
    assert_eq!(request.path, "http://x/y?z=1");
    assert_eq!(request.header["a"], "b");
}

#[test]
fn http_handle_round_trip() {
    fn handler(payload: &[u8]) -> HandlerResult {
        use crate::http::ResponseExt;
        crate::http::handle(payload, |r| {
            Ok(crate::http::ok(r.path).with_header("x", "y"))
        })
    }
    register_function("test.Http", handler);
    let request = crate::http::Request {
        path: "/p".into(),
        ..Default::default()
    };
    let reply = call("test.Http", &codec::encode(&request).unwrap()).unwrap();
    let response: crate::http::Response = codec::decode(&reply).unwrap();
    assert_eq!(
        (response.status_code, response.status.as_str()),
        (200, "OK")
    );
    assert_eq!(response.body, b"/p");
    assert_eq!(response.header["x"], "y");
    assert!(call("test.Http", b"")
        .unwrap_err()
        .contains("cannot decode"));
}

#[test]
fn console_log_reaches_the_host() {
    take_console();
    crate::console_log("hello");
    assert_eq!(take_console(), ["hello"]);
}
