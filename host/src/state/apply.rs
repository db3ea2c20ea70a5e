//! Applying the difference: the `Reconciler` keeps a host's sources and
//! what it started from them, and turns each [`Diff`] into calls on the
//! host.
//!
//! A pass goes: take the union of the sources, fingerprint the files it
//! names, compute the diff; *prepare* every actor and provider to start or
//! swap (read, verify, compile, create the instance: nothing runs yet);
//! then *commit*: remove bindings and stop what is no longer wanted, run
//! what was prepared, and create the bindings now wanted, here or in the
//! lattice ([`Placement::of`]).
//!
//! Two ways to treat a failure:
//!
//! - **whole** ([`crate::Host::apply`], `trellis up -m`): a manifest applies
//!   whole or not at all. A failure of anything it declares stops what was
//!   prepared, undoes what the commit did so far, and forgets the manifest.
//! - **best effort** ([`crate::Host::apply_watched`], a watched folder): each
//!   failure is reported and leaves its entity as it was (a module that does
//!   not verify keeps the old code running); a file that failed is tried
//!   again once it changes.
//!
//! Swaps: an actor module that changed under the same key is swapped live
//! (calls in flight finish on the old instances, new calls get the new code);
//! under a new key the old actor stops and the new one starts. Provider
//! libraries are loaded from private copies (`Reconciler::library_copy`
//! says why); one that changed is loaded from a fresh copy,
//! its bindings move to the new instance and the old one stops.

use super::change::Fingerprint;
use super::desired::{binding_record, DesiredState, ProviderKey, Sources};
use super::diff::{Diff, Observed};
use super::running::{Running, RunningActor, RunningProvider};
use crate::actor::Actor;
use crate::binding::{BindingRecord, MissingEnd, Placement};
use crate::error::HostError;
use crate::host::Host;
use crate::provider::{resolve_platform_path, ProviderInstance, ProviderLibrary};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trellis_manifest::Manifest;

/// What a manifest started.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Actor keys started.
    pub actors: Vec<String>,
    /// `(capability, binding)` of the providers loaded.
    pub providers: Vec<(String, String)>,
    /// Bindings created on this host.
    pub bindings: Vec<BindingRecord>,
}

/// What one best-effort pass could not do; everything else was applied.
#[derive(Debug, Default)]
pub struct Pass {
    /// One line per failure, naming the entity.
    pub errors: Vec<String>,
    /// Every actor and provider file the desired state names (a watcher
    /// watches their folders).
    pub files: Vec<PathBuf>,
}

/// Keeps a host's sources and brings what runs to their union. A host owns
/// one: its desired state is one, whatever feeds it.
#[derive(Default)]
pub(crate) struct Reconciler {
    sources: Sources,
    running: Running,
    /// The private copy of each provider library, by its file, and what
    /// the file looked like when copied.
    libraries: BTreeMap<PathBuf, (Fingerprint, PathBuf)>,
    copies: Option<tempfile::TempDir>,
    copy_count: u64,
}

/// How a pass treats a failure.
enum Mode<'a> {
    /// All or nothing for what `manifest` declares (`mine`).
    Whole {
        manifest: &'a Manifest,
        mine: DesiredState,
    },
    /// Report each failure and go on.
    BestEffort,
}

/// What a pass has to run, read and checked.
#[derive(Default)]
struct Prepared {
    actors: Vec<(PathBuf, Fingerprint, Actor)>,
    providers: Vec<(ProviderKey, Fingerprint, ProviderInstance)>,
}

/// One pass's failures, and what its commit did (to undo it).
struct PassLog<'a> {
    mode: Mode<'a>,
    errors: Vec<String>,
    applied: Applied,
    replaced: Vec<Arc<Actor>>,
    placed: Vec<BindingRecord>,
}

impl PassLog<'_> {
    /// Records a failure: fatal when the pass applies a manifest whole and
    /// the failing item is its own (`mine` tells).
    fn fail(
        &mut self,
        mine: impl FnOnce(&DesiredState) -> bool,
        error: HostError,
    ) -> Result<(), HostError> {
        match &self.mode {
            Mode::Whole { mine: m, .. } if mine(m) => Err(error),
            _ => {
                self.errors.push(format!("{error}; keeping what runs"));
                Ok(())
            }
        }
    }

    fn best_effort(&self) -> bool {
        matches!(self.mode, Mode::BestEffort)
    }
}

