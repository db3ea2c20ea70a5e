//! The responder actor: answers requests that arrive over `wascc:messaging`.
//!
//! On `DeliverMessage` (a broker message from the subject its binding
//! subscribes to) with a non-empty `replyTo`, it publishes
//! `{subject: replyTo, body: "reply: " + body}` through `wascc:messaging`
//! (binding `default`); a message without `replyTo` is ignored. A failing
//! publish becomes the call's error (the provider logs it). `HealthRequest`
//! answers empty.
//!
//! Its claims need `wascc:messaging`; bind it with e.g.
//! `SUBSCRIPTION: greetings`.

#![deny(unsafe_code)]

use trellis_actor::{messaging, HandlerResult};

trellis_actor::actor! {
    messaging::OP_DELIVER_MESSAGE => deliver_message,
    trellis_actor::OP_HEALTH_REQUEST => trellis_actor::health,
}

/// The reply's body for a request carrying `body`.
pub fn reply_body(body: &[u8]) -> Vec<u8> {
    let mut reply = b"reply: ".to_vec();
    reply.extend_from_slice(body);
    reply
}

fn deliver_message(payload: &[u8]) -> HandlerResult {
    let message = messaging::decode_message(payload)?;
    if !message.reply_to.is_empty() {
        messaging::publish(&message.reply_to, None, &reply_body(&message.body))?;
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use trellis_actor::codec;
    use trellis_actor::messaging::BrokerMessage;
    use trellis_actor::testing::{call, set_host};

    fn deliver(subject: &str, reply_to: &str, body: &[u8]) -> Result<Vec<u8>, String> {
        let message = BrokerMessage {
            subject: subject.into(),
            reply_to: reply_to.into(),
            body: body.to_vec(),
        };
        call("DeliverMessage", &codec::encode(&message).unwrap())
    }

    /// Records the messages the actor publishes.
    fn recording_host() -> Rc<RefCell<Vec<BrokerMessage>>> {
        let published: Rc<RefCell<Vec<BrokerMessage>>> = Rc::default();
        let log = Rc::clone(&published);
        set_host(move |binding, namespace, operation, payload| {
            assert_eq!(
                (binding, namespace, operation),
                ("default", "wascc:messaging", "Publish")
            );
            log.borrow_mut().push(codec::decode(payload).unwrap());
            Ok(Vec::new())
        });
        published
    }

    #[test]
    fn replies_to_requests() {
        wapc_init();
        let published = recording_host();
        assert_eq!(deliver("greetings", "_INBOX.abc", b"hello").unwrap(), b"");
        assert_eq!(
            *published.borrow(),
            [BrokerMessage {
                subject: "_INBOX.abc".into(),
                reply_to: String::new(),
                body: b"reply: hello".to_vec(),
            }]
        );
    }

    #[test]
    fn ignores_messages_without_reply_subject() {
        wapc_init();
        let published = recording_host();
        assert_eq!(deliver("greetings", "", b"hello").unwrap(), b"");
        assert!(published.borrow().is_empty());
    }

    #[test]
    fn publish_errors_and_bad_payloads_fail_the_call() {
        wapc_init();
        set_host(|_, _, _, _| Err("actor is not bound to wascc:messaging".into()));
        assert_eq!(
            deliver("greetings", "_INBOX.abc", b"hello").unwrap_err(),
            "actor is not bound to wascc:messaging"
        );
        assert!(call("DeliverMessage", &[0xc1])
            .unwrap_err()
            .contains("cannot decode"));
    }
}
