//! The greeter actor: answers HTTP requests by calling another actor.
//!
//! On `HandleRequest` it reads the key of the actor to call from the query
//! string (`?actor=M…`), calls that actor's `HandleRequest` with the same
//! request (actor-to-actor call, binding `default`), and answers `200` with
//! `greeter saw: <the other actor's response body>`. Without an `actor`
//! parameter it answers `400`; when the call fails (or its reply is not an
//! HTTP response) it answers `502` with the error text. `HealthRequest`
//! answers empty.
//!
//! Its claims need `wascc:http_server` (calling another actor needs no
//! capability).

#![deny(unsafe_code)]

use trellis_actor::codec;
use trellis_actor::http::{self, ResponseExt};
use trellis_actor::HandlerResult;

trellis_actor::actor! {
    http::OP_HANDLE_REQUEST => handle_request,
    trellis_actor::OP_HEALTH_REQUEST => trellis_actor::health,
}

/// The value of the `actor` parameter of `query`, when it names an actor (`M…`).
pub fn target_actor(query: &str) -> Option<&str> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "actor")
        .map(|(_, value)| value)
        .filter(|value| value.starts_with('M'))
}

fn handle_request(payload: &[u8]) -> HandlerResult {
    let request = http::decode_request(payload)?;
    let Some(actor) = target_actor(&request.query_string) else {
        return Ok(http::encode_response(&text(http::bad_request(
            "name the actor to call in the query string: ?actor=M…",
        )))?);
    };
    let response = match call_actor(actor, payload) {
        Ok(body) => {
            let mut saw = b"greeter saw: ".to_vec();
            saw.extend_from_slice(&body);
            http::ok(saw)
        }
        Err(e) => http::status(502, e),
    };
    Ok(http::encode_response(&text(response))?)
}

/// Calls `HandleRequest` of `actor` with `payload`; its response's body, or the error text.
fn call_actor(actor: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
    let reply = trellis_actor::actor::call(actor, http::OP_HANDLE_REQUEST, payload)
        .map_err(|e| format!("calling actor {actor} failed: {e}"))?;
    let response: http::Response = codec::decode(&reply)
        .map_err(|e| format!("actor {actor} did not answer with an HTTP response: {e}"))?;
    Ok(response.body)
}

fn text(response: http::Response) -> http::Response {
    response.with_header("content-type", "text/plain; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_actor::testing::{call, set_host};

    const OTHER: &str = "MB4OLDIC3TCZ4Q4TGGOVAZC43VXFE2JQVRAXQMQFXUCREOOFEKOKZTY2";

    fn get(path: &str, query: &str) -> http::Response {
        let request = http::Request {
            method: "GET".into(),
            path: path.into(),
            query_string: query.into(),
            ..Default::default()
        };
        let reply = call("HandleRequest", &codec::encode(&request).unwrap()).unwrap();
        codec::decode(&reply).unwrap()
    }

    #[test]
    fn finds_the_actor_in_the_query() {
        assert_eq!(target_actor("actor=MABC"), Some("MABC"));
        assert_eq!(target_actor("?x=1&actor=MABC&y=2"), Some("MABC"));
        assert_eq!(target_actor("x=1"), None);
        assert_eq!(target_actor("actor="), None);
        assert_eq!(target_actor("actor=CABC"), None);
        assert_eq!(target_actor(""), None);
    }

    #[test]
    fn calls_the_actor_with_the_same_request() {
        wapc_init();
        set_host(|binding, namespace, operation, payload| {
            assert_eq!(
                (binding, namespace, operation),
                ("default", OTHER, "HandleRequest")
            );
            let request: http::Request = codec::decode(payload).unwrap();
            assert_eq!(request.path, "/hello");
            assert_eq!(request.query_string, format!("actor={OTHER}"));
            Ok(codec::encode(&http::ok(format!("hi from {}", request.path))).unwrap())
        });
        let response = get("/hello", &format!("actor={OTHER}"));
        assert_eq!(response.status_code, 200);
        assert_eq!(response.body, b"greeter saw: hi from /hello");
    }

    #[test]
    fn missing_actor_is_400() {
        wapc_init();
        set_host(|_, _, _, _| panic!("no call expected"));
        let response = get("/hello", "x=1");
        assert_eq!(response.status_code, 400);
        assert_eq!(
            response.body,
            "name the actor to call in the query string: ?actor=M…".as_bytes()
        );
    }

    #[test]
    fn call_errors_are_502() {
        wapc_init();
        set_host(|_, _, _, _| Err("no actor MB4OLD… in the lattice".into()));
        let response = get("/", &format!("actor={OTHER}"));
        assert_eq!(response.status_code, 502);
        assert_eq!(
            String::from_utf8(response.body).unwrap(),
            format!("calling actor {OTHER} failed: no actor MB4OLD… in the lattice")
        );

        set_host(|_, _, _, _| Ok(vec![0xc1]));
        let response = get("/", &format!("actor={OTHER}"));
        assert_eq!(response.status_code, 502);
        let body = String::from_utf8(response.body).unwrap();
        assert!(
            body.starts_with(&format!(
                "actor {OTHER} did not answer with an HTTP response"
            )),
            "{body}"
        );
    }
}
