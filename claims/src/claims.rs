//! The claims carried by an actor's token, in the waSCC 2020 JSON layout.

use serde::{Deserialize, Deserializer, Serialize};

/// The standard JWT claims plus the `wascap` block describing the actor.
///
/// Serializes to (and deserializes from) exactly the payload JSON of a waSCC
/// 2020 token, so it can be printed as-is by `trellis claims inspect`.
/// Unknown fields are ignored when decoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Unique id of this token (`jti`).
    #[serde(rename = "jti")]
    pub id: String,
    /// When the token was issued, in seconds since the Unix epoch (`iat`).
    #[serde(rename = "iat")]
    pub issued_at: u64,
    /// Public account key (`A…`) of whoever signed the token (`iss`).
    #[serde(rename = "iss")]
    pub issuer: String,
    /// Public module key (`M…`) identifying the actor (`sub`).
    #[serde(rename = "sub")]
    pub subject: String,
    /// When the token stops being valid, in seconds since the Unix epoch (`exp`).
    #[serde(rename = "exp", default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// When the token starts being valid, in seconds since the Unix epoch (`nbf`).
    #[serde(rename = "nbf", default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<u64>,
    /// What the actor is and what it may do (`wascap`).
    #[serde(rename = "wascap")]
    pub metadata: ActorMetadata,
}

impl Claims {
    /// Whether the actor was granted `capability`, e.g. `wascc:http_server`.
    ///
    /// Capability ids are compared exactly: the host decides how ids are
    /// spelled, and a lenient match could grant more than was signed.
    pub fn allows(&self, capability: &str) -> bool {
        self.metadata
            .caps
            .iter()
            .any(|granted| granted == capability)
    }
}

/// The `wascap` block of a token: the actor's description and capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorMetadata {
    /// Human-friendly name of the actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Uppercase hex SHA-256 of the module without its `jwt` section.
    pub hash: String,
    /// Free-form tags.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    /// Capability ids the actor may use, e.g. `wascc:http_server`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub caps: Vec<String>,
    /// Revision number, for ordering releases of the same actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i32>,
    /// Human-friendly version string, e.g. `1.2.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// Whether the module is a capability provider; always `false` for actors.
    #[serde(rename = "prov", default)]
    pub provider: bool,
}

/// Reads a list that may be `null`; some 2020 tools wrote `null` for "none".
fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}
