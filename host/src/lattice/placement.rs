//! Bindings across hosts.
//!
//! The host whose manifest declares a binding **owns** it. When the binding's
//! provider (or actor) is not all on the owner, the owner places it on one
//! live instance of the provider, chosen at random among the hosts that run
//! one, by a `bind` request to that host. The owner re-places a binding when
//! the host holding it leaves or misses two heartbeats, and places bindings
//! that were waiting as soon as a first instance of their provider joins. A
//! binding some host already serves is adopted, not placed twice. A host
//! serving a binding whose owner has gone removes it; an owner that leaves
//! cleanly withdraws its bindings.

use super::protocol::{BindingKey, Control, ControlReply, Inventory};
use super::Lattice;
use crate::binding::{BindingPlacement, BindingRecord};
use rand::seq::IndexedRandom;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a withdrawal waits for each host's answer when leaving.
const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(1);

/// The bindings this host owns, and those it serves for others.
#[derive(Default)]
pub struct Placements {
    owned: Mutex<Vec<Owned>>,
    hosted: Mutex<HashMap<BindingKey, Hosted>>,
}

struct Owned {
    record: BindingRecord,
    claims: HashMap<String, String>,
    /// The host holding it, and since when.
    placed_on: Option<(String, Instant)>,
}

/// A binding this host serves, and the hosts that declared it (two owners
/// may declare the same binding: it stays until the last one withdraws).
struct Hosted {
    owners: BTreeSet<String>,
    since: Instant,
}

/// Removes the one binding `key` names (its siblings with other values stay).
fn unbind_key(host: &crate::host::Host, key: &BindingKey) {
    if let Some(record) = host
        .bindings()
        .into_iter()
        .find(|b| BindingKey::of(b) == *key)
    {
        host.unbind_exact(&record);
    }
}

/// The host's placement hook: hands declared bindings to the lattice.
pub struct Placer(pub Weak<Lattice>);

impl BindingPlacement for Placer {
    fn place(&self, record: BindingRecord, claims_values: HashMap<String, String>) {
        let Some(lattice) = self.0.upgrade() else {
            return;
        };
        tracing::info!(actor = %record.actor, capability = %record.capability, binding = %record.binding, "binding owned by this host; placing it in the lattice");
        if let Ok(mut owned) = lattice.placements.owned.lock() {
            owned.push(Owned {
                record,
                claims: claims_values,
                placed_on: None,
            });
        }
        lattice.replace.notify_one();
    }

    fn withdraw(&self, record: &BindingRecord) {
        let Some(lattice) = self.0.upgrade() else {
            return;
        };
        let key = BindingKey::of(record);
        let holder = lattice.placements.owned.lock().ok().and_then(|mut owned| {
            let at = owned
                .iter()
                .position(|o| BindingKey::of(&o.record) == key)?;
            owned.remove(at).placed_on.map(|(holder, _)| holder)
        });
        let Some(holder) = holder else { return };
        tracing::info!(host = %holder, actor = %key.actor, capability = %key.capability, "withdrawing a binding no manifest declares any more");
        let control = Control::Unbind {
            owner: lattice.host_id.clone(),
            key,
        };
        tokio::spawn(async move {
            let outcome = if holder == lattice.host_id {
                lattice
                    .placements
                    .serve_control(&lattice, control)
                    .error
                    .map_or(Ok(()), Err)
            } else {
                lattice.control(&holder, &control, WITHDRAW_TIMEOUT).await
            };
            if let Err(e) = outcome {
                tracing::warn!(host = %holder, "could not withdraw a binding: {e}");
            }
        });
    }
}

impl Placements {
    /// The owners of a binding this host serves for others, comma-separated.
    pub fn owner_of(&self, key: &BindingKey) -> Option<String> {
        let hosted = self.hosted.lock().ok()?;
        let owners: Vec<&str> = hosted.get(key)?.owners.iter().map(String::as_str).collect();
        Some(owners.join(","))
    }

