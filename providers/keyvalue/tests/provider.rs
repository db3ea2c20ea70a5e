//! Bindings, the `Provider` trait, and Redis going away and coming back.

mod common;

use common::{redis_values, Kv};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use trellis_codec::keyvalue::{op, AddRequest, AddResponse};
use trellis_codec::{decode, encode};
use trellis_provider_keyvalue::{KeyValue, KeyValueProvider, OPERATIONS};
use trellis_provider_sdk::{ActorBinding, Call, Provider};
use trellis_test_support::{eventually, RedisServer};

const A: &str = "MACTORA";
const B: &str = "MACTORB";

fn as_actor<'a>(kv: &'a KeyValue, actor: &'a str) -> Kv<'a> {
    Kv { kv, actor }
}

#[test]
fn descriptor_lists_every_operation() {
    let d = KeyValueProvider::new().descriptor();
    assert_eq!(d.capability_id, "wascc:keyvalue");
    assert_eq!(d.name, "Key-Value");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    let expected = [
        "Get",
        "Set",
        "Add",
        "Del",
        "KeyExists",
        "Push",
        "ListItemDelete",
        "Clear",
        "Range",
        "SetAdd",
        "SetRemove",
        "SetQuery",
        "SetUnion",
        "SetIntersection",
    ];
    assert_eq!(d.operations, expected);
    assert_eq!(OPERATIONS, expected);
}

#[tokio::test]
async fn provider_trait_binds_calls_and_unbinds() {
    let provider = KeyValueProvider::new();
    let add = |actor: &str| Call {
        actor: actor.into(),
        operation: op::ADD.into(),
        payload: encode(&AddRequest {
            key: "n".into(),
            value: 2,
        })
        .unwrap(),
    };
    let e = provider.handle_call(add(A)).await.unwrap_err();
    assert_eq!(e.message(), "actor MACTORA is not bound to wascc:keyvalue");
    let mut garbage = add(A);
    garbage.payload = vec![0xc1];
    let e = provider.handle_call(garbage).await.unwrap_err();
    assert_eq!(e.message(), "actor MACTORA is not bound to wascc:keyvalue");

    // The host adds the actor's claims to the values: they select nothing.
    let binding = ActorBinding::new(
        A,
        &[
            ("__wascc_issuer", "AISSUER"),
            ("__wascc_capabilities", "wascc:keyvalue"),
            ("__wascc_name", "kvcounter"),
        ],
    );
    provider.bind_actor(binding.clone()).unwrap();
    assert_eq!(provider.store().backend(A).as_deref(), Some("memory"));
    let reply: AddResponse = decode(&provider.handle_call(add(A)).await.unwrap()).unwrap();
    assert_eq!(reply.value, 2);
    // Bound again with the same values: the data stays.
    provider.bind_actor(binding).unwrap();
    let reply: AddResponse = decode(&provider.handle_call(add(A)).await.unwrap()).unwrap();
    assert_eq!(reply.value, 4);

    provider.remove_actor(A).unwrap();
    assert!(provider.handle_call(add(A)).await.is_err());
    provider.remove_actor(A).unwrap();

    provider.bind_actor(ActorBinding::new(B, &[])).unwrap();
    provider.stop();
    assert!(provider.store().backend(B).is_none());
}

#[tokio::test]
async fn memory_stores_are_per_actor() {
    let kv = KeyValue::new();
    kv.bind(A, &HashMap::new()).unwrap();
    kv.bind(B, &HashMap::new()).unwrap();
    let (a, b) = (as_actor(&kv, A), as_actor(&kv, B));
    a.set("k", "from a", 0).await.unwrap();
    assert_eq!(b.get("k").await, Ok(None));
    b.set("k", "from b", 0).await.unwrap();
    assert_eq!(a.get("k").await, Ok(Some("from a".into())));
    // Unbinding drops the store; a new binding starts empty.
    assert!(kv.unbind(A));
    assert!(!kv.unbind(A));
    assert_eq!(
        a.get("k").await,
        Err("actor MACTORA is not bound to wascc:keyvalue".into())
    );
    kv.bind(A, &HashMap::new()).unwrap();
    assert_eq!(a.get("k").await, Ok(None));
    assert_eq!(b.get("k").await, Ok(Some("from b".into())));
}

