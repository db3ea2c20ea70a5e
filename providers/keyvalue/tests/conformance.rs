//! One suite, run against both backends: every operation of actor-abi §3
//! behaves the same in memory and in a real Redis.
//!
//! The Redis half starts a `redis-server` per test (it must be installed:
//! these tests fail, not skip, without it).

mod common;

use common::{redis_values, strings, Kv};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use trellis_provider_keyvalue::KeyValue;
use trellis_test_support::{eventually, RedisServer};

const ACTOR: &str = "MACTORKEYVALUETEST";

/// A [`KeyValue`] with [`ACTOR`] bound to one backend.
struct Fixture {
    kv: KeyValue,
    _server: Option<RedisServer>,
}

impl Fixture {
    fn memory() -> Arc<Fixture> {
        let kv = KeyValue::new();
        kv.bind(ACTOR, &HashMap::new()).unwrap();
        assert_eq!(kv.backend(ACTOR).as_deref(), Some("memory"));
        Arc::new(Fixture { kv, _server: None })
    }

    fn redis() -> Arc<Fixture> {
        let server = RedisServer::start();
        let kv = KeyValue::new();
        kv.bind(ACTOR, &redis_values(&server)).unwrap();
        assert_eq!(kv.backend(ACTOR), Some(server.url()));
        Arc::new(Fixture {
            kv,
            _server: Some(server),
        })
    }

    fn client(&self) -> Kv<'_> {
        Kv {
            kv: &self.kv,
            actor: ACTOR,
        }
    }
}

/// Runs each listed test against both backends: `memory::NAME` and `redis::NAME`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::memory()).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::redis()).await
                }
            )*
        }
    };
}

both_backends!(
    get_set_del_exists,
    set_expires,
    add_counts,
    add_is_atomic,
    add_errors,
    lists,
    range_follows_lrange,
    sets,
    set_union_and_intersection,
    wrong_type_errors,
    bad_requests,
);

async fn get_set_del_exists(f: Arc<Fixture>) {
    let kv = f.client();
    assert_eq!(kv.get("greeting").await, Ok(None));
    assert_eq!(kv.exists("greeting").await, Ok(false));
    assert_eq!(kv.set("greeting", "hello", 0).await, Ok("hello".into()));
    assert_eq!(kv.get("greeting").await, Ok(Some("hello".into())));
    assert_eq!(kv.exists("greeting").await, Ok(true));
    kv.set("greeting", "héllo ✓", 0).await.unwrap();
    assert_eq!(kv.get("greeting").await, Ok(Some("héllo ✓".into())));
    // An empty value exists.
    kv.set("empty", "", 0).await.unwrap();
    assert_eq!(kv.get("empty").await, Ok(Some(String::new())));
    assert_eq!(kv.exists("empty").await, Ok(true));
    assert_eq!(kv.del("greeting").await, Ok("greeting".into()));
    assert_eq!(kv.get("greeting").await, Ok(None));
    assert_eq!(kv.exists("greeting").await, Ok(false));
    // Deleting a missing key is fine; Del removes any kind of value.
    assert_eq!(kv.del("greeting").await, Ok("greeting".into()));
    kv.push("list", "a").await.unwrap();
    kv.set_add("set", "a").await.unwrap();
    kv.del("list").await.unwrap();
    kv.del("set").await.unwrap();
    assert_eq!(kv.exists("list").await, Ok(false));
    assert_eq!(kv.exists("set").await, Ok(false));
}

async fn set_expires(f: Arc<Fixture>) {
    let kv = f.client();
    kv.set("short", "lived", 1).await.unwrap();
    kv.set("renewed", "first", 1).await.unwrap();
    // Set without expiry makes the key permanent again (as Redis's SET does).
    kv.set("renewed", "second", 0).await.unwrap();
    kv.set("forever", "yes", 0).await.unwrap();
    assert_eq!(kv.get("short").await, Ok(Some("lived".into())));
    eventually(Duration::from_secs(5), "'short' to expire", || async {
        (kv.get("short").await.unwrap().is_none()).then_some(())
    })
    .await;
    assert_eq!(kv.exists("short").await, Ok(false));
    assert_eq!(kv.get("renewed").await, Ok(Some("second".into())));
    assert_eq!(kv.get("forever").await, Ok(Some("yes".into())));
    // An expired key is gone for every operation: Add starts from 0 again.
    kv.set("n", "41", 1).await.unwrap();
    eventually(Duration::from_secs(5), "'n' to expire", || async {
        (!kv.exists("n").await.unwrap()).then_some(())
    })
    .await;
    assert_eq!(kv.add("n", 1).await, Ok(1));
}

