//! Where the messages of a binding's subscription go: [`Deliver`], which the
//! host implements with a `DeliverMessage` call to the bound actor.

use crate::client::broker_message;
use async_nats::Subscriber;
use futures::StreamExt;
use std::future::Future;
use std::sync::Arc;
use trellis_codec::encode;
use trellis_codec::messaging::{BrokerMessage, OP_DELIVER_MESSAGE};
use trellis_provider_sdk::HostHandle;

/// Where messages that arrive on a binding's subscription go: the bound actor.
///
/// [`HostHandle`] implements it with a `DeliverMessage` call; tests implement it
/// with a channel.
pub trait Deliver: Send + Sync + 'static {
    /// Hands `message` to `actor`; `Err` carries the actor's error text.
    fn deliver(
        &self,
        actor: &str,
        message: BrokerMessage,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

impl Deliver for HostHandle {
    fn deliver(
        &self,
        actor: &str,
        message: BrokerMessage,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let call = encode(&message).map(|payload| self.invoke(actor, OP_DELIVER_MESSAGE, payload));
        async move {
            match call {
                Ok(call) => call.await.map(drop).map_err(|e| e.to_string()),
                Err(e) => Err(format!("cannot encode the message: {e}")),
            }
        }
    }
}

/// Delivers every message of `subscriber` to `actor`, one at a time.
pub(crate) async fn deliver_all<D: Deliver>(
    deliver: Arc<D>,
    actor: String,
    mut subscriber: Subscriber,
) {
    while let Some(message) = subscriber.next().await {
        let message = broker_message(message);
        let subject = message.subject.clone();
        if let Err(e) = deliver.deliver(&actor, message).await {
            tracing::warn!(actor, subject, "DeliverMessage failed: {e}");
        }
    }
    tracing::debug!(actor, "subscription ended");
}
