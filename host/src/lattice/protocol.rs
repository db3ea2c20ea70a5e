//! The lattice's subjects and messages (see docs/lattice.md).
//!
//! Invocations are MessagePack (they carry the codec's payload bytes as
//! they are); the control plane — inventories, placement, events — is JSON,
//! so that `nats sub` shows a person what happens.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The subjects of one namespace: `trellis.<namespace>.…`.
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// The subjects of `namespace`.
    pub fn new(namespace: &str) -> Self {
        Subjects {
            prefix: format!("trellis.{}", token(namespace)),
        }
    }

    /// Invocations of an actor; every host running it listens in a queue group.
    pub fn actor(&self, actor: &str) -> String {
        format!("{}.actor.{}", self.prefix, token(actor))
    }

    /// Invocations of a provider instance.
    pub fn provider(&self, capability: &str, binding: &str) -> String {
        format!(
            "{}.provider.{}.{}",
            self.prefix,
            token(capability),
            token(binding)
        )
    }

    /// Requests to one host (bind, unbind).
    pub fn control(&self, host: &str) -> String {
        format!("{}.host.{}", self.prefix, token(host))
    }

    /// Scatter-gather: every host answers with its inventory.
    pub fn inventory(&self) -> String {
        format!("{}.inventory", self.prefix)
    }

    /// Periodic and on-change inventories.
    pub fn heartbeat(&self) -> String {
        format!("{}.heartbeat", self.prefix)
    }

    /// CloudEvents of every change.
    pub fn events(&self) -> String {
        format!("{}.events", self.prefix)
    }
}

/// A subject token cannot hold `.`, `*`, `>` or whitespace. Keys and names
/// rarely do, so the text is borrowed as it is unless one needs replacing.
fn token(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| matches!(c, '.' | '*' | '>') || c.is_whitespace();
    if !text.contains(forbidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if forbidden(c) { '_' } else { c })
            .collect(),
    )
}

/// One call carried by the lattice. It borrows what it can: the caller
/// encodes it from its own strings and payload, the answering host decodes
/// it in place from the message.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Invocation<'a> {
    /// Unique per call, for logs.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Who calls: an actor key, or `capability/binding` for a provider.
    #[serde(borrow)]
    pub origin: Cow<'a, str>,
    /// The actor key, or `capability/binding`.
    #[serde(borrow)]
    pub target: Cow<'a, str>,
    /// The operation.
    #[serde(borrow)]
    pub operation: Cow<'a, str>,
    /// The codec payload.
    #[serde(borrow, with = "serde_bytes")]
    pub payload: Cow<'a, [u8]>,
    /// The calling host.
    #[serde(borrow)]
    pub host: Cow<'a, str>,
}

/// The answer to an [`Invocation`], borrowing like it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InvocationReply<'a> {
    /// The reply payload.
    #[serde(borrow, with = "serde_bytes")]
    pub payload: Cow<'a, [u8]>,
    /// The error, when the call failed.
    pub error: Option<String>,
    /// The host that ran it.
    #[serde(borrow)]
    pub host: Cow<'a, str>,
    /// The error's kind (`CallErrorKind::name`: `unavailable`, `timeout`,
    /// `actor_failed`, `other`). Appended later: older hosts neither send nor
    /// read it, and a missing or unknown kind reads as `other`.
    pub error_kind: Option<Cow<'a, str>>,
}

/// What a host runs, advertised on start, on change and in every heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Inventory {
    /// The host's id (a server nkey, `N…`).
    pub host: String,
    /// The namespace.
    pub namespace: String,
    /// Labels from its manifests.
    pub labels: BTreeMap<String, String>,
    /// Seconds since the Unix epoch when it started.
    pub started_at: u64,
    /// Seconds it has been up.
    pub uptime_secs: u64,
    /// Its actors.
    pub actors: Vec<ActorSummary>,
    /// Its provider instances.
    pub providers: Vec<ProviderSummary>,
    /// The bindings it serves, and who owns each.
    pub bindings: Vec<BindingSummary>,
    /// True in the host's goodbye.
    pub leaving: bool,
    /// Lattice messages this host refused (forged, replayed, unreadable).
    pub refused: u64,
}

impl Inventory {
    /// Whether this host serves the binding `key`.
    pub fn serves(&self, key: &BindingKey) -> bool {
        self.bindings.iter().any(|b| b.key() == *key)
    }

