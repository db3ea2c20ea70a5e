//! The desired state: the union of every manifest a host is given.
//!
//! An entity lives while at least one manifest declares it: two files that
//! both declare the echo actor keep it running until the last one drops it.

use crate::host::BindingRecord;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use trellis_manifest::Manifest;

/// What should run, regardless of what runs now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// Actor module files.
    pub actors: BTreeSet<PathBuf>,
    /// Provider libraries with the binding name each serves.
    pub providers: BTreeSet<(PathBuf, String)>,
    /// Bindings, each once (same actor, capability, name and values).
    pub bindings: Vec<BindingRecord>,
    /// Labels of all manifests (later files win on a conflict).
    pub labels: BTreeMap<String, String>,
}

impl DesiredState {
    /// The union of `manifests`.
    pub fn union<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> Self {
        let mut desired = DesiredState::default();
        for manifest in manifests {
            desired.add(manifest);
        }
        desired
    }

    fn add(&mut self, manifest: &Manifest) {
        self.actors
            .extend(manifest.actors.iter().map(|a| a.path.clone()));
        self.providers.extend(manifest.capabilities.iter().map(|c| {
            (
                crate::provider::resolve_platform_path(&c.path),
                c.binding_name.clone(),
            )
        }));
        for b in &manifest.bindings {
            let record = BindingRecord {
                actor: b.actor.clone(),
                capability: b.capability.clone(),
                binding: b.binding.clone(),
                values: b.values.clone().into_iter().collect(),
            };
            if !self.bindings.contains(&record) {
                self.bindings.push(record);
            }
        }
        self.labels.extend(manifest.labels.clone());
    }
}
