//! The `wascc:messaging` capability provider: publish, request/reply and
//! subscriptions on [NATS](https://nats.io).
//!
//! # Operations
//!
//! Payloads are the MessagePack shapes of actor-abi §3 (types in
//! [`trellis_codec::messaging`]):
//!
//! | operation | request → reply |
//! |-----------|-----------------|
//! | `Publish` (actor → provider) | `BrokerMessage {subject, replyTo, body}` → empty; published with `replyTo` as the reply subject when it is not empty |
//! | `Request` (actor → provider) | `RequestMessage {subject, body, timeout}` → the reply as a `BrokerMessage`; `timeout` in ms, 0 = 2000 ms, negative refused |
//! | `DeliverMessage` (provider → actor) | `BrokerMessage` of a message that arrived on the binding's `SUBSCRIPTION` → empty |
//!
//! # Binding values
//!
//! | key | default | meaning |
//! |-----|---------|---------|
//! | `URL` | `nats://127.0.0.1:4222` | the NATS server (`nats://[user:password@]host[:port]`) |
//! | `SUBSCRIPTION` | none | a subject (wildcards allowed) whose messages are delivered to the actor |
//! | `QUEUE_GROUP` | none | subscribe in this queue group: the bindings in one group share the messages, each is delivered once |
//!
//! Each binding has its own NATS connection. Binding connects (within 3 s)
//! and subscribes before it returns, so a message published once the binding
//! is in place reaches the actor; an unreachable server fails the binding with
//! `cannot connect to NATS at nats://…: …`. Messages of one binding are
//! delivered one at a time, in order; a failing `DeliverMessage` is logged
//! (warn) and the next message is delivered. Binding the same actor again with
//! the same values keeps the connection; other values replace it. Removing
//! the binding stops delivery and closes the connection. Passwords in URLs are
//! masked in every message.
//!
//! # Errors
//!
//! Callers see clear text: `actor M… is not bound to wascc:messaging`,
//! `Request to 'subject': no responders are listening`, `Request to 'subject'
//! got no reply within N ms`, decoding errors naming the operation.
//!
//! # Testing
//!
//! The provider logic is [`Messaging`], generic over where deliveries go
//! ([`Deliver`]): the host ([`HostHandle`]) in production, a channel in tests.

use async_nats::{Client, ConnectOptions, Message, RequestErrorKind, Subscriber};
use futures::StreamExt;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;
use trellis_codec::messaging::{
    BrokerMessage, RequestMessage, CAPABILITY, OP_DELIVER_MESSAGE, OP_PUBLISH, OP_REQUEST,
};
use trellis_codec::{decode, encode, CodecError};
use trellis_provider_sdk::{
    mask_password, ActorBinding, Call, Descriptor, HostHandle, Provider, ProviderError,
};

/// The operations actors may call.
pub const OPERATIONS: [&str; 2] = [OP_PUBLISH, OP_REQUEST];

/// The binding value naming the NATS server.
pub const URL_KEY: &str = "URL";
/// The binding value naming the subject to subscribe to.
pub const SUBSCRIPTION_KEY: &str = "SUBSCRIPTION";
/// The binding value naming the queue group of the subscription.
pub const QUEUE_GROUP_KEY: &str = "QUEUE_GROUP";
/// The server used when a binding has no `URL`.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The `Request` timeout when the actor asks for 0.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(2000);
/// How long the client may take to accept a message to publish.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

trellis_provider_sdk::export_provider!(new_provider);

/// Creates the provider for the host.
fn new_provider(host: HostHandle) -> Result<MessagingProvider<HostHandle>, ProviderError> {
    Ok(MessagingProvider::new(host))
}

/// Why a messaging call or binding failed. The text is what the caller sees.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessagingError {
    /// The calling actor has no binding to this provider.
    #[error("actor {0} is not bound to {CAPABILITY}")]
    NotBound(String),
    /// The operation is not one of [`OPERATIONS`].
    #[error("unknown operation '{0}'")]
    UnknownOperation(String),
    /// The payload is not the operation's request.
    #[error("{operation}: {source}")]
    Decode {
        /// The operation.
        operation: String,
        /// What the decoder found.
        source: CodecError,
    },
    /// The reply could not be encoded.
    #[error("cannot encode the reply: {0}")]
    Encode(CodecError),
    /// A binding value is unusable.
    #[error("{0}")]
    BadBinding(String),
    /// The server could not be reached.
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect {
        /// The URL, password masked.
        url: String,
        /// What failed.
        message: String,
    },
    /// The subscription could not be made.
    #[error("cannot subscribe to '{subject}' on NATS at {url}: {message}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The URL, password masked.
        url: String,
        /// What failed.
        message: String,
    },
    /// Publishing failed.
    #[error("cannot publish on '{subject}': {message}")]
    Publish {
        /// The subject.
        subject: String,
        /// What failed.
        message: String,
    },
    /// `Request` with a negative timeout.
    #[error(
        "Request: timeout must be 0 (the default, 2000 ms) or a number of milliseconds, not {0}"
    )]
    BadTimeout(i64),
    /// Nobody subscribes to the request's subject.
    #[error("Request to '{0}': no responders are listening")]
    NoResponders(String),
    /// No reply came in time.
    #[error("Request to '{subject}' got no reply within {millis} ms")]
    Timeout {
        /// The subject.
        subject: String,
        /// The timeout.
        millis: u128,
    },
    /// The request failed otherwise.
    #[error("Request to '{subject}' failed: {message}")]
    Request {
        /// The subject.
        subject: String,
        /// What failed.
        message: String,
    },
}

