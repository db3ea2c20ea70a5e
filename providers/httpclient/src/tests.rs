//! The provider against a real HTTP server on 127.0.0.1, started in each
//! test: headers, bodies, statuses, the timeout, the size limit, and the
//! errors for refused connections and invalid URLs.

use super::*;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use trellis_codec::http;

const ACTOR: &str = "MACTOR";
/// No test waits longer than this for the provider to answer.
const DEADLINE: Duration = Duration::from_secs(20);

type ServerBody = BoxBody<Bytes, Infallible>;

/// A body sent in `count` chunks of `size` bytes, with no declared length.
struct Chunks {
    count: usize,
    size: usize,
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.count == 0 {
            return Poll::Ready(None);
        }
        self.count -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.size])))))
    }
}

fn full(body: impl Into<Bytes>) -> ServerBody {
    Full::new(body.into()).boxed()
}

/// The test server. Paths pick the behaviour:
/// `/echo` answers 200 with what it saw in `x-*` headers and the request
/// body as its body; `/missing` answers 404; `/reason` answers 299 with a
/// custom reason phrase; `/slow` answers after a minute; `/big` sends 2048
/// bytes with a `content-length`; `/stream` sends 4 × 1024 bytes chunked;
/// `/small-stream` sends 100 bytes chunked.
async fn handle(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<ServerBody>, Infallible> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let response = match request.uri().path() {
        "/echo" => {
            let builder = hyper::Response::builder()
                .header("x-method", request.method().as_str())
                .header("x-query", request.uri().query().unwrap_or(""))
                .header("x-seen-custom", header("x-custom"))
                .header("x-seen-host", header("host"))
                .header("x-seen-length", header("content-length"))
                .header("X-Multi", "a")
                .header("x-multi", "b");
            let body = match request.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => Bytes::from_static(b"body failed"),
            };
            builder.body(full(body))
        }
        "/missing" => hyper::Response::builder().status(404).body(full("nope")),
        "/reason" => {
            let mut response = hyper::Response::new(full("fine"));
            *response.status_mut() = hyper::StatusCode::from_u16(299).unwrap();
            response
                .extensions_mut()
                .insert(hyper::ext::ReasonPhrase::from_static(b"Fine Enough"));
            Ok(response)
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            hyper::Response::builder().body(full("too late"))
        }
        "/big" => hyper::Response::builder().body(full(vec![b'x'; 2048])),
        "/stream" => hyper::Response::builder().body(
            Chunks {
                count: 4,
                size: 1024,
            }
            .boxed(),
        ),
        "/small-stream" => hyper::Response::builder().body(
            Chunks {
                count: 1,
                size: 100,
            }
            .boxed(),
        ),
        _ => hyper::Response::builder()
            .status(400)
            .body(full("unknown path")),
    };
    Ok(response.unwrap())
}

/// Starts the test server on a free port; it lives as long as the test's runtime.
async fn start_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });
    addr
}

fn provider() -> HttpClientProvider {
    HttpClientProvider::new().unwrap()
}

fn get(url: String) -> http::Request {
    http::Request {
        method: "GET".into(),
        path: url,
        ..Default::default()
    }
}

/// Sends `request` as `actor` through `handle_call`, within [`DEADLINE`].
async fn perform(
    provider: &HttpClientProvider,
    actor: &str,
    request: &http::Request,
) -> Result<http::Response, ProviderError> {
    let call = Call {
        actor: actor.into(),
        operation: OP_PERFORM_REQUEST.into(),
        payload: encode(request).unwrap(),
    };
    let reply = tokio::time::timeout(DEADLINE, provider.handle_call(call))
        .await
        .expect("the provider did not answer before the deadline")?;
    Ok(decode(&reply).unwrap())
}

