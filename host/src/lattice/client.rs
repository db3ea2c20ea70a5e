//! The one way into a lattice: a NATS connection made from the lattice
//! settings, with the namespace's subjects.
//!
//! The host's remote calls, its membership, serving and placement jobs, and
//! every `trellis` command that looks at a lattice (`trellis call`,
//! `trellis lattice hosts|inventory|watch`) talk through a [`LatticeClient`].

use super::protocol::{
    CloudEvent, Control, ControlReply, Inventory, InventoryRequest, Invocation as Envelope,
    InvocationReply, Subjects,
};
use super::trust::{Kind, MessageId, Refusal, Trust};
use super::{LatticeConfig, LatticeError};
use crate::invocation::{Invocation, InvocationError, Target};
use async_nats::subject::ToSubject;
use async_nats::{Client, Request, RequestErrorKind};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use trellis_claims::nkeys::KeyPair;
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
    /// Seals what this client sends and opens what it takes in.
    trust: Arc<Trust>,
}

/// A control-plane message taken in: its content, and who vouched for it.
pub struct Received<T> {
    /// The content.
    pub value: T,
    /// Its id, for the reply (trusted lattice).
    pub id: Option<MessageId>,
    /// The member that signed it (trusted lattice).
    pub signer: Option<String>,
}

impl<T> Received<T> {
    /// Whether the host `host` sent it: in a trusted lattice its signature
    /// says so (a host's key, `N…`, not a client's); in an open one nothing
    /// can, and the claim is taken as it is.
    pub fn is_from_host(&self, host: &str) -> bool {
        self.signer
            .as_deref()
            .is_none_or(|signer| signer == host && signer.starts_with('N'))
    }
}

impl LatticeClient {
    /// Connects to the lattice `config` names; `caller` names the client
    /// to the server and in every call it makes. In a trusted lattice the
    /// client speaks with a key of its own (`U…`) vouched for by the
    /// cluster key.
    pub async fn connect(config: &LatticeConfig, caller: &str) -> Result<Self, LatticeError> {
        let trust = config.trust(&KeyPair::new_user())?;
        let options = config.connect_options(&format!("trellis {caller}")).await?;
        Self::connect_with(config, options, caller, trust).await
    }

    /// Connects a member host: the connection logs its losses, and every
    /// (re)connection wakes `reconnected` so the host advertises itself at once.
    pub(super) async fn connect_member(
        config: &LatticeConfig,
        host_id: &str,
        trust: Trust,
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
        Self::connect_with(config, options, host_id, trust).await
    }

