//! A bounded pool of warm instances of one actor.
//!
//! Instances are started from one `InstancePre` (imports resolved once), on
//! slots of the engine's pooling allocator. At most `max_instances` run at
//! once; further calls wait for a permit. A call takes an idle instance (or
//! starts one), runs, and gives it back unless it trapped: guest state after a
//! trap is not trustworthy.

use super::engine::ActorEngine;
use super::wapc::GuestState;
use super::ActorContext;
use crate::invocation::InvocationError;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use wasmtime::{InstancePre, Module, Store, Trap, TypedFunc, UpdateDeadline};

/// How a call into the guest failed.
pub(crate) enum GuestFailure {
    /// The guest answered with an error text.
    Returned(String),
    /// The guest trapped or ran out of time; the instance is gone.
    Trapped(String),
    /// No instance could be started.
    Unavailable(String),
}

impl GuestFailure {
    pub(crate) fn into_invocation_error(self, actor: &str, operation: &str) -> InvocationError {
        let (actor, operation) = (actor.to_string(), operation.to_string());
        match self {
            GuestFailure::Returned(message) => InvocationError::ActorFailed {
                actor,
                operation,
                message,
            },
            GuestFailure::Trapped(message) => InvocationError::ActorTrapped {
                actor,
                operation,
                message,
            },
            GuestFailure::Unavailable(message) => {
                InvocationError::ActorUnavailable { actor, message }
            }
        }
    }
}

struct Warm {
    store: Store<GuestState>,
    guest_call: TypedFunc<(i32, i32), i32>,
}

pub(crate) struct ActorPool {
    engine: Arc<ActorEngine>,
    pre: InstancePre<GuestState>,
    context: Arc<ActorContext>,
    idle: Mutex<Vec<Warm>>,
    permits: Semaphore,
}

impl ActorPool {
    /// Resolves the imports of `module` and starts one instance.
    pub(crate) async fn new(
        engine: &Arc<ActorEngine>,
        module: &Module,
        context: Arc<ActorContext>,
        max_instances: u32,
    ) -> Result<ActorPool, String> {
        let pre = engine.linker().instantiate_pre(module).map_err(|e| {
            format!("cannot link the actor: {e} (actors may import only waPC's `wapc` functions)")
        })?;
        let pool = ActorPool {
            engine: Arc::clone(engine),
            pre,
            context,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_instances.max(1) as usize),
        };
        let first = pool.start_instance().await.map_err(|e| match e {
            GuestFailure::Returned(m) | GuestFailure::Trapped(m) | GuestFailure::Unavailable(m) => {
                m
            }
        })?;
        pool.give_back(first);
        Ok(pool)
    }

    pub(crate) async fn call(
        &self,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, GuestFailure> {
        let op_len = guest_len(operation.len())?;
        let msg_len = guest_len(payload.len())?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| GuestFailure::Unavailable("the actor is stopping".into()))?;
        let mut warm = match self.take_idle() {
            Some(warm) => warm,
            None => self.start_instance().await?,
        };
        warm.store.data_mut().begin(operation, payload);
        warm.store.data_mut().set_budget(self.engine.call_timeout());
        warm.store.set_epoch_deadline(1);
        match warm
            .guest_call
            .call_async(&mut warm.store, (op_len, msg_len))
            .await
        {
            Ok(status) => {
                let outcome = warm.store.data_mut().take_outcome(status == 1);
                self.give_back(warm);
                outcome.map_err(GuestFailure::Returned)
            }
            Err(e) => Err(GuestFailure::Trapped(self.describe_trap(&e))),
        }
    }

    /// Instantiates the module and runs its initialisers (`_start`, `wapc_init`).
    async fn start_instance(&self) -> Result<Warm, GuestFailure> {
        let state = GuestState::new(Arc::clone(&self.context));
        let mut store = Store::new(self.engine.engine(), state);
        // Every tick: yield to the executor, or trap once the call's time is up.
        store.epoch_deadline_callback(|store| {
            Ok(if store.data().out_of_time() {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        store.data_mut().set_budget(self.engine.call_timeout());
        store.set_epoch_deadline(1);
        let unavailable = |what: &str, e: wasmtime::Error| {
            GuestFailure::Unavailable(format!("cannot start an instance: {what}: {e}"))
        };
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| unavailable("instantiation failed", e))?;
        for init in ["_start", "wapc_init"] {
            if let Ok(f) = instance.get_typed_func::<(), ()>(&mut store, init) {
                f.call_async(&mut store, ()).await.map_err(|e| {
                    GuestFailure::Trapped(format!("`{init}` failed: {}", self.describe_trap(&e)))
                })?;
            }
        }
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")
            .map_err(|e| {
                unavailable(
                    "the module is not a waPC actor (no `__guest_call(i32, i32) -> i32` export)",
                    e,
                )
            })?;
        Ok(Warm { store, guest_call })
    }

    fn take_idle(&self) -> Option<Warm> {
        self.idle.lock().ok()?.pop()
    }

    fn give_back(&self, warm: Warm) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(warm);
        }
    }

    fn describe_trap(&self, e: &wasmtime::Error) -> String {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => format!(
                "exceeded its time limit of {} ms (an endless loop?)",
                self.engine.call_timeout().as_millis()
            ),
            Some(trap) => format!("trapped: {trap}"),
            None => format!("trapped: {e}"),
        }
    }
}

fn guest_len(len: usize) -> Result<i32, GuestFailure> {
    i32::try_from(len)
        .map_err(|_| GuestFailure::Unavailable(format!("payload of {len} bytes is too large")))
}
