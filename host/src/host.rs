//! [`HostBuilder`] → [`Host`]: the embedding API.
//!
//! A host owns the actor engine, the bus, the bindings and the
//! reconciler that keeps it in its manifests' state. Manifests are
//! applied through [`Host::apply`] (whole or not at all) and a watched
//! folder's through [`Host::apply_watched`] (best effort): both go through the
//! one pipeline of [`crate::state`]. Calls go through the host's [`Bus`]
//! ([`Host::bus`]).
//!
//! The pipeline, and an embedder that manages entities one by one, use a
//! small API: `prepare_*` reads, checks and creates an actor or provider
//! instance without running it; `run_*` registers a prepared one (an actor
//! under a running key is swapped live); `start_*` is both; `stop_*`,
//! [`Host::bind`] and [`Host::unbind_exact`] do what they say. Each change is
//! logged and broadcast as a [`HostEvent`].

use crate::actor::engine::{ActorEngine, CodeCacheStats};
use crate::actor::{Actor, HostCalls};
use crate::binding::{claims_values, BindingPlacement, BindingRecord};
use crate::bus::{Bus, ProviderDispatcher};
use crate::config::HostConfig;
use crate::error::HostError;
use crate::events::HostEvent;
use crate::provider::{ProviderInstance, ProviderLibrary};
use crate::state::{Applied, Pass, Reconciler};
use crate::sync::Locked;
use abi_stable::{sabi_trait::TD_Opaque, std_types::RArc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::runtime::Handle;
use tokio::sync::broadcast;
use trellis_claims::Policy;
use trellis_manifest::Manifest;
use trellis_provider_sdk::ffi::FfiDispatcher_TO;

/// Configures and builds a [`Host`].
///
/// ```no_run
/// # async fn demo() -> Result<(), trellis_host::HostError> {
/// use std::time::Duration;
/// let host = trellis_host::HostBuilder::new()
///     .call_timeout(Duration::from_secs(5))
///     .build()?;
/// let manifest = trellis_manifest::Manifest::load("examples/echo.yaml".as_ref())?;
/// host.apply(&manifest).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct HostBuilder {
    config: HostConfig,
}

impl HostBuilder {
    /// A builder with the default limits.
    pub fn new() -> Self {
        HostBuilder::default()
    }

    /// Uses `config` as a whole.
    pub fn config(mut self, config: HostConfig) -> Self {
        self.config = config;
        self
    }

    /// The longest one invocation may take.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = timeout;
        self
    }

    /// The largest memory one actor instance may grow to.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.config.memory_limit = bytes;
        self
    }

    /// The most instances of one actor that run at once.
    pub fn max_instances_per_actor(mut self, count: u32) -> Self {
        self.config.max_instances_per_actor = count;
        self
    }

    /// Only actors issued by these accounts may run.
    pub fn allowed_issuers(mut self, issuers: Vec<String>) -> Self {
        self.config.allowed_issuers = Some(issuers);
        self
    }

    /// Keeps compiled actor code in `dir` across restarts.
    pub fn code_cache(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.config.code_cache = Some(dir.into());
        self
    }

    /// Builds the host. Must run inside a tokio runtime, which the host then uses.
    pub fn build(self) -> Result<Host, HostError> {
        let runtime = Handle::try_current().map_err(|_| HostError::NoRuntime)?;
        let engine = ActorEngine::new(&self.config)?;
        Ok(Host {
            bus: Arc::new(Bus::new(self.config.call_timeout)),
            engine,
            runtime,
            config: self.config,
            bindings: Mutex::default(),
            labels: Mutex::default(),
            reconciler: tokio::sync::Mutex::default(),
            events: broadcast::channel(256).0,
            placement: OnceLock::new(),
            started: (Instant::now(), SystemTime::now()),
        })
    }
}

/// A running host.
pub struct Host {
    config: HostConfig,
    engine: Arc<ActorEngine>,
    bus: Arc<Bus>,
    runtime: Handle,
    bindings: Mutex<Vec<BindingRecord>>,
    labels: Mutex<BTreeMap<String, String>>,
    /// Serialises passes: one change of the desired state at a time.
    reconciler: tokio::sync::Mutex<Reconciler>,
    events: broadcast::Sender<HostEvent>,
    placement: OnceLock<Arc<dyn BindingPlacement>>,
    started: (Instant, SystemTime),
}