    async fn connect_with(
        config: &LatticeConfig,
        options: async_nats::ConnectOptions,
        caller: &str,
        trust: Trust,
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
            trust: Arc::new(trust),
        })
    }

    /// The namespace's subjects.
    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    /// What this client trusts, and what it refused.
    pub fn trust(&self) -> &Trust {
        &self.trust
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
        // Field names, the ids and the operation fit in the allowance, so
        // the buffer is allocated once.
        let sealed = self.trust.seal(
            Kind::Call,
            &subject,
            None,
            envelope.payload.len() + 256,
            |out| trellis_codec::encode_into(&envelope, out),
        );
        let target = invocation.target.to_string();
        let nats = self.nats.clone();
        let trust = Arc::clone(&self.trust);
        Box::pin(async move {
            let sealed = sealed.map_err(|e| InvocationError::Unreachable {
                target: target.clone(),
                message: e.to_string(),
            })?;
            let bytes = sealed.bytes;
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
            let opened = trust
                .open(
                    Kind::Reply,
                    &reply.subject,
                    sealed.id.as_ref(),
                    &reply.payload,
                )
                .map_err(|why| InvocationError::Unreachable {
                    target: target.clone(),
                    message: format!("reply refused: {}", why.describe()),
                })?;
            let reply: InvocationReply =
                trellis_codec::decode(opened.plaintext()).map_err(|e| {
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
        let subject = self.subjects.control(host);
        let sealed = self
            .seal_json(&subject, None, control)
            .map_err(|e| e.to_string())?;
        let request = self.nats.request(subject, sealed.bytes.into());
        let reply = tokio::time::timeout(timeout, request)
            .await
            .map_err(|_| {
                format!(
                    "host {host} did not answer within {} ms",
                    timeout.as_millis()
                )
            })?
            .map_err(|e| e.to_string())?;
        let reply: Received<ControlReply> = self
            .open_json(&reply.subject, sealed.id.as_ref(), &reply.payload)
            .ok_or_else(|| format!("the answer of host {host} was refused"))?;
        if !reply.is_from_host(host) {
            return Err(format!(
                "the answer of host {host} was signed by another member"
            ));
        }
        reply.value.error.map_or(Ok(()), Err)
    }

    /// Asks every host for its inventory and collects the answers for
    /// `wait`, sorted by host id. `request` may ask for the bindings'
    /// values, which hosts reveal only on a trusted lattice.
    pub async fn inventories(
        &self,
        request: &InventoryRequest,
        wait: Duration,
    ) -> Result<Vec<Inventory>, LatticeError> {
        let inbox = self.nats.new_inbox();
        let mut answers = self.subscribe(inbox.clone()).await?;
        let subject = self.subjects.inventory();
        let publish_error = |message: String| LatticeError::Publish {
            subject: subject.clone(),
            message,
        };
        let sealed = self
            .seal_json(&subject, None, request)
            .map_err(|e| publish_error(e.to_string()))?;
        self.nats
            .publish_with_reply(subject.clone(), inbox, sealed.bytes.into())
            .await
            .map_err(|e| publish_error(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + wait;
        let mut hosts = Vec::new();
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, answers.next()).await {
            let answer: Option<Received<Inventory>> =
                self.open_json(&message.subject, sealed.id.as_ref(), &message.payload);
            match answer {
                Some(answer) if answer.is_from_host(&answer.value.host) => hosts.push(answer.value),
                Some(_) => self.trust.refuse(Refusal::WrongSender, &message.subject),
                None => {}
            }
        }
        hosts.sort_by(|a, b| a.host.cmp(&b.host));
        Ok(hosts)
    }

    /// The lattice's events from now on, each a CloudEvent's JSON text.
    pub async fn events(&self) -> Result<BoxStream<'static, String>, LatticeError> {
        let events = self.subscribe(self.subjects.events()).await?;
        let me = self.clone();
        Ok(events
            .filter_map(move |message| {
                let event: Option<Received<CloudEvent>> =
                    me.open_json(&message.subject, None, &message.payload);
                let event = event.filter(|event| {
                    let host = event.value.source.trim_start_matches("trellis/");
                    event.is_from_host(host)
                });
                futures::future::ready(event.and_then(|e| serde_json::to_string(&e.value).ok()))
            })
            .boxed())
    }

    /// Publishes a CloudEvent of `kind` from `host_id`.
    pub(super) async fn publish_event(&self, host_id: &str, kind: &str, data: serde_json::Value) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let event = CloudEvent::new(host_id, kind, now, data);
        self.publish_json(&self.subjects.events(), None, &event)
            .await;
    }

    /// Publishes `value` as JSON, signed and sealed in a trusted lattice;
    /// `in_reply_to` names the request it answers. A failure is logged (the
    /// next beat or change publishes again).
    pub(super) async fn publish_json<T: serde::Serialize>(
        &self,
        subject: &str,
        in_reply_to: Option<&MessageId>,
        value: &T,
    ) {
        match self.seal_json(subject, in_reply_to, value) {
            Ok(sealed) => {
                if let Err(e) = self.publish(subject.to_string(), sealed.bytes).await {
                    tracing::debug!("lattice publish failed: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot encode a lattice message: {e}"),
        }
    }

    /// `value` as JSON, signed and sealed for `subject` in a trusted lattice.
    fn seal_json<T: serde::Serialize>(
        &self,
        subject: &str,
        in_reply_to: Option<&MessageId>,
        value: &T,
    ) -> Result<super::trust::Sealed, serde_json::Error> {
        self.trust
            .seal(Kind::Signed, subject, in_reply_to, 512, |out| {
                serde_json::to_writer(out, value)
            })
    }

    /// Takes in a control-plane message that arrived on `subject`: opened
    /// and checked in a trusted lattice, then read as JSON. A refused or
    /// unreadable message is counted and logged, and is `None`.
    pub(super) fn open_json<T: DeserializeOwned>(
        &self,
        subject: &str,
        in_reply_to: Option<&MessageId>,
        payload: &[u8],
    ) -> Option<Received<T>> {
        let opened = self
            .trust
            .open(Kind::Signed, subject, in_reply_to, payload)
            .ok()?;
        match serde_json::from_slice(opened.plaintext()) {
            Ok(value) => Some(Received {
                value,
                id: opened.id,
                signer: opened.signer,
            }),
            Err(e) => {
                tracing::debug!(subject, "unreadable lattice message ignored: {e}");
                self.trust.refuse(Refusal::Malformed, subject);
                None
            }
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