#[tokio::test]
async fn get_sends_headers_and_query_and_returns_the_response_headers() {
    let addr = start_server().await;
    let provider = provider();
    let mut request = get(format!("http://{addr}/echo?x=1"));
    request.query_string = "y=2".into();
    request.header.insert("X-Custom".into(), "hello".into());
    let response = perform(&provider, ACTOR, &request).await.unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(response.status, "OK");
    assert_eq!(response.header["x-method"], "GET");
    assert_eq!(response.header["x-query"], "x=1&y=2");
    assert_eq!(response.header["x-seen-custom"], "hello");
    assert_eq!(response.header["x-seen-host"], addr.to_string());
    assert_eq!(response.header["x-multi"], "a,b");
    assert_eq!(response.header["content-length"], "0");
    assert!(response.header.keys().all(|k| *k == k.to_lowercase()));
    assert!(response.body.is_empty());

    // An empty method means GET, and the pooled connection is reused fine.
    request.method.clear();
    let response = perform(&provider, ACTOR, &request).await.unwrap();
    assert_eq!(response.header["x-method"], "GET");
}

#[tokio::test]
async fn post_sends_the_body_with_its_real_length() {
    let addr = start_server().await;
    let provider = provider();
    let body = vec![0u8, 159, 255, b'h', b'i'];
    let request = http::Request {
        method: "post".into(),
        path: format!("http://{addr}/echo"),
        header: [("content-length".to_string(), "999".to_string())].into(),
        body: body.clone(),
        ..Default::default()
    };
    let response = perform(&provider, ACTOR, &request).await.unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(response.header["x-method"], "POST");
    assert_eq!(response.header["x-seen-length"], "5");
    assert_eq!(response.body, body);
}

#[tokio::test]
async fn error_statuses_are_responses_not_errors() {
    let addr = start_server().await;
    let provider = provider();
    let response = perform(&provider, ACTOR, &get(format!("http://{addr}/missing")))
        .await
        .unwrap();
    assert_eq!(response.status_code, 404);
    assert_eq!(response.status, "Not Found");
    assert_eq!(response.body, b"nope");

    let response = perform(&provider, ACTOR, &get(format!("http://{addr}/reason")))
        .await
        .unwrap();
    assert_eq!(response.status_code, 299);
    assert_eq!(response.status, "Fine Enough");
    assert_eq!(response.body, b"fine");
}

#[tokio::test]
async fn a_slow_server_times_out_after_the_bound_timeout() {
    let addr = start_server().await;
    let provider = provider();
    provider
        .bind_actor(ActorBinding::new(ACTOR, &[("TIMEOUT_MS", "200")]))
        .unwrap();
    let url = format!("http://{addr}/slow");
    let started = Instant::now();
    let e = perform(&provider, ACTOR, &get(url.clone()))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(e.message().contains("timed out after 200 ms"), "{e}");
    assert!(e.message().contains(&url), "{e}");
    assert!(took >= Duration::from_millis(200), "gave up after {took:?}");
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");
}

#[tokio::test]
async fn responses_over_the_limit_are_errors() {
    let addr = start_server().await;
    let provider = provider();
    provider
        .bind_actor(ActorBinding::new(ACTOR, &[("MAX_RESPONSE_BYTES", "1000")]))
        .unwrap();
    // Declared too large (content-length), and found too large while reading.
    for path in ["/big", "/stream"] {
        let url = format!("http://{addr}{path}");
        let e = perform(&provider, ACTOR, &get(url.clone()))
            .await
            .unwrap_err();
        assert!(
            e.message().contains("larger than the limit of 1000 bytes"),
            "{e}"
        );
        assert!(e.message().contains(&url), "{e}");
    }
    let small = perform(
        &provider,
        ACTOR,
        &get(format!("http://{addr}/small-stream")),
    )
    .await
    .unwrap();
    assert_eq!(small.body, vec![b'x'; 100]);

    // An unbound actor has the default limit of 10 MiB.
    let big = perform(&provider, "MUNBOUND", &get(format!("http://{addr}/stream")))
        .await
        .unwrap();
    assert_eq!(big.body.len(), 4096);
}

