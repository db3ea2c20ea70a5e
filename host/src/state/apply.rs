//! The reconciler: makes what runs match the desired state, changing only
//! the difference.
//!
//! Each pass compares the [`DesiredState`] with what this reconciler started
//! and applies, in order: remove bindings no longer declared; stop actors and
//! providers no longer declared; start new ones, and replace those whose file
//! changed; create the bindings now declared. A failure is logged with the
//! entity it concerns and leaves that entity as it was (a module that does
//! not verify keeps the old code running); the next pass tries again.
//!
//! - An actor file whose code changed under the same key is swapped live:
//!   calls in flight finish on the old instances, new calls get the new code.
//!   Under a new key, the old actor stops and the new one starts.
//! - A provider library that changed is loaded from a fresh copy (the
//!   dynamic loader would hand back the library it already loaded for that
//!   path), its bindings move to the new instance, and the old one stops.

use crate::desired::DesiredState;
use crate::host::{BindingRecord, Host};
use crate::provider::ProviderInstance;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// Brings a host to a desired state, pass after pass.
pub struct Reconciler {
    host: Arc<Host>,
    actors: HashMap<PathBuf, RunningActor>,
    providers: HashMap<(PathBuf, String), RunningProvider>,
    bindings: Vec<BindingRecord>,
    placed: Vec<BindingRecord>,
    /// Provider files that failed to load, by the stamp they had then.
    failed: HashMap<(PathBuf, String), (u64, Option<SystemTime>)>,
    copies: tempfile::TempDir,
    copy_count: u64,
}

struct RunningActor {
    id: String,
    content: u64,
}

struct RunningProvider {
    capability: String,
    stamp: (u64, Option<SystemTime>),
}

/// What one pass could not do; everything else was applied.
#[derive(Debug, Default)]
pub struct Pass {
    /// One line per failure, naming the entity.
    pub errors: Vec<String>,
}

impl Reconciler {
    /// A reconciler for `host`; it manages only what it starts itself.
    pub fn new(host: Arc<Host>) -> std::io::Result<Self> {
        Ok(Reconciler {
            host,
            actors: HashMap::new(),
            providers: HashMap::new(),
            bindings: Vec::new(),
            placed: Vec::new(),
            failed: HashMap::new(),
            copies: tempfile::Builder::new()
                .prefix("trellis-providers-")
                .tempdir()?,
            copy_count: 0,
        })
    }

    /// Applies the difference between `desired` and what runs.
    pub async fn reconcile(&mut self, desired: &DesiredState) -> Pass {
        let mut pass = Pass::default();
        self.host.add_labels(&desired.labels);
        self.remove_bindings(desired);
        self.stop_undeclared(desired);
        for path in &desired.actors {
            if let Err(e) = self.ensure_actor(path).await {
                pass.errors.push(e);
            }
        }
        for (path, binding) in &desired.providers {
            if let Err(e) = self.ensure_provider(path, binding) {
                pass.errors.push(e);
            }
        }
        for record in &desired.bindings {
            if let Err(e) = self.ensure_binding(record) {
                pass.errors.push(e);
            }
        }
        for e in &pass.errors {
            tracing::error!("{e}");
        }
        pass
    }

    fn remove_bindings(&mut self, desired: &DesiredState) {
        self.drop_bindings(|b| !desired.bindings.contains(b));
        let host = Arc::clone(&self.host);
        self.placed.retain(|b| {
            let keep = desired.bindings.contains(b);
            if let (false, Some(placement)) = (keep, host.placement()) {
                placement.withdraw(b);
            }
            keep
        });
    }

    fn stop_undeclared(&mut self, desired: &DesiredState) {
        let gone: Vec<PathBuf> = self
            .actors
            .keys()
            .filter(|p| !desired.actors.contains(*p))
            .cloned()
            .collect();
        for path in gone {
            if let Some(actor) = self.actors.remove(&path) {
                self.drop_bindings(|b| b.actor == actor.id);
                self.host.stop_actor(&actor.id);
            }
        }
        let gone: Vec<(PathBuf, String)> = self
            .providers
            .keys()
            .filter(|k| !desired.providers.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(provider) = self.providers.remove(&key) {
                self.drop_bindings(|b| b.capability == provider.capability && b.binding == key.1);
                self.host.stop_provider(&provider.capability, &key.1);
            }
        }
    }

    /// Unbinds the bindings matching `which`; they are created again once
    /// both ends run.
    fn drop_bindings(&mut self, which: impl Fn(&BindingRecord) -> bool) {
        let host = Arc::clone(&self.host);
        self.bindings.retain(|b| {
            let dropped = which(b);
            if dropped {
                host.unbind_exact(b);
            }
            !dropped
        });
    }

