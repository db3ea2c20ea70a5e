//! The HTTP server provider's status codes for failed actor calls, through
//! real requests to a real host: the failure's kind crosses the provider ABI
//! and picks 503 (no instance can take the call), 504 (timeout) or 500 (the
//! actor failed).

use crate::support::*;
use std::time::Duration;
use tokio::task::JoinHandle;
use trellis_host::{BindingRecord, Host, HostBuilder, HostConfig};

/// A host serving the chaos actor over HTTP on a free port, with the chaos
/// provider its `/sleep/<ms>` requests sleep in.
async fn chaos_site(config: HostConfig) -> (Host, u16) {
    let host = HostBuilder::new()
        .config(config)
        .build()
        .expect("host builds");
    host.start_provider(&http_server_library(), "default")
        .expect("the HTTP server loads");
    host.start_provider(&chaos_library(), "default")
        .expect("the chaos provider loads");
    host.start_actor(&actor("chaos_s"))
        .await
        .expect("the chaos actor starts");
    let port = free_port();
    host.bind(BindingRecord {
        actor: CHAOS_KEY.into(),
        capability: "wascc:http_server".into(),
        binding: "default".into(),
        values: [("PORT".to_string(), port.to_string())].into(),
    })
    .expect("the actor binds to the HTTP server");
    (host, port)
}

/// Asserts the reply's status, and that its body starts with `start`.
fn assert_answer(reply: &HttpReply, status: u16, start: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(reply.body.starts_with(start), "{}", reply.body);
}

/// The body of a 503 answer for the chaos actor, ending with the host's `reason`.
fn unavailable(reason: &str) -> String {
    format!("503 Service Unavailable: no instance of actor {CHAOS_KEY} can take the call: {reason}")
}

async fn get(port: u16, path: &str) -> HttpReply {
    http("GET", port, path, "")
        .await
        .unwrap_or_else(|e| panic!("GET {path} got no answer: {e}"))
}

/// Sends `GET path` from another task and returns once `host` runs the
/// call (the test's next request then finds the actor busy).
async fn sent_in_background(host: &Host, port: u16, path: &'static str) -> JoinHandle<HttpReply> {
    let request = tokio::spawn(async move { get(port, path).await });
    eventually(Duration::from_secs(5), "the call in flight", || async {
        (host.bus().in_flight() > 0).then_some(())
    })
    .await;
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn an_actor_that_is_not_running_answers_503() {
    let (host, port) = chaos_site(test_config()).await;
    assert_eq!(get(port, "/hello").await.status, 200);

    // Its binding stays, so the server still takes requests.
    assert!(host.stop_actor(CHAOS_KEY));
    let reply = get(port, "/hello").await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(
        reply.body,
        unavailable(&format!("no actor {CHAOS_KEY} is running"))
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_is_shutting_down_answers_503() {
    let (host, port) = chaos_site(test_config()).await;
    // The first step of a shutdown: the bus takes no new calls.
    host.bus().stop_accepting();
    let reply = get(port, "/hello").await;
    assert_answer(&reply, 503, &unavailable("the host is shutting down"));
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exhausted_instance_pool_answers_503() {
    // Room for one instance in the whole host: the one the actor starts with.
    let config = HostConfig {
        max_total_instances: 1,
        ..test_config()
    };
    let (host, port) = chaos_site(config).await;
    let sleeper = sent_in_background(&host, port, "/sleep/1500").await;

    let reply = get(port, "/hello").await;
    let reason = format!("actor {CHAOS_KEY} is unavailable: cannot start an instance");
    assert_answer(&reply, 503, &unavailable(&reason));
    let slept = sleeper.await.expect("the sleeping request ends");
    assert_eq!((slept.status, slept.body.as_str()), (200, "slept"));
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_past_the_call_timeout_answers_504() {
    // One instance, held by a first slow request: the second waits for it
    // and then sleeps too, so its own call timeout (which started when it
    // arrived) strikes first. (The first request's actor may see its sleep
    // time out just as the host gives up on it: it answers 504 or 500.)
    let config = HostConfig {
        call_timeout: Duration::from_millis(500),
        max_instances_per_actor: 1,
        ..test_config()
    };
    let (host, port) = chaos_site(config).await;
    let first = sent_in_background(&host, port, "/sleep/3000").await;

    let reply = get(port, "/sleep/3000").await;
    assert_eq!(reply.status, 504, "{}", reply.body);
    assert_eq!(
        reply.body,
        format!(
            "504 Gateway Timeout: actor {CHAOS_KEY} did not answer in time: \
             call to {CHAOS_KEY} timed out after 500 ms"
        )
    );
    let first = first.await.expect("the first request ends");
    assert!(matches!(first.status, 500 | 504), "{first:?}");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_actor_that_traps_or_fails_answers_500() {
    let (host, port) = chaos_site(test_config()).await;
    let reply = get(port, "/trap").await;
    assert_answer(
        &reply,
        500,
        &format!("500 Internal Server Error: actor {CHAOS_KEY} failed: actor {CHAOS_KEY} trapped"),
    );
    // The trap took one instance down, not the actor.
    assert_eq!(get(port, "/hello").await.status, 200);

    // A guest error: the sleep it asks the chaos provider for is no number.
    let reply = get(port, "/sleep/soon").await;
    assert_answer(
        &reply,
        500,
        &format!(
            "500 Internal Server Error: actor {CHAOS_KEY} failed: \
             actor {CHAOS_KEY} failed HandleRequest:"
        ),
    );
    host.shutdown().await;
}
