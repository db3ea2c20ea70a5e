//! Invocations across hosts: the calling side ([`RemoteCalls`], the bus's
//! remote route) and the answering side (queue subscriptions per entity).

use super::protocol::{encode_envelope, Invocation, InvocationReply, Subjects};
use crate::bus::{Bus, InvocationError, RemoteRoute};
use async_nats::{Client, Message, Request, RequestErrorKind};
use futures::future::BoxFuture;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use trellis_provider_sdk::CallErrorKind;

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
    fn call(
        &self,
        subject: String,
        invocation: Invocation<'_>,
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
                    kind: reply
                        .error_kind
                        .map_or(CallErrorKind::Other, |name| CallErrorKind::from_name(&name)),
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
    ) -> Invocation<'a> {
        Invocation {
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
    fn invoke_actor(
        &self,
        actor: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>> {
        let invocation = self.invocation("", actor.into(), operation, &payload);
        self.call(
            self.subjects.actor(actor),
            invocation,
            format!("actor {actor}"),
        )
    }

    fn invoke_provider(
        &self,
        actor: &str,
        capability: &str,
        binding: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>> {
        let target = format!("{capability}/{binding}").into();
        let invocation = self.invocation(actor, target, operation, &payload);
        self.call(
            self.subjects.provider(capability, binding),
            invocation,
            format!("{capability} (binding '{binding}')"),
        )
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
    let outcome = match trellis_codec::decode::<Invocation>(&payload) {
        Err(e) => Err((format!("malformed invocation: {e}"), CallErrorKind::Other)),
        Ok(call) => match &served.entity {
            Entity::Actor(actor) => {
                bus.invoke_local_actor(actor, &call.operation, call.payload.into_owned())
                    .await
            }
            Entity::Provider(capability, binding) => {
                bus.call_local_provider(
                    &call.origin,
                    capability,
                    binding,
                    &call.operation,
                    call.payload.into_owned(),
                )
                .await
            }
        }
        .map_err(|e| (e.to_string(), e.kind())),
    };
    let host = Cow::Borrowed(served.host_id.as_str());
    let reply = match &outcome {
        Ok(payload) => InvocationReply {
            payload: Cow::Borrowed(payload),
            error: None,
            host,
            error_kind: None,
        },
        Err((error, kind)) => {
            tracing::debug!(entity = ?served.entity, "remote invocation failed: {error}");
            InvocationReply {
                payload: Cow::Borrowed(&[]),
                error: Some(error.clone()),
                host,
                error_kind: Some(Cow::Borrowed(kind.name())),
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
