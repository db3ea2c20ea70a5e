//! The manifest as written, before validation and path resolution.
//!
//! These types mirror the waSCC 2020 manifest layout field for field. They
//! deny unknown keys so that a typo (`binding:` for `bindings:`) is an error
//! naming the key instead of a silently ignored section.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::Format;

/// A whole manifest. Every section may be missing or `null`.
///
/// `S` is the type used for free-form label and value strings; see
/// [`decode`] for why it differs between YAML and JSON.
#[derive(Debug, Deserialize)]
#[serde(
    rename = "Manifest",
    deny_unknown_fields,
    bound(deserialize = "S: Deserialize<'de> + Ord")
)]
pub(crate) struct RawManifest<S> {
    pub labels: Option<BTreeMap<S, S>>,
    pub actors: Option<Vec<String>>,
    pub capabilities: Option<Vec<RawCapability>>,
    pub bindings: Option<Vec<RawBinding<S>>>,
}

/// One `capabilities` entry.
#[derive(Debug, Deserialize)]
#[serde(rename = "Capability", deny_unknown_fields)]
pub(crate) struct RawCapability {
    pub path: String,
    pub binding_name: Option<String>,
}

/// One `bindings` entry.
#[derive(Debug, Deserialize)]
#[serde(
    rename = "Binding",
    deny_unknown_fields,
    bound(deserialize = "S: Deserialize<'de> + Ord")
)]
pub(crate) struct RawBinding<S> {
    pub actor: String,
    pub capability: String,
    pub binding: Option<String>,
    pub values: Option<BTreeMap<S, S>>,
}

/// Parses manifest text (already variable-expanded).
///
/// The error is the parser's message, which carries the line and column.
pub(crate) fn decode(text: &str, format: Format) -> Result<RawManifest<String>, String> {
    // serde_yaml already turns any scalar (8081, true, 1.0) into a String and
    // keeps its spelling, so YAML uses String directly. serde_json refuses a
    // number where a string is expected, so JSON goes through JsonScalar.
    match format {
        Format::Yaml => serde_yaml::from_str(text).map_err(|e| e.to_string()),
        Format::Json => serde_json::from_str::<RawManifest<JsonScalar>>(text)
            .map(RawManifest::into_strings)
            .map_err(|e| e.to_string()),
    }
}

impl RawManifest<JsonScalar> {
    fn into_strings(self) -> RawManifest<String> {
        RawManifest {
            labels: self.labels.map(into_string_map),
            actors: self.actors,
            capabilities: self.capabilities,
            bindings: self
                .bindings
                .map(|bindings| bindings.into_iter().map(RawBinding::into_strings).collect()),
        }
    }
}

impl RawBinding<JsonScalar> {
    fn into_strings(self) -> RawBinding<String> {
        RawBinding {
            actor: self.actor,
            capability: self.capability,
            binding: self.binding,
            values: self.values.map(into_string_map),
        }
    }
}

fn into_string_map(map: BTreeMap<JsonScalar, JsonScalar>) -> BTreeMap<String, String> {
    map.into_iter().map(|(k, v)| (k.0, v.0)).collect()
}

/// A JSON string, number or boolean, kept as its text.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct JsonScalar(String);

impl<'de> Deserialize<'de> for JsonScalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = JsonScalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonScalar, E> {
        Ok(JsonScalar(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<JsonScalar, E> {
        Ok(JsonScalar(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonScalar, E> {
        Ok(JsonScalar(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonScalar, E> {
        Ok(JsonScalar(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonScalar, E> {
        Ok(JsonScalar(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonScalar, E> {
        // Debug keeps a fractional part ("1.0"), closer to what was written
        // than Display's "1".
        Ok(JsonScalar(format!("{v:?}")))
    }
}
