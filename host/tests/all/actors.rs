//! Misbehaving actors fail their own call and nothing else.

use crate::support::*;
use std::time::{Duration, Instant};
use trellis_host::{HostBuilder, Invocation, InvocationError};

async fn chaos_host(config: trellis_host::HostConfig) -> trellis_host::Host {
    let host = HostBuilder::new().config(config).build().unwrap();
    host.start_provider(&chaos_library(), "default").unwrap();
    host.start_actor(&actor("chaos_s")).await.unwrap();
    host
}

async fn still_serves(host: &trellis_host::Host) {
    let reply = host
        .bus()
        .call(Invocation::to_actor(CHAOS_KEY, "Echo", b"ping".to_vec()))
        .await;
    assert_eq!(reply.expect("the actor still answers"), b"ping");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_fails_only_its_call() {
    let host = chaos_host(test_config()).await;
    let err = host
        .bus()
        .call(Invocation::to_actor(CHAOS_KEY, "Trap", vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::ActorTrapped { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    still_serves(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_hits_the_deadline() {
    let config = trellis_host::HostConfig {
        call_timeout: Duration::from_millis(500),
        ..test_config()
    };
    let host = chaos_host(config).await;
    let start = Instant::now();
    let err = host
        .bus()
        .call(Invocation::to_actor(CHAOS_KEY, "Loop", vec![]))
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    let text = err.to_string();
    assert!(text.contains("time"), "{text}");
    still_serves(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_is_stopped_at_the_limit() {
    let host = chaos_host(test_config()).await;
    let err = host
        .bus()
        .call(Invocation::to_actor(CHAOS_KEY, "Bomb", vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::ActorTrapped { .. }), "{err}");
    still_serves(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_errors_and_unknown_operations_come_back_as_errors() {
    let host = chaos_host(test_config()).await;
    let err = host
        .bus()
        .call(Invocation::to_actor(CHAOS_KEY, "Fail", vec![]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("chaos failed on purpose"), "{err}");
    let err = host
        .bus()
        .call(Invocation::to_actor(CHAOS_KEY, "NoSuchOperation", vec![]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad dispatch"), "{err}");
    let err = host
        .bus()
        .call(Invocation::to_actor(ECHO_KEY, "HandleRequest", vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvocationError::ActorNotFound { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn actors_call_actors_and_providers_call_actors() {
    let host = chaos_host(test_config()).await;
    host.start_actor(&actor("echo_s")).await.unwrap();
    let health =
        trellis_codec::encode(&trellis_codec::core::HealthRequest { placeholder: true }).unwrap();

    let mut via_actor = format!("{ECHO_KEY}|HealthRequest|").into_bytes();
    via_actor.extend_from_slice(&health);
    host.bus()
        .call(Invocation::to_actor(CHAOS_KEY, "CallActor", via_actor))
        .await
        .expect("actor → actor");

    let mut via_provider =
        format!("trellis:chaos|default|CallActor|{ECHO_KEY}|HealthRequest|").into_bytes();
    via_provider.extend_from_slice(&health);
    chaos_calls(&host, via_provider)
        .await
        .expect("actor → provider → actor");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_provider_call_does_not_serialize_other_requests() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let host = chaos_host(test_config()).await;
    let text = format!(
        "capabilities: [{{path: {}}}]\nbindings:\n  - {{actor: {CHAOS_KEY}, capability: \"wascc:http_server\", values: {{PORT: \"{port}\"}}}}\n",
        http_server_library().display()
    );
    host.apply(&manifest(&text, dir.path()).unwrap())
        .await
        .unwrap();

    let start = Instant::now();
    let requests: Vec<_> = (0..8)
        .map(|_| tokio::spawn(async move { http("GET", port, "/sleep/400", "").await }))
        .collect();
    for request in requests {
        let reply = request.await.unwrap().expect("answered");
        assert_eq!((reply.status, reply.body.as_str()), (200, "slept"));
    }
    // Eight 400 ms calls one after another would take 3.2 s.
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_millis(1500),
        "8 slow requests took {elapsed:?}"
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loops_do_not_hold_the_worker_threads() {
    let config = trellis_host::HostConfig {
        call_timeout: Duration::from_secs(2),
        ..test_config()
    };
    let host = std::sync::Arc::new(chaos_host(config).await);
    // More looping calls than worker threads...
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let host = std::sync::Arc::clone(&host);
            tokio::spawn(async move {
                host.bus()
                    .call(Invocation::to_actor(CHAOS_KEY, "Loop", vec![]))
                    .await
            })
        })
        .collect();
    // ...and a quick call still gets through long before they time out.
    let start = Instant::now();
    still_serves(&host).await;
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "a quick call waited {:?}",
        start.elapsed()
    );
    for looping in loops {
        assert!(looping.await.unwrap().is_err());
    }
}