impl Reconciler {
    /// Applies `manifest` whole, or nothing of it (see the module doc).
    pub async fn apply(&mut self, host: &Host, manifest: &Manifest) -> Result<Applied, HostError> {
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
        let mine = DesiredState::union([manifest]);
        // Applied whole, a file is tried whatever a watched pass saw of it.
        self.running.failed.retain(|path, _| !names(&mine, path));
        let source = self.sources.add_applied(manifest.clone());
        match self.pass(host, Mode::Whole { manifest, mine }).await {
            Ok(log) => {
                // Failures of what other sources declare do not fail this manifest.
                log.errors.iter().for_each(|e| tracing::warn!("{e}"));
                Ok(log.applied)
            }
            Err(e) => {
                self.sources.remove(&source);
                self.sources_changed(host);
                Err(e)
            }
        }
    }

    /// Makes `files` (a watched folder's manifests, each at its last good
    /// version) the watched sources and applies the difference, best effort.
    pub async fn apply_watched(
        &mut self,
        host: &Host,
        files: &BTreeMap<PathBuf, Manifest>,
    ) -> Pass {
        self.sources.set_watched(files);
        let errors = match self.pass(host, Mode::BestEffort).await {
            Ok(log) => log.errors,
            Err(e) => vec![e.to_string()],
        };
        for e in &errors {
            tracing::error!("{e}");
        }
        let desired = self.sources.desired();
        let files = desired
            .actors
            .into_iter()
            .chain(desired.providers.into_iter().map(|(path, _)| path))
            .collect();
        Pass { errors, files }
    }

    /// Labels follow the sources.
    fn sources_changed(&self, host: &Host) {
        host.set_labels(self.sources.desired().labels);
    }

