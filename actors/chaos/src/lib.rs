//! The chaos actor: misbehaves on demand, so host tests can check that one bad
//! actor never takes the host down.
//!
//! | operation        | payload                                   | does |
//! |------------------|-------------------------------------------|------|
//! | `Trap`           | ignored                                   | executes `unreachable`: the instance traps |
//! | `Panic`          | ignored                                   | panics (message logged via `__console_log`), then traps |
//! | `Loop`           | ignored                                   | loops forever, never returns |
//! | `Bomb`           | ignored                                   | allocates and touches 1 MiB blocks, keeping them all, until memory runs out and it traps |
//! | `Echo`           | anything                                  | returns the payload |
//! | `Fail`           | ignored                                   | fails with `chaos failed on purpose` |
//! | `CallCapability` | `capid\|binding\|operation\|body` text, or msgpack `{capid, binding, operation, body: bin}` | host call; returns its result, or fails with the host's error text verbatim |
//! | `CallActor`      | `actorkey\|operation\|body` text, or msgpack `{actor, operation, body: bin}` | calls that actor; result or its error, as above |
//! | `RepeatCall`     | `count\|capid\|binding\|operation\|body` text | makes that host call `count` times in this one invocation (benchmarks subtract `count` = 0 to get the cost of one host call); returns the last result (empty for 0), or fails with the first error |
//! | `SlowCall`       | milliseconds as text, e.g. `250`          | host-calls capability `trellis:chaos` op `Sleep` (binding `default`) with the payload, then returns `done` |
//! | `HandleRequest`  | HTTP request                              | `/sleep/<ms>`: `SlowCall` then 200 `slept`; `/trap`: `Trap`; else 200 with the path as body |
//! | `HealthRequest`  | `{placeholder}`                           | empty reply |
//!
//! In the text forms the last field (the body) may itself contain `|`; a
//! missing body is empty. An empty binding is passed to the host as is (the
//! host reads it as `default`).

#![deny(unsafe_code)]

use serde::Deserialize;
use trellis_actor::codec;
use trellis_actor::{actor, host_call, http, HandlerResult, DEFAULT_BINDING};

/// The capability `SlowCall` uses; the host test harness provides it.
pub const CHAOS_CAPABILITY: &str = "trellis:chaos";
/// The operation of [`CHAOS_CAPABILITY`] that sleeps for the payload's milliseconds.
pub const OP_SLEEP: &str = "Sleep";

trellis_actor::actor! {
    "Trap" => trap_op,
    "Panic" => panic_op,
    "Loop" => endless_loop,
    "Bomb" => bomb,
    "Echo" => echo,
    "Fail" => fail,
    "CallCapability" => call_capability,
    "CallActor" => call_actor,
    "RepeatCall" => repeat_call,
    "SlowCall" => slow_call,
    http::OP_HANDLE_REQUEST => handle_request,
    trellis_actor::OP_HEALTH_REQUEST => trellis_actor::health,
}

/// Traps the instance right here.
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("chaos trap (native build: a panic stands in for `unreachable`)");
}

fn trap_op(_: &[u8]) -> HandlerResult {
    trap()
}

fn panic_op(_: &[u8]) -> HandlerResult {
    panic!("chaos panicked on purpose")
}

fn endless_loop(_: &[u8]) -> HandlerResult {
    let mut n: u64 = 0;
    loop {
        n = core::hint::black_box(n).wrapping_add(1);
    }
}

fn bomb(_: &[u8]) -> HandlerResult {
    const MIB: usize = 1 << 20;
    const PAGE: usize = 64 << 10;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; MIB];
        // Write every wasm page so the memory is really used.
        for i in (0..MIB).step_by(PAGE) {
            block[i] = 0xA5;
        }
        hoard.push(core::hint::black_box(block));
        core::hint::black_box(&mut hoard);
    }
}

fn echo(payload: &[u8]) -> HandlerResult {
    Ok(payload.to_vec())
}

fn fail(_: &[u8]) -> HandlerResult {
    Err("chaos failed on purpose".into())
}

