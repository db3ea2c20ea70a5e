//! Applying a manifest: everything is checked before anything starts.
//!
//! [`Host::apply`] works in two phases. *Prepare* reads and verifies every
//! actor, loads and checks every provider library and creates its instance,
//! and resolves every binding against what the manifest declares and what
//! already runs. Only when all of that succeeded does *commit* register the
//! entities and bind them; a binding the provider refuses (a port in use)
//! rolls back everything this manifest started. So a manifest either applies
//! whole or leaves the host as it was.

use crate::actor::Actor;
use crate::error::HostError;
use crate::host::{claims_values, BindingRecord, Host};
use crate::provider::{resolve_platform_path, ProviderInstance};
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use trellis_manifest::Manifest;

/// What a manifest started.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Actor keys started.
    pub actors: Vec<String>,
    /// `(capability, binding)` of the providers loaded.
    pub providers: Vec<(String, String)>,
    /// Bindings created.
    pub bindings: Vec<BindingRecord>,
}

struct Prepared {
    actors: Vec<Arc<Actor>>,
    providers: Vec<Arc<ProviderInstance>>,
    bindings: Vec<BindingRecord>,
    /// Bindings for the lattice to place, with the actor's claims values
    /// when the actor runs here.
    placed: Vec<(BindingRecord, HashMap<String, String>)>,
}

impl Host {
    /// Starts what `manifest` declares, or nothing if any part of it is wrong.
    pub async fn apply(&self, manifest: &Manifest) -> Result<Applied, HostError> {
        let prepared = self.prepare(manifest).await?;
        self.add_labels(&manifest.labels);
        self.commit(prepared)
    }

    async fn prepare(&self, manifest: &Manifest) -> Result<Prepared, HostError> {
        let missing: Vec<PathBuf> = manifest
            .missing_files()
            .into_iter()
            .filter(|p| !resolve_platform_path(p).exists())
            .map(PathBuf::from)
            .collect();
        if !missing.is_empty() {
            return Err(HostError::MissingFiles {
                manifest: manifest.source.clone(),
                files: missing,
            });
        }
        // Several at once: most of an actor's load is reading, hashing and
        // verifying its module on a blocking thread, which spreads over cores.
        let loads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let loaded: Vec<Actor> = futures::stream::iter(&manifest.actors)
            .map(|entry| self.load_actor(&entry.path))
            .buffered(loads)
            .try_collect()
            .await?;
        let actors: Vec<Arc<Actor>> = loaded
            .into_iter()
            .filter(|actor| self.bus().actor(actor.id()).is_none())
            .map(Arc::new)
            .collect();
        let providers = self.prepare_providers(manifest)?;
        let bindings = self.resolve_bindings(manifest, &actors, &providers);
        match bindings {
            Ok((bindings, placed)) => Ok(Prepared {
                actors,
                providers,
                bindings,
                placed,
            }),
            Err(e) => {
                providers.iter().for_each(|p| p.stop());
                Err(e)
            }
        }
    }

    fn prepare_providers(
        &self,
        manifest: &Manifest,
    ) -> Result<Vec<Arc<ProviderInstance>>, HostError> {
        let mut providers: Vec<Arc<ProviderInstance>> = Vec::new();
        for entry in &manifest.capabilities {
            let path = resolve_platform_path(&entry.path);
            let loaded = self
                .load_provider(&path, &entry.binding_name)
                .and_then(|p| {
                    let taken = self
                        .bus()
                        .provider(p.capability_id(), p.binding())
                        .is_some()
                        || providers.iter().any(|q| {
                            q.capability_id() == p.capability_id() && q.binding() == p.binding()
                        });
                    if taken {
                        p.stop();
                        return Err(HostError::DuplicateProvider {
                            path: path.clone(),
                            capability: p.capability_id().to_string(),
                            binding: p.binding().to_string(),
                        });
                    }
                    Ok(p)
                });
            match loaded {
                Ok(p) => providers.push(Arc::new(p)),
                Err(e) => {
                    providers.iter().for_each(|p| p.stop());
                    return Err(e);
                }
            }
        }
        Ok(providers)
    }

