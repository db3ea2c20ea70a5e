//! The bus: where every invocation between entities is routed.
//!
//! The bus knows the running actors (by public key) and provider instances
//! (by capability id and binding name). Every call is an [`Invocation`], run
//! by one pair of verbs: [`Bus::call`] (here, or through the lattice when the
//! target runs elsewhere) and [`Bus::call_local`] (here only, for calls that
//! arrived from the lattice). Calls resolve in this registry first and run
//! in-process: a provider → actor call runs the actor on the thread
//! that polls it, an actor → provider call awaits the provider's future on the
//! actor's fiber. Every call is bounded by the host's call timeout, and every
//! failure comes back as an [`InvocationError`] that names the target.

mod dispatcher;

pub use dispatcher::ProviderDispatcher;

use crate::actor::{Actor, HostCalls};
use crate::invocation::{Invocation, InvocationError, Target};
use crate::provider::ProviderInstance;
use crate::sync::RwLocked;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Where calls go when their target is not in this host: the lattice.
pub trait RemoteRoute: Send + Sync {
    /// Carries `invocation` to the host that runs its target.
    fn call(
        &self,
        invocation: Invocation<'_>,
    ) -> BoxFuture<'static, Result<Vec<u8>, InvocationError>>;
}

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

    /// Runs `invocation` on its target: here when this host runs it, else
    /// through the lattice (when the host joined one).
    pub async fn call(&self, invocation: Invocation<'_>) -> Result<Vec<u8>, InvocationError> {
        let remote = self.remote.get();
        match invocation.target {
            Target::Actor(id) => {
                let _in_flight = self.enter()?;
                match (self.actor(id), remote) {
                    (Some(actor), _) => self.call_actor(&actor, invocation).await,
                    (None, Some(remote)) => remote.call(invocation).await,
                    (None, None) => Err(InvocationError::ActorNotFound {
                        actor: id.to_string(),
                    }),
                }
            }
            Target::Provider {
                capability,
                binding,
            } => match (self.provider(capability, binding), remote) {
                (Some(provider), _) => self.call_provider(&provider, invocation).await,
                (None, Some(remote)) => remote.call(invocation).await,
                (None, None) => Err(provider_not_found(capability, binding)),
            },
        }
    }

    /// Runs `invocation` on a target of this host only, never the lattice
    /// (for calls that arrived from the lattice: forwarding them back out
    /// could loop).
    pub async fn call_local(&self, invocation: Invocation<'_>) -> Result<Vec<u8>, InvocationError> {
        match invocation.target {
            Target::Actor(id) => {
                let _in_flight = self.enter()?;
                let actor = self
                    .actor(id)
                    .ok_or_else(|| InvocationError::ActorNotFound {
                        actor: id.to_string(),
                    })?;
                self.call_actor(&actor, invocation).await
            }
            Target::Provider {
                capability,
                binding,
            } => {
                let provider = self
                    .provider(capability, binding)
                    .ok_or_else(|| provider_not_found(capability, binding))?;
                self.call_provider(&provider, invocation).await
            }
        }
    }

    async fn call_actor(
        &self,
        actor: &Actor,
        invocation: Invocation<'_>,
    ) -> Result<Vec<u8>, InvocationError> {
        let Invocation {
            operation, payload, ..
        } = invocation;
        self.bounded(actor.id(), actor.call(operation, payload))
            .await?
    }

    /// Calls a provider instance of this host on behalf of the invocation's
    /// actor. Provider calls are not counted in flight: most are made by an
    /// actor call that already is, and must finish while the host drains.
    async fn call_provider(
        &self,
        provider: &ProviderInstance,
        invocation: Invocation<'_>,
    ) -> Result<Vec<u8>, InvocationError> {
        let Invocation {
            origin,
            target,
            operation,
            payload,
        } = invocation;
        let call = provider.call(origin.actor(), operation, payload);
        let reply = self.bounded(target, call).await?;
        reply
            .into_result()
            .map(|r| r.into_vec())
            .map_err(|message| InvocationError::ProviderFailed {
                capability: provider.capability_id().to_string(),
                binding: provider.binding().to_string(),
                operation: operation.to_string(),
                message: message.into_string(),
            })
    }

    /// Sends calls for targets this host lacks to `remote` from now on.
    pub fn set_remote(&self, remote: Arc<dyn RemoteRoute>) {
        if self.remote.set(remote).is_err() {
            tracing::warn!("the bus already has a remote route; keeping the first");
        }
    }

    /// Bounds `call` by the call timeout; `target` names it in the error
    /// (formatted only then: nothing is allocated for a call in time).
    async fn bounded<T, F>(&self, target: impl fmt::Display, call: F) -> Result<T, InvocationError>
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
        // Counted before the check, both sequentially consistent like
        // `stop_accepting` and `drain`: a call either sees the host stopping
        // or is seen by `drain`, never neither.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let in_flight = InFlight(self);
        if !self.accepting.load(Ordering::SeqCst) {
            return Err(InvocationError::ShuttingDown);
        }
        Ok(in_flight)
    }

    /// How many actor invocations are running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Refuses new calls from now on.
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }

    /// Waits until no call is in flight, at most `grace`; true when drained.
    pub async fn drain(&self, grace: Duration) -> bool {
        let drained = async {
            loop {
                let notified = self.drained.notified();
                if self.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(grace, drained).await.is_ok()
    }

    /// The actor with this public key.
    pub fn actor(&self, id: &str) -> Option<Arc<Actor>> {
        self.actors.read_locked("bus actors").get(id).cloned()
    }

    /// Every running actor.
    pub fn actors(&self) -> Vec<Arc<Actor>> {
        self.actors
            .read_locked("bus actors")
            .values()
            .cloned()
            .collect()
    }

    /// The provider instance for a capability and binding name.
    pub fn provider(&self, capability: &str, binding: &str) -> Option<Arc<ProviderInstance>> {
        self.providers
            .read_locked("bus providers")
            .get(capability)?
            .get(binding)
            .cloned()
    }

    /// Every provider instance.
    pub fn providers(&self) -> Vec<Arc<ProviderInstance>> {
        self.providers
            .read_locked("bus providers")
            .values()
            .flat_map(|b| b.values().cloned())
            .collect()
    }

    /// Registers an actor, returning the one it replaces.
    pub fn add_actor(&self, actor: Arc<Actor>) -> Option<Arc<Actor>> {
        self.actors
            .write_locked("bus actors")
            .insert(actor.id().to_string(), actor)
    }

    /// Unregisters an actor.
    pub fn remove_actor(&self, id: &str) -> Option<Arc<Actor>> {
        self.actors.write_locked("bus actors").remove(id)
    }

    /// Registers a provider instance, returning the one it replaces.
    pub fn add_provider(&self, provider: Arc<ProviderInstance>) -> Option<Arc<ProviderInstance>> {
        self.providers
            .write_locked("bus providers")
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
            .write_locked("bus providers")
            .get_mut(capability)?
            .remove(binding)
    }
}

/// Actors' host calls go through the bus.
impl HostCalls for Bus {
    fn call<'a>(
        &'a self,
        invocation: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Vec<u8>, InvocationError>> {
        Box::pin(Bus::call(self, invocation))
    }
}

fn provider_not_found(capability: &str, binding: &str) -> InvocationError {
    InvocationError::ProviderNotFound {
        capability: capability.to_string(),
        binding: binding.to_string(),
    }
}

struct InFlight<'a>(&'a Bus);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}