/// Whether `payload` starts with a msgpack map (fixmap, map16, map32); text never does.
fn is_msgpack_map(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CapabilityCall {
    capid: String,
    binding: String,
    operation: String,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActorCall {
    actor: String,
    operation: String,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

/// Splits `f1|…|fN|body` into `N` text fields and the raw body; the body
/// (with its `|`) may be missing, and may itself contain `|`.
fn split_text<const N: usize>(
    payload: &[u8],
    usage: &str,
) -> HandlerResult<([String; N], Vec<u8>)> {
    let mut parts = payload.splitn(N + 1, |&b| b == b'|');
    let mut fields: [String; N] = std::array::from_fn(|_| String::new());
    for field in fields.iter_mut() {
        let part = parts
            .next()
            .ok_or_else(|| format!("bad payload, want {usage}"))?;
        *field = String::from_utf8_lossy(part).into_owned();
    }
    Ok((fields, parts.next().unwrap_or_default().to_vec()))
}

fn call_capability(payload: &[u8]) -> HandlerResult {
    let call = if is_msgpack_map(payload) {
        codec::decode::<CapabilityCall>(payload)?
    } else {
        let ([capid, binding, operation], body) =
            split_text(payload, "capid|binding|operation|body")?;
        CapabilityCall {
            capid,
            binding,
            operation,
            body,
        }
    };
    Ok(host_call(
        &call.binding,
        &call.capid,
        &call.operation,
        &call.body,
    )?)
}

fn call_actor(payload: &[u8]) -> HandlerResult {
    let call = if is_msgpack_map(payload) {
        codec::decode::<ActorCall>(payload)?
    } else {
        let ([actor, operation], body) = split_text(payload, "actorkey|operation|body")?;
        ActorCall {
            actor,
            operation,
            body,
        }
    };
    Ok(actor::call(&call.actor, &call.operation, &call.body)?)
}

fn repeat_call(payload: &[u8]) -> HandlerResult {
    let usage = "count|capid|binding|operation|body";
    let ([count, capid, binding, operation], body) = split_text(payload, usage)?;
    let count: u32 = count
        .parse()
        .map_err(|_| format!("bad count '{count}', want {usage}"))?;
    let mut last = Vec::new();
    for _ in 0..count {
        last = host_call(&binding, &capid, &operation, &body)?;
    }
    Ok(last)
}

fn slow_call(payload: &[u8]) -> HandlerResult {
    host_call(DEFAULT_BINDING, CHAOS_CAPABILITY, OP_SLEEP, payload)?;
    Ok(b"done".to_vec())
}

fn handle_request(payload: &[u8]) -> HandlerResult {
    http::handle(payload, |request| {
        if let Some(ms) = request.path.strip_prefix("/sleep/") {
            slow_call(ms.as_bytes())?;
            Ok(http::ok("slept"))
        } else if request.path == "/trap" {
            trap()
        } else {
            Ok(http::ok(request.path))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use trellis_actor::testing::{call, set_host};

    type Seen = Rc<RefCell<Vec<(String, String, String, Vec<u8>)>>>;

    fn host(reply: Result<Vec<u8>, String>) -> Seen {
        let seen: Seen = Rc::default();
        let log = seen.clone();
        set_host(move |b, ns, op, p| {
            log.borrow_mut()
                .push((b.into(), ns.into(), op.into(), p.to_vec()));
            reply.clone()
        });
        seen
    }

    fn http_get(path: &str) -> Result<http::Response, String> {
        let request = http::Request {
            method: "GET".into(),
            path: path.into(),
            ..Default::default()
        };
        let reply = call("HandleRequest", &codec::encode(&request).unwrap())?;
        Ok(codec::decode(&reply).unwrap())
    }

    #[test]
    #[should_panic(expected = "chaos trap")]
    fn trap_stops_the_call() {
        wapc_init();
        let _ = call("Trap", b"");
    }

    #[test]
    fn simple_operations() {
        wapc_init();
        assert_eq!(call("Echo", b"abc").unwrap(), b"abc");
        assert_eq!(call("Fail", b"").unwrap_err(), "chaos failed on purpose");
        assert_eq!(call("Nope", b"").unwrap_err(), "bad dispatch: Nope");
    }

    #[test]
    fn call_capability_text_and_msgpack() {
        wapc_init();
        let seen = host(Ok(b"ok".to_vec()));
        assert_eq!(
            call("CallCapability", b"wascc:keyvalue|default|Get|a|b").unwrap(),
            b"ok"
        );
        assert_eq!(
            call("CallCapability", b"wascc:logging||WriteLog").unwrap(),
            b"ok"
        );
        #[derive(serde::Serialize)]
        struct Msg<'a> {
            capid: &'a str,
            binding: &'a str,
            operation: &'a str,
            #[serde(with = "serde_bytes")]
            body: &'a [u8],
        }
        let msg = codec::encode(&Msg {
            capid: "c",
            binding: "b",
            operation: "o",
            body: &[0, 1],
        })
        .unwrap();
        assert_eq!(call("CallCapability", &msg).unwrap(), b"ok");
        let seen = seen.borrow();
        assert_eq!(
            seen[0],
            (
                "default".into(),
                "wascc:keyvalue".into(),
                "Get".into(),
                b"a|b".to_vec()
            )
        );
        assert_eq!(
            seen[1],
            ("".into(), "wascc:logging".into(), "WriteLog".into(), vec![])
        );
        assert_eq!(seen[2], ("b".into(), "c".into(), "o".into(), vec![0, 1]));
        assert!(call("CallCapability", b"just-one-field")
            .unwrap_err()
            .contains("bad payload"));
        assert!(call("CallActor", b"").unwrap_err().contains("bad payload"));
    }

    #[test]
    fn call_errors_come_back_verbatim() {
        wapc_init();
        host(Err("capability wascc:keyvalue not allowed".into()));
        assert_eq!(
            call("CallCapability", b"wascc:keyvalue|default|Get|").unwrap_err(),
            "capability wascc:keyvalue not allowed"
        );
        assert_eq!(
            call("CallActor", b"MABC|Echo|hi").unwrap_err(),
            "capability wascc:keyvalue not allowed"
        );
    }

    #[test]
    fn call_actor_uses_the_key_as_namespace() {
        wapc_init();
        let seen = host(Ok(b"pong".to_vec()));
        assert_eq!(call("CallActor", b"MABC|Echo|hi").unwrap(), b"pong");
        assert_eq!(
            seen.borrow()[0],
            (
                "default".into(),
                "MABC".into(),
                "Echo".into(),
                b"hi".to_vec()
            )
        );
    }

    #[test]
    fn repeat_call_calls_count_times() {
        wapc_init();
        let seen = host(Ok(b"n".to_vec()));
        assert_eq!(
            call("RepeatCall", b"0|wascc:extras||RequestGuid|").unwrap(),
            b""
        );
        assert!(seen.borrow().is_empty());
        assert_eq!(
            call("RepeatCall", b"3|wascc:extras||RequestGuid|x").unwrap(),
            b"n"
        );
        assert_eq!(seen.borrow().len(), 3);
        assert_eq!(
            seen.borrow()[2],
            (
                "".into(),
                "wascc:extras".into(),
                "RequestGuid".into(),
                b"x".to_vec()
            )
        );
        assert!(call("RepeatCall", b"many|a|b|c|")
            .unwrap_err()
            .contains("bad count"));
        host(Err("refused".into()));
        assert_eq!(
            call("RepeatCall", b"2|wascc:extras||RequestGuid|").unwrap_err(),
            "refused"
        );
    }

    #[test]
    fn slow_call_and_http() {
        wapc_init();
        let seen = host(Ok(Vec::new()));
        assert_eq!(call("SlowCall", b"25").unwrap(), b"done");
        let slept = http_get("/sleep/40").unwrap();
        assert_eq!(
            (slept.status_code, slept.body.as_slice()),
            (200, &b"slept"[..])
        );
        let other = http_get("/a/b").unwrap();
        assert_eq!(
            (other.status_code, other.body.as_slice()),
            (200, &b"/a/b"[..])
        );
        let seen = seen.borrow();
        assert_eq!(
            seen[0],
            (
                "default".into(),
                "trellis:chaos".into(),
                "Sleep".into(),
                b"25".to_vec()
            )
        );
        assert_eq!(seen[1].3, b"40");
        drop(seen);
        host(Err("no sleeping here".into()));
        assert_eq!(http_get("/sleep/1").unwrap_err(), "no sleeping here");
    }
}
