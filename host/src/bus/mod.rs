//! The bus: where every invocation between entities is routed.
//!
//! The bus knows the running actors (by public key) and provider instances
//! (by capability id and binding name). Calls resolve in this registry first
//! and run in-process: a provider → actor call runs the actor on the thread
//! that polls it, an actor → provider call awaits the provider's future on the
//! actor's fiber. Every call is bounded by the host's call timeout, and every
//! failure comes back as an [`InvocationError`] that names the target.

mod dispatcher;
mod error;

pub use dispatcher::ProviderDispatcher;
pub use error::InvocationError;

use futures::future::BoxFuture;
use std::sync::OnceLock;

/// Where calls go when their target is not in this host: the lattice.
pub trait RemoteRoute: Send + Sync {
    /// Calls `operation` on an actor some other host runs.
    fn invoke_actor(
        &self,
        actor: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>>;

    /// Calls a provider instance some other host runs, on behalf of `actor`.
    fn invoke_provider(
        &self,
        actor: &str,
        capability: &str,
        binding: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>>;
}

use crate::actor::{Actor, ActorContext};
use crate::provider::ProviderInstance;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use trellis_manifest::normalize_binding;

type ProviderTable = HashMap<String, HashMap<String, Arc<ProviderInstance>>>;

/// The in-process bus of one host.
pub struct Bus {
    actors: RwLock<HashMap<String, Arc<Actor>>>,
    providers: RwLock<ProviderTable>,
    call_timeout: Duration,
    accepting: AtomicBool,
    in_flight: AtomicUsize,
    drained: Notify,
    remote: OnceLock<Arc<dyn RemoteRoute>>,
}

impl Bus {
    /// An empty bus whose calls time out after `call_timeout`.
    pub fn new(call_timeout: Duration) -> Self {
        Bus {
            actors: RwLock::default(),
            providers: RwLock::default(),
            call_timeout,
            accepting: AtomicBool::new(true),
            in_flight: AtomicUsize::new(0),
            drained: Notify::new(),
            remote: OnceLock::new(),
        }
    }

    /// Calls `operation` on the actor `actor_id`.
    pub async fn invoke_actor(
        &self,
        actor_id: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, InvocationError> {
        let _in_flight = self.enter()?;
        match (self.actor(actor_id), self.remote.get()) {
            (Some(actor), _) => self.call_actor(&actor, operation, payload).await,
            (None, Some(remote)) => remote.invoke_actor(actor_id, operation, payload).await,
            (None, None) => Err(InvocationError::ActorNotFound {
                actor: actor_id.to_string(),
            }),
        }
    }

    async fn call_actor(
        &self,
        actor: &Actor,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, InvocationError> {
        self.bounded(actor.id(), actor.call(operation, payload))
            .await?
    }

    /// Sends calls for targets this host lacks to `remote` from now on.
    pub fn set_remote(&self, remote: Arc<dyn RemoteRoute>) {
        if self.remote.set(remote).is_err() {
            tracing::warn!("the bus already has a remote route; keeping the first");
        }
    }

    /// Routes a host call made by an actor: to another actor when `namespace`
    /// is an actor key, else to the provider of that capability and binding.
    pub async fn call_from_actor(
        &self,
        caller: &ActorContext,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, InvocationError> {
        if is_actor_key(namespace) {
            return Box::pin(self.invoke_actor(namespace, operation, payload)).await;
        }
        if !caller.claims.allows(namespace) {
            tracing::warn!(actor = %caller.id, capability = namespace, operation, "call refused: capability not in the actor's claims");
            return Err(InvocationError::NotPermitted {
                actor: caller.id.clone(),
                capability: namespace.to_string(),
            });
        }
        let binding = normalize_binding(binding);
        match self.remote.get() {
            Some(remote) if self.provider(namespace, binding).is_none() => {
                remote
                    .invoke_provider(&caller.id, namespace, binding, operation, payload)
                    .await
            }
            _ => {
                self.call_local_provider(&caller.id, namespace, binding, operation, payload)
                    .await
            }
        }
    }

    /// Calls an actor of this host only, never the lattice (for calls that
    /// arrived from the lattice: forwarding them back out could loop).
    pub async fn invoke_local_actor(
        &self,
        actor_id: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, InvocationError> {
        let _in_flight = self.enter()?;
        let actor = self
            .actor(actor_id)
            .ok_or_else(|| InvocationError::ActorNotFound {
                actor: actor_id.to_string(),
            })?;
        self.call_actor(&actor, operation, payload).await
    }

    /// Calls a provider instance of this host only, on behalf of `actor`.
    pub async fn call_local_provider(
        &self,
        actor: &str,
        capability: &str,
        binding: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, InvocationError> {
        let provider = self.provider(capability, binding).ok_or_else(|| {
            InvocationError::ProviderNotFound {
                capability: capability.to_string(),
                binding: binding.to_string(),
            }
        })?;
        let target = format!("{capability} (binding '{binding}')");
        let reply = self
            .bounded(&target, provider.call(actor, operation, payload))
            .await?;
        reply
            .into_result()
            .map(|r| r.into_vec())
            .map_err(|message| InvocationError::ProviderFailed {
                capability: capability.to_string(),
                binding: binding.to_string(),
                operation: operation.to_string(),
                message: message.into_string(),
            })
    }

    async fn bounded<T, F>(&self, target: &str, call: F) -> Result<T, InvocationError>
    where
        F: Future<Output = T>,
    {
        tokio::time::timeout(self.call_timeout, call)
            .await
            .map_err(|_| InvocationError::Timeout {
                target: target.to_string(),
                after: self.call_timeout,
            })
    }

    /// Counts a call in flight, refusing new work once stopping.
    fn enter(&self) -> Result<InFlight<'_>, InvocationError> {
        if !self.accepting.load(Ordering::Acquire) {
            return Err(InvocationError::ShuttingDown);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(InFlight(self))
    }

    /// How many actor invocations are running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Refuses new calls from now on.
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Release);
    }

    /// Waits until no call is in flight, at most `grace`; true when drained.
    pub async fn drain(&self, grace: Duration) -> bool {
        let drained = async {
            loop {
                let notified = self.drained.notified();
                if self.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(grace, drained).await.is_ok()
    }

    /// The actor with this public key.
    pub fn actor(&self, id: &str) -> Option<Arc<Actor>> {
        self.actors.read().ok()?.get(id).cloned()
    }

    /// Every running actor.
    pub fn actors(&self) -> Vec<Arc<Actor>> {
        self.actors
            .read()
            .map(|a| a.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The provider instance for a capability and binding name.
    pub fn provider(&self, capability: &str, binding: &str) -> Option<Arc<ProviderInstance>> {
        self.providers
            .read()
            .ok()?
            .get(capability)?
            .get(binding)
            .cloned()
    }

    /// Every provider instance.
    pub fn providers(&self) -> Vec<Arc<ProviderInstance>> {
        self.providers
            .read()
            .map(|p| p.values().flat_map(|b| b.values().cloned()).collect())
            .unwrap_or_default()
    }

    /// Registers an actor, returning the one it replaces.
    pub fn add_actor(&self, actor: Arc<Actor>) -> Option<Arc<Actor>> {
        let mut actors = self.actors.write().ok()?;
        actors.insert(actor.id().to_string(), actor)
    }

    /// Unregisters an actor.
    pub fn remove_actor(&self, id: &str) -> Option<Arc<Actor>> {
        self.actors.write().ok()?.remove(id)
    }

    /// Registers a provider instance, returning the one it replaces.
    pub fn add_provider(&self, provider: Arc<ProviderInstance>) -> Option<Arc<ProviderInstance>> {
        let mut providers = self.providers.write().ok()?;
        providers
            .entry(provider.capability_id().to_string())
            .or_default()
            .insert(provider.binding().to_string(), provider)
    }

    /// Unregisters a provider instance.
    pub fn remove_provider(
        &self,
        capability: &str,
        binding: &str,
    ) -> Option<Arc<ProviderInstance>> {
        self.providers
            .write()
            .ok()?
            .get_mut(capability)?
            .remove(binding)
    }
}

/// An actor's public key: 56 base32 characters starting with `M`.
pub fn is_actor_key(namespace: &str) -> bool {
    namespace.len() == 56
        && namespace.starts_with('M')
        && namespace
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

struct InFlight<'a>(&'a Bus);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}