async fn add_counts(f: Arc<Fixture>) {
    let kv = f.client();
    assert_eq!(kv.add("hits", 1).await, Ok(1));
    assert_eq!(kv.add("hits", 5).await, Ok(6));
    assert_eq!(kv.add("hits", -10).await, Ok(-4));
    assert_eq!(kv.add("hits", -200).await, Ok(-204));
    assert_eq!(kv.get("hits").await, Ok(Some("-204".into())));
    // A string holding an integer is a counter.
    kv.set("n", "41", 0).await.unwrap();
    assert_eq!(kv.add("n", 1).await, Ok(42));
    assert_eq!(kv.add("n", 0).await, Ok(42));
    assert_eq!(kv.add("big", i32::MAX).await, Ok(i32::MAX));
    assert_eq!(kv.add("small", i32::MIN).await, Ok(i32::MIN));
}

async fn add_is_atomic(f: Arc<Fixture>) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let f = Arc::clone(&f);
            tokio::spawn(async move {
                for _ in 0..50 {
                    f.client().add("shared", 1).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(f.client().get("shared").await, Ok(Some("400".into())));
}

async fn add_errors(f: Arc<Fixture>) {
    let kv = f.client();
    kv.set("word", "abc", 0).await.unwrap();
    assert_eq!(
        kv.add("word", 1).await,
        Err("ERR value is not an integer or out of range".into())
    );
    assert_eq!(kv.get("word").await, Ok(Some("abc".into())));
    kv.set("max", &i64::MAX.to_string(), 0).await.unwrap();
    assert_eq!(
        kv.add("max", 1).await,
        Err("ERR increment or decrement would overflow".into())
    );
    // The counter is 64-bit; the reply is not.
    kv.set("wide", &i32::MAX.to_string(), 0).await.unwrap();
    let e = kv.add("wide", 1).await.unwrap_err();
    assert!(e.contains("2147483648") && e.contains("32-bit"), "{e}");
    assert_eq!(kv.get("wide").await, Ok(Some("2147483648".into())));
    assert_eq!(kv.add("wide", -1).await, Ok(i32::MAX));
}

async fn lists(f: Arc<Fixture>) {
    let kv = f.client();
    assert_eq!(kv.range("l", 0, -1).await, Ok(vec![]));
    assert_eq!(kv.push("l", "a").await, Ok(1));
    assert_eq!(kv.push("l", "b").await, Ok(2));
    assert_eq!(kv.push("l", "c").await, Ok(3));
    assert_eq!(kv.push("l", "b").await, Ok(4));
    assert_eq!(
        kv.range("l", 0, -1).await,
        Ok(strings(&["a", "b", "c", "b"]))
    );
    // Every occurrence goes.
    assert_eq!(kv.list_item_delete("l", "b").await, Ok(2));
    assert_eq!(kv.range("l", 0, -1).await, Ok(strings(&["a", "c"])));
    assert_eq!(kv.list_item_delete("l", "zzz").await, Ok(2));
    assert_eq!(kv.list_item_delete("missing", "a").await, Ok(0));
    // A list emptied item by item no longer exists.
    assert_eq!(kv.list_item_delete("l", "a").await, Ok(1));
    assert_eq!(kv.list_item_delete("l", "c").await, Ok(0));
    assert_eq!(kv.exists("l").await, Ok(false));
    kv.push("l", "x").await.unwrap();
    kv.push("l", "y").await.unwrap();
    assert_eq!(kv.clear("l").await, Ok(0));
    assert_eq!(kv.exists("l").await, Ok(false));
    assert_eq!(kv.range("l", 0, -1).await, Ok(vec![]));
    assert_eq!(kv.clear("l").await, Ok(0));
    // Once emptied, the key can hold another kind of value.
    kv.set("l", "now a string", 0).await.unwrap();
    assert_eq!(kv.get("l").await, Ok(Some("now a string".into())));
}

async fn range_follows_lrange(f: Arc<Fixture>) {
    let kv = f.client();
    for item in ["0", "1", "2", "3", "4"] {
        kv.push("r", item).await.unwrap();
    }
    let cases: &[(i32, i32, &[&str])] = &[
        (0, -1, &["0", "1", "2", "3", "4"]),
        (0, 0, &["0"]),
        (1, 3, &["1", "2", "3"]),
        (-2, -1, &["3", "4"]),
        (-100, 100, &["0", "1", "2", "3", "4"]),
        (2, 100, &["2", "3", "4"]),
        (-3, 2, &["2"]),
        (3, 1, &[]),
        (5, 10, &[]),
        (-1, -2, &[]),
        (i32::MIN, i32::MAX, &["0", "1", "2", "3", "4"]),
    ];
    for (start, stop, expected) in cases {
        assert_eq!(
            kv.range("r", *start, *stop).await,
            Ok(strings(expected)),
            "Range {start} {stop}"
        );
    }
}

async fn sets(f: Arc<Fixture>) {
    let kv = f.client();
    assert_eq!(kv.set_query("s").await, Ok(vec![]));
    assert_eq!(kv.set_add("s", "y").await, Ok(1));
    assert_eq!(kv.set_add("s", "x").await, Ok(2));
    assert_eq!(kv.set_add("s", "x").await, Ok(2));
    assert_eq!(kv.set_query("s").await, Ok(strings(&["x", "y"])));
    assert_eq!(kv.set_remove("s", "x").await, Ok(1));
    assert_eq!(kv.set_remove("s", "nope").await, Ok(1));
    assert_eq!(kv.set_remove("missing", "x").await, Ok(0));
    assert_eq!(kv.set_remove("s", "y").await, Ok(0));
    assert_eq!(kv.exists("s").await, Ok(false));
}

async fn set_union_and_intersection(f: Arc<Fixture>) {
    let kv = f.client();
    for v in ["c", "a", "b"] {
        kv.set_add("s1", v).await.unwrap();
    }
    for v in ["d", "c", "b"] {
        kv.set_add("s2", v).await.unwrap();
    }
    assert_eq!(
        kv.set_union(&["s1", "s2"]).await,
        Ok(strings(&["a", "b", "c", "d"]))
    );
    assert_eq!(
        kv.set_intersection(&["s1", "s2"]).await,
        Ok(strings(&["b", "c"]))
    );
    assert_eq!(
        kv.set_union(&["s1", "none"]).await,
        Ok(strings(&["a", "b", "c"]))
    );
    assert_eq!(kv.set_intersection(&["s1", "none"]).await, Ok(vec![]));
    assert_eq!(
        kv.set_intersection(&["s2"]).await,
        Ok(strings(&["b", "c", "d"]))
    );
    assert_eq!(kv.set_union(&[]).await, Ok(vec![]));
    assert_eq!(kv.set_intersection(&[]).await, Ok(vec![]));
}

async fn wrong_type_errors(f: Arc<Fixture>) {
    let kv = f.client();
    let wrong = Err::<(), String>(
        "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
    );
    kv.set("str", "v", 0).await.unwrap();
    kv.push("list", "v").await.unwrap();
    kv.set_add("set", "v").await.unwrap();
    assert_eq!(kv.get("list").await.map(drop), wrong);
    assert_eq!(kv.get("set").await.map(drop), wrong);
    assert_eq!(kv.add("list", 1).await.map(drop), wrong);
    assert_eq!(kv.push("str", "x").await.map(drop), wrong);
    assert_eq!(kv.push("set", "x").await.map(drop), wrong);
    assert_eq!(kv.list_item_delete("str", "x").await.map(drop), wrong);
    assert_eq!(kv.range("set", 0, -1).await.map(drop), wrong);
    assert_eq!(kv.set_add("list", "x").await.map(drop), wrong);
    assert_eq!(kv.set_remove("str", "x").await.map(drop), wrong);
    assert_eq!(kv.set_query("list").await.map(drop), wrong);
    assert_eq!(kv.set_union(&["set", "str"]).await.map(drop), wrong);
    assert_eq!(kv.set_intersection(&["set", "list"]).await.map(drop), wrong);
    // Nothing changed; Set replaces any kind of value.
    assert_eq!(kv.range("list", 0, -1).await, Ok(strings(&["v"])));
    kv.set("list", "now a string", 0).await.unwrap();
    assert_eq!(kv.get("list").await, Ok(Some("now a string".into())));
}

async fn bad_requests(f: Arc<Fixture>) {
    let kv = f.client();
    let e = kv.set("k", "v", -1).await.unwrap_err();
    assert!(e.contains("expires"), "{e}");
    assert_eq!(kv.exists("k").await, Ok(false));
    let e = kv.raw("Get", &[0xc1]).await.unwrap_err();
    assert!(e.starts_with("Get: cannot decode"), "{e}");
    assert_eq!(
        kv.raw("Frobnicate", &[]).await,
        Err("unknown operation 'Frobnicate'".into())
    );
    // Unknown keys are ignored and a trailing byte is tolerated.
    let mut payload = rmp_map(&[("key", "k"), ("value", "v"), ("extra", "x")]);
    payload.push(0);
    kv.raw("Push", &payload).await.unwrap();
    assert_eq!(kv.range("k", 0, -1).await, Ok(strings(&["v"])));
}

/// A msgpack map of string pairs (fixmap, fixstr: short inputs only).
fn rmp_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = vec![0x80 | pairs.len() as u8];
    for (k, v) in pairs {
        for s in [k, v] {
            out.push(0xa0 | s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}