    async fn pass<'a>(&mut self, host: &Host, mode: Mode<'a>) -> Result<PassLog<'a>, HostError> {
        let desired = self.sources.desired();
        self.sources_changed(host);
        let mut log = PassLog {
            mode,
            errors: Vec::new(),
            applied: Applied::default(),
            replaced: Vec::new(),
            placed: Vec::new(),
        };
        // A file no source names any more is forgotten, failures included.
        self.running.failed.retain(|path, _| names(&desired, path));
        let observed = self.observe(&desired, &mut log)?;
        let diff = Diff::between(&desired, &self.running, &observed);
        if diff.is_empty() {
            return Ok(log);
        }
        let prepared = self.prepare(host, &diff, &observed, &mut log).await?;
        self.remove(host, &diff);
        let before = self.running.clone();
        match self.commit(host, &desired, diff, prepared, &mut log) {
            Ok(()) => Ok(log),
            Err(e) => {
                tracing::warn!("rolling back a manifest that failed to apply");
                self.undo(host, &log);
                self.running = before;
                Err(e)
            }
        }
    }

    /// The fingerprint of every file `desired` names that can be read.
    fn observe(
        &self,
        desired: &DesiredState,
        log: &mut PassLog<'_>,
    ) -> Result<Observed, HostError> {
        let files = desired
            .actors
            .iter()
            .chain(desired.providers.iter().map(|(path, _)| path));
        let mut observed = Observed::new();
        for path in files {
            let known = self.known_fingerprint(path);
            match Fingerprint::of(path, known) {
                Ok(fingerprint) => {
                    observed.insert(path.clone(), fingerprint);
                }
                Err(reason) => {
                    let error = HostError::Read {
                        path: path.clone(),
                        reason,
                    };
                    log.fail(|mine| names(mine, path), error)?;
                }
            }
        }
        Ok(observed)
    }

    /// The last fingerprint taken of `path`: of its failed version, else of
    /// the version that runs.
    fn known_fingerprint(&self, path: &Path) -> Option<&Fingerprint> {
        let provider = || {
            self.running
                .providers
                .iter()
                .find(|(key, _)| key.0 == path)
                .map(|(_, p)| &p.fingerprint)
        };
        self.running
            .failed
            .get(path)
            .or_else(|| self.running.actors.get(path).map(|a| &a.fingerprint))
            .or_else(provider)
    }

    /// Reads, verifies and creates everything the diff starts or swaps;
    /// nothing of it runs yet.
    async fn prepare(
        &mut self,
        host: &Host,
        diff: &Diff,
        observed: &Observed,
        log: &mut PassLog<'_>,
    ) -> Result<Prepared, HostError> {
        let mut prepared = Prepared::default();
        let outcome = match self
            .prepare_actors(host, diff, observed, log, &mut prepared)
            .await
        {
            Ok(()) => self.prepare_providers(host, diff, observed, log, &mut prepared),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => Ok(prepared),
            Err(e) => {
                prepared.providers.iter().for_each(|(_, _, p)| p.stop());
                Err(e)
            }
        }
    }

    async fn prepare_actors(
        &mut self,
        host: &Host,
        diff: &Diff,
        observed: &Observed,
        log: &mut PassLog<'_>,
        prepared: &mut Prepared,
    ) -> Result<(), HostError> {
        // Several at once: most of an actor's load is reading, hashing and
        // verifying its module on a blocking thread, which spreads over cores.
        let loads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let paths: Vec<PathBuf> = diff
            .start_actors
            .iter()
            .chain(&diff.swap_actors)
            .cloned()
            .collect();
        let mut loaded = futures::stream::iter(paths)
            .map(|path| async move {
                let actor = host.prepare_actor(&path).await;
                (path, actor)
            })
            .buffered(loads);
        while let Some((path, outcome)) = loaded.next().await {
            // The diff names only files it has a fingerprint of.
            let fingerprint = observed[&path];
            match outcome {
                Ok(actor) => prepared.actors.push((path, fingerprint, actor)),
                Err(e) => {
                    if log.best_effort() {
                        self.running.failed.insert(path.clone(), fingerprint);
                    }
                    log.fail(|mine| mine.actors.contains(&path), e)?;
                }
            }
        }
        Ok(())
    }

    fn prepare_providers(
        &mut self,
        host: &Host,
        diff: &Diff,
        observed: &Observed,
        log: &mut PassLog<'_>,
        prepared: &mut Prepared,
    ) -> Result<(), HostError> {
        for key in diff.start_providers.iter().chain(&diff.reload_providers) {
            let fingerprint = observed[&key.0];
            if let Some(instance) = self.prepare_provider(host, key, fingerprint, log)? {
                prepared
                    .providers
                    .push((key.clone(), fingerprint, instance));
            }
        }
        Ok(())
    }

    /// One provider instance; `Ok(None)` when it failed and the pass goes on.
    fn prepare_provider(
        &mut self,
        host: &Host,
        key: &ProviderKey,
        fingerprint: Fingerprint,
        log: &mut PassLog<'_>,
    ) -> Result<Option<ProviderInstance>, HostError> {
        let (path, binding) = key;
        let loaded = self
            .library_copy(path, fingerprint)
            .and_then(|copy| Ok(ProviderLibrary::load_copy(path, &copy)?));
        if loaded.is_err() {
            self.discard_copy(path);
        }
        let outcome = loaded.and_then(|library| {
            host.prepare_provider(&library, binding)
                .map_err(|e| e.naming(path))
        });
        match outcome {
            Ok(instance) => {
                self.running.failed.remove(path);
                if let Mode::Whole { manifest, .. } = &log.mode {
                    if declares_twice(manifest, key) {
                        instance.stop();
                        return Err(HostError::DuplicateProvider {
                            path: path.clone(),
                            capability: instance.capability_id().to_string(),
                            binding: binding.clone(),
                        });
                    }
                }
                Ok(Some(instance))
            }
            Err(e) => {
                if log.best_effort() {
                    self.running.failed.insert(path.clone(), fingerprint);
                }
                log.fail(|mine| mine.providers.contains(key), e)?;
                Ok(None)
            }
        }
    }

    /// The private copy of the library in `path` to load, as it is now.
    ///
    /// Providers are always loaded from a copy: a library rebuilt in place
    /// while loaded would change the code under the running provider (and
    /// crash the host), and the dynamic loader hands back the library it
    /// already loaded for a path, old bytes included. Instances of one
    /// version share its copy.
    fn library_copy(&mut self, path: &Path, now: Fingerprint) -> Result<PathBuf, HostError> {
        if let Some((then, copy)) = self.libraries.get(path) {
            if !now.changed_since(then) {
                return Ok(copy.clone());
            }
        }
        let copy_failed = |reason| HostError::Read {
            path: path.to_path_buf(),
            reason,
        };
        let copies = match self.copies.take() {
            Some(copies) => copies,
            None => tempfile::Builder::new()
                .prefix("trellis-providers-")
                .tempdir()
                .map_err(copy_failed)?,
        };
        self.copy_count += 1;
        // A folder per copy keeps the file name, which names the provider in
        // its log lines.
        let folder = self
            .copies
            .insert(copies)
            .path()
            .join(self.copy_count.to_string());
        let name = path.file_name().unwrap_or(path.as_os_str());
        let copy = folder.join(name);
        std::fs::create_dir(&folder)
            .and_then(|()| std::fs::copy(path, &copy))
            .map_err(copy_failed)?;
        if !now.still_matches(path) {
            let _ = std::fs::remove_dir_all(&folder);
            return Err(copy_failed(std::io::Error::other(
                "it changed while being copied; it is loaded once it stops changing",
            )));
        }
        tracing::debug!(library = %path.display(), copy = %copy.display(), "provider library copied");
        self.libraries
            .insert(path.to_path_buf(), (now, copy.clone()));
        Ok(copy)
    }

    /// Deletes the newest copy of the library in `path` after the library
    /// was refused: that version is never loaded again, and its copy would
    /// stay until the host stops. Running instances use older copies.
    fn discard_copy(&mut self, path: &Path) {
        if let Some((_, copy)) = self.libraries.remove(path) {
            if let Some(folder) = copy.parent() {
                let _ = std::fs::remove_dir_all(folder);
            }
        }
    }

    /// Runs what was prepared and creates the bindings now wanted.
    fn commit(
        &mut self,
        host: &Host,
        desired: &DesiredState,
        diff: Diff,
        prepared: Prepared,
        log: &mut PassLog<'_>,
    ) -> Result<(), HostError> {
        let mut rebind = Vec::new();
        for (path, fingerprint, actor) in prepared.actors {
            rebind.extend(self.run_actor(host, path, fingerprint, actor, log));
        }
        let mut providers = prepared.providers.into_iter();
        for (key, fingerprint, instance) in providers.by_ref() {
            if let Err(e) = self.run_provider(host, key, fingerprint, instance, log) {
                providers.for_each(|(_, _, p)| p.stop());
                return Err(e);
            }
        }
        let wanted = rebind.into_iter().filter(|b| desired.bindings.contains(b));
        for record in diff.bind.into_iter().chain(wanted) {
            self.bind(host, record, log)?;
        }
        Ok(())
    }

    /// Removes the bindings and stops the entities no longer wanted.
    fn remove(&mut self, host: &Host, diff: &Diff) {
        for record in &diff.unbind {
            host.unbind_exact(record);
            self.running.bound.retain(|b| b != record);
        }
        for record in &diff.withdraw {
            if let Some(placement) = host.placement() {
                placement.withdraw(record);
            }
            self.running.placed.retain(|b| b != record);
        }
        for path in &diff.stop_actors {
            if let Some(actor) = self.running.actors.remove(path) {
                self.stop_actor(host, &actor.id);
            }
        }
        for key in &diff.stop_providers {
            if let Some(provider) = self.running.providers.remove(key) {
                host.stop_provider(&provider.capability, &key.1);
            }
        }
    }

    /// Stops the actor `id` unless another file of the pipeline runs it too.
    fn stop_actor(&mut self, host: &Host, id: &str) {
        if !self.running.actors.values().any(|a| a.id == id) {
            host.stop_actor(id);
        }
    }

    /// Runs a prepared actor; returns the bindings it dropped because the
    /// file now holds another actor (to bind again if still wanted).
    fn run_actor(
        &mut self,
        host: &Host,
        path: PathBuf,
        fingerprint: Fingerprint,
        actor: Actor,
        log: &mut PassLog<'_>,
    ) -> Vec<BindingRecord> {
        let id = actor.id().to_string();
        let mut dropped = Vec::new();
        if let Some(old) = self.running.actors.remove(&path).filter(|old| old.id != id) {
            dropped = self.unbind_where(host, |b| b.actor == old.id);
            self.stop_actor(host, &old.id);
        }
        let runs_elsewhere = self.running.actors.values().any(|a| a.id == id);
        let same_code = host
            .bus()
            .actor(&id)
            .is_some_and(|running| running.claims().metadata.hash == actor.claims().metadata.hash);
        if !(runs_elsewhere && same_code) {
            match host.run_actor(Arc::new(actor)) {
                Some(replaced) => log.replaced.push(replaced),
                None => log.applied.actors.push(id.clone()),
            }
        }
        self.running
            .actors
            .insert(path, RunningActor { id, fingerprint });
        dropped
    }

    fn run_provider(
        &mut self,
        host: &Host,
        key: ProviderKey,
        fingerprint: Fingerprint,
        instance: ProviderInstance,
        log: &mut PassLog<'_>,
    ) -> Result<(), HostError> {
        let instance = Arc::new(instance);
        let capability = instance.capability_id().to_string();
        let old = self.running.providers.remove(&key).map(|p| p.capability);
        match old {
            Some(old) if old == capability => host.replace_provider(instance),
            old => {
                if let Some(old) = old {
                    // The rebuilt library provides another capability.
                    self.unbind_where(host, |b| b.capability == old && b.binding == key.1);
                    host.stop_provider(&old, &key.1);
                }
                if let Err(e) = host.run_provider(instance) {
                    return log.fail(|mine| mine.providers.contains(&key), e);
                }
                log.applied
                    .providers
                    .push((capability.clone(), key.1.clone()));
            }
        }
        self.running.providers.insert(
            key,
            RunningProvider {
                capability,
                fingerprint,
            },
        );
        Ok(())
    }

    /// Unbinds the pipeline's bindings matching `which`; returns them.
    fn unbind_where(
        &mut self,
        host: &Host,
        which: impl Fn(&BindingRecord) -> bool,
    ) -> Vec<BindingRecord> {
        let (dropped, kept) = std::mem::take(&mut self.running.bound)
            .into_iter()
            .partition(|b| which(b));
        self.running.bound = kept;
        for record in &dropped {
            host.unbind_exact(record);
        }
        dropped
    }

    /// Creates one wanted binding, here or in the lattice.
    fn bind(
        &mut self,
        host: &Host,
        record: BindingRecord,
        log: &mut PassLog<'_>,
    ) -> Result<(), HostError> {
        let is_mine = |mine: &DesiredState| mine.bindings.contains(&record);
        match Placement::of(&record, host.bus(), host.placement().is_some()) {
            Placement::Here => match host.bind(record.clone()) {
                Ok(()) => {
                    log.applied.bindings.push(record.clone());
                    self.running.bound.push(record);
                }
                Err(e) => log.fail(is_mine, e)?,
            },
            Placement::Lattice(claims) => {
                if let Some(placement) = host.placement() {
                    placement.place(record.clone(), claims);
                }
                log.placed.push(record.clone());
                self.running.placed.push(record);
            }
            Placement::Missing(end) => {
                let error = match &log.mode {
                    Mode::Whole { manifest, .. } => missing_end(host, manifest, &record, end),
                    Mode::BestEffort => {
                        log.errors.push(waits(&record, end));
                        return Ok(());
                    }
                };
                log.fail(is_mine, error)?;
            }
        }
        Ok(())
    }

    /// Undoes what a failed whole pass committed.
    fn undo(&self, host: &Host, log: &PassLog<'_>) {
        for record in &log.applied.bindings {
            host.unbind_exact(record);
        }
        if let Some(placement) = host.placement() {
            log.placed
                .iter()
                .for_each(|record| placement.withdraw(record));
        }
        for (capability, binding) in &log.applied.providers {
            host.stop_provider(capability, binding);
        }
        for actor in &log.applied.actors {
            host.stop_actor(actor);
        }
        for old in &log.replaced {
            host.run_actor(Arc::clone(old));
        }
    }
}

