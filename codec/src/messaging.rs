//! `wascc:messaging`: publish/subscribe and request/reply over a broker.

use serde::{Deserialize, Serialize};

/// The capability id.
pub const CAPABILITY: &str = "wascc:messaging";
/// Actor → provider: publish a [`BrokerMessage`].
pub const OP_PUBLISH: &str = "Publish";
/// Actor → provider: send a [`RequestMessage`] and wait for the reply.
pub const OP_REQUEST: &str = "Request";
/// Provider → actor: a [`BrokerMessage`] arrived on a subscribed subject.
pub const OP_DELIVER_MESSAGE: &str = "DeliverMessage";

/// A message on the broker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerMessage {
    /// The subject it was (or is to be) published on.
    pub subject: String,
    /// Where replies go; empty when none.
    pub reply_to: String,
    /// The payload.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// A request that waits for one reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestMessage {
    /// The subject to send to.
    pub subject: String,
    /// The payload.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// How long to wait for the reply, in milliseconds.
    pub timeout: i64,
}
