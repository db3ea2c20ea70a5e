//! The provider over real sockets, with a plain function standing in for the
//! actor (no host involved): binding, serving, errors, limits, rebinding and
//! stopping.

use super::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use trellis_codec::{decode, encode, http};
use trellis_provider_sdk::{CallError, CallErrorKind};

const ACTOR: &str = "MACTOR";

/// The stand-in actor. Paths pick the behaviour:
/// `/echo` replies with what it saw, `/fail` fails (the actor's own failure),
/// `/unavailable` and `/timeout` fail with those kinds, `/garbage` replies
/// with bytes that are no response, `/badstatus` replies with status 0,
/// `/slow` signals [`TestActor::slow_arrived`] and takes 300 ms.
#[derive(Clone, Default)]
struct TestActor {
    /// Notified when a `/slow` request reaches the actor: the request is then
    /// in flight inside the provider.
    slow_arrived: Arc<tokio::sync::Notify>,
}

impl ActorHandler for TestActor {
    fn handle_request(
        &self,
        actor: &str,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, CallError>> + Send + 'static {
        let actor = actor.to_string();
        let slow_arrived = Arc::clone(&self.slow_arrived);
        async move {
            let request: http::Request = decode(&request).map_err(garbled)?;
            let reply = match request.path.as_str() {
                "/fail" => {
                    return Err(CallError::new(
                        CallErrorKind::ActorFailed,
                        "boom ".repeat(300),
                    ))
                }
                "/unavailable" => {
                    return Err(CallError::new(
                        CallErrorKind::Unavailable,
                        "no actor MACTOR is running",
                    ))
                }
                "/timeout" => {
                    return Err(CallError::new(
                        CallErrorKind::Timeout,
                        "call to actor MACTOR timed out after 5000 ms",
                    ))
                }
                "/garbage" => return Ok(vec![0xc1]),
                "/badstatus" => http::Response::default(),
                "/slow" => {
                    // A permit is stored if the test is not waiting yet.
                    slow_arrived.notify_one();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    http::Response::ok("slow done")
                }
                "/teapot" => http::Response {
                    status_code: 418,
                    ..Default::default()
                },
                _ => {
                    let mut reply = http::Response::with_status(201, "Made It", request.body);
                    reply.header.insert("x-actor".into(), actor);
                    reply.header.insert("x-method".into(), request.method);
                    reply.header.insert("x-query".into(), request.query_string);
                    let mut names: Vec<_> = request.header.keys().cloned().collect();
                    names.sort();
                    reply.header.insert("x-names".into(), names.join(" "));
                    if let Some(many) = request.header.get("x-many") {
                        reply.header.insert("x-many-seen".into(), many.clone());
                    }
                    reply
                }
            };
            encode(&reply).map_err(garbled)
        }
    }
}

fn garbled(e: trellis_codec::CodecError) -> CallError {
    CallError::new(CallErrorKind::Other, e.to_string())
}

fn provider() -> HttpServerProvider<TestActor> {
    watched_provider().0
}

/// A provider and the signal its actor gives when a `/slow` request arrives.
fn watched_provider() -> (HttpServerProvider<TestActor>, Arc<tokio::sync::Notify>) {
    let actor = TestActor::default();
    let slow_arrived = Arc::clone(&actor.slow_arrived);
    (HttpServerProvider::with_handler(actor), slow_arrived)
}

/// Binds `actor` on a free port and returns its address.
fn bind_free(provider: &HttpServerProvider<TestActor>, actor: &str) -> SocketAddr {
    provider
        .bind_actor(ActorBinding::new(actor, &[("PORT", "0")]))
        .unwrap();
    // The newest server is the last one.
    *provider.local_addrs(actor).last().unwrap()
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

struct Reply {
    status: StatusCode,
    reason: Option<String>,
    headers: HeaderMap,
    body: String,
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: hyper::Request<Full<Bytes>>,
) -> Reply {
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let reason = response
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        reason,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    let mut sender = connect(addr).await;
    send(&mut sender, request("GET", path, "")).await
}

fn request(method: &str, path: &str, body: &str) -> hyper::Request<Full<Bytes>> {
    hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "test")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_actor() {
    let provider = provider();
    let addr = bind_free(&provider, ACTOR);
    let mut sender = connect(addr).await;
    let request = hyper::Request::builder()
        .method("POST")
        .uri("/echo/x?a=1&b=2")
        .header("Host", "test")
        .header("X-Many", "1")
        .header("X-Many", "2")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let reply = send(&mut sender, request).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.reason.as_deref(), Some("Made It"));
    assert_eq!(reply.body, "payload");
    assert_eq!(reply.headers["x-actor"], ACTOR);
    assert_eq!(reply.headers["x-method"], "POST");
    assert_eq!(reply.headers["x-query"], "a=1&b=2");
    assert_eq!(reply.headers["x-names"], "content-length host x-many");
    assert_eq!(reply.headers["x-many-seen"], "1,2");
    assert_eq!(reply.headers["content-length"], "7");

    // The same (keep-alive) connection serves the next request.
    let reply = send(&mut sender, request_with_path("/teapot")).await;
    assert_eq!(reply.status.as_u16(), 418);
    assert_eq!(reply.reason, None, "the standard reason is hyper's own");
    provider.stop();
}

