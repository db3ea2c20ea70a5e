//! The Trellis host: runs signed WebAssembly actors and native capability
//! providers, and routes every call between them.
//!
//! Data flows one way:
//!
//! ```text
//!  manifest (YAML) ──► apply: prepare ──► commit ──► running entities ──► bus
//!   trellis_manifest     verify actors,     register    Actor (pool of     in-process
//!                        check libraries,   and bind    wasm instances),   invocation,
//!                        resolve bindings               ProviderInstance   bounded in time
//! ```
//!
//! The nouns:
//!
//! - [`HostBuilder`] → [`Host`]: configure once, then start, bind, call
//!   (through [`Host::bus`]), stop.
//! - [`actor::Actor`]: a verified module with a bounded pool of instances
//!   (wasmtime, waPC, claims enforced on every host call).
//! - [`provider::ProviderLibrary`] / [`provider::ProviderInstance`]: a
//!   provider library that passed the ABI checks, and one running instance.
//! - [`Invocation`]: one call (origin, target, operation, payload).
//! - [`bus::Bus`]: routes invocations (`call`, or `call_local` for this host
//!   only), each ending in a reply or an [`InvocationError`] that names its
//!   target.

pub mod actor;
mod apply;
pub mod bus;
mod config;
pub mod desired;
mod error;
mod events;
mod host;
pub mod invocation;
#[cfg(feature = "lattice")]
pub mod lattice;
pub mod provider;
pub mod reconcile;
mod sync;
pub mod watch;

pub use apply::Applied;
pub use config::HostConfig;
pub use error::HostError;
pub use events::HostEvent;
pub use host::{claims_values, BindingPlacement, BindingRecord, Host, HostBuilder};
pub use invocation::{Invocation, InvocationError};
