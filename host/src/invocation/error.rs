//! What can go wrong with one invocation. Each error names its target, and
//! [`InvocationError::kind`] sorts it into the kinds a provider sees.

use std::time::Duration;
use trellis_provider_sdk::CallErrorKind;

/// Why an invocation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvocationError {
    /// No actor with that key runs here.
    #[error("no actor {actor} is running")]
    ActorNotFound {
        /// The actor's key.
        actor: String,
    },
    /// No provider serves that capability and binding.
    #[error("no provider for capability {capability} with binding '{binding}'")]
    ProviderNotFound {
        /// The capability id.
        capability: String,
        /// The binding name.
        binding: String,
    },
    /// The actor's claims do not list the capability.
    #[error("actor {actor} may not call {capability}: its claims do not list that capability")]
    NotPermitted {
        /// The calling actor.
        actor: String,
        /// The capability it tried to call.
        capability: String,
    },
    /// The actor answered with an error.
    #[error("actor {actor} failed {operation}: {message}")]
    ActorFailed {
        /// The actor.
        actor: String,
        /// The operation.
        operation: String,
        /// The guest's error text.
        message: String,
    },
    /// The actor trapped (or ran past its deadline) during the call.
    #[error("actor {actor} {message} in {operation}")]
    ActorTrapped {
        /// The actor.
        actor: String,
        /// The operation.
        operation: String,
        /// What happened.
        message: String,
    },
    /// No instance of the actor could run the call.
    #[error("actor {actor} is unavailable: {message}")]
    ActorUnavailable {
        /// The actor.
        actor: String,
        /// Why.
        message: String,
    },
    /// The provider answered with an error.
    #[error("{capability} (binding '{binding}') failed {operation}: {message}")]
    ProviderFailed {
        /// The capability id.
        capability: String,
        /// The binding name.
        binding: String,
        /// The operation.
        operation: String,
        /// The provider's error text.
        message: String,
    },
    /// The call did not finish in time.
    #[error("call to {target} timed out after {} ms", after.as_millis())]
    Timeout {
        /// The target.
        target: String,
        /// The limit.
        after: Duration,
    },
    /// No host in the lattice serves the target.
    #[error("no host in the lattice runs {target}")]
    NoResponders {
        /// The target.
        target: String,
    },
    /// The target's host answered with an error.
    #[error("{target} on host {host}: {message}")]
    Remote {
        /// The target.
        target: String,
        /// The host that ran it.
        host: String,
        /// Its error.
        message: String,
        /// The kind of its error (`Other` from a host that does not send kinds).
        kind: CallErrorKind,
    },
    /// The lattice could not carry the call.
    #[error("cannot reach {target} through the lattice: {message}")]
    Unreachable {
        /// The target.
        target: String,
        /// What went wrong.
        message: String,
    },
    /// The host is stopping and takes no new work.
    #[error("the host is shutting down")]
    ShuttingDown,
}

impl InvocationError {
    /// The kind of failure, as a provider that made the call sees it
    /// (`trellis_provider_sdk::CallError::kind`), and as the lattice carries
    /// it back to the calling host.
    pub fn kind(&self) -> CallErrorKind {
        match self {
            InvocationError::ActorNotFound { .. }
            | InvocationError::ProviderNotFound { .. }
            | InvocationError::ActorUnavailable { .. }
            | InvocationError::NoResponders { .. }
            | InvocationError::ShuttingDown => CallErrorKind::Unavailable,
            InvocationError::Timeout { .. } => CallErrorKind::Timeout,
            InvocationError::ActorFailed { .. } | InvocationError::ActorTrapped { .. } => {
                CallErrorKind::ActorFailed
            }
            InvocationError::Remote { kind, .. } => *kind,
            // A provider's failure reaches a provider only through an actor,
            // which reports it as its own (ActorFailed).
            InvocationError::NotPermitted { .. }
            | InvocationError::ProviderFailed { .. }
            | InvocationError::Unreachable { .. } => CallErrorKind::Other,
        }
    }
}