    /// Whether this host runs a provider for `capability` and `binding`.
    pub fn provides(&self, capability: &str, binding: &str) -> bool {
        self.providers
            .iter()
            .any(|p| p.capability == capability && p.binding == binding)
    }
}

/// An actor in an inventory, with the claims a binding passes on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActorSummary {
    /// Public key.
    pub id: String,
    /// Name from the claims.
    pub name: String,
    /// Issuer.
    pub issuer: String,
    /// Capabilities it may call.
    pub caps: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Expiry (seconds), if any.
    pub expires: Option<u64>,
    /// Code hash.
    pub hash: String,
}

impl ActorSummary {
    /// The `__wascc_*` values a provider receives when this actor is bound.
    pub fn claims_values(&self) -> HashMap<String, String> {
        crate::binding::wascc_values(
            &self.issuer,
            &self.caps,
            &self.name,
            self.expires,
            &self.tags,
        )
    }
}

/// A provider instance in an inventory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderSummary {
    /// Capability id.
    pub capability: String,
    /// Binding name.
    pub binding: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

/// A binding in an inventory. It names its values but never carries them
/// unless they were asked for and the host may show them ([`Self::values`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BindingSummary {
    /// Actor key.
    pub actor: String,
    /// Capability id.
    pub capability: String,
    /// Binding name.
    pub binding: String,
    /// The names of the binding's values, sorted (the claims values left out).
    pub keys: Vec<String>,
    /// The values' digest, as [`values_digest`] computes it.
    pub values_digest: String,
    /// The values themselves, passwords masked: only in the answer to an
    /// inventory request that asks for them, from a host allowed to show
    /// them; never in a heartbeat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, String>>,
    /// The host whose manifest declared it.
    pub owner: String,
}

impl BindingSummary {
    /// The summary of `record`, declared by `owner`; `reveal` adds its
    /// values (masked by [`shown_values`]).
    pub fn of(record: &crate::binding::BindingRecord, owner: String, reveal: bool) -> Self {
        BindingSummary {
            actor: record.actor.clone(),
            capability: record.capability.clone(),
            binding: record.binding.clone(),
            keys: value_names(&record.values),
            values_digest: values_digest(&record.values),
            values: reveal.then(|| shown_values(&record.values)),
            owner,
        }
    }

    /// The binding's identity.
    pub fn key(&self) -> BindingKey {
        BindingKey {
            actor: self.actor.clone(),
            capability: self.capability.clone(),
            binding: self.binding.clone(),
            values_digest: self.values_digest.clone(),
        }
    }
}

/// What identifies a binding lattice-wide.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BindingKey {
    /// Actor key.
    pub actor: String,
    /// Capability id.
    pub capability: String,
    /// Binding name.
    pub binding: String,
    /// The digest of the values ([`values_digest`]): one actor may be bound
    /// to one capability several times with different values.
    #[serde(default)]
    pub values_digest: String,
}

impl BindingKey {
    /// The identity of `record`.
    pub fn of(record: &crate::binding::BindingRecord) -> Self {
        BindingKey {
            actor: record.actor.clone(),
            capability: record.capability.clone(),
            binding: record.binding.clone(),
            values_digest: values_digest(&record.values),
        }
    }
}

/// Whether a value is one the host adds (the actor's claims, `__wascc_*`)
/// rather than one the binding declares.
fn declared((name, _): &(&String, &String)) -> bool {
    !name.starts_with("__wascc_")
}

/// The binding's declared values, sorted by name.
fn declared_values(values: &HashMap<String, String>) -> Vec<(&String, &String)> {
    let mut pairs: Vec<(&String, &String)> = values.iter().filter(declared).collect();
    pairs.sort();
    pairs
}

/// The names of a binding's values, sorted, without the claims values the
/// host adds (`__wascc_*`).
pub fn value_names(values: &HashMap<String, String>) -> Vec<String> {
    declared_values(values)
        .into_iter()
        .map(|(name, _)| name.clone())
        .collect()
}

