//! The local echo demo: HTTP provider + echo actor on one host, internal bus.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn http_request_round_trips_through_the_echo_actor() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let host = host();
    let applied = host
        .apply(&manifest(&echo_manifest(port), dir.path()).unwrap())
        .await
        .expect("the demo manifest applies");
    assert_eq!(applied.actors, [ECHO_KEY]);
    assert_eq!(applied.bindings.len(), 1);

    let reply = http("POST", port, "/foo/bar?x=1", "hi")
        .await
        .expect("server answers");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let echo: serde_json::Value = serde_json::from_str(&reply.body).expect("echo replies JSON");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/foo/bar");
    assert_eq!(echo["query_string"], "x=1");
    assert_eq!(echo["body"], "hi");
    assert_eq!(echo["headers"]["x-test"], "yes");
    assert_eq!(echo["version"], 1);

    host.shutdown().await;
    assert!(
        http("GET", port, "/", "").await.is_err(),
        "the server stops with the host"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_demo_manifest_applies() {
    let port = free_port().to_string();
    let env = |name: &str| (name == "PORT").then(|| port.clone());
    let path = workspace_root().join("examples/echo.yaml");
    let manifest =
        trellis_manifest::Manifest::load_with_env(&path, &env).expect("examples/echo.yaml parses");
    let host = host();
    host.apply(&manifest)
        .await
        .expect("examples/echo.yaml applies");
    let reply = http("GET", port.parse().unwrap(), "/foo/bar?x=1", "")
        .await
        .unwrap();
    assert!(
        reply.body.contains("\"query_string\":\"x=1\""),
        "{}",
        reply.body
    );
    assert_eq!(host.bus().providers().len(), 2);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_lets_calls_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let host = std::sync::Arc::new(host());
    host.start_provider(&chaos_library(), "default").unwrap();
    let text = format!(
        "actors: [{}]\ncapabilities: [{{path: {}}}]\nbindings:\n  - {{actor: {CHAOS_KEY}, capability: \"wascc:http_server\", values: {{PORT: \"{port}\"}}}}\n",
        actor("chaos_s").display(),
        http_server_library().display()
    );
    host.apply(&manifest(&text, dir.path()).unwrap())
        .await
        .unwrap();

    let slow = tokio::spawn(async move { http("GET", port, "/sleep/600", "").await });
    // Once the request is inside the actor, stop the host under it.
    let bus = std::sync::Arc::clone(host.bus());
    eventually(
        std::time::Duration::from_secs(5),
        "the request to reach the actor",
        || {
            let busy = bus.in_flight() > 0;
            async move { busy.then_some(()) }
        },
    )
    .await;
    host.shutdown().await;
    let reply = slow
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!((reply.status, reply.body.as_str()), (200, "slept"));
}