    async fn ensure_actor(&mut self, path: &Path) -> Result<(), String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("{}: cannot read actor module: {e}", path.display()))?;
        let content = content_hash(&bytes);
        if self.actors.get(path).is_some_and(|a| a.content == content) {
            return Ok(());
        }
        let actor = self
            .host
            .load_actor(path)
            .await
            .map_err(|e| format!("{e}; keeping what runs"))?;
        let id = actor.id().to_string();
        if let Some(old) = self.actors.get(path).filter(|old| old.id != id) {
            let old_id = old.id.clone();
            self.drop_bindings(|b| b.actor == old_id);
            self.host.stop_actor(&old_id);
        }
        self.host.register_actor(Arc::new(actor));
        self.actors
            .insert(path.to_path_buf(), RunningActor { id, content });
        Ok(())
    }

    fn ensure_provider(&mut self, path: &Path, binding: &str) -> Result<(), String> {
        let stamp = file_stamp(path)?;
        let key = (path.to_path_buf(), binding.to_string());
        let running = self
            .providers
            .get(&key)
            .map(|p| (p.stamp, p.capability.clone()));
        let unchanged = running.as_ref().is_some_and(|(s, _)| *s == stamp);
        if unchanged || self.failed.get(&key) == Some(&stamp) {
            return Ok(());
        }
        let outcome = self.load_copy(path, binding).and_then(|instance| {
            let capability = instance.capability_id().to_string();
            match &running {
                None => self
                    .host
                    .register_provider(instance)
                    .map_err(|e| e.to_string())?,
                Some((_, old)) => self.swap_provider(&key, old, instance)?,
            }
            Ok(capability)
        });
        match outcome {
            Ok(capability) => {
                self.failed.remove(&key);
                self.providers
                    .insert(key, RunningProvider { capability, stamp });
                Ok(())
            }
            Err(e) => {
                // Not again until the file changes: each attempt loads a library for good.
                self.failed.insert(key, stamp);
                Err(e)
            }
        }
    }

    /// Replaces the running instance of `key` with `new`.
    fn swap_provider(
        &mut self,
        key: &(PathBuf, String),
        old_capability: &str,
        new: Arc<ProviderInstance>,
    ) -> Result<(), String> {
        if new.capability_id() == old_capability {
            self.host.replace_provider(new);
            return Ok(());
        }
        // The rebuilt library provides another capability: a new provider.
        self.drop_bindings(|b| b.capability == old_capability && b.binding == key.1);
        self.host.stop_provider(old_capability, &key.1);
        self.host.register_provider(new).map_err(|e| e.to_string())
    }

    fn ensure_binding(&mut self, record: &BindingRecord) -> Result<(), String> {
        if self.bindings.contains(record) || self.placed.contains(record) {
            return Ok(());
        }
        let actor_here = self.host.bus().actor(&record.actor).is_some();
        let provider_here = self
            .host
            .bus()
            .provider(&record.capability, &record.binding)
            .is_some();
        match (actor_here && provider_here, self.host.placement()) {
            (true, _) => {
                self.host.bind(record.clone()).map_err(|e| e.to_string())?;
                self.bindings.push(record.clone());
            }
            (false, Some(placement)) => {
                let claims = self
                    .host
                    .bus()
                    .actor(&record.actor)
                    .map(|a| crate::host::claims_values(a.claims()))
                    .unwrap_or_default();
                placement.place(record.clone(), claims);
                self.placed.push(record.clone());
            }
            (false, None) => {
                return Err(format!(
                    "binding of {} to {} '{}' waits: {}",
                    record.actor,
                    record.capability,
                    record.binding,
                    if actor_here {
                        "no such provider runs here"
                    } else {
                        "no such actor runs here"
                    }
                ))
            }
        }
        Ok(())
    }

    /// Loads the library from a copy under a new file name, so that the
    /// dynamic loader loads the current bytes as a new library.
    fn load_copy(&mut self, path: &Path, binding: &str) -> Result<Arc<ProviderInstance>, String> {
        self.copy_count += 1;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("provider");
        let copy = self
            .copies
            .path()
            .join(format!("{}-{name}", self.copy_count));
        std::fs::copy(path, &copy)
            .map_err(|e| format!("{}: cannot copy the provider library: {e}", path.display()))?;
        match self.host.load_provider(&copy, binding) {
            Ok(instance) => Ok(Arc::new(instance)),
            Err(e) => {
                let _ = std::fs::remove_file(&copy);
                Err(format!("{e}; keeping what runs"))
            }
        }
    }
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// Size and modification time: enough to notice a rebuilt library without
/// reading megabytes on every pass.
fn file_stamp(path: &Path) -> Result<(u64, Option<SystemTime>), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("{}: provider library: {e}", path.display()))?;
    Ok((meta.len(), meta.modified().ok()))
}
