//! Between hyper's requests and responses and the wire types actors understand.

use bytes::Bytes;
use http_body_util::Full;
use hyper::ext::ReasonPhrase;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use hyper::http::request::Parts;
use hyper::{HeaderMap, StatusCode};
use std::collections::HashMap;
use trellis_codec::http;
use trellis_provider_sdk::{CallError, CallErrorKind};

/// The body type of every response this server writes.
pub type ResponseBody = Full<Bytes>;

/// The longest error text put into a response body.
const MAX_ERROR_CHARS: usize = 500;

/// The actor's view of a request: method, path, query string without its `?`,
/// headers with lowercase names (repeated ones joined with `,`) and the body.
pub fn to_actor_request(parts: &Parts, body: Vec<u8>) -> http::Request {
    http::Request {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query_string: parts.uri.query().unwrap_or("").to_string(),
        header: header_map(&parts.headers),
        body,
    }
}

/// Header names in lowercase (as hyper already gives them); values that are
/// not UTF-8 are converted lossily.
fn header_map(headers: &HeaderMap) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = HashMap::with_capacity(headers.keys_len());
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        map.entry(name.as_str().to_ascii_lowercase())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    map
}

/// The response to write for an actor's reply, or why the reply cannot be one.
///
/// An empty `status` gets the code's standard reason phrase; any other is
/// written as given. `content-length` and `transfer-encoding` from the actor
/// are ignored: the server frames the body itself.
pub fn from_actor_response(reply: http::Response) -> Result<hyper::Response<ResponseBody>, String> {
    let code = u16::try_from(reply.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| format!("invalid status code {}", reply.status_code))?;
    let mut response = hyper::Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = code;
    let reason = reply.status.trim();
    if !reason.is_empty() && Some(reason) != code.canonical_reason() {
        let phrase = ReasonPhrase::try_from(reason.as_bytes())
            .map_err(|_| format!("invalid status text {reason:?}"))?;
        response.extensions_mut().insert(phrase);
    }
    let headers = response.headers_mut();
    for (name, value) in reply.header {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("invalid value for header '{name}': {value:?}"))?;
        headers.append(name, value);
    }
    Ok(response)
}

/// A plain-text response the server writes itself (errors, limits).
pub fn plain_response(code: StatusCode, text: &str) -> hyper::Response<ResponseBody> {
    let text = truncate(text, MAX_ERROR_CHARS);
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = code;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The answer to a request whose actor call failed; the status says why:
/// `503` when no instance of the actor can take the call (none runs, none can
/// be started, the host is shutting down), `504` when the call timed out,
/// `500` when the actor itself failed (or for any other failure). The body
/// is one line: the status, what went wrong, and the host's message.
pub fn call_failure_response(actor: &str, error: &CallError) -> hyper::Response<ResponseBody> {
    let (code, what) = match error.kind() {
        CallErrorKind::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no instance of actor {actor} can take the call"),
        ),
        CallErrorKind::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("actor {actor} did not answer in time"),
        ),
        CallErrorKind::ActorFailed => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("actor {actor} failed"),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the call to actor {actor} failed"),
        ),
    };
    let reason = code.canonical_reason().unwrap_or_default();
    let line = format!("{} {reason}: {what}: {error}", code.as_u16());
    plain_response(code, &line)
}

