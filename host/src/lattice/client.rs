//! The one way into a lattice: a NATS connection made from the lattice
//! settings, with the namespace's subjects.
//!
//! The host's remote calls, its membership, serving and placement jobs, and
//! every `trellis` command that looks at a lattice (`trellis call`,
//! `trellis lattice hosts|inventory|watch`) talk through a [`LatticeClient`].

use super::protocol::{
    encode_envelope, CloudEvent, Control, ControlReply, Inventory, Invocation as Envelope,
    InvocationReply, Subjects,
};
use super::{LatticeConfig, LatticeError};
use crate::invocation::{Invocation, InvocationError, Target};
use async_nats::subject::ToSubject;
use async_nats::{Client, Request, RequestErrorKind};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use trellis_provider_sdk::CallErrorKind;

/// A connection to one lattice namespace.
#[derive(Clone)]
pub struct LatticeClient {
    nats: Client,
    subjects: Subjects,
    /// Who calls through this client, named in every invocation: a host's
    /// id, or `cli-<pid>`.
    caller: Arc<str>,
    /// Numbers the calls, for their ids.
    next_id: Arc<AtomicU64>,
}

impl LatticeClient {
    /// Connects to the lattice `config` names; `caller` names the client
    /// to the server and in every call it makes.
    pub async fn connect(config: &LatticeConfig, caller: &str) -> Result<Self, LatticeError> {
        let options = config.connect_options(&format!("trellis {caller}")).await?;
        Self::connect_with(config, options, caller).await
    }