#[tokio::test]
async fn a_refused_connection_is_an_error_naming_the_url() {
    let url = format!(
        "http://127.0.0.1:{}/nothing",
        trellis_test_support::free_port()
    );
    let e = perform(&provider(), ACTOR, &get(url.clone()))
        .await
        .unwrap_err();
    assert!(e.message().contains(&url), "{e}");
    assert!(e.message().contains("cannot connect"), "{e}");
    assert!(e.message().to_lowercase().contains("refused"), "{e}");
}

#[tokio::test]
async fn invalid_urls_methods_and_headers_are_errors() {
    let provider = provider();
    for url in ["not a url", "/relative/path", "ftp://127.0.0.1/file", ""] {
        let e = perform(&provider, ACTOR, &get(url.into()))
            .await
            .unwrap_err();
        assert!(e.message().contains("invalid URL"), "{e}");
        assert!(e.message().contains(&format!("'{url}'")), "{e}");
    }
    let mut request = get("http://127.0.0.1:1/".into());
    request.method = "NOT A METHOD".into();
    let e = perform(&provider, ACTOR, &request).await.unwrap_err();
    assert!(e.message().contains("invalid HTTP method"), "{e}");

    let mut request = get("http://127.0.0.1:1/".into());
    request.header.insert("bad header".into(), "x".into());
    let e = perform(&provider, ACTOR, &request).await.unwrap_err();
    assert!(e.message().contains("http://127.0.0.1:1/"), "{e}");
    assert!(e.message().contains("'bad header'"), "{e}");
}

#[tokio::test]
async fn https_to_a_plain_http_server_fails_the_handshake() {
    let addr = start_server().await;
    let url = format!("https://{addr}/echo");
    let e = perform(&provider(), ACTOR, &get(url.clone()))
        .await
        .unwrap_err();
    assert!(e.message().contains(&url), "{e}");
    assert!(e.message().contains("cannot connect"), "{e}");
}

#[test]
fn bindings_set_and_reset_the_limits() {
    let provider = provider();
    assert_eq!(provider.config_for(ACTOR), ClientConfig::default());
    provider
        .bind_actor(ActorBinding::new(
            ACTOR,
            &[("TIMEOUT_MS", "1500"), ("MAX_RESPONSE_BYTES", "64")],
        ))
        .unwrap();
    let config = provider.config_for(ACTOR);
    assert_eq!(config.timeout, Duration::from_millis(1500));
    assert_eq!(config.max_response_bytes, 64);
    assert_eq!(provider.config_for("MOTHER"), ClientConfig::default());

    let e = provider
        .bind_actor(ActorBinding::new(ACTOR, &[("TIMEOUT_MS", "never")]))
        .unwrap_err();
    assert!(e.message().contains("TIMEOUT_MS"), "{e}");
    // A refused rebinding leaves the previous values.
    assert_eq!(provider.config_for(ACTOR), config);

    provider.remove_actor(ACTOR).unwrap();
    assert_eq!(provider.config_for(ACTOR), ClientConfig::default());
    provider.bind_actor(ActorBinding::new(ACTOR, &[])).unwrap();
    provider.stop();
    assert_eq!(provider.config_for(ACTOR), ClientConfig::default());
}

#[tokio::test]
async fn unknown_operations_and_bad_payloads_are_errors() {
    let provider = provider();
    let call = |operation: &str, payload: Vec<u8>| Call {
        actor: ACTOR.into(),
        operation: operation.into(),
        payload,
    };
    let e = provider
        .handle_call(call("HandleRequest", Vec::new()))
        .await
        .unwrap_err();
    assert_eq!(e, ProviderError::unknown_operation("HandleRequest"));
    let e = provider
        .handle_call(call(OP_PERFORM_REQUEST, vec![0xc1]))
        .await
        .unwrap_err();
    assert!(e.message().contains("http::Request"), "{e}");
}

#[test]
fn describes_itself() {
    let d = provider().descriptor();
    assert_eq!(d.capability_id, "wascc:http_client");
    assert_eq!(d.name, "HTTP Client");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(d.operations, ["PerformRequest"]);
}
