//! The owner's half of placement: the bindings this host declared but
//! cannot serve alone, and which host holds each.
//!
//! Plain bookkeeping that never talks to NATS: [`OwnedBindings::plan`] looks
//! at the lattice's inventories and answers with the `bind` requests to send;
//! the placement job sends them and reports back with
//! [`OwnedBindings::placed`]. Time is tokio's, so the rules are tested with
//! the clock paused.

use super::protocol::{BindingKey, Control, Inventory};
use crate::binding::BindingRecord;
use rand::seq::IndexedRandom;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The bindings this host owns.
pub struct OwnedBindings {
    owned: Vec<Owned>,
    /// How long a new holder has to report the binding in its inventory.
    confirm_within: Duration,
}

struct Owned {
    key: BindingKey,
    record: BindingRecord,
    claims: HashMap<String, String>,
    /// The host holding it, and since when.
    held_by: Option<(String, Instant)>,
}

/// A `bind` request for the placement job to send.
#[derive(Debug)]
pub struct Bind {
    /// The host chosen to hold the binding.
    pub holder: String,
    /// The binding.
    pub key: BindingKey,
    /// The request.
    pub control: Control,
}

impl OwnedBindings {
    /// No bindings yet, in a lattice beating every `heartbeat`: a holder
    /// must report a binding within two beats of taking it.
    pub fn new(heartbeat: Duration) -> Self {
        OwnedBindings {
            owned: Vec::new(),
            confirm_within: heartbeat * 2,
        }
    }

    /// Owns `record` from now on; `claims` are the actor's `__wascc_*`
    /// values when it runs here (else taken from its host's inventory).
    pub fn own(&mut self, record: BindingRecord, claims: HashMap<String, String>) {
        self.owned.push(Owned {
            key: BindingKey::of(&record),
            record,
            claims,
            held_by: None,
        });
    }

    /// Gives up the binding `key`; returns the host holding it, which is to
    /// be told.
    pub fn withdraw(&mut self, key: &BindingKey) -> Option<String> {
        let at = self.owned.iter().position(|o| o.key == *key)?;
        self.owned.remove(at).held_by.map(|(holder, _)| holder)
    }

    /// Every owned binding, and the host holding it (`None`: waiting).
    pub fn holders(&self) -> Vec<(BindingKey, Option<String>)> {
        self.owned
            .iter()
            .map(|o| (o.key.clone(), o.held_by.as_ref().map(|(h, _)| h.clone())))
            .collect()
    }

    /// The owned bindings other hosts than `me` hold.
    pub fn held_elsewhere(&self, me: &str) -> Vec<(BindingKey, String)> {
        self.owned
            .iter()
            .filter_map(|o| {
                let (holder, _) = o.held_by.as_ref()?;
                (holder != me).then(|| (o.key.clone(), holder.clone()))
            })
            .collect()
    }

    /// Decides what to do about every owned binding, given what `everyone`
    /// (this host `me` included) runs:
    ///
    /// - a holder that is gone, or has not reported the binding within
    ///   [`Self::new`]'s window, loses it;
    /// - a binding without a holder that some host already serves is
    ///   adopted: held by that host, not placed twice;
    /// - else one host running a provider for it is chosen at random, and a
    ///   [`Bind`] for it returned;
    /// - with no such host, the binding waits for the next plan.
    pub fn plan(&mut self, everyone: &[Inventory], me: &str) -> Vec<Bind> {
        let confirm_within = self.confirm_within;
        let mut binds = Vec::new();
        for owned in &mut self.owned {
            if let Some((holder, since)) = &owned.held_by {
                let holds = everyone.iter().any(|inv| {
                    inv.host == *holder
                        && (inv.serves(&owned.key) || since.elapsed() < confirm_within)
                });
                if !holds {
                    tracing::warn!(host = %holder, actor = %owned.key.actor, capability = %owned.key.capability, "the host holding this binding is gone or dropped it; re-placing it");
                    owned.held_by = None;
                }
            }
            if owned.held_by.is_some() {
                continue;
            }
            if let Some(server) = everyone.iter().find(|inv| inv.serves(&owned.key)) {
                owned.held_by = Some((server.host.clone(), Instant::now()));
                continue;
            }
            binds.extend(owned.bind_request(everyone, me));
        }
        binds
    }

    /// Records that `holder` took the binding `key`; false when the binding
    /// was withdrawn meanwhile (the holder is then to be told).
    pub fn placed(&mut self, key: &BindingKey, holder: String) -> bool {
        match self.owned.iter_mut().find(|o| o.key == *key) {
            Some(owned) => {
                owned.held_by = Some((holder, Instant::now()));
                true
            }
            None => false,
        }
    }
}