#[test]
fn bad_binding_values_are_refused() {
    let kv = KeyValue::new();
    let e = kv
        .bind(A, &ActorBinding::new(A, &[("URL", "")]).values)
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
    let e = kv
        .bind(
            A,
            &ActorBinding::new(A, &[("URL", "http://example.com")]).values,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("URL 'http://example.com' is not a Redis URL"),
        "{e}"
    );
    let e = kv
        .bind(
            A,
            &ActorBinding::new(A, &[("URL", "redis://u:hunter2@127.0.0.1:1/x")]).values,
        )
        .unwrap_err()
        .to_string();
    assert!(!e.contains("hunter2"), "the password leaked: {e}");
    let e = kv
        .bind(
            A,
            &ActorBinding::new(A, &[("URL", "redis://127.0.0.1:1"), ("TIMEOUT_MS", "0")]).values,
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "TIMEOUT_MS must be a positive number of milliseconds, not '0'"
    );
    assert!(kv.backend(A).is_none());
    // Binding does not connect: an unreachable Redis is accepted.
    kv.bind(
        A,
        &ActorBinding::new(A, &[("URL", "redis://u:hunter2@127.0.0.1:1/0")]).values,
    )
    .unwrap();
    assert_eq!(
        kv.backend(A).as_deref(),
        Some("redis://u:***@127.0.0.1:1/0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebinding_with_other_values_switches_backend() {
    let server = RedisServer::start();
    let kv = KeyValue::new();
    let a = as_actor(&kv, A);
    kv.bind(A, &HashMap::new()).unwrap();
    a.set("k", "in memory", 0).await.unwrap();
    kv.bind(A, &redis_values(&server)).unwrap();
    assert_eq!(kv.backend(A), Some(server.url()));
    assert_eq!(a.get("k").await, Ok(None));
    a.set("k", "in redis", 0).await.unwrap();
    kv.bind(A, &HashMap::new()).unwrap();
    assert_eq!(a.get("k").await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_on_one_redis_share_its_keys() {
    let server = RedisServer::start();
    let kv = KeyValue::new();
    kv.bind(A, &redis_values(&server)).unwrap();
    kv.bind(B, &redis_values(&server)).unwrap();
    let (a, b) = (as_actor(&kv, A), as_actor(&kv, B));
    assert_eq!(a.add("shared", 1).await, Ok(1));
    assert_eq!(b.add("shared", 1).await, Ok(2));
    // A second provider instance (another host, a restart) sees the same data.
    let other = KeyValue::new();
    other.bind(A, &redis_values(&server)).unwrap();
    assert_eq!(
        as_actor(&other, A).get("shared").await,
        Ok(Some("2".into()))
    );
}

/// Binds actor A to `server`, each call limited to `timeout`.
fn bind_with_timeout(kv: &KeyValue, server: &RedisServer, timeout: Duration) {
    let mut binding = redis_values(server);
    binding.insert("TIMEOUT_MS".into(), timeout.as_millis().to_string());
    kv.bind(A, &binding).unwrap();
}

/// Adds `by` to "n" once Redis answers again (within 15 s); the new value.
async fn add_once_up(kv: &Kv<'_>, by: i32, what: &str) -> i32 {
    eventually(Duration::from_secs(15), what, || async {
        kv.add("n", by).await.ok()
    })
    .await
}

/// Calls while Redis is down fail within the timeout (plus slack), never hang.
async fn assert_fails_quickly(kv: &Kv<'_>, timeout: Duration) -> String {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout * 3, kv.add("n", 1))
        .await
        .expect("a call to an unavailable Redis hung");
    let e = result.expect_err("a call to an unavailable Redis succeeded");
    assert!(
        started.elapsed() < timeout + Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
    assert!(e.starts_with("Redis at redis://127.0.0.1:"), "{e}");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted() {
    let timeout = Duration::from_millis(1000);
    let mut server = RedisServer::start();
    let kv = KeyValue::new();
    bind_with_timeout(&kv, &server, timeout);
    let a = as_actor(&kv, A);
    assert_eq!(a.add("n", 1).await, Ok(1));

    server.kill();
    for _ in 0..5 {
        assert_fails_quickly(&a, timeout).await;
    }

    server.restart();
    // The server restarted empty (no persistence): the counter starts over.
    let first = add_once_up(&a, 1, "calls to succeed after the restart").await;
    assert_eq!(first, 1);
    assert_eq!(a.add("n", 1).await, Ok(2));

    // And once more: the manager recovers repeatedly.
    server.kill();
    assert_fails_quickly(&a, timeout).await;
    server.restart();
    eventually(
        Duration::from_secs(15),
        "calls to succeed after the second restart",
        || async { a.get("n").await.ok() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_first_call_then_up() {
    let timeout = Duration::from_millis(1000);
    let mut server = RedisServer::stopped();
    let kv = KeyValue::new();
    bind_with_timeout(&kv, &server, timeout);
    let a = as_actor(&kv, A);
    let e = assert_fails_quickly(&a, timeout).await;
    assert!(e.contains(&format!("127.0.0.1:{}", server.port())), "{e}");
    server.restart();
    let value = add_once_up(&a, 5, "calls to succeed once Redis is up").await;
    assert_eq!(value, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_times_out_then_recovers() {
    let timeout = Duration::from_millis(500);
    let mut server = RedisServer::start();
    let kv = KeyValue::new();
    bind_with_timeout(&kv, &server, timeout);
    let a = as_actor(&kv, A);
    assert_eq!(a.add("n", 1).await, Ok(1));

    server.pause();
    let e = assert_fails_quickly(&a, timeout).await;
    assert!(e.contains("did not answer within 500 ms"), "{e}");

    server.resume();
    // The data survived: the server was only frozen.
    let value = add_once_up(&a, 1, "calls to succeed after the server resumed").await;
    assert!(value >= 2, "{value}");
}