    /// The bindings this host owns, with the host holding each (if placed).
    pub fn owned(&self) -> Vec<(BindingKey, Option<String>)> {
        self.owned
            .lock()
            .map(|owned| {
                owned
                    .iter()
                    .map(|o| {
                        (
                            BindingKey::of(&o.record),
                            o.placed_on.as_ref().map(|(h, _)| h.clone()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Serves a `bind` or `unbind` request from an owner.
    pub fn serve_control(&self, lattice: &Lattice, control: Control) -> ControlReply {
        let Some(host) = lattice.host.upgrade() else {
            return ControlReply {
                error: Some("the host is shutting down".into()),
            };
        };
        let error = match control {
            Control::Bind {
                owner,
                actor,
                capability,
                binding,
                values,
            } => {
                let record = BindingRecord {
                    actor,
                    capability,
                    binding,
                    values,
                };
                let key = BindingKey::of(&record);
                let served = host.bindings().iter().any(|b| BindingKey::of(b) == key);
                let outcome = if served {
                    Ok(())
                } else {
                    host.bind_with_claims(record, HashMap::new())
                };
                outcome
                    .map(|()| self.add_owner(key, owner))
                    .err()
                    .map(|e| e.to_string())
            }
            Control::Unbind { owner, key } => {
                if self.remove_owner(&key, &owner) {
                    unbind_key(&host, &key);
                }
                None
            }
        };
        ControlReply { error }
    }

    fn add_owner(&self, key: BindingKey, owner: String) {
        if let Ok(mut hosted) = self.hosted.lock() {
            let entry = hosted.entry(key).or_insert_with(|| Hosted {
                owners: BTreeSet::new(),
                since: Instant::now(),
            });
            entry.owners.insert(owner);
        }
    }

    /// Forgets `owner` of `key`; true when it was the last owner. A binding
    /// this host serves for itself, or for owners that merely adopted it, is
    /// not the withdrawing owner's to remove.
    fn remove_owner(&self, key: &BindingKey, owner: &str) -> bool {
        let Ok(mut hosted) = self.hosted.lock() else {
            return false;
        };
        let Some(entry) = hosted.get_mut(key) else {
            return false;
        };
        if !entry.owners.remove(owner) {
            return false;
        }
        let last = entry.owners.is_empty();
        if last {
            hosted.remove(key);
        }
        last
    }

    /// Removes bindings served for owners that all left the lattice.
    pub fn drop_orphans(&self, lattice: &Lattice) {
        let grace = lattice.config.heartbeat * 3;
        let orphans: Vec<BindingKey> = {
            let Ok(mut hosted) = self.hosted.lock() else {
                return;
            };
            let Ok(view) = lattice.view.lock() else {
                return;
            };
            for entry in hosted.values_mut().filter(|h| h.since.elapsed() > grace) {
                entry
                    .owners
                    .retain(|owner| *owner == lattice.host_id || view.contains(owner));
            }
            let orphans = hosted
                .iter()
                .filter(|(_, h)| h.owners.is_empty())
                .map(|(key, _)| key.clone())
                .collect();
            hosted.retain(|_, h| !h.owners.is_empty());
            orphans
        };
        let Some(host) = lattice.host.upgrade() else {
            return;
        };
        for key in orphans {
            tracing::info!(actor = %key.actor, capability = %key.capability, binding = %key.binding, "the binding's owner left the lattice; removing it");
            unbind_key(&host, &key);
        }
    }

    /// Tells every host holding one of this host's bindings to remove it.
    pub async fn withdraw_all(&self, lattice: &Lattice) {
        let placed: Vec<(BindingKey, String)> = self
            .owned
            .lock()
            .map(|owned| {
                owned
                    .iter()
                    .filter_map(|o| Some((BindingKey::of(&o.record), o.placed_on.clone()?.0)))
                    .collect()
            })
            .unwrap_or_default();
        for (key, holder) in placed.into_iter().filter(|(_, h)| *h != lattice.host_id) {
            let control = Control::Unbind {
                owner: lattice.host_id.clone(),
                key,
            };
            if let Err(e) = lattice.control(&holder, &control, WITHDRAW_TIMEOUT).await {
                tracing::warn!(host = %holder, "could not withdraw a binding: {e}");
            }
        }
    }
}

impl Lattice {
    /// Places owned bindings whenever something changed (and every beat).
    pub(super) async fn place_loop(&self) {
        loop {
            self.replace.notified().await;
            self.place_owned().await;
        }
    }

    async fn place_owned(&self) {
        let mut everyone = self.peers();
        everyone.push(self.inventory());
        // A holder must report the binding within two beats of taking it.
        let confirm_within = self.config.heartbeat * 2;
        let pending: Vec<(usize, BindingRecord, HashMap<String, String>)> = {
            let Ok(mut owned) = self.placements.owned.lock() else {
                return;
            };
            owned
                .iter_mut()
                .enumerate()
                .filter_map(|(i, o)| {
                    if let Some((holder, since)) = &o.placed_on {
                        let key = BindingKey::of(&o.record);
                        let holds = everyone.iter().any(|inv| {
                            inv.host == *holder
                                && (inv.serves(&key) || since.elapsed() < confirm_within)
                        });
                        if !holds {
                            tracing::warn!(host = %holder, actor = %o.record.actor, capability = %o.record.capability, "the host holding this binding is gone or dropped it; re-placing it");
                            o.placed_on = None;
                        }
                    }
                    o.placed_on
                        .is_none()
                        .then(|| (i, o.record.clone(), o.claims.clone()))
                })
                .collect()
        };
        for (_, record, claims) in pending {
            let key = BindingKey::of(&record);
            let Some(holder) = self.place_one(&everyone, record, claims).await else {
                continue;
            };
            let still_owned = self.placements.owned.lock().ok().and_then(|mut owned| {
                let o = owned
                    .iter_mut()
                    .find(|o| BindingKey::of(&o.record) == key)?;
                o.placed_on = Some((holder.clone(), Instant::now()));
                Some(())
            });
            if still_owned.is_none() {
                // Withdrawn while it was being placed: take it back.
                let control = Control::Unbind {
                    owner: self.host_id.clone(),
                    key,
                };
                if let Err(e) = self.control(&holder, &control, WITHDRAW_TIMEOUT).await {
                    tracing::warn!(host = %holder, "could not withdraw a binding: {e}");
                }
            }
        }
    }

    /// Places one binding; returns the host now holding it.
    async fn place_one(
        &self,
        everyone: &[Inventory],
        record: BindingRecord,
        mut claims: HashMap<String, String>,
    ) -> Option<String> {
        let key = BindingKey::of(&record);
        if let Some(holder) = everyone.iter().find(|inv| inv.serves(&key)) {
            return Some(holder.host.clone());
        }
        let candidates: Vec<&Inventory> = everyone
            .iter()
            .filter(|inv| inv.provides(&record.capability, &record.binding))
            .collect();
        let chosen = candidates.choose(&mut rand::rng())?.host.clone();
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
            owner: self.host_id.clone(),
            actor: record.actor.clone(),
            capability: record.capability.clone(),
            binding: record.binding.clone(),
            values,
        };
        let outcome = if chosen == self.host_id {
            self.placements
                .serve_control(self, control)
                .error
                .map_or(Ok(()), Err)
        } else {
            self.control(&chosen, &control, self.config.rpc_timeout)
                .await
        };
        match outcome {
            Ok(()) => {
                tracing::info!(host = %chosen, actor = %record.actor, capability = %record.capability, binding = %record.binding, "binding placed");
                Some(chosen)
            }
            Err(e) => {
                tracing::warn!(host = %chosen, actor = %record.actor, capability = %record.capability, "binding placement failed: {e}");
                None
            }
        }
    }

    /// Sends a control request to `host` and waits for its answer.
    pub(super) async fn control(
        &self,
        host: &str,
        control: &Control,
        timeout: Duration,
    ) -> Result<(), String> {
        let bytes = serde_json::to_vec(control).map_err(|e| e.to_string())?;
        let request = self
            .client
            .request(self.subjects.control(host), bytes.into());
        let reply = tokio::time::timeout(timeout, request)
            .await
            .map_err(|_| {
                format!(
                    "host {host} did not answer within {} ms",
                    timeout.as_millis()
                )
            })?
            .map_err(|e| e.to_string())?;
        let reply: ControlReply =
            serde_json::from_slice(&reply.payload).map_err(|e| e.to_string())?;
        reply.error.map_or(Ok(()), Err)
    }
}
