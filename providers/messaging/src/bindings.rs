//! [`Messaging`]: the NATS connection and subscription of every bound actor,
//! which is the whole provider minus the FFI.

use crate::client::{connect, publish, request_reply, subscribe};
use crate::config::Config;
use crate::deliver::{deliver_all, Deliver};
use crate::MessagingError;
use async_nats::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::task::JoinHandle;
use trellis_codec::messaging::{BrokerMessage, RequestMessage, CAPABILITY, OP_PUBLISH, OP_REQUEST};
use trellis_codec::{decode, encode};
use trellis_provider_sdk::mask_password;

/// One actor's binding: its connection and the task delivering its subscription.
struct Binding {
    config: Config,
    client: Client,
    delivery: Option<JoinHandle<()>>,
}

impl Drop for Binding {
    fn drop(&mut self) {
        // Dropping the task's subscriber unsubscribes; the connection closes
        // once the last clone of the client is gone.
        if let Some(task) = self.delivery.take() {
            task.abort();
        }
    }
}

/// The NATS connections and subscriptions of all bound actors: the whole
/// provider, minus the FFI. [`MessagingProvider`] wraps it; tests use it
/// directly.
pub struct Messaging<D: Deliver> {
    deliver: Arc<D>,
    bindings: Mutex<HashMap<String, Binding>>,
}

impl<D: Deliver> Messaging<D> {
    /// No actor bound yet; subscribed messages will go to `deliver`.
    pub fn new(deliver: D) -> Self {
        Messaging {
            deliver: Arc::new(deliver),
            bindings: Mutex::new(HashMap::new()),
        }
    }

    fn bindings(&self) -> std::sync::MutexGuard<'_, HashMap<String, Binding>> {
        self.bindings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Binds `actor` with a binding's `values` (see the crate docs): connects,
    /// subscribes, and starts delivering. When it returns `Ok`, the
    /// subscription is registered with the server.
    pub async fn bind(
        &self,
        actor: &str,
        values: &HashMap<String, String>,
    ) -> Result<(), MessagingError> {
        let config = Config::from_values(values)?;
        if let Some(subject) = &config.subscription {
            config.lattice.check_subscription(actor, subject)?;
        }
        if self
            .bindings()
            .get(actor)
            .is_some_and(|b| b.config == config)
        {
            tracing::debug!(actor, "bound again with the same values: connection kept");
            return Ok(());
        }
        let shown_url = mask_password(&config.url);
        let client = connect(&config.url, &shown_url).await?;
        let delivery = match &config.subscription {
            None => None,
            Some(subject) => {
                let subscriber = subscribe(&client, subject, config.queue_group.as_deref())
                    .await
                    .map_err(|message| MessagingError::Subscribe {
                        subject: subject.clone(),
                        url: shown_url.clone(),
                        message,
                    })?;
                Some(tokio::spawn(deliver_all(
                    Arc::clone(&self.deliver),
                    actor.to_owned(),
                    subscriber,
                )))
            }
        };
        tracing::info!(
            actor,
            url = %shown_url,
            subscription = config.subscription.as_deref().unwrap_or(""),
            queue_group = config.queue_group.as_deref().unwrap_or(""),
            allow_lattice_subjects = config.lattice.allowed,
            "actor bound to {CAPABILITY}"
        );
        let old = self.bindings().insert(
            actor.to_owned(),
            Binding {
                config,
                client,
                delivery,
            },
        );
        drop(old);
        Ok(())
    }

    /// Removes `actor`'s binding: stops delivery, closes its connection.
    /// False if it had none.
    pub fn unbind(&self, actor: &str) -> bool {
        let removed = self.bindings().remove(actor);
        let found = removed.is_some();
        drop(removed);
        if found {
            tracing::info!(actor, "actor unbound from {CAPABILITY}");
        }
        found
    }

    /// Removes every binding.
    pub fn unbind_all(&self) {
        let all = std::mem::take(&mut *self.bindings());
        drop(all);
    }

    /// Whether `actor` is bound.
    pub fn is_bound(&self, actor: &str) -> bool {
        self.bindings().contains_key(actor)
    }

    /// Runs `operation` with `payload` for `actor`, on `actor`'s connection.
    pub async fn call(
        &self,
        actor: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, MessagingError> {
        let (client, lattice) = self
            .bindings()
            .get(actor)
            .map(|b| (b.client.clone(), b.config.lattice))
            .ok_or_else(|| MessagingError::NotBound(actor.to_owned()))?;
        let decode_error = |source| MessagingError::Decode {
            operation: operation.to_owned(),
            source,
        };
        match operation {
            OP_PUBLISH => {
                let message: BrokerMessage = decode(payload).map_err(decode_error)?;
                tracing::trace!(actor, subject = %message.subject, "publish");
                lattice.check_send(actor, "subject", &message.subject)?;
                // Whoever answers would publish on the reply subject for the actor.
                lattice.check_send(actor, "reply subject", &message.reply_to)?;
                publish(&client, message).await?;
                Ok(Vec::new())
            }
            OP_REQUEST => {
                let request: RequestMessage = decode(payload).map_err(decode_error)?;
                tracing::trace!(actor, subject = %request.subject, "request");
                lattice.check_send(actor, "subject", &request.subject)?;
                let reply = request_reply(&client, request).await?;
                encode(&reply).map_err(MessagingError::Encode)
            }
            other => Err(MessagingError::UnknownOperation(other.to_owned())),
        }
    }
}
