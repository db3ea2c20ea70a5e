//! The calling side of invocations across hosts: [`RemoteCalls`], the bus's
//! remote route. (The answering side is [`super::serving`].)
//!
//! A remote call is bounded by the host's call timeout, like a local one:
//! where the target runs does not change how long a caller waits.

use super::client::LatticeClient;
use crate::bus::RemoteRoute;
use crate::invocation::{Invocation, InvocationError};
use futures::future::BoxFuture;
use std::time::Duration;

/// Sends invocations for targets this host lacks to the lattice.
pub struct RemoteCalls {
    client: LatticeClient,
    call_timeout: Duration,
}

impl RemoteCalls {
    /// Calls through `client`, each call bounded by `call_timeout`.
    pub fn new(client: LatticeClient, call_timeout: Duration) -> Self {
        RemoteCalls {
            client,
            call_timeout,
        }
    }
}

impl RemoteRoute for RemoteCalls {
    fn call(
        &self,
        invocation: Invocation<'_>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>> {
        self.client.call(invocation, self.call_timeout)
    }
}
