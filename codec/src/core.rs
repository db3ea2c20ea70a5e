//! Operations every actor and provider understands, whatever its capability.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Host → actor: "are you healthy?" An empty or nil reply means yes.
pub const OP_HEALTH_REQUEST: &str = "HealthRequest";
/// Host → provider: an actor was bound to this provider (payload [`CapabilityConfiguration`]).
pub const OP_BIND_ACTOR: &str = "BindActor";
/// Host → provider: an actor's binding was removed (payload [`CapabilityConfiguration`]).
pub const OP_REMOVE_ACTOR: &str = "RemoveActor";
/// The origin the host uses for the lifecycle calls it makes itself.
pub const SYSTEM_ORIGIN: &str = "system";

/// The body of a `HealthRequest`. Guests fail to decode an empty payload, so
/// the placeholder field must be sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthRequest {
    /// Always `true`; it only exists so the map is not empty.
    pub placeholder: bool,
}

/// An actor's binding to a provider: the actor's public key and the binding's values.
///
/// When binding, the host adds the actor's claims to `values` under the keys
/// `__wascc_issuer`, `__wascc_capabilities`, `__wascc_name`,
/// `__wascc_expires` and `__wascc_tags`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CapabilityConfiguration {
    /// The actor's public key (`M…`).
    pub module: String,
    /// The binding's configuration values (e.g. `PORT`).
    pub values: HashMap<String, String>,
}
