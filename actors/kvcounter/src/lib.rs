//! The kvcounter actor: counts HTTP requests per path in `wascc:keyvalue`.
//!
//! Each `HandleRequest` atomically adds 1 (keyvalue `Add`) to the counter
//! under `counter:<path>` (e.g. `counter:/foo`) in the store bound as
//! `default`, and answers `200` with `content-type: application/json` and
//! `{"counter": N}`, the new count. When the key-value call fails it answers
//! `500` with the error text (`text/plain`). `HealthRequest` answers empty.
//!
//! Its claims need `wascc:http_server` and `wascc:keyvalue`.

#![deny(unsafe_code)]

use trellis_actor::http::{self, ResponseExt};
use trellis_actor::{keyvalue, HandlerResult};

trellis_actor::actor! {
    http::OP_HANDLE_REQUEST => handle_request,
    trellis_actor::OP_HEALTH_REQUEST => trellis_actor::health,
}

/// The key that counts requests to `path`.
pub fn counter_key(path: &str) -> String {
    format!("counter:{path}")
}

fn handle_request(payload: &[u8]) -> HandlerResult {
    http::handle(payload, |request| {
        match keyvalue::add(&counter_key(&request.path), 1) {
            Ok(counter) => {
                let body = serde_json::json!({ "counter": counter });
                Ok(http::json(serde_json::to_vec(&body)?))
            }
            Err(e) => Ok(http::internal_error(&e.to_string())
                .with_header("content-type", "text/plain; charset=utf-8")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;
    use trellis_actor::codec;
    use trellis_actor::codec::keyvalue::{AddRequest, AddResponse};
    use trellis_actor::testing::{call, set_host};

    fn get(path: &str) -> http::Response {
        let request = http::Request {
            method: "GET".into(),
            path: path.into(),
            ..Default::default()
        };
        let reply = call("HandleRequest", &codec::encode(&request).unwrap()).unwrap();
        codec::decode(&reply).unwrap()
    }

    #[test]
    fn counts_per_path() {
        wapc_init();
        let counters: Rc<RefCell<HashMap<String, i32>>> = Rc::default();
        let store = Rc::clone(&counters);
        set_host(move |binding, namespace, operation, payload| {
            assert_eq!(
                (binding, namespace, operation),
                ("default", "wascc:keyvalue", "Add")
            );
            let request: AddRequest = codec::decode(payload).unwrap();
            let mut store = store.borrow_mut();
            let counter = store.entry(request.key).or_default();
            *counter += request.value;
            Ok(codec::encode(&AddResponse { value: *counter }).unwrap())
        });
        for (path, expected) in [("/foo", 1), ("/foo", 2), ("/bar", 1), ("/foo", 3)] {
            let response = get(path);
            assert_eq!(response.status_code, 200);
            assert_eq!(response.header["content-type"], "application/json");
            let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(json, serde_json::json!({ "counter": expected }));
        }
        assert_eq!(counters.borrow()["counter:/foo"], 3);
        assert_eq!(counters.borrow()["counter:/bar"], 1);
    }

    #[test]
    fn keyvalue_errors_become_500() {
        wapc_init();
        set_host(|_, _, _, _| Err("Redis at redis://127.0.0.1:6379 failed: broken pipe".into()));
        let response = get("/foo");
        assert_eq!(response.status_code, 500);
        assert_eq!(
            response.body,
            b"Redis at redis://127.0.0.1:6379 failed: broken pipe"
        );
    }
}