/// At most `max` characters of `text`, with `…` when something was cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn parts(request: hyper::http::request::Builder) -> Parts {
        request.body(()).unwrap().into_parts().0
    }

    async fn body_of(response: hyper::Response<ResponseBody>) -> Vec<u8> {
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    #[test]
    fn request_fields() {
        let parts = parts(
            hyper::Request::builder()
                .method("POST")
                .uri("http://example.com/foo/bar?x=1&y=%20")
                .header("Content-Type", "text/plain")
                .header("X-Many", "a")
                .header("x-many", "b")
                .header("X-Many", "c, d"),
        );
        let request = to_actor_request(&parts, b"hello".to_vec());
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/foo/bar");
        assert_eq!(request.query_string, "x=1&y=%20");
        assert_eq!(request.body, b"hello");
        assert_eq!(request.header.len(), 2);
        assert_eq!(request.header["content-type"], "text/plain");
        assert_eq!(request.header["x-many"], "a,b,c, d");
    }

    #[test]
    fn request_without_query_or_headers() {
        let parts = parts(hyper::Request::builder().uri("/"));
        let request = to_actor_request(&parts, Vec::new());
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/");
        assert_eq!(request.query_string, "");
        assert!(request.header.is_empty());
        assert!(request.body.is_empty());
    }

    #[test]
    fn request_survives_the_codec() {
        let parts = parts(
            hyper::Request::builder()
                .method("PUT")
                .uri("/k?v")
                .header("a", "1"),
        );
        let request = to_actor_request(&parts, vec![0, 159, 255]);
        let back: http::Request =
            trellis_codec::decode(&trellis_codec::encode(&request).unwrap()).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn non_utf8_header_value_is_kept_lossily() {
        let mut parts = parts(hyper::Request::builder().uri("/"));
        parts
            .headers
            .insert("x-bin", HeaderValue::from_bytes(b"a\xffb").unwrap());
        let request = to_actor_request(&parts, Vec::new());
        assert_eq!(request.header["x-bin"], "a\u{fffd}b");
    }

    #[tokio::test]
    async fn response_fields() {
        let mut reply = http::Response::ok("hi");
        reply
            .header
            .insert("Content-Type".into(), "text/html".into());
        reply.header.insert("x-y".into(), "z".into());
        let response = from_actor_response(reply).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/html");
        assert_eq!(response.headers()["x-y"], "z");
        // "OK" is the standard phrase: nothing to override.
        assert!(response.extensions().get::<ReasonPhrase>().is_none());
        assert_eq!(body_of(response).await, b"hi");
    }

    #[test]
    fn empty_status_takes_the_standard_reason() {
        let reply = http::Response {
            status_code: 404,
            ..Default::default()
        };
        let response = from_actor_response(reply).unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.extensions().get::<ReasonPhrase>().is_none());
    }

    #[test]
    fn custom_status_text_is_kept() {
        let reply = http::Response::with_status(418, "Short And Stout", "");
        let response = from_actor_response(reply).unwrap();
        assert_eq!(response.status().as_u16(), 418);
        assert_eq!(
            response
                .extensions()
                .get::<ReasonPhrase>()
                .unwrap()
                .as_bytes(),
            b"Short And Stout"
        );
    }

    #[test]
    fn framing_headers_from_the_actor_are_ignored() {
        let mut reply = http::Response::ok("four");
        reply.header.insert("Content-Length".into(), "999".into());
        reply
            .header
            .insert("transfer-encoding".into(), "chunked".into());
        let response = from_actor_response(reply).unwrap();
        assert!(response.headers().is_empty());
    }

    #[test]
    fn invalid_replies_are_explained() {
        for (code, expected) in [(0, "invalid status code 0"), (70_000, "70000")] {
            let reply = http::Response {
                status_code: code,
                ..Default::default()
            };
            let e = from_actor_response(reply).unwrap_err();
            assert!(e.contains(expected), "{e}");
        }
        let mut reply = http::Response::ok("");
        reply.header.insert("bad name".into(), "v".into());
        assert!(from_actor_response(reply).unwrap_err().contains("bad name"));
        let mut reply = http::Response::ok("");
        reply.header.insert("x".into(), "line\nbreak".into());
        assert!(from_actor_response(reply)
            .unwrap_err()
            .contains("header 'x'"));
        let reply = http::Response::with_status(200, "bad\r\nphrase", "");
        assert!(from_actor_response(reply)
            .unwrap_err()
            .contains("status text"));
    }

    #[tokio::test]
    async fn plain_responses_are_truncated() {
        let long = "é".repeat(2000);
        let response = plain_response(StatusCode::INTERNAL_SERVER_ERROR, &long);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        let body = String::from_utf8(body_of(response).await).unwrap();
        assert_eq!(body.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(body.ends_with('…'));
        assert_eq!(truncate("short", 500), "short");
    }
}
