//! What changes in a host, as it happens.
//!
//! The host broadcasts one [`HostEvent`] per applied change; the lattice
//! publishes them as CloudEvents and re-advertises the host's inventory, and
//! an embedder may [`crate::Host::subscribe`] to them too.

use serde::Serialize;

/// One change in what a host runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostEvent {
    /// An actor started.
    ActorStarted {
        /// Its public key.
        actor: String,
        /// Its name from the claims.
        name: String,
    },
    /// An actor's code was replaced under the same key (a live swap).
    ActorUpdated {
        /// Its public key.
        actor: String,
        /// Its name from the claims.
        name: String,
    },
    /// An actor stopped.
    ActorStopped {
        /// Its public key.
        actor: String,
    },
    /// A provider instance was loaded.
    ProviderLoaded {
        /// Its capability id.
        capability: String,
        /// Its binding name.
        binding: String,
        /// Its name.
        name: String,
    },
    /// A provider instance was removed.
    ProviderRemoved {
        /// Its capability id.
        capability: String,
        /// Its binding name.
        binding: String,
    },
    /// An actor was bound to a provider instance of this host.
    BindingCreated {
        /// The actor.
        actor: String,
        /// The capability id.
        capability: String,
        /// The binding name.
        binding: String,
    },
    /// A binding was removed.
    BindingRemoved {
        /// The actor.
        actor: String,
        /// The capability id.
        capability: String,
        /// The binding name.
        binding: String,
    },
}

impl HostEvent {
    /// The CloudEvents `type` of this event, e.g. `trellis.actor_started`.
    pub fn event_type(&self) -> &'static str {
        match self {
            HostEvent::ActorStarted { .. } => "trellis.actor_started",
            HostEvent::ActorUpdated { .. } => "trellis.actor_updated",
            HostEvent::ActorStopped { .. } => "trellis.actor_stopped",
            HostEvent::ProviderLoaded { .. } => "trellis.provider_loaded",
            HostEvent::ProviderRemoved { .. } => "trellis.provider_removed",
            HostEvent::BindingCreated { .. } => "trellis.binding_created",
            HostEvent::BindingRemoved { .. } => "trellis.binding_removed",
        }
    }
}