/// Whether `desired` names the file `path`.
fn names(desired: &DesiredState, path: &Path) -> bool {
    desired.actors.contains(path) || desired.providers.iter().any(|(p, _)| p == path)
}

/// Whether `manifest` declares the provider `key` more than once.
fn declares_twice(manifest: &Manifest, key: &ProviderKey) -> bool {
    let declared = manifest
        .capabilities
        .iter()
        .filter(|c| resolve_platform_path(&c.path) == key.0 && c.binding_name == key.1);
    declared.count() > 1
}

/// The refusal of a binding whose actor or provider is nowhere, naming the
/// manifest's entry.
fn missing_end(
    host: &Host,
    manifest: &Manifest,
    record: &BindingRecord,
    end: MissingEnd,
) -> HostError {
    let index = manifest
        .bindings
        .iter()
        .position(|b| binding_record(b) == *record)
        .unwrap_or_default();
    let message = match end {
        MissingEnd::Actor => format!(
            "actor {} is neither declared in this manifest nor running in the host",
            record.actor
        ),
        MissingEnd::Provider => format!(
            "no provider for capability {} with binding '{}' is declared in this manifest or loaded in the host (loaded: {})",
            record.capability,
            record.binding,
            loaded_capabilities(host)
        ),
    };
    HostError::Binding {
        manifest: manifest.source.clone(),
        entry: format!("bindings[{index}]"),
        message,
    }
}

fn loaded_capabilities(host: &Host) -> String {
    let all: Vec<String> = host
        .bus()
        .providers()
        .iter()
        .map(|p| format!("{} '{}'", p.capability_id(), p.binding()))
        .collect();
    if all.is_empty() {
        "none".into()
    } else {
        all.join(", ")
    }
}

/// Why a watched binding waits.
fn waits(record: &BindingRecord, end: MissingEnd) -> String {
    format!(
        "binding of {} to {} '{}' waits: {}",
        record.actor,
        record.capability,
        record.binding,
        match end {
            MissingEnd::Actor => "no such actor runs here",
            MissingEnd::Provider => "no such provider runs here",
        }
    )
}
