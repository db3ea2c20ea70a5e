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
//! | `ALLOW_LATTICE_SUBJECTS` | `false` | `true` lets the actor use the lattice's subjects (below); anything but `true`/`false` fails the binding |
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
//! # The lattice's subjects
//!
//! The lattice's own traffic lives under `trellis.<namespace>.…`, often on the
//! very server this provider connects to. So that an actor cannot forge
//! invocations or read them, a binding by default may not publish or request
//! on a subject whose first token is `trellis` (nor give such a subject as
//! `replyTo`), and may not subscribe to one that could match it (first token
//! `trellis`, `*` or `>`). Subscribing is refused when binding; publishing
//! and requesting when called, with `subject trellis.… is reserved for the
//! lattice; set ALLOW_LATTICE_SUBJECTS=true on the binding to allow it`.
//! Each refusal is logged (warn) with the actor and the subject. Other
//! subjects, `trellisx.…` or `_INBOX.…` among them, are not affected.
//! `ALLOW_LATTICE_SUBJECTS=true` is for operators who knowingly bridge an
//! actor into the lattice.
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

mod bindings;
mod client;
mod config;
mod deliver;
mod error;
mod lattice;

pub use bindings::Messaging;
pub use client::{CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use config::{
    ALLOW_LATTICE_SUBJECTS_KEY, DEFAULT_URL, QUEUE_GROUP_KEY, SUBSCRIPTION_KEY, URL_KEY,
};
pub use deliver::Deliver;
pub use error::MessagingError;
pub use lattice::LATTICE_ROOT;

use std::sync::Arc;
use trellis_codec::messaging::{CAPABILITY, OP_PUBLISH, OP_REQUEST};
use trellis_provider_sdk::{ActorBinding, Call, Descriptor, HostHandle, Provider, ProviderError};

/// The operations actors may call.
pub const OPERATIONS: [&str; 2] = [OP_PUBLISH, OP_REQUEST];

/// The root module the host loads. Private: the items `export_provider!`
/// makes have no docs of their own, and the host finds them by symbol.
mod entry {
    trellis_provider_sdk::export_provider!(super::new_provider);
}

/// Creates the provider for the host.
fn new_provider(host: HostHandle) -> Result<MessagingProvider<HostHandle>, ProviderError> {
    Ok(MessagingProvider::new(host))
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