impl From<MessagingError> for ProviderError {
    fn from(e: MessagingError) -> Self {
        ProviderError::new(e.to_string())
    }
}

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

/// What a binding's values ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Config {
    url: String,
    subscription: Option<String>,
    queue_group: Option<String>,
}

impl Config {
    fn from_values(values: &HashMap<String, String>) -> Result<Config, MessagingError> {
        let url = match values.get(URL_KEY).map(|u| u.trim()) {
            None => DEFAULT_URL.to_owned(),
            Some("") => {
                return Err(MessagingError::BadBinding(format!(
                    "{URL_KEY} is empty (leave it out for {DEFAULT_URL})"
                )))
            }
            Some(url) => url.to_owned(),
        };
        let non_empty = |key: &str| {
            values
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let subscription = non_empty(SUBSCRIPTION_KEY);
        let queue_group = non_empty(QUEUE_GROUP_KEY);
        if queue_group.is_some() && subscription.is_none() {
            return Err(MessagingError::BadBinding(format!(
                "{QUEUE_GROUP_KEY} needs a {SUBSCRIPTION_KEY} to subscribe with"
            )));
        }
        Ok(Config {
            url,
            subscription,
            queue_group,
        })
    }
}

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
        let client = self
            .bindings()
            .get(actor)
            .map(|b| b.client.clone())
            .ok_or_else(|| MessagingError::NotBound(actor.to_owned()))?;
        let decode_error = |source| MessagingError::Decode {
            operation: operation.to_owned(),
            source,
        };
        match operation {
            OP_PUBLISH => {
                let message: BrokerMessage = decode(payload).map_err(decode_error)?;
                tracing::trace!(actor, subject = %message.subject, "publish");
                publish(&client, message).await?;
                Ok(Vec::new())
            }
            OP_REQUEST => {
                let request: RequestMessage = decode(payload).map_err(decode_error)?;
                tracing::trace!(actor, subject = %request.subject, "request");
                let reply = request_reply(&client, request).await?;
                encode(&reply).map_err(MessagingError::Encode)
            }
            other => Err(MessagingError::UnknownOperation(other.to_owned())),
        }
    }
}

async fn connect(url: &str, shown_url: &str) -> Result<Client, MessagingError> {
    let connect_error = |message: String| MessagingError::Connect {
        url: shown_url.to_owned(),
        message,
    };
    let connecting = ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(url);
    // The option bounds each attempt; this bounds name resolution and all.
    match tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_millis(500), connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(connect_error(e.to_string())),
        Err(_) => Err(connect_error(format!(
            "no connection within {} ms",
            CONNECT_TIMEOUT.as_millis()
        ))),
    }
}

/// Subscribes and waits until the server has registered the subscription.
async fn subscribe(
    client: &Client,
    subject: &str,
    queue_group: Option<&str>,
) -> Result<Subscriber, String> {
    let subscriber = match queue_group {
        Some(group) => client
            .queue_subscribe(subject.to_owned(), group.to_owned())
            .await
            .map_err(|e| e.to_string())?,
        None => client
            .subscribe(subject.to_owned())
            .await
            .map_err(|e| e.to_string())?,
    };
    round_trip(client).await?;
    Ok(subscriber)
}

/// A message to ourselves through the server: when it is back, the server
/// has processed everything this connection sent before it.
async fn round_trip(client: &Client) -> Result<(), String> {
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| e.to_string())?;
    client
        .publish(inbox, Vec::new().into())
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(CONNECT_TIMEOUT, echo.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the connection closed".into()),
        Err(_) => Err(format!(
            "the server did not confirm the subscription within {} ms",
            CONNECT_TIMEOUT.as_millis()
        )),
    }
}

/// Delivers every message of `subscriber` to `actor`, one at a time.
async fn deliver_all<D: Deliver>(deliver: Arc<D>, actor: String, mut subscriber: Subscriber) {
    while let Some(message) = subscriber.next().await {
        let message = broker_message(message);
        let subject = message.subject.clone();
        if let Err(e) = deliver.deliver(&actor, message).await {
            tracing::warn!(actor, subject, "DeliverMessage failed: {e}");
        }
    }
    tracing::debug!(actor, "subscription ended");
}

fn broker_message(message: Message) -> BrokerMessage {
    BrokerMessage {
        subject: message.subject.to_string(),
        reply_to: message.reply.map(|r| r.to_string()).unwrap_or_default(),
        body: message.payload.to_vec(),
    }
}