    /// Splits the manifest's bindings into those this host serves alone and,
    /// with a lattice, those to place elsewhere; refuses the rest.
    #[allow(clippy::type_complexity)]
    fn resolve_bindings(
        &self,
        manifest: &Manifest,
        actors: &[Arc<Actor>],
        providers: &[Arc<ProviderInstance>],
    ) -> Result<
        (
            Vec<BindingRecord>,
            Vec<(BindingRecord, HashMap<String, String>)>,
        ),
        HostError,
    > {
        let (mut local, mut placed) = (Vec::new(), Vec::new());
        for (i, b) in manifest.bindings.iter().enumerate() {
            let record = BindingRecord {
                actor: b.actor.clone(),
                capability: b.capability.clone(),
                binding: b.binding.clone(),
                values: b.values.clone().into_iter().collect(),
            };
            let actor = actors
                .iter()
                .find(|a| a.id() == b.actor)
                .cloned()
                .or_else(|| self.bus().actor(&b.actor));
            let provided = providers
                .iter()
                .any(|p| p.capability_id() == b.capability && p.binding() == b.binding)
                || self.bus().provider(&b.capability, &b.binding).is_some();
            match (actor, provided, self.placement().is_some()) {
                (Some(_), true, _) => local.push(record),
                (actor, _, true) => {
                    let claims = actor.map(|a| claims_values(a.claims())).unwrap_or_default();
                    placed.push((record, claims));
                }
                (None, _, false) => {
                    return Err(self.invalid_binding(manifest, i, format!(
                        "actor {} is neither declared in this manifest nor running in the host",
                        b.actor
                    )))
                }
                (Some(_), false, false) => {
                    return Err(self.invalid_binding(manifest, i, format!(
                        "no provider for capability {} with binding '{}' is declared in this manifest or loaded in the host (loaded: {})",
                        b.capability,
                        b.binding,
                        self.loaded_capabilities(providers)
                    )))
                }
            }
        }
        Ok((local, placed))
    }

    fn invalid_binding(&self, manifest: &Manifest, index: usize, message: String) -> HostError {
        HostError::Binding {
            manifest: manifest.source.clone(),
            entry: format!("bindings[{index}]"),
            message,
        }
    }

    fn loaded_capabilities(&self, pending: &[Arc<ProviderInstance>]) -> String {
        let all: Vec<String> = pending
            .iter()
            .cloned()
            .chain(self.bus().providers())
            .map(|p| format!("{} '{}'", p.capability_id(), p.binding()))
            .collect();
        if all.is_empty() {
            "none".into()
        } else {
            all.join(", ")
        }
    }

    fn commit(&self, prepared: Prepared) -> Result<Applied, HostError> {
        let mut applied = Applied::default();
        for actor in prepared.actors {
            applied.actors.push(actor.id().to_string());
            self.register_actor(actor);
        }
        for provider in prepared.providers {
            applied.providers.push((
                provider.capability_id().to_string(),
                provider.binding().to_string(),
            ));
            if let Err(e) = self.register_provider(provider) {
                self.roll_back(&applied);
                return Err(e);
            }
        }
        for record in prepared.bindings {
            if let Err(e) = self.bind(record.clone()) {
                self.roll_back(&applied);
                return Err(e);
            }
            applied.bindings.push(record);
        }
        if let Some(placement) = self.placement() {
            for (record, claims) in prepared.placed {
                placement.place(record, claims);
            }
        }
        Ok(applied)
    }

    fn roll_back(&self, applied: &Applied) {
        tracing::warn!("rolling back a manifest that failed to apply");
        for b in &applied.bindings {
            self.unbind(&b.actor, &b.capability, &b.binding);
        }
        for (capability, binding) in &applied.providers {
            self.stop_provider(capability, binding);
        }
        for actor in &applied.actors {
            self.stop_actor(actor);
        }
    }
}
