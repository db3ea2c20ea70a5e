//! The running state the pipeline owns: what it started, from which file,
//! and what that file looked like then.
//!
//! It is a subset of what runs on the host: an embedder may start actors and
//! providers by hand, and a host in a lattice serves bindings other hosts
//! own; the pipeline never stops or unbinds those.

use super::change::Fingerprint;
use super::desired::ProviderKey;
use crate::binding::BindingRecord;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the pipeline started and still runs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Running {
    /// Actors by the module file they were loaded from.
    pub actors: BTreeMap<PathBuf, RunningActor>,
    /// Provider instances by library file and binding name.
    pub providers: BTreeMap<ProviderKey, RunningProvider>,
    /// Bindings it created on this host.
    pub bound: Vec<BindingRecord>,
    /// Bindings it handed to the lattice to place.
    pub placed: Vec<BindingRecord>,
    /// Files that failed to start, with their fingerprint then: they are not
    /// tried again until they change (loading a library is for good).
    pub failed: BTreeMap<PathBuf, Fingerprint>,
}

/// An actor the pipeline runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningActor {
    /// Its public key.
    pub id: String,
    /// Its module file when it was loaded.
    pub fingerprint: Fingerprint,
}

/// A provider instance the pipeline runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningProvider {
    /// The capability it serves.
    pub capability: String,
    /// Its library file when it was loaded.
    pub fingerprint: Fingerprint,
}

impl Running {
    /// Whether `record` is bound here or placed by the pipeline.
    pub fn serves(&self, record: &BindingRecord) -> bool {
        self.bound.contains(record) || self.placed.contains(record)
    }
}
