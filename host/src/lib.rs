//! The Trellis host: runs signed WebAssembly actors and native capability
//! providers, and routes every call between them.
//!
//! Data flows one way:
//!
//! ```text
//!  manifests ──► desired state ──► diff ──► running state ──► bus
//!  -m files,     union of the      what      Actor (pool of     Invocation,
//!  watched       sources           starts,   wasm instances),   in-process or
//!  folder        (state)           stops,    ProviderInstance,  through the
//!                                  swaps     bindings           lattice
//! ```
//!
//! The nouns:
//!
//! - [`HostBuilder`] → [`Host`]: configure once, then apply manifests (or
//!   start and bind entities one by one), call (through [`Host::bus`]), stop.
//! - [`state`]: the host's one pipeline from its manifests to what runs
//!   ([`state::DesiredState`] → [`state::diff::Diff`] → running state).
//! - [`actor::Actor`]: a verified module with a bounded pool of instances
//!   (wasmtime, waPC, claims enforced on every host call).
//! - [`provider::ProviderLibrary`] / [`provider::ProviderInstance`]: a
//!   provider library that passed the ABI checks, and one running instance.
//! - [`BindingRecord`]: an actor bound to a provider instance, served here
//!   or placed in the lattice ([`binding::Placement`]).
//! - [`Invocation`]: one call (origin, target, operation, payload).
//! - [`bus::Bus`]: routes invocations (`call`, or `call_local` for this host
//!   only), each ending in a reply or an [`InvocationError`] that names its
//!   target.

pub mod actor;
pub mod binding;
pub mod bus;
mod config;
mod error;
mod events;
mod host;
pub mod invocation;
#[cfg(feature = "lattice")]
pub mod lattice;
pub mod provider;
pub mod state;
mod sync;

pub use binding::{claims_values, BindingPlacement, BindingRecord};
pub use config::HostConfig;
pub use error::HostError;
pub use events::HostEvent;
pub use host::{Host, HostBuilder};
pub use invocation::{Invocation, InvocationError};
pub use state::Applied;
