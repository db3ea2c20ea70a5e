//! Bindings: an actor bound to a provider instance, with the values the
//! provider configures it by.
//!
//! A binding is served here when both its actor and its provider run on this
//! host; otherwise a host in a lattice hands it to a [`BindingPlacement`],
//! which places it on a host that runs the provider. [`Placement::of`] makes
//! that decision, once for every caller.

use crate::bus::Bus;
use std::collections::HashMap;
use trellis_claims::Claims;

/// An actor bound to a provider instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRecord {
    /// The actor's key.
    pub actor: String,
    /// The capability id.
    pub capability: String,
    /// The binding name.
    pub binding: String,
    /// The values the provider received (without the claims keys).
    pub values: HashMap<String, String>,
}

impl BindingRecord {
    /// Whether `self` binds the same actor to the same provider instance as
    /// `other`, whatever the values.
    pub fn same_ends(&self, other: &BindingRecord) -> bool {
        self.actor == other.actor
            && self.capability == other.capability
            && self.binding == other.binding
    }
}

/// Takes bindings this host cannot serve alone (its provider or actor runs
/// elsewhere) and places them in the lattice.
pub trait BindingPlacement: Send + Sync {
    /// Owns `record` from now on; `claims_values` are the `__wascc_*` values
    /// when the actor runs here (empty otherwise).
    fn place(&self, record: BindingRecord, claims_values: HashMap<String, String>);

    /// Gives up `record`: its holder removes it unless another host owns it too.
    fn withdraw(&self, record: &BindingRecord);
}

/// Where a binding is served, from what runs on this host now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Actor and provider both run here: bind here.
    Here,
    /// One end runs elsewhere and the host is in a lattice: place it there,
    /// with the actor's `__wascc_*` values when the actor runs here.
    Lattice(HashMap<String, String>),
    /// One end is missing and there is no lattice to find it in.
    Missing(MissingEnd),
}

/// The end of a binding that is nowhere to be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingEnd {
    /// No such actor runs here.
    Actor,
    /// No such provider instance runs here.
    Provider,
}

impl Placement {
    /// Where `record` is served, given what runs on `bus` and whether the
    /// host is in a lattice.
    pub fn of(record: &BindingRecord, bus: &Bus, in_lattice: bool) -> Placement {
        let actor = bus.actor(&record.actor);
        let provided = bus.provider(&record.capability, &record.binding).is_some();
        match (actor, provided, in_lattice) {
            (Some(_), true, _) => Placement::Here,
            (actor, _, true) => {
                Placement::Lattice(actor.map(|a| claims_values(a.claims())).unwrap_or_default())
            }
            (None, _, false) => Placement::Missing(MissingEnd::Actor),
            (Some(_), false, false) => Placement::Missing(MissingEnd::Provider),
        }
    }
}

/// The actor's claims as waSCC providers expect them in a binding's values.
pub fn claims_values(claims: &Claims) -> HashMap<String, String> {
    let m = &claims.metadata;
    wascc_values(
        &claims.issuer,
        &m.caps,
        m.name.as_deref().unwrap_or_default(),
        claims.expires,
        &m.tags,
    )
}

/// The `__wascc_*` binding values from an actor's claim fields (what the
/// lattice's inventory carries of them, too).
pub(crate) fn wascc_values(
    issuer: &str,
    caps: &[String],
    name: &str,
    expires: Option<u64>,
    tags: &[String],
) -> HashMap<String, String> {
    HashMap::from([
        ("__wascc_issuer".into(), issuer.to_string()),
        ("__wascc_capabilities".into(), caps.join(",")),
        ("__wascc_name".into(), name.to_string()),
        (
            "__wascc_expires".into(),
            expires.map(|e| e.to_string()).unwrap_or_default(),
        ),
        ("__wascc_tags".into(), tags.join(",")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wascc_values_carry_every_claim_field() {
        let values = wascc_values("AISSUER", &["a".into(), "b".into()], "echo", None, &[]);
        assert_eq!(values["__wascc_issuer"], "AISSUER");
        assert_eq!(values["__wascc_capabilities"], "a,b");
        assert_eq!(values["__wascc_expires"], "");
    }
}
