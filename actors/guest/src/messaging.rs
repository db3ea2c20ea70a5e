//! Publishing and requesting over a broker: `wascc:messaging`.
//!
//! ```no_run
//! use trellis_actor::messaging;
//!
//! # fn f() -> Result<(), trellis_actor::Error> {
//! messaging::publish("events.started", None, b"{}")?;
//! let reply = messaging::request("time.now", b"", 1000)?;
//! # let _ = reply; Ok(()) }
//! ```

use crate::{Error, DEFAULT_BINDING};

pub use trellis_codec::messaging::{
    BrokerMessage, RequestMessage, CAPABILITY, OP_DELIVER_MESSAGE, OP_PUBLISH, OP_REQUEST,
};

/// Publishes `body` on `subject`, with an optional reply subject.
pub fn publish(subject: &str, reply_to: Option<&str>, body: &[u8]) -> Result<(), Error> {
    let message = BrokerMessage {
        subject: subject.to_owned(),
        reply_to: reply_to.unwrap_or_default().to_owned(),
        body: body.to_vec(),
    };
    crate::call_raw(DEFAULT_BINDING, CAPABILITY, OP_PUBLISH, &message).map(drop)
}

/// Sends `body` to `subject` and waits up to `timeout_ms` for one reply.
pub fn request(subject: &str, body: &[u8], timeout_ms: i64) -> Result<BrokerMessage, Error> {
    let request = RequestMessage {
        subject: subject.to_owned(),
        body: body.to_vec(),
        timeout: timeout_ms,
    };
    crate::call(DEFAULT_BINDING, CAPABILITY, OP_REQUEST, &request)
}

/// Decodes the payload of a `DeliverMessage` sent to the actor.
pub fn decode_message(payload: &[u8]) -> Result<BrokerMessage, crate::codec::CodecError> {
    crate::codec::decode(payload)
}