impl Host {
    /// The host's configuration.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// How often the code cache spared a compilation, or `None` without one.
    pub fn code_cache_stats(&self) -> Option<CodeCacheStats> {
        self.engine.code_cache_stats()
    }

    /// The host's bus.
    pub fn bus(&self) -> &Arc<Bus> {
        &self.bus
    }

    /// Receives every change this host applies from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HostEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: HostEvent) {
        // No receiver is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    /// The labels the manifests gave this host.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.labels.locked("host labels").clone()
    }

    /// Sets the host's labels (every pass sets them to its manifests' union).
    pub fn set_labels(&self, labels: BTreeMap<String, String>) {
        *self.labels.locked("host labels") = labels;
    }

    /// Starts what `manifest` declares, or nothing if any part of it is
    /// wrong. It stays one of the host's sources for the host's life: what it
    /// declares keeps running whatever other sources do.
    pub async fn apply(&self, manifest: &Manifest) -> Result<Applied, HostError> {
        self.reconciler.lock().await.apply(self, manifest).await
    }

    /// Makes `manifests` (a watched folder's files, each at its last good
    /// version) the host's watched sources and applies the difference to
    /// what runs, best effort: see [`crate::state::watch`].
    pub async fn apply_watched(&self, manifests: &BTreeMap<PathBuf, Manifest>) -> Pass {
        self.reconciler
            .lock()
            .await
            .apply_watched(self, manifests)
            .await
    }

    /// When the host started, and how long ago.
    pub fn started(&self) -> (SystemTime, Duration) {
        (self.started.1, self.started.0.elapsed())
    }

    /// Hands bindings this host cannot serve alone to `placement` from now on.
    pub fn set_placement(&self, placement: Arc<dyn BindingPlacement>) {
        if self.placement.set(placement).is_err() {
            tracing::warn!("the host already has a binding placement; keeping the first");
        }
    }

    /// Where bindings this host cannot serve alone go, when it has a lattice.
    pub fn placement(&self) -> Option<&Arc<dyn BindingPlacement>> {
        self.placement.get()
    }

    /// Reads, verifies and compiles the actor in `path` and starts its first
    /// instance, without running it on the bus ([`Host::run_actor`] does).
    pub async fn prepare_actor(&self, path: &Path) -> Result<Actor, HostError> {
        let policy = Policy {
            now: trellis_claims::now_secs(),
            allowed_issuers: self.config.allowed_issuers.clone(),
        };
        let actor = Actor::load(
            &self.engine,
            path,
            &policy,
            self.config.max_instances_per_actor,
            Arc::downgrade(&self.bus) as Weak<dyn HostCalls>,
        )
        .await?;
        Ok(actor)
    }

    /// Starts the actor in `path` and returns its public key.
    pub async fn start_actor(&self, path: &Path) -> Result<String, HostError> {
        let actor = Arc::new(self.prepare_actor(path).await?);
        let id = actor.id().to_string();
        self.run_actor(actor);
        Ok(id)
    }

    /// Runs a prepared `actor`; one already running under its key is
    /// replaced (and returned): calls in flight finish on the old code, new
    /// calls get the new.
    pub fn run_actor(&self, actor: Arc<Actor>) -> Option<Arc<Actor>> {
        let name = actor.claims().metadata.name.clone().unwrap_or_default();
        let id = actor.id().to_string();
        let path = actor.path().display().to_string();
        let replaced = self.bus.add_actor(actor);
        if replaced.is_some() {
            tracing::info!(actor = %id, name, path, "actor updated: new calls run the new code");
            self.emit(HostEvent::ActorUpdated { actor: id, name });
        } else {
            tracing::info!(actor = %id, name, path, "actor started");
            self.emit(HostEvent::ActorStarted { actor: id, name });
        }
        replaced
    }

    /// Stops the actor with this key (its bindings stay until removed).
    pub fn stop_actor(&self, id: &str) -> bool {
        let stopped = self.bus.remove_actor(id).is_some();
        if stopped {
            tracing::info!(actor = id, "actor stopped");
            self.emit(HostEvent::ActorStopped { actor: id.into() });
        }
        stopped
    }

    /// Creates an instance of a checked provider `library` for `binding`,
    /// without running it on the bus ([`Host::run_provider`] does).
    pub fn prepare_provider(
        &self,
        library: &ProviderLibrary,
        binding: &str,
    ) -> Result<ProviderInstance, HostError> {
        let name = library
            .path()
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("provider");
        let dispatcher = ProviderDispatcher::new(
            Arc::downgrade(&self.bus),
            self.runtime.clone(),
            name,
            library.sdk_version(),
        );
        let dispatcher = FfiDispatcher_TO::from_ptr(RArc::new(dispatcher), TD_Opaque);
        Ok(ProviderInstance::start(library, binding, dispatcher)?)
    }

    /// Loads the provider in `path` for `binding` and registers it.
    pub fn start_provider(
        &self,
        path: &Path,
        binding: &str,
    ) -> Result<Arc<ProviderInstance>, HostError> {
        let library = ProviderLibrary::load(path)?;
        let provider = Arc::new(self.prepare_provider(&library, binding)?);
        self.run_provider(Arc::clone(&provider))?;
        Ok(provider)
    }

    /// Runs a prepared provider instance; refused (and stopped) when
    /// another instance serves its capability and binding name.
    pub fn run_provider(&self, provider: Arc<ProviderInstance>) -> Result<(), HostError> {
        if self
            .bus
            .provider(provider.capability_id(), provider.binding())
            .is_some()
        {
            provider.stop();
            return Err(HostError::DuplicateProvider {
                path: provider.path().to_path_buf(),
                capability: provider.capability_id().to_string(),
                binding: provider.binding().to_string(),
            });
        }
        let d = provider.descriptor();
        tracing::info!(capability = %d.capability_id, binding = provider.binding(), name = %d.name, version = %d.version, path = %provider.path().display(), "provider loaded");
        let loaded = HostEvent::ProviderLoaded {
            capability: d.capability_id.clone(),
            binding: provider.binding().to_string(),
            name: d.name.clone(),
        };
        // Registered before it is announced: whoever hears of it finds it.
        self.bus.add_provider(provider);
        self.emit(loaded);
        Ok(())
    }

    /// Puts `provider` in the place of the instance serving its capability
    /// and binding name: every binding of the old instance moves to the new
    /// one (the old releases it first, so a port is free again), then the old
    /// instance stops.
    pub fn replace_provider(&self, provider: Arc<ProviderInstance>) {
        let (capability, binding) = (
            provider.capability_id().to_string(),
            provider.binding().to_string(),
        );
        let moved: Vec<BindingRecord> = self.bindings_of(&capability, &binding);
        let old = self.bus.provider(&capability, &binding);
        if let Some(old) = &old {
            for actor in moved
                .iter()
                .map(|b| b.actor.as_str())
                .collect::<BTreeSet<_>>()
            {
                if let Err(e) = old.remove_actor(actor) {
                    tracing::warn!(
                        actor,
                        capability,
                        "the old provider failed to release a binding: {e}"
                    );
                }
            }
        }
        let path = provider.path().display().to_string();
        self.bus.add_provider(Arc::clone(&provider));
        if let Some(old) = old {
            old.stop();
        }
        tracing::info!(capability, binding, path, "provider reloaded");
        for record in moved {
            let mut values = record.values.clone();
            if let Some(actor) = self.bus.actor(&record.actor) {
                values.extend(claims_values(actor.claims()));
            }
            if let Err(e) = provider.bind_actor(&record.actor, &values) {
                tracing::error!(actor = %record.actor, capability, binding, "the reloaded provider refused a binding: {e}");
                self.forget_binding(&record);
            }
        }
    }

    fn bindings_of(&self, capability: &str, binding: &str) -> Vec<BindingRecord> {
        self.bindings()
            .into_iter()
            .filter(|b| b.capability == capability && b.binding == binding)
            .collect()
    }

    /// Drops a binding record without telling the provider (it is gone).
    fn forget_binding(&self, record: &BindingRecord) {
        self.bindings
            .locked("host bindings")
            .retain(|b| b != record);
        self.emit(HostEvent::BindingRemoved {
            actor: record.actor.clone(),
            capability: record.capability.clone(),
            binding: record.binding.clone(),
        });
    }

    /// Stops and unregisters a provider instance.
    pub fn stop_provider(&self, capability: &str, binding: &str) -> bool {
        let Some(provider) = self.bus.remove_provider(capability, binding) else {
            return false;
        };
        // Its bindings go with it.
        for record in self.bindings_of(capability, binding) {
            self.forget_binding(&record);
        }
        provider.stop();
        tracing::info!(capability, binding, "provider removed");
        self.emit(HostEvent::ProviderRemoved {
            capability: capability.into(),
            binding: binding.into(),
        });
        true
    }

    /// Binds a running actor to a running provider with `values`.
    pub fn bind(&self, record: BindingRecord) -> Result<(), HostError> {
        let claims = self
            .bus
            .actor(&record.actor)
            .map(|actor| claims_values(actor.claims()))
            .ok_or_else(|| bind_error(&record, "no such actor is running".into()))?;
        self.bind_with_claims(record, claims)
    }

    /// Binds an actor (which may run on another host) to a provider of this
    /// host; `claims_values` are the actor's `__wascc_*` values.
    pub fn bind_with_claims(
        &self,
        record: BindingRecord,
        claims_values: HashMap<String, String>,
    ) -> Result<(), HostError> {
        let provider = self
            .bus
            .provider(&record.capability, &record.binding)
            .ok_or_else(|| bind_error(&record, "no such provider is loaded".into()))?;
        let mut values = record.values.clone();
        values.extend(claims_values);
        provider
            .bind_actor(&record.actor, &values)
            .map_err(|e| bind_error(&record, e))?;
        tracing::info!(actor = %record.actor, capability = %record.capability, binding = %record.binding, "binding created");
        self.emit(HostEvent::BindingCreated {
            actor: record.actor.clone(),
            capability: record.capability.clone(),
            binding: record.binding.clone(),
        });
        self.bindings.locked("host bindings").push(record);
        Ok(())
    }

    /// Removes the actor's bindings to this provider instance (every one of
    /// them: an actor may be bound to one provider with several values),
    /// telling the provider.
    pub fn unbind(&self, actor: &str, capability: &str, binding: &str) -> bool {
        let removed = {
            let mut bindings = self.bindings.locked("host bindings");
            let before = bindings.len();
            bindings.retain(|b| {
                !(b.actor == actor && b.capability == capability && b.binding == binding)
            });
            before - bindings.len()
        };
        if removed == 0 {
            return false;
        }
        if let Some(provider) = self.bus.provider(capability, binding) {
            if let Err(e) = provider.remove_actor(actor) {
                tracing::warn!(
                    actor,
                    capability,
                    binding,
                    "provider failed to remove binding: {e}"
                );
            }
        }
        tracing::info!(actor, capability, binding, "binding removed");
        self.emit(HostEvent::BindingRemoved {
            actor: actor.into(),
            capability: capability.into(),
            binding: binding.into(),
        });
        true
    }

    /// Removes one binding exactly (an actor may be bound to one provider
    /// several times with different values: the others stay).
    pub fn unbind_exact(&self, record: &BindingRecord) -> bool {
        let siblings: Vec<BindingRecord> = self
            .bindings()
            .into_iter()
            .filter(|b| b.same_ends(record) && b != record)
            .collect();
        if !self.unbind(&record.actor, &record.capability, &record.binding) {
            return false;
        }
        // Providers only know "remove this actor": bind the others again.
        for sibling in siblings {
            if let Err(e) = self.bind(sibling) {
                tracing::warn!("could not restore a binding after removing its sibling: {e}");
            }
        }
        true
    }

    /// The bindings in force.
    pub fn bindings(&self) -> Vec<BindingRecord> {
        self.bindings.locked("host bindings").clone()
    }

    /// Stops gracefully: bindings are removed (servers stop taking requests),
    /// calls in flight finish (bounded by the shutdown grace), then providers
    /// stop and actors go.
    pub async fn shutdown(&self) {
        tracing::info!("host stopping");
        for b in self.bindings() {
            self.unbind(&b.actor, &b.capability, &b.binding);
        }
        self.bus.stop_accepting();
        if !self.bus.drain(self.config.shutdown_grace).await {
            tracing::warn!(
                grace_ms = self.config.shutdown_grace.as_millis() as u64,
                "calls still in flight after the grace period; stopping anyway"
            );
        }
        for p in self.bus.providers() {
            self.stop_provider(p.capability_id(), p.binding());
        }
        for a in self.bus.actors() {
            self.stop_actor(a.id());
        }
        tracing::info!("host stopped");
    }
}

fn bind_error(record: &BindingRecord, message: String) -> HostError {
    HostError::Bind {
        actor: record.actor.clone(),
        capability: record.capability.clone(),
        binding: record.binding.clone(),
        message,
    }
}