fn request_with_path(path: &str) -> hyper::Request<Full<Bytes>> {
    request("GET", path, "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_failures_answer_by_their_kind() {
    let provider = provider();
    let addr = bind_free(&provider, ACTOR);

    let reply = get(addr, "/fail").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply
            .body
            .starts_with("500 Internal Server Error: actor MACTOR failed: boom boom"),
        "{}",
        reply.body
    );
    assert!(reply.body.chars().count() <= 501, "{}", reply.body.len());
    assert_eq!(reply.headers["content-type"], "text/plain; charset=utf-8");

    let reply = get(addr, "/unavailable").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.body,
        "503 Service Unavailable: no instance of actor MACTOR can take the call: no actor MACTOR is running"
    );

    let reply = get(addr, "/timeout").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        reply.body,
        "504 Gateway Timeout: actor MACTOR did not answer in time: call to actor MACTOR timed out after 5000 ms"
    );

    let reply = get(addr, "/garbage").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply.body.contains("reply is not an HTTP response"),
        "{}",
        reply.body
    );

    let reply = get(addr, "/badstatus").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply.body.contains("invalid status code 0"),
        "{}",
        reply.body
    );
    provider.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_get_413() {
    let provider = provider();
    provider
        .bind_actor(ActorBinding::new(
            ACTOR,
            &[("PORT", "0"), ("MAX_BODY_BYTES", "4")],
        ))
        .unwrap();
    let addr = provider.local_addr(ACTOR).unwrap();

    let mut sender = connect(addr).await;
    let reply = send(&mut sender, request("POST", "/echo", "1234")).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body, "1234");

    // Declared too large by content-length.
    let reply = get_with_body(addr, "12345").await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.body.contains("MAX_BODY_BYTES"), "{}", reply.body);

    // Chunked, so only found out while reading.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::builder()
        .method("POST")
        .uri("/echo")
        .header("host", "test")
        .body(Chunked(vec![b"123".to_vec(), b"456".to_vec()].into()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    provider.stop();
}

async fn get_with_body(addr: SocketAddr, body: &str) -> Reply {
    let mut sender = connect(addr).await;
    send(&mut sender, request("POST", "/echo", body)).await
}

/// A body of unknown length (sent chunked), one frame per chunk.
struct Chunked(std::collections::VecDeque<Vec<u8>>);

impl hyper::body::Body for Chunked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(Bytes::from(c)))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_fails_the_binding() {
    let provider = provider();
    let addr = bind_free(&provider, ACTOR);
    let port = addr.port().to_string();
    let e = provider
        .bind_actor(ActorBinding::new("MOTHER", &[("PORT", &port)]))
        .unwrap_err();
    assert!(e.message().contains(&format!("port {port}")), "{e}");
    assert!(e.message().contains("MOTHER"), "{e}");
    assert!(provider.local_addr("MOTHER").is_none());
    // The first actor is unaffected.
    assert_eq!(get(addr, "/teapot").await.status.as_u16(), 418);