async fn publish(client: &Client, message: BrokerMessage) -> Result<(), MessagingError> {
    let BrokerMessage {
        subject,
        reply_to,
        body,
    } = message;
    let publishing = async {
        if reply_to.is_empty() {
            client.publish(subject.clone(), body.into()).await
        } else {
            client
                .publish_with_reply(subject.clone(), reply_to, body.into())
                .await
        }
    };
    match tokio::time::timeout(PUBLISH_TIMEOUT, publishing).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(MessagingError::Publish {
            subject,
            message: e.to_string(),
        }),
        Err(_) => Err(MessagingError::Publish {
            subject,
            message: format!(
                "the client did not take the message within {} ms (is NATS reachable?)",
                PUBLISH_TIMEOUT.as_millis()
            ),
        }),
    }
}

async fn request_reply(
    client: &Client,
    request: RequestMessage,
) -> Result<BrokerMessage, MessagingError> {
    let timeout = match request.timeout {
        0 => DEFAULT_REQUEST_TIMEOUT,
        ms => Duration::from_millis(u64::try_from(ms).map_err(|_| MessagingError::BadTimeout(ms))?),
    };
    let subject = request.subject;
    let nats_request = async_nats::Request::new()
        .payload(request.body.into())
        .timeout(Some(timeout));
    // The client's own timeout covers the wait for the reply; this one also
    // covers a client that cannot send (NATS unreachable).
    let sending = client.send_request(subject.clone(), nats_request);
    let timed_out = || MessagingError::Timeout {
        subject: subject.clone(),
        millis: timeout.as_millis(),
    };
    match tokio::time::timeout(timeout + Duration::from_millis(100), sending).await {
        Ok(Ok(reply)) => Ok(broker_message(reply)),
        Ok(Err(e)) => Err(match e.kind() {
            RequestErrorKind::NoResponders => MessagingError::NoResponders(subject),
            RequestErrorKind::TimedOut => timed_out(),
            _ => MessagingError::Request {
                subject: subject.clone(),
                message: e.to_string(),
            },
        }),
        Err(_) => Err(timed_out()),
    }
}

/// The provider: [`Messaging`] behind the [`Provider`] trait. Deliveries go to
/// the host ([`HostHandle`]); tests may use another [`Deliver`].
pub struct MessagingProvider<D: Deliver = HostHandle> {
    messaging: Arc<Messaging<D>>,
}

impl<D: Deliver> MessagingProvider<D> {
    /// A provider with no actor bound, delivering to `deliver`.
    pub fn new(deliver: D) -> Self {
        MessagingProvider {
            messaging: Arc::new(Messaging::new(deliver)),
        }
    }

    /// The bindings.
    pub fn messaging(&self) -> &Messaging<D> {
        &self.messaging
    }
}

impl<D: Deliver> Provider for MessagingProvider<D> {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(CAPABILITY, "Messaging", env!("CARGO_PKG_VERSION"))
            .with_operations(OPERATIONS)
    }

    /// Connects and subscribes before returning. Needs a multi-threaded tokio
    /// runtime to be current (the SDK enters the provider's own).
    fn bind_actor(&self, binding: ActorBinding) -> Result<(), ProviderError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| ProviderError::new(format!("no runtime to connect to NATS: {e}")))?;
        let messaging = Arc::clone(&self.messaging);
        // `bind_actor` is synchronous and may run on a runtime thread: wait
        // for the async bind on a thread of its own.
        let bound = std::thread::scope(|scope| {
            scope
                .spawn(|| runtime.block_on(messaging.bind(&binding.actor, &binding.values)))
                .join()
        });
        match bound {
            Ok(result) => Ok(result?),
            Err(_) => Err(ProviderError::new(format!(
                "binding actor {} to {CAPABILITY} panicked",
                binding.actor
            ))),
        }
    }

    fn remove_actor(&self, actor: &str) -> Result<(), ProviderError> {
        self.messaging.unbind(actor);
        Ok(())
    }

    async fn handle_call(&self, call: Call) -> Result<Vec<u8>, ProviderError> {
        Ok(self
            .messaging
            .call(&call.actor, &call.operation, &call.payload)
            .await?)
    }

    fn stop(&self) {
        self.messaging.unbind_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn config_defaults_and_checks() {
        let config = Config::from_values(&values(&[("__wascc_name", "x")])).unwrap();
        assert_eq!(config.url, DEFAULT_URL);
        assert_eq!(config.subscription, None);
        assert_eq!(config.queue_group, None);
        let config = Config::from_values(&values(&[
            ("URL", " nats://h:1 "),
            ("SUBSCRIPTION", "a.>"),
            ("QUEUE_GROUP", "g"),
        ]))
        .unwrap();
        assert_eq!(config.url, "nats://h:1");
        assert_eq!(config.subscription.as_deref(), Some("a.>"));
        assert_eq!(config.queue_group.as_deref(), Some("g"));
        let e = Config::from_values(&values(&[("URL", "")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "URL is empty (leave it out for nats://127.0.0.1:4222)"
        );
        let e = Config::from_values(&values(&[("QUEUE_GROUP", "g")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "QUEUE_GROUP needs a SUBSCRIPTION to subscribe with"
        );
    }
}
