//! Calling out over HTTP: `wascc:http_client` `PerformRequest`.
//!
//! ```no_run
//! use trellis_actor::http_client;
//!
//! # fn f() -> Result<(), trellis_actor::Error> {
//! let response = http_client::get("https://example.com/status")?;
//! let sent = http_client::request("POST", "https://example.com/items",
//!                                 &[("content-type", "application/json")], b"{}".to_vec())?;
//! # let _ = (response, sent); Ok(()) }
//! ```

use crate::{Error, DEFAULT_BINDING};

pub use trellis_codec::http::{Request, Response, HTTP_CLIENT, OP_PERFORM_REQUEST};

/// Performs `method url` with `headers` and `body`; `url` is the full URL, query included.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> Result<Response, Error> {
    perform(&Request {
        method: method.to_owned(),
        path: url.to_owned(),
        query_string: String::new(),
        header: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.into(),
    })
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    request("GET", url, &[], Vec::new())
}

/// Performs `request` (its `path` holds the full URL) through the default binding.
pub fn perform(request: &Request) -> Result<Response, Error> {
    perform_on(DEFAULT_BINDING, request)
}

/// Performs `request` through the named binding.
pub fn perform_on(binding: &str, request: &Request) -> Result<Response, Error> {
    crate::call(binding, HTTP_CLIENT, OP_PERFORM_REQUEST, request)
}
