//! Serving HTTP: `wascc:http_server` sends `HandleRequest` with an [`http::Request`](Request);
//! the actor answers with an encoded [`Response`].
//!
//! ```
//! use trellis_actor::{http::{self, ResponseExt}, HandlerResult};
//!
//! fn handle_request(payload: &[u8]) -> HandlerResult {
//!     http::handle(payload, |request| match request.path.as_str() {
//!         "/" => Ok(http::ok("home").with_header("content-type", "text/plain")),
//!         _ => Ok(http::not_found()),
//!     })
//! }
//! # let req = trellis_actor::codec::encode(&http::Request { path: "/".into(), ..Default::default() }).unwrap();
//! # let resp: http::Response = trellis_actor::codec::decode(&handle_request(&req).unwrap()).unwrap();
//! # assert_eq!((resp.status_code, resp.body.as_slice()), (200, &b"home"[..]));
//! ```

use crate::{codec, HandlerResult};

pub use trellis_codec::http::{Request, Response, HTTP_SERVER, OP_HANDLE_REQUEST};

/// Decodes the payload of a `HandleRequest`.
pub fn decode_request(payload: &[u8]) -> Result<Request, codec::CodecError> {
    codec::decode(payload)
}

/// Encodes a response as the reply to `HandleRequest`.
pub fn encode_response(response: &Response) -> Result<Vec<u8>, codec::CodecError> {
    codec::encode(response)
}

/// Decodes the request, runs `f`, encodes its response: a whole `HandleRequest` handler.
pub fn handle(payload: &[u8], f: impl FnOnce(Request) -> HandlerResult<Response>) -> HandlerResult {
    let request = decode_request(payload)?;
    let response = f(request)?;
    Ok(encode_response(&response)?)
}

/// `200 OK` with `body`.
pub fn ok(body: impl Into<Vec<u8>>) -> Response {
    status(200, body)
}

/// A response with status `code`, its usual reason phrase, and `body`.
pub fn status(code: u32, body: impl Into<Vec<u8>>) -> Response {
    Response::with_status(code, reason_phrase(code), body)
}

/// `200 OK` with `content-type: application/json` and `body` (already JSON text).
pub fn json(body: impl Into<Vec<u8>>) -> Response {
    ok(body).with_header("content-type", "application/json")
}

/// `400 Bad Request` with `message` as the body.
pub fn bad_request(message: &str) -> Response {
    status(400, message)
}

/// `404 Not Found`, empty body.
pub fn not_found() -> Response {
    status(404, Vec::new())
}

/// `500 Internal Server Error` with `message` as the body.
pub fn internal_error(message: &str) -> Response {
    status(500, message)
}

/// Builder-style additions to [`Response`].
pub trait ResponseExt {
    /// Sets header `name` to `value`, replacing an earlier value.
    fn with_header(self, name: &str, value: &str) -> Self;
}

impl ResponseExt for Response {
    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.header.insert(name.to_owned(), value.to_owned());
        self
    }
}

/// The usual reason phrase of a status code (empty for unusual ones).
pub fn reason_phrase(code: u32) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}
