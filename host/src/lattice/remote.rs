//! The calling side of invocations across hosts: [`RemoteCalls`], the bus's
//! remote route. (The answering side is [`super::serving`].)
//!
//! A remote call is bounded by the host's call timeout, like a local one:
//! where the target runs does not change how long a caller waits.

use super::client::LatticeClient;
use super::protocol::Invocation;
use crate::bus::{InvocationError, RemoteRoute};
use futures::future::BoxFuture;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sends invocations for targets this host lacks to the lattice.
pub struct RemoteCalls {
    client: LatticeClient,
    host_id: String,
    call_timeout: Duration,
    next_id: AtomicU64,
}

impl RemoteCalls {
    /// Calls through `client`, each call bounded by `call_timeout`.
    pub fn new(client: LatticeClient, host_id: String, call_timeout: Duration) -> Self {
        RemoteCalls {
            client,
            host_id,
            call_timeout,
            next_id: AtomicU64::new(0),
        }
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
        self.client.invoke(
            self.client.subjects().actor(actor),
            &invocation,
            self.call_timeout,
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
        self.client.invoke(
            self.client.subjects().provider(capability, binding),
            &invocation,
            self.call_timeout,
            format!("{capability} (binding '{binding}')"),
        )
    }
}
