//! `wascc:http_server` (provider → actor) and `wascc:http_client` (actor → provider).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The capability id of HTTP servers.
pub const HTTP_SERVER: &str = "wascc:http_server";
/// The capability id of HTTP clients.
pub const HTTP_CLIENT: &str = "wascc:http_client";
/// HTTP server → actor: handle one request.
pub const OP_HANDLE_REQUEST: &str = "HandleRequest";
/// Actor → HTTP client: perform a request (`path` holds the full URL).
pub const OP_PERFORM_REQUEST: &str = "PerformRequest";

/// An HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path (server) or the full URL (client).
    pub path: String,
    /// The query string without its `?`.
    pub query_string: String,
    /// Header names and values; repeated headers are joined with `,`.
    pub header: HashMap<String, String>,
    /// The body.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status_code: u32,
    /// The reason phrase, e.g. `OK`.
    pub status: String,
    /// Header names and values.
    pub header: HashMap<String, String>,
    /// The body.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

impl Response {
    /// A `200 OK` with the given body.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Response {
            status_code: 200,
            status: "OK".into(),
            header: HashMap::new(),
            body: body.into(),
        }
    }

    /// A response with the given status and a plain-text body.
    pub fn with_status(status_code: u32, status: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status_code,
            status: status.into(),
            header: HashMap::new(),
            body: body.into(),
        }
    }
}
