//! Invocations across hosts: the calling side ([`RemoteCalls`], the bus's
//! remote route) and the answering side (queue subscriptions per entity).

use super::protocol::{Invocation, InvocationReply, Subjects};
use crate::bus::{Bus, InvocationError, RemoteRoute};
use async_nats::{Client, Message, RequestErrorKind};
use futures::future::BoxFuture;
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

    fn call(
        &self,
        subject: String,
        origin: &str,
        target: String,
        operation: &str,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>> {
        let invocation = Invocation {
            id: format!(
                "{}-{}",
                self.host_id,
                self.next_id.fetch_add(1, Ordering::Relaxed)
            ),
            origin: origin.to_string(),
            target: target.clone(),
            operation: operation.to_string(),
            payload,
            host: self.host_id.clone(),
        };
        let (client, timeout) = (self.client.clone(), self.timeout);
        Box::pin(async move {
            let bytes =
                trellis_codec::encode(&invocation).map_err(|e| InvocationError::Unreachable {
                    target: target.clone(),
                    message: e.to_string(),
                })?;
            let reply = tokio::time::timeout(timeout, client.request(subject, bytes.into()))
                .await
                .map_err(|_| InvocationError::Timeout {
                    target: target.clone(),
                    after: timeout,
                })?
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
                None => Ok(reply.payload),
                Some(message) => Err(InvocationError::Remote {
                    target,
                    host: reply.host,
                    message,
                }),
            }
        })
    }
}

impl RemoteRoute for RemoteCalls {
    fn invoke_actor(
        &self,
        actor: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>> {
        let subject = self.subjects.actor(actor);
        self.call(subject, "", format!("actor {actor}"), operation, payload)
    }

    fn invoke_provider(
        &self,
        actor: &str,
        capability: &str,
        binding: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>> {
        let subject = self.subjects.provider(capability, binding);
        let target = format!("{capability} (binding '{binding}')");
        self.call(subject, actor, target, operation, payload)
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

/// Answers one invocation that arrived from the lattice, from this host only.
pub async fn answer(
    client: Client,
    bus: Arc<Bus>,
    host_id: String,
    entity: Entity,
    message: Message,
) {
    let Some(reply_to) = message.reply.clone() else {
        tracing::debug!(subject = %message.subject, "invocation without a reply subject dropped");
        return;
    };
    let outcome = match trellis_codec::decode::<Invocation>(&message.payload) {
        Err(e) => Err(format!("malformed invocation: {e}")),
        Ok(call) => match &entity {
            Entity::Actor(actor) => {
                bus.invoke_local_actor(actor, &call.operation, call.payload)
                    .await
            }
            Entity::Provider(capability, binding) => {
                bus.call_local_provider(
                    &call.origin,
                    capability,
                    binding,
                    &call.operation,
                    call.payload,
                )
                .await
            }
        }
        .map_err(|e| e.to_string()),
    };
    let reply = match outcome {
        Ok(payload) => InvocationReply {
            payload,
            error: None,
            host: host_id,
        },
        Err(error) => {
            tracing::debug!(?entity, "remote invocation failed: {error}");
            InvocationReply {
                payload: Vec::new(),
                error: Some(error),
                host: host_id,
            }
        }
    };
    match trellis_codec::encode(&reply) {
        Ok(bytes) => {
            if let Err(e) = client.publish(reply_to, bytes.into()).await {
                tracing::warn!("cannot send an invocation reply: {e}");
            }
        }
        Err(e) => tracing::warn!("cannot encode an invocation reply: {e}"),
    }
}
