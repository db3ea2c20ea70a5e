//! A manifest applies whole or not at all, and its errors say what to fix.

use crate::support::*;
use trellis_host::HostError;

async fn refused(text: &str) -> (trellis_host::Host, String) {
    let dir = tempfile::tempdir().unwrap();
    let host = host();
    let manifest = manifest(text, dir.path()).expect("the manifest parses");
    let err = host.apply(&manifest).await.unwrap_err();
    (host, err.to_string())
}

fn nothing_runs(host: &trellis_host::Host) {
    assert!(host.bus().actors().is_empty(), "no actor left running");
    assert!(
        host.bus().providers().is_empty(),
        "no provider left running"
    );
    assert!(host.bindings().is_empty(), "no binding left");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_file_is_named() {
    let text = format!(
        "actors:\n  - {}\n  - ./no/such/actor.wasm\n",
        actor("echo_s").display()
    );
    let (host, err) = refused(&text).await;
    assert!(
        err.contains("do not exist") && err.contains("no/such/actor.wasm"),
        "{err}"
    );
    nothing_runs(&host);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_capability_starts_nothing() {
    let port = free_port();
    let text = format!(
        "{}  - actor: {ECHO_KEY}\n    capability: wascc:keyvalue\n",
        echo_manifest(port)
    );
    let (host, err) = refused(&text).await;
    assert!(
        err.contains("bindings[1]") && err.contains("no provider for capability wascc:keyvalue"),
        "{err}"
    );
    assert!(
        err.contains("loaded: wascc:http_server 'default'"),
        "lists what is loaded: {err}"
    );
    nothing_runs(&host);
    assert!(
        http("GET", port, "/", "").await.is_err(),
        "no server was started on {port}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_binding_to_an_unknown_actor_starts_nothing() {
    let other = "MCZ3U3XNKTPW7TNRWS6M3QKXNZG5WAVTC2NJA2I6PDDEKLCQK5ZNKEK2";
    let text = echo_manifest(free_port())
        .replace(&format!("actor: {ECHO_KEY}"), &format!("actor: {other}"));
    let (host, err) = refused(&text).await;
    assert!(
        err.contains(other) && err.contains("neither declared"),
        "{err}"
    );
    nothing_runs(&host);
}

#[test]
fn a_malformed_binding_is_refused_when_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let err = manifest(
        "bindings:\n  - actor: echo\n    capability: wascc:http_server\n",
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bindings[0].actor") && err.contains("expected an actor public key"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_port_in_use_rolls_the_whole_manifest_back() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (host, err) = refused(&echo_manifest(port)).await;
    assert!(err.contains(&port.to_string()), "names the port: {err}");
    assert!(matches!(err, _ if err.contains("binding actor")), "{err}");
    nothing_runs(&host);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_indented_form_applies() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let indented: String = echo_manifest(port)
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    let host = host();
    host.apply(&manifest(&format!("---\n{indented}"), dir.path()).unwrap())
        .await
        .expect("indented manifest applies");
    let reply = http("GET", port, "/seed", "").await.unwrap();
    assert_eq!(reply.status, 200);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_twice_in_one_manifest_is_refused() {
    let lib = http_server_library();
    let text = format!(
        "capabilities:\n  - path: {0}\n  - path: {0}\n",
        lib.display()
    );
    let (host, err) = refused(&text).await;
    assert!(err.contains("already loaded"), "{err}");
    nothing_runs(&host);
    let _ = HostError::NoRuntime; // the error type is public API
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_applied_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let host = host();
    let manifest = manifest(&echo_manifest(port), dir.path()).unwrap();
    let first = host.apply(&manifest).await.expect("applies");
    assert_eq!(first.actors, vec![ECHO_KEY.to_string()]);
    let mut events = host.subscribe();
    let again = host.apply(&manifest).await.expect("applies again");
    assert_eq!(
        again,
        trellis_host::Applied::default(),
        "nothing new started"
    );
    assert!(
        events.try_recv().is_err(),
        "nothing started, loaded or bound"
    );
    assert_eq!(http("GET", port, "/", "").await.map(|r| r.status), Ok(200));
    host.shutdown().await;
}
