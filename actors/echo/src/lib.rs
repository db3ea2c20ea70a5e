//! The echo actor: answers `HandleRequest` with `200`, `content-type:
//! application/json` and a JSON description of the request:
//!
//! ```json
//! {"method":"GET","path":"/a","query_string":"x=1","headers":{"accept":"*/*"},
//!  "body":"<the body as UTF-8, lossy>","version":1}
//! ```
//!
//! `version` is 1, or 2 when built with `--features v2` (hot-reload tests
//! swap one build for the other). `HealthRequest` answers empty.

#![deny(unsafe_code)]

use std::collections::BTreeMap;
use trellis_actor::http::{self, ResponseExt};
use trellis_actor::HandlerResult;

/// The version this build reports.
pub const VERSION: u32 = if cfg!(feature = "v2") { 2 } else { 1 };

trellis_actor::actor! {
    http::OP_HANDLE_REQUEST => handle_request,
    trellis_actor::OP_HEALTH_REQUEST => trellis_actor::health,
}

fn handle_request(payload: &[u8]) -> HandlerResult {
    http::handle(payload, |request| {
        let headers: BTreeMap<&str, &str> = request
            .header
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = serde_json::json!({
            "method": request.method,
            "path": request.path,
            "query_string": request.query_string,
            "headers": headers,
            "body": String::from_utf8_lossy(&request.body),
            "version": VERSION,
        });
        Ok(http::ok(serde_json::to_vec(&body)?).with_header("content-type", "application/json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_actor::codec;
    use trellis_actor::testing::call;

    #[test]
    fn echoes_the_request_as_json() {
        wapc_init();
        let request = http::Request {
            method: "POST".into(),
            path: "/foo/bar".into(),
            query_string: "x=1".into(),
            header: [("accept".to_owned(), "*/*".to_owned())].into(),
            body: b"hi \xff".to_vec(),
        };
        let reply = call("HandleRequest", &codec::encode(&request).unwrap()).unwrap();
        let response: http::Response = codec::decode(&reply).unwrap();
        assert_eq!(response.status_code, 200);
        assert_eq!(response.header["content-type"], "application/json");
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "method": "POST", "path": "/foo/bar", "query_string": "x=1",
                "headers": {"accept": "*/*"}, "body": "hi \u{fffd}", "version": VERSION,
            })
        );
    }
}