/// Identifies a binding's values without showing them: the hex of the first
/// 16 bytes of the SHA-256 of its sorted values, the claims values
/// (`__wascc_*`) left out. Every name and value is preceded by its length
/// (8 bytes, little-endian), so two different sets of values never hash the
/// same bytes: `{A: "1,B=2"}` and `{A: "1", B: "2"}` do not collide.
pub fn values_digest(values: &HashMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (name, value) in declared_values(values) {
        for text in [name, value] {
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
    }
    hasher.finalize()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Value names whose values are secrets whatever they look like.
const SECRET_NAMES: [&str; 4] = ["PASSWORD", "SECRET", "TOKEN", "CREDENTIAL"];

/// A binding's declared values as they may be shown: passwords and tokens
/// in URLs masked (each of a comma-separated list of URLs too), and values
/// whose name says they are secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`,
/// `*CREDENTIAL*`) replaced by `***`.
pub fn shown_values(values: &HashMap<String, String>) -> BTreeMap<String, String> {
    declared_values(values)
        .into_iter()
        .map(|(name, value)| {
            let upper = name.to_uppercase();
            let shown = if SECRET_NAMES.iter().any(|s| upper.contains(s)) {
                "***".to_string()
            } else {
                value
                    .split(',')
                    .map(trellis_provider_sdk::mask_password)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            (name.clone(), shown)
        })
        .collect()
}

/// What an inventory request asks for: its JSON body, e.g. `{"values": true}`.
/// Old clients send an empty body, which asks for no values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InventoryRequest {
    /// Whether the bindings' values are asked for.
    pub values: bool,
}

impl InventoryRequest {
    /// Whether the answer carries the bindings' values: only when they are
    /// asked for and the answering host is `allowed` to show them.
    pub fn reveals(self, allowed: bool) -> bool {
        self.values && allowed
    }
}

/// A request to one host's control subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Control {
    /// Bind an actor to this host's provider instance.
    Bind {
        /// The host that owns the binding.
        owner: String,
        /// Actor key.
        actor: String,
        /// Capability id.
        capability: String,
        /// Binding name.
        binding: String,
        /// The binding's values, the claims values included.
        values: HashMap<String, String>,
    },
    /// `owner` withdraws a binding this host serves; it goes when its last
    /// owner withdraws.
    Unbind {
        /// The withdrawing owner.
        owner: String,
        /// The binding.
        key: BindingKey,
    },
}

/// The answer to a [`Control`] request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ControlReply {
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// A CloudEvents 1.0 envelope (JSON), published on the events subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique id.
    pub id: String,
    /// `trellis/<host id>`.
    pub source: String,
    /// e.g. `trellis.actor_started`.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339 time.
    pub time: String,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// The event's details.
    pub data: serde_json::Value,
}