    /// Connects a member host: the connection logs its losses, and every
    /// (re)connection wakes `reconnected` so the host advertises itself at once.
    pub(super) async fn connect_member(
        config: &LatticeConfig,
        host_id: &str,
        reconnected: Arc<Notify>,
    ) -> Result<Self, LatticeError> {
        let options = config
            .connect_options(&format!("trellis host {host_id}"))
            .await?
            .event_callback(move |event| {
                let reconnected = Arc::clone(&reconnected);
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("lattice connection (re)established");
                            reconnected.notify_one();
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!(
                                "lattice connection lost; local calls keep working, reconnecting"
                            )
                        }
                        other => tracing::debug!("lattice connection event: {other}"),
                    }
                }
            });
        Self::connect_with(config, options, host_id).await
    }

    async fn connect_with(
        config: &LatticeConfig,
        options: async_nats::ConnectOptions,
        caller: &str,
    ) -> Result<Self, LatticeError> {
        let url = config.server_url();
        let nats = options
            .connect(url.as_str())
            .await
            .map_err(|e| LatticeError::Connect {
                url,
                message: e.to_string(),
            })?;
        Ok(LatticeClient {
            nats,
            subjects: Subjects::new(&config.namespace),
            caller: caller.into(),
            next_id: Arc::default(),
        })
    }

    /// The namespace's subjects.
    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    /// Sends `invocation` to the host that runs its target and waits at
    /// most `timeout` for the reply. The envelope is encoded before this
    /// returns, so the future borrows nothing.
    pub fn call(
        &self,
        invocation: Invocation<'_>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>> {
        let (subject, target) = match invocation.target {
            Target::Actor(actor) => (self.subjects.actor(actor), Cow::Borrowed(actor)),
            Target::Provider {
                capability,
                binding,
            } => (
                self.subjects.provider(capability, binding),
                Cow::Owned(format!("{capability}/{binding}")),
            ),
        };
        let envelope = Envelope {
            id: format!(
                "{}-{}",
                self.caller,
                self.next_id.fetch_add(1, Ordering::Relaxed)
            )
            .into(),
            origin: invocation.origin.actor().into(),
            target,
            operation: invocation.operation.into(),
            payload: invocation.payload.as_slice().into(),
            host: (*self.caller).into(),
        };
        let encoded = encode_envelope(&envelope, envelope.payload.len());
        let target = invocation.target.to_string();
        let nats = self.nats.clone();
        Box::pin(async move {
            let bytes = encoded.map_err(|e| InvocationError::Unreachable {
                target: target.clone(),
                message: e.to_string(),
            })?;
            // The request's own timeout: one timer per call.
            let request = Request::new().payload(bytes.into()).timeout(Some(timeout));
            let reply = nats
                .send_request(subject, request)
                .await
                .map_err(|e| match e.kind() {
                    RequestErrorKind::NoResponders => InvocationError::NoResponders {
                        target: target.clone(),
                    },
                    RequestErrorKind::TimedOut => InvocationError::Timeout {
                        target: target.clone(),
                        after: timeout,
                    },
                    _ => InvocationError::Unreachable {
                        target: target.clone(),
                        message: e.to_string(),
                    },
                })?;
            let reply: InvocationReply = trellis_codec::decode(&reply.payload).map_err(|e| {
                InvocationError::Unreachable {
                    target: target.clone(),
                    message: format!("unreadable reply: {e}"),
                }
            })?;
            match reply.error {
                None => Ok(reply.payload.into_owned()),
                Some(message) => Err(InvocationError::Remote {
                    target,
                    host: reply.host.into_owned(),
                    message,
                    kind: reply
                        .error_kind
                        .map_or(CallErrorKind::Other, |name| CallErrorKind::from_name(&name)),
                }),
            }
        })
    }

    /// Sends a control request to `host` and waits at most `timeout` for
    /// its answer.
    pub async fn control(
        &self,
        host: &str,
        control: &Control,
        timeout: Duration,
    ) -> Result<(), String> {
        let bytes = serde_json::to_vec(control).map_err(|e| e.to_string())?;
        let request = self.nats.request(self.subjects.control(host), bytes.into());
        let reply = tokio::time::timeout(timeout, request)
            .await
            .map_err(|_| {
                format!(
                    "host {host} did not answer within {} ms",
                    timeout.as_millis()
                )
            })?
            .map_err(|e| e.to_string())?;
        let reply: ControlReply =
            serde_json::from_slice(&reply.payload).map_err(|e| e.to_string())?;
        reply.error.map_or(Ok(()), Err)
    }

    /// Asks every host for its inventory (with what `request` asks for) and
    /// collects the answers for `wait`, sorted by host id.
    pub async fn inventories(
        &self,
        wait: Duration,
        request: super::protocol::InventoryRequest,
    ) -> Result<Vec<Inventory>, LatticeError> {
        let inbox = self.nats.new_inbox();
        let mut answers = self.subscribe(inbox.clone()).await?;
        let body = serde_json::to_vec(&request).unwrap_or_default();
        self.nats
            .publish_with_reply(self.subjects.inventory(), inbox, body.into())
            .await
            .map_err(|e| LatticeError::Publish {
                subject: self.subjects.inventory(),
                message: e.to_string(),
            })?;
        let deadline = tokio::time::Instant::now() + wait;
        let mut hosts = Vec::new();
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, answers.next()).await {
            match serde_json::from_slice::<Inventory>(&message.payload) {
                Ok(inventory) => hosts.push(inventory),
                Err(e) => tracing::warn!("unreadable inventory ignored: {e}"),
            }
        }
        hosts.sort_by(|a, b| a.host.cmp(&b.host));
        Ok(hosts)
    }

    /// The lattice's events from now on, each a CloudEvent's JSON text.
    pub async fn events(&self) -> Result<BoxStream<'static, String>, LatticeError> {
        let events = self.subscribe(self.subjects.events()).await?;
        Ok(events
            .map(|message| String::from_utf8_lossy(&message.payload).into_owned())
            .boxed())
    }

    /// Publishes a CloudEvent of `kind` from `host_id`.
    pub(super) async fn publish_event(&self, host_id: &str, kind: &str, data: serde_json::Value) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let event = CloudEvent::new(host_id, kind, now, data);
        self.publish_json(self.subjects.events(), &event).await;
    }

    /// Publishes `value` as JSON; a failure is logged (the next beat or
    /// change publishes again).
    pub(super) async fn publish_json<T: serde::Serialize>(
        &self,
        subject: impl ToSubject,
        value: &T,
    ) {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                if let Err(e) = self.publish(subject, bytes).await {
                    tracing::debug!("lattice publish failed: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot encode a lattice message: {e}"),
        }
    }

    /// Publishes raw bytes.
    pub(super) async fn publish(
        &self,
        subject: impl ToSubject,
        bytes: Vec<u8>,
    ) -> Result<(), async_nats::PublishError> {
        self.nats.publish(subject, bytes.into()).await
    }

    /// Subscribes to `subject`.
    pub(super) async fn subscribe(
        &self,
        subject: String,
    ) -> Result<async_nats::Subscriber, LatticeError> {
        self.nats
            .subscribe(subject.clone())
            .await
            .map_err(|e| LatticeError::Subscribe {
                subject,
                message: e.to_string(),
            })
    }

    /// Subscribes to `subject` in the queue group named like it, shared with
    /// every host serving the same entity.
    pub(super) async fn queue_subscribe(
        &self,
        subject: String,
    ) -> Result<async_nats::Subscriber, LatticeError> {
        self.nats
            .queue_subscribe(subject.clone(), subject.clone())
            .await
            .map_err(|e| LatticeError::Subscribe {
                subject,
                message: e.to_string(),
            })
    }

    /// Waits until the server has everything sent so far; failures are logged.
    pub async fn flush(&self) {
        if let Err(e) = self.nats.flush().await {
            tracing::debug!("lattice flush failed: {e}");
        }
    }
}
