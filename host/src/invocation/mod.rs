//! Invocations: one call between entities, and how it can fail.
//!
//! An [`Invocation`] says who calls ([`Origin`]), what it reaches
//! ([`Target`]), the operation and its payload. Every call in the host is
//! one: an embedder calling an actor, an actor calling a provider or another
//! actor, a provider calling an actor, a call that arrived from the lattice.
//! The bus routes it ([`crate::bus::Bus::call`]); a failure comes back as an
//! [`InvocationError`] that names the target.
//!
//! An invocation borrows its names from the caller: building one costs no
//! allocation, and the payload is moved along, never copied.
//!
//! ```
//! use trellis_host::invocation::Invocation;
//! let call = Invocation::to_actor("MB2…", "HealthRequest", Vec::new());
//! assert_eq!(call.target.to_string(), "actor MB2…");
//! ```

mod error;

pub use error::InvocationError;

use std::fmt;

/// One call: who makes it, what it reaches, the operation and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation<'a> {
    /// Who calls.
    pub origin: Origin<'a>,
    /// What the call reaches.
    pub target: Target<'a>,
    /// The operation, e.g. `HandleRequest`.
    pub operation: &'a str,
    /// The codec payload.
    pub payload: Vec<u8>,
}

impl<'a> Invocation<'a> {
    /// A call from `origin` to `target`.
    pub fn new(
        origin: Origin<'a>,
        target: Target<'a>,
        operation: &'a str,
        payload: Vec<u8>,
    ) -> Self {
        Invocation {
            origin,
            target,
            operation,
            payload,
        }
    }

    /// A call from the host (its embedder) to the actor with key `actor`.
    pub fn to_actor(actor: &'a str, operation: &'a str, payload: Vec<u8>) -> Self {
        Invocation::new(Origin::Host, Target::Actor(actor), operation, payload)
    }
}

/// Who makes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// The host itself or its embedder (a test, a tool), or a caller from
    /// the lattice that did not say who it is.
    Host,
    /// An actor, by its public key. A provider serves a call on behalf of
    /// the actor that made it.
    Actor(&'a str),
    /// A provider instance, by its name.
    Provider(&'a str),
}

impl<'a> Origin<'a> {
    /// The calling actor's key, or `""` when no actor calls.
    pub fn actor(&self) -> &'a str {
        match self {
            Origin::Actor(actor) => actor,
            Origin::Host | Origin::Provider(_) => "",
        }
    }
}

/// What a call reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// An actor, by its public key.
    Actor(&'a str),
    /// The provider instance serving a capability under a binding name.
    Provider {
        /// The capability id, e.g. `wascc:http_server`.
        capability: &'a str,
        /// The binding name (`default` unless the manifest named another).
        binding: &'a str,
    },
}

impl fmt::Display for Target<'_> {
    /// How errors name the target: `actor M…` or `cap (binding 'b')`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Actor(actor) => write!(f, "actor {actor}"),
            Target::Provider {
                capability,
                binding,
            } => write!(f, "{capability} (binding '{binding}')"),
        }
    }
}

/// Whether `namespace` is an actor's public key: 56 base32 characters
/// starting with `M`. A waPC host call names an actor this way, and a
/// capability otherwise.
pub fn is_actor_key(namespace: &str) -> bool {
    namespace.len() == 56
        && namespace.starts_with('M')
        && namespace
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_named_as_errors_name_them() {
        assert_eq!(Target::Actor("MABC").to_string(), "actor MABC");
        let provider = Target::Provider {
            capability: "wascc:keyvalue",
            binding: "default",
        };
        assert_eq!(provider.to_string(), "wascc:keyvalue (binding 'default')");
    }

    #[test]
    fn only_an_actor_origin_names_an_actor() {
        assert_eq!(Origin::Actor("MABC").actor(), "MABC");
        assert_eq!(Origin::Host.actor(), "");
        assert_eq!(Origin::Provider("httpserver").actor(), "");
    }

    #[test]
    fn actor_keys_are_told_from_capability_ids() {
        let key = format!("M{}", "A".repeat(55));
        assert!(is_actor_key(&key));
        assert!(!is_actor_key("wascc:http_server"));
        assert!(!is_actor_key(&format!("N{}", "A".repeat(55))));
    }
}
