//! Invocations across hosts: the calling side ([`RemoteCalls`], the bus's
//! remote route) and the answering side (queue subscriptions per entity).

use super::protocol::{encode_envelope, Invocation as Envelope, InvocationReply, Subjects};
use crate::bus::{Bus, RemoteRoute};
use crate::invocation::{Invocation, InvocationError, Origin, Target};
use async_nats::{Client, Message, Request, RequestErrorKind};
use futures::future::BoxFuture;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sends invocations for targets this host lacks to the lattice.
pub struct RemoteCalls {
    client: Client,
    subjects: Subjects,
    host_id: String,
    timeout: Duration,
    next_id: AtomicU64,
}

impl RemoteCalls {
    /// Calls through `client` with the lattice's timeout.
    pub fn new(client: Client, subjects: Subjects, host_id: String, timeout: Duration) -> Self {
        RemoteCalls {
            client,
            subjects,
            host_id,
            timeout,
            next_id: AtomicU64::new(0),
        }
    }

    /// Sends one invocation. The envelope is encoded here, borrowing the
    /// caller's strings and payload; `target` names the callee in errors.
    fn send(
        &self,
        subject: String,
        invocation: Envelope<'_>,
        target: String,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>> {
        let encoded = encode_envelope(&invocation, invocation.payload.len());
        let (client, timeout) = (self.client.clone(), self.timeout);
        Box::pin(async move {
            let bytes = encoded.map_err(|e| InvocationError::Unreachable {
                target: target.clone(),
                message: e.to_string(),
            })?;
            // The request's own timeout: one timer per call.
            let request = Request::new().payload(bytes.into()).timeout(Some(timeout));
            let reply =
                client
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
                }),
            }
        })
    }

    /// The fields every invocation from this host carries.
    fn invocation<'a>(
        &'a self,
        origin: &'a str,
        target: Cow<'a, str>,
        operation: &'a str,
        payload: &'a [u8],
    ) -> Envelope<'a> {
        Envelope {
            id: format!(
                "{}-{}",
                self.host_id,
                self.next_id.fetch_add(1, Ordering::Relaxed)
            )
            .into(),
            origin: origin.into(),
            target,
            operation: operation.into(),
            payload: payload.into(),
            host: self.host_id.as_str().into(),
        }
    }
}

impl RemoteRoute for RemoteCalls {
    fn call(
        &self,
        invocation: Invocation<'_>,
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
        let origin = invocation.origin.actor();
        let envelope = self.invocation(origin, target, invocation.operation, &invocation.payload);
        self.send(subject, envelope, invocation.target.to_string())
    }
}

/// What a subscription serves.
#[derive(Debug, Clone)]
pub enum Entity {
    /// An actor of this host.
    Actor(String),
    /// A provider instance of this host: capability and binding.
    Provider(String, String),
}

/// One entity served on its subject: what answering a call needs.
pub struct Served {
    /// The lattice connection replies go out on.
    pub client: Client,
    /// This host's id, named in every reply.
    pub host_id: String,
    /// What the subscription serves.
    pub entity: Entity,
}

/// Answers one invocation that arrived from the lattice, from this host only.
pub async fn answer(served: Arc<Served>, bus: Arc<Bus>, message: Message) {
    let Message {
        subject,
        reply,
        payload,
        ..
    } = message;
    let Some(reply_to) = reply else {
        tracing::debug!(%subject, "invocation without a reply subject dropped");
        return;
    };
    let outcome = match trellis_codec::decode::<Envelope>(&payload) {
        Err(e) => Err(format!("malformed invocation: {e}")),
        Ok(call) => {
            // The caller names its actor, if an actor calls.
            let origin = match &*call.origin {
                "" => Origin::Host,
                actor => Origin::Actor(actor),
            };
            let target = match &served.entity {
                Entity::Actor(actor) => Target::Actor(actor),
                Entity::Provider(capability, binding) => Target::Provider {
                    capability,
                    binding,
                },
            };
            let invocation =
                Invocation::new(origin, target, &call.operation, call.payload.into_owned());
            bus.call_local(invocation).await.map_err(|e| e.to_string())
        }
    };
    let host = Cow::Borrowed(served.host_id.as_str());
    let reply = match &outcome {
        Ok(payload) => InvocationReply {
            payload: Cow::Borrowed(payload),
            error: None,
            host,
        },
        Err(error) => {
            tracing::debug!(entity = ?served.entity, "remote invocation failed: {error}");
            InvocationReply {
                payload: Cow::Borrowed(&[]),
                error: Some(error.clone()),
                host,
            }
        }
    };
    match encode_envelope(&reply, reply.payload.len()) {
        Ok(bytes) => {
            if let Err(e) = served.client.publish(reply_to, bytes.into()).await {
                tracing::warn!("cannot send an invocation reply: {e}");
            }
        }
        Err(e) => tracing::warn!("cannot encode an invocation reply: {e}"),
    }
}