    let e = provider
        .bind_actor(ActorBinding::new("MOTHER", &[("PORT", "http")]))
        .unwrap_err();
    assert!(e.message().contains("'http'"), "{e}");
    let e = provider
        .bind_actor(ActorBinding::new(
            "MOTHER",
            &[("PORT", "0"), ("ADDRESS", "not an address")],
        ))
        .unwrap_err();
    assert!(e.message().contains("not an address"), "{e}");
    provider.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_frees_the_port_at_once_and_finishes_requests_in_flight() {
    let (provider, slow_arrived) = watched_provider();
    let addr = bind_free(&provider, ACTOR);
    let port = addr.port().to_string();

    // An idle keep-alive connection and a request in flight.
    let mut idle = connect(addr).await;
    assert_eq!(
        send(&mut idle, request_with_path("/teapot"))
            .await
            .status
            .as_u16(),
        418
    );
    let in_flight = tokio::spawn(async move { get(addr, "/slow").await });
    slow_arrived.notified().await;

    provider.remove_actor(ACTOR).unwrap();
    assert!(provider.local_addr(ACTOR).is_none());
    // The port is free right away, even for a listener outside the provider.
    drop(std::net::TcpListener::bind(addr).expect("the port is free after remove_actor"));
    // New connections are refused.
    assert!(TcpStream::connect(addr).await.is_err());

    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "slow done");
    // The idle connection was closed.
    tokio::time::timeout(Duration::from_secs(2), idle.ready())
        .await
        .expect("the idle connection closes")
        .expect_err("closed");

    // Binding the same port again right away works and serves.
    provider
        .bind_actor(ActorBinding::new(ACTOR, &[("PORT", &port)]))
        .unwrap();
    assert_eq!(provider.local_addr(ACTOR), Some(addr));
    assert_eq!(get(addr, "/teapot").await.status.as_u16(), 418);

    // Removing twice, or an actor never bound, is fine.
    provider.remove_actor(ACTOR).unwrap();
    provider.remove_actor(ACTOR).unwrap();
    provider.remove_actor("MNEVER").unwrap();
    drop(std::net::TcpListener::bind(addr).expect("free again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_binding_of_an_actor_gets_its_own_server() {
    let provider = provider();
    let first = bind_free(&provider, ACTOR);

    // Same port: the old server lets go and the new one takes it.
    provider
        .bind_actor(ActorBinding::new(
            ACTOR,
            &[("PORT", &first.port().to_string()), ("MAX_BODY_BYTES", "2")],
        ))
        .unwrap();
    assert_eq!(provider.local_addr(ACTOR), Some(first));
    assert_eq!(
        get_with_body(first, "123").await.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the new values apply"
    );

    // Another port: a second server, the first keeps serving.
    let second = bind_free(&provider, ACTOR);
    assert_ne!(second, first);
    assert_eq!(provider.local_addrs(ACTOR), [first, second]);
    assert_eq!(get(second, "/teapot").await.status.as_u16(), 418);
    assert_eq!(get(first, "/teapot").await.status.as_u16(), 418);

    // A failing bind on a taken port leaves the current servers running.
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap().port().to_string();
    provider
        .bind_actor(ActorBinding::new(ACTOR, &[("PORT", &taken)]))
        .unwrap_err();
    assert_eq!(provider.local_addrs(ACTOR), [first, second]);

    // Removing the actor stops every one of its servers.
    provider.remove_actor(ACTOR).unwrap();
    assert!(provider.local_addrs(ACTOR).is_empty());
    drop(std::net::TcpListener::bind(first).expect("the first port is free"));
    drop(std::net::TcpListener::bind(second).expect("the second port is free"));
    provider.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_connections_concurrently() {
    let provider = provider();
    let addr = bind_free(&provider, ACTOR);
    let started = std::time::Instant::now();
    let requests: Vec<_> = (0..20)
        .map(|_| tokio::spawn(async move { get(addr, "/slow").await }))
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap().body, "slow done");
    }
    // 20 × 300 ms one after the other would take 6 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    provider.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_every_server() {
    let (provider, slow_arrived) = watched_provider();
    let a = bind_free(&provider, "MA");
    let b = bind_free(&provider, "MB");
    let in_flight = tokio::spawn(async move { get(a, "/slow").await });
    slow_arrived.notified().await;
    let stopping = std::time::Instant::now();
    provider.stop();
    // stop waited for the request in flight (300 ms, from its arrival).
    assert!(
        stopping.elapsed() >= Duration::from_millis(150),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!(in_flight.await.unwrap().body, "slow done");
    for addr in [a, b] {
        drop(std::net::TcpListener::bind(addr).expect("port free after stop"));
    }
    assert!(provider.local_addr("MA").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describes_itself_and_takes_no_calls() {
    let provider = provider();
    let descriptor = provider.descriptor();
    assert_eq!(descriptor.capability_id, "wascc:http_server");
    assert_eq!(descriptor.name, "HTTP Server");
    assert_eq!(descriptor.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(descriptor.operations, ["HandleRequest"]);
    let e = provider
        .handle_call(Call {
            actor: ACTOR.into(),
            operation: "Anything".into(),
            payload: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e, ProviderError::unknown_operation("Anything"));
}

mod limits;