impl CloudEvent {
    /// An event of `kind` from the host `host_id`, `now` after the Unix epoch.
    pub fn new(host_id: &str, kind: &str, now: Duration, data: serde_json::Value) -> Self {
        CloudEvent {
            specversion: "1.0".into(),
            id: format!("{host_id}-{}", now.as_nanos()),
            source: format!("trellis/{host_id}"),
            kind: kind.into(),
            time: trellis_claims::rfc3339(now.as_secs()),
            datacontenttype: "application/json".into(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_live_under_the_namespace() {
        let s = Subjects::new("prod");
        assert_eq!(s.actor("MABC"), "trellis.prod.actor.MABC");
        assert_eq!(
            s.provider("wascc:http_server", "default"),
            "trellis.prod.provider.wascc:http_server.default"
        );
        assert_eq!(s.control("NHOST"), "trellis.prod.host.NHOST");
        assert_eq!(s.inventory(), "trellis.prod.inventory");
        assert_eq!(s.heartbeat(), "trellis.prod.heartbeat");
        assert_eq!(s.events(), "trellis.prod.events");
    }

    #[test]
    fn characters_a_token_cannot_hold_become_underscores() {
        let s = Subjects::new("team a.b");
        assert_eq!(s.events(), "trellis.team_a_b.events");
        assert_eq!(
            s.provider("acme.kv", "cache*>\tx"),
            "trellis.team_a_b.provider.acme_kv.cache___x"
        );
        assert!(matches!(token("MABC"), Cow::Borrowed("MABC")), "no copy");
    }

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_bindings_digest_covers_its_values_but_not_the_claims() {
        let port = values(&[("PORT", "8081"), ("HOST", "0.0.0.0")]);
        let with_claims = values(&[
            ("HOST", "0.0.0.0"),
            ("PORT", "8081"),
            ("__wascc_issuer", "AISSUER"),
        ]);
        let digest = values_digest(&port);
        assert_eq!(digest.len(), 32, "16 bytes in hex: {digest}");
        assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(values_digest(&with_claims), digest);
        assert_ne!(values_digest(&values(&[("PORT", "8082")])), digest);
        assert_eq!(value_names(&with_claims), ["HOST", "PORT"]);
        assert!(value_names(&HashMap::new()).is_empty());
    }

    #[test]
    fn values_that_concatenate_alike_have_different_digests() {
        let sets = [
            values(&[("A", "1,B=2")]),
            values(&[("A", "1"), ("B", "2")]),
            values(&[("A=1,B", "2")]),
            values(&[("AB", "")]),
            values(&[("A", "B")]),
            values(&[]),
        ];
        let digests: std::collections::BTreeSet<String> = sets.iter().map(values_digest).collect();
        assert_eq!(digests.len(), sets.len(), "{digests:?}");
    }

    #[test]
    fn shown_values_mask_passwords_tokens_and_secret_names() {
        let shown = shown_values(&values(&[
            ("URL", "redis://user:pw@h:6379/0"),
            ("NATS", "nats://tok@h"),
            ("SEEDS", "nats://a:one@h1,nats://b:two@h2"),
            ("DB_PASSWORD", "hunter2"),
            ("api_token", "abc"),
            ("PORT", "8081"),
            ("__wascc_issuer", "AISSUER"),
        ]));
        let expected = [
            ("DB_PASSWORD", "***"),
            ("NATS", "nats://***@h"),
            ("PORT", "8081"),
            ("SEEDS", "nats://a:***@h1,nats://b:***@h2"),
            ("URL", "redis://user:***@h:6379/0"),
            ("api_token", "***"),
        ];
        let expected: BTreeMap<String, String> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(shown, expected);
    }

    /// An inventory request's body as a host reads it: old clients send none.
    fn request(body: &[u8]) -> InventoryRequest {
        if body.is_empty() {
            return InventoryRequest::default();
        }
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn an_inventory_request_asks_for_values_only_explicitly() {
        assert!(request(br#"{"values": true}"#).values);
        let not_asking: [&[u8]; 4] = [b"", b"{}", b"{\"values\": false}", b"{\"later\": 1}"];
        for body in not_asking {
            let read = request(body);
            assert_eq!(read, InventoryRequest::default(), "{body:?}");
        }
        let asked = InventoryRequest { values: true };
        assert!(asked.reveals(true));
        assert!(!asked.reveals(false), "not allowed");
        assert!(!InventoryRequest::default().reveals(true), "not asked");
    }

    #[test]
    fn an_invocation_and_its_reply_cross_the_wire_unchanged() {
        let call = Invocation {
            id: "N1-7".into(),
            origin: "MCALLER".into(),
            target: "wascc:keyvalue/default".into(),
            operation: "Get".into(),
            payload: (&[0u8, 159, 255][..]).into(),
            host: "N1".into(),
        };
        let bytes = trellis_codec::encode(&call).unwrap();
        let back: Invocation = trellis_codec::decode(&bytes).unwrap();
        assert_eq!(
            (&*back.id, &*back.origin, &*back.target, &*back.operation),
            ("N1-7", "MCALLER", "wascc:keyvalue/default", "Get")
        );
        assert_eq!((&*back.payload, &*back.host), (&[0u8, 159, 255][..], "N1"));
        assert!(
            matches!(back.operation, Cow::Borrowed(_)),
            "decoded in place"
        );

        let reply = InvocationReply {
            payload: Cow::Borrowed(&[]),
            error: Some("bad dispatch".into()),
            host: "N2".into(),
            error_kind: None,
        };
        let bytes = trellis_codec::encode(&reply).unwrap();
        let back: InvocationReply = trellis_codec::decode(&bytes).unwrap();
        assert_eq!(
            (back.error.as_deref(), &*back.host),
            (Some("bad dispatch"), "N2")
        );
        assert!(back.payload.is_empty());
    }

    #[test]
    fn control_requests_are_tagged_json() {
        let unbind = Control::Unbind {
            owner: "N1".into(),
            key: BindingKey {
                actor: "MECHO".into(),
                capability: "wascc:http_server".into(),
                binding: "default".into(),
                values_digest: "0123".into(),
            },
        };
        let json: serde_json::Value = serde_json::to_value(&unbind).unwrap();
        assert_eq!(json["kind"], "unbind");
        assert_eq!(json["key"]["values_digest"], "0123");
        let back: Control = serde_json::from_value(json).unwrap();
        assert!(matches!(back, Control::Unbind { owner, .. } if owner == "N1"));
    }

    #[test]
    fn an_inventory_missing_fields_still_reads() {
        let inventory: Inventory =
            serde_json::from_str(r#"{"host": "N1", "future_field": 1}"#).unwrap();
        assert_eq!(inventory.host, "N1");
        assert!(!inventory.leaving && inventory.actors.is_empty());
        let binding: BindingSummary =
            serde_json::from_str(r#"{"actor": "M1", "config": "PORT=1"}"#).unwrap();
        assert_eq!(binding.actor, "M1");
        assert!(binding.keys.is_empty() && binding.values.is_none());
    }

    /// The binding summary a host answers a request with `body`, when it is
    /// `allowed` to show values or not (the membership's policy).
    fn answered(body: &[u8], allowed: bool) -> (BindingSummary, crate::binding::BindingRecord) {
        let record = crate::binding::BindingRecord {
            actor: "MECHO".into(),
            capability: "wascc:http_server".into(),
            binding: "default".into(),
            values: values(&[("PORT", "8081"), ("URL", "redis://u:pw@h")]),
        };
        let reveal = request(body).reveals(allowed);
        (BindingSummary::of(&record, "N1".into(), reveal), record)
    }

    #[test]
    fn values_are_answered_masked_only_when_asked_for_and_allowed() {
        let asked = br#"{"values": true}"#;
        let withheld: [(&[u8], bool); 3] = [(asked, false), (b"", true), (b"{}", false)];
        for (body, allowed) in withheld {
            let (summary, record) = answered(body, allowed);
            assert_eq!(summary.key(), BindingKey::of(&record));
            assert_eq!(summary.keys, ["PORT", "URL"]);
            assert_eq!(summary.owner, "N1");
            let json = serde_json::to_string(&summary).unwrap();
            assert!(
                !json.contains("8081") && !json.contains("pw") && !json.contains("values\""),
                "{json}"
            );
        }

        let (shown, _) = answered(asked, true);
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(json["values"]["URL"], "redis://u:***@h");
        assert_eq!(json["values"]["PORT"], "8081");
        assert_eq!(json["keys"], serde_json::json!(["PORT", "URL"]));
    }

    #[test]
    fn an_event_names_its_host_and_time() {
        let event = CloudEvent::new(
            "N1",
            "trellis.actor_started",
            Duration::from_secs(86_400),
            serde_json::json!({}),
        );
        assert_eq!(event.source, "trellis/N1");
        assert_eq!(event.time, "1970-01-02T00:00:00Z");
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "trellis.actor_started");
        assert_eq!(json["specversion"], "1.0");
    }

    /// The reply envelope as hosts before failure kinds wrote and read it.
    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    struct ReplyWithoutKind {
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
        error: Option<String>,
        host: String,
    }

    #[test]
    fn the_error_kind_is_optional_both_ways() {
        let old = ReplyWithoutKind {
            error: Some("no actor M is running".into()),
            host: "NOLD".into(),
            ..ReplyWithoutKind::default()
        };
        let bytes = trellis_codec::encode(&old).unwrap();
        let read: InvocationReply = trellis_codec::decode(&bytes).unwrap();
        assert_eq!(read.error.as_deref(), Some("no actor M is running"));
        assert_eq!(read.error_kind, None);

        let new = InvocationReply {
            error: Some("call to M timed out after 500 ms".into()),
            error_kind: Some("timeout".into()),
            host: "NNEW".into(),
            ..InvocationReply::default()
        };
        let bytes = trellis_codec::encode(&new).unwrap();
        let read: ReplyWithoutKind = trellis_codec::decode(&bytes).unwrap();
        assert_eq!(read.error, new.error);
        let read: InvocationReply = trellis_codec::decode(&bytes).unwrap();
        assert_eq!(read.error_kind.as_deref(), Some("timeout"));
    }
}
