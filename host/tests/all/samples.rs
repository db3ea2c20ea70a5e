//! The sample actors with the providers they use, through real HTTP.

use crate::support::*;
use futures::StreamExt;
use std::time::Duration;

/// The responder's key (examples/responder.yaml binds it).
const RESPONDER_KEY: &str = "MBHBBKDM2NTYLXZB4E22QYGVBVGSOGFZYJSNK2BZBRWUOKREPW2KLKSB";

/// kvcounter behind the HTTP server, its counters in `wascc:keyvalue`
/// (in memory without a URL, else in the Redis at `url`).
fn kvcounter_manifest(port: u16, url: Option<&str>) -> String {
    let kv_values = url
        .map(|u| format!(", values: {{URL: \"{u}\"}}"))
        .unwrap_or_default();
    format!(
        "actors: [{}]\ncapabilities:\n  - path: {}\n  - path: {}\nbindings:\n  - {{actor: {KVCOUNTER_KEY}, capability: \"wascc:http_server\", values: {{PORT: \"{port}\"}}}}\n  - {{actor: {KVCOUNTER_KEY}, capability: \"wascc:keyvalue\"{kv_values}}}\n",
        actor("kvcounter_s").display(),
        http_server_library().display(),
        library("trellis_provider_keyvalue").display()
    )
}

async fn counts_up(url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let host = host();
    host.apply(&manifest(&kvcounter_manifest(port, url), dir.path()).unwrap())
        .await
        .expect("the kvcounter manifest applies");
    counts_on(port).await;
    host.shutdown().await;
}

/// Requests count 1, 2, 3 under one path, and start again under another.
async fn counts_on(port: u16) {
    for n in 1..=3 {
        let reply = http("GET", port, "/hits", "").await.expect("answers");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let counter: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON");
        assert_eq!(counter["counter"], n, "{}", reply.body);
    }
    let other = http("GET", port, "/other", "").await.unwrap();
    assert!(
        other.body.contains("\"counter\":1"),
        "a key per path: {}",
        other.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_kvcounter_manifest_applies() {
    let port = free_port();
    let text = port.to_string();
    let env = |name: &str| (name == "PORT").then(|| text.clone());
    let path = workspace_root().join("examples/kvcounter.yaml");
    let manifest = trellis_manifest::Manifest::load_with_env(&path, &env).expect("parses");
    let host = host();
    host.apply(&manifest)
        .await
        .expect("examples/kvcounter.yaml applies");
    counts_on(port).await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kvcounter_counts_in_memory() {
    counts_up(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kvcounter_counts_in_redis() {
    let redis = RedisServer::start();
    counts_up(Some(&redis.url())).await;
}

/// Loads a shipped example manifest with the given environment.
fn example(name: &str, env: &[(&str, String)]) -> trellis_manifest::Manifest {
    let lookup = |var: &str| env.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
    trellis_manifest::Manifest::load_with_env(
        &workspace_root().join("examples").join(name),
        &lookup,
    )
    .unwrap_or_else(|e| panic!("examples/{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn greeter_calls_another_actor() {
    let port = free_port();
    let host = host();
    host.apply(&example("greeter.yaml", &[("PORT", port.to_string())]))
        .await
        .expect("examples/greeter.yaml applies");
    let reply = http("GET", port, &format!("/hi?actor={ECHO_KEY}"), "")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.starts_with("greeter saw: ") && reply.body.contains("\"path\":\"/hi\""),
        "{}",
        reply.body
    );
    let missing = http("GET", port, "/hi", "").await.unwrap();
    assert_eq!(missing.status, 400, "{}", missing.body);
    host.shutdown().await;
}

/// The responder answers on its subject, and its replies never reach the
/// lattice's subjects.
#[tokio::test(flavor = "multi_thread")]
async fn responder_answers_on_its_subject_but_never_onto_a_lattice_subject() {
    let nats = NatsServer::start();
    let url = nats.url();
    let host = host();
    host.apply(&example("responder.yaml", &[("NATS_URL", url.clone())]))
        .await
        .expect("examples/responder.yaml applies");
    let client = async_nats::connect(url.as_str()).await.expect("connects");
    let reply = client
        .request("greetings", "hello".into())
        .await
        .expect("the responder answers");
    assert_eq!(&reply.payload[..], b"reply: hello");

    let mut lattice = client.subscribe("trellis.>").await.unwrap();
    // The server takes this connection's subscriptions before its publications.
    let mut marker = client.subscribe("checks.marker").await.unwrap();
    // The responder publishes its reply on whatever reply subject it is given:
    // here, its own invocation subject in the lattice.
    let forged = format!("trellis.default.actor.{RESPONDER_KEY}");
    client
        .publish_with_reply("greetings", forged, "forged".into())
        .await
        .unwrap();
    client
        .publish_with_reply("greetings", "checks.marker", "marker".into())
        .await
        .unwrap();
    // The responder takes its messages in order and publishes on one
    // connection: once the marker's reply is here, the forged one would be too.
    let reply = tokio::time::timeout(Duration::from_secs(5), marker.next())
        .await
        .expect("the marker's reply arrives")
        .expect("subscription open");
    assert_eq!(&reply.payload[..], b"reply: marker");
    if let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(300), lattice.next()).await
    {
        panic!("the responder reached {}", message.subject);
    }
    host.shutdown().await;
}