impl Owned {
    /// A `bind` for a host chosen at random among those with a provider for
    /// the binding, carrying the values and the actor's claims.
    fn bind_request(&self, everyone: &[Inventory], me: &str) -> Option<Bind> {
        let record = &self.record;
        let candidates: Vec<&Inventory> = everyone
            .iter()
            .filter(|inv| inv.provides(&record.capability, &record.binding))
            .collect();
        let holder = candidates.choose(&mut rand::rng())?.host.clone();
        let mut claims = self.claims.clone();
        if claims.is_empty() {
            claims = everyone
                .iter()
                .flat_map(|inv| &inv.actors)
                .find(|a| a.id == record.actor)
                .map(|a| a.claims_values())
                .unwrap_or_default();
        }
        let mut values = record.values.clone();
        values.extend(claims);
        let control = Control::Bind {
            owner: me.to_string(),
            actor: record.actor.clone(),
            capability: record.capability.clone(),
            binding: record.binding.clone(),
            values,
        };
        Some(Bind {
            holder,
            key: self.key.clone(),
            control,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Bind, OwnedBindings};
    use crate::binding::BindingRecord;
    use crate::lattice::protocol::{
        ActorSummary, BindingKey, BindingSummary, Control, Inventory, ProviderSummary,
    };
    use std::collections::HashMap;
    use std::time::Duration;
    use tokio::time::advance;

    const BEAT: Duration = Duration::from_millis(100);
    const ME: &str = "owner";

    fn record() -> BindingRecord {
        BindingRecord {
            actor: "MECHO".into(),
            capability: "wascc:http_server".into(),
            binding: "default".into(),
            values: HashMap::from([("PORT".into(), "8081".into())]),
        }
    }

    fn key() -> BindingKey {
        BindingKey::of(&record())
    }

    /// A host with nothing but its id.
    fn bare(host: &str) -> Inventory {
        Inventory {
            host: host.into(),
            ..Inventory::default()
        }
    }

    /// A host running an HTTP server provider.
    fn provider(host: &str) -> Inventory {
        Inventory {
            providers: vec![ProviderSummary {
                capability: "wascc:http_server".into(),
                binding: "default".into(),
                ..ProviderSummary::default()
            }],
            ..bare(host)
        }
    }

    /// A provider host that reports serving the binding.
    fn serving(host: &str) -> Inventory {
        let mut inventory = provider(host);
        inventory
            .bindings
            .push(BindingSummary::of(&record(), "someone".into(), false));
        inventory
    }

    fn owning() -> OwnedBindings {
        let mut owned = OwnedBindings::new(BEAT);
        owned.own(record(), HashMap::new());
        owned
    }

    /// An owned binding just placed on the provider host `p`.
    fn placed_on_p() -> OwnedBindings {
        let mut owned = owning();
        owned.plan(&[bare(ME), provider("p")], ME);
        assert!(owned.placed(&key(), "p".into()));
        owned
    }

    fn holder(owned: &OwnedBindings) -> Option<String> {
        owned.holders()[0].1.clone()
    }

    fn targets(binds: &[Bind]) -> Vec<&str> {
        binds.iter().map(|b| b.holder.as_str()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_binding_waits_until_a_first_provider_appears() {
        let mut owned = owning();
        assert!(owned.plan(&[bare(ME), bare("x")], ME).is_empty());
        assert_eq!(holder(&owned), None, "waits");

        advance(BEAT).await;
        let binds = owned.plan(&[bare(ME), bare("x"), provider("p")], ME);
        assert_eq!(targets(&binds), ["p"]);
        assert_eq!(binds[0].key, key());
        assert_eq!(holder(&owned), None, "held once the bind succeeded");
        assert!(owned.placed(&key(), "p".into()));
        assert_eq!(holder(&owned).as_deref(), Some("p"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_bind_carries_the_values_and_the_actors_claims() {
        let mut owned = owning();
        let mut actor_host = bare("a");
        actor_host.actors.push(ActorSummary {
            id: "MECHO".into(),
            issuer: "AISSUER".into(),
            ..ActorSummary::default()
        });
        let binds = owned.plan(&[bare(ME), actor_host, provider("p")], ME);
        let Control::Bind { owner, values, .. } = &binds[0].control else {
            panic!("{binds:?}");
        };
        assert_eq!(owner, ME);
        assert_eq!(values["PORT"], "8081");
        assert_eq!(values["__wascc_issuer"], "AISSUER");
    }

    #[tokio::test(start_paused = true)]
    async fn a_binding_some_host_serves_is_adopted_not_placed_twice() {
        let mut owned = owning();
        let binds = owned.plan(&[bare(ME), provider("p"), serving("s")], ME);
        assert!(binds.is_empty(), "{binds:?}");
        assert_eq!(holder(&owned).as_deref(), Some("s"));
        // The adopted holder keeps it while it reports it.
        advance(BEAT * 5).await;
        assert!(owned
            .plan(&[bare(ME), provider("p"), serving("s")], ME)
            .is_empty());
        assert_eq!(holder(&owned).as_deref(), Some("s"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_holder_is_replaced() {
        let mut owned = placed_on_p();
        // Within two beats the new holder need not report it yet.
        advance(Duration::from_millis(150)).await;
        assert!(owned.plan(&[bare(ME), provider("p")], ME).is_empty());
        assert_eq!(holder(&owned).as_deref(), Some("p"));

        // It reports it, then leaves the view: the binding goes elsewhere.
        assert!(owned.plan(&[bare(ME), serving("p")], ME).is_empty());
        let binds = owned.plan(&[bare(ME), provider("q")], ME);
        assert_eq!(targets(&binds), ["q"]);
        assert_eq!(holder(&owned), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_that_never_reports_the_binding_loses_it() {
        let mut owned = placed_on_p();
        advance(Duration::from_millis(201)).await;
        let binds = owned.plan(&[bare(ME), provider("p")], ME);
        assert_eq!(targets(&binds), ["p"], "placed again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_withdrawn_binding_names_its_holder_and_is_not_placed_again() {
        let mut owned = placed_on_p();
        assert_eq!(owned.held_elsewhere(ME), [(key(), "p".to_string())]);
        assert_eq!(owned.withdraw(&key()).as_deref(), Some("p"));
        assert!(owned.holders().is_empty());
        assert!(owned.plan(&[bare(ME), provider("q")], ME).is_empty());
        // A bind that was under way when it was withdrawn is to be undone.
        assert!(!owned.placed(&key(), "q".into()));
    }
}
