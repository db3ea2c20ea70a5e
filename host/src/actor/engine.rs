//! The wasmtime engine shared by every actor of a host.
//!
//! One engine compiles each distinct module once (keyed by its code hash),
//! bounds every instance's memory through the pooling allocator, and bounds
//! every call's time through epoch interruption: a background thread advances
//! the epoch every [`EPOCH_TICK`]; at each tick a running guest yields to the
//! executor (so a busy actor never holds a worker thread for long) and traps
//! once its call has used up the call timeout.

use crate::actor::wapc::{self, GuestState};
use crate::config::HostConfig;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig,
};

/// How often the epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why the engine could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// Compiles actor modules and links them to the waPC host functions.
pub struct ActorEngine {
    engine: Engine,
    linker: Linker<GuestState>,
    compiled: Mutex<HashMap<String, Module>>,
    call_timeout: Duration,
}

impl ActorEngine {
    /// Creates the engine and starts its epoch clock.
    pub fn new(config: &HostConfig) -> Result<Arc<Self>, EngineError> {
        let engine =
            Engine::new(&wasmtime_config(config)).map_err(|e| EngineError(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wapc::link(&mut linker).map_err(|e| EngineError(e.to_string()))?;
        start_epoch_clock(&engine);
        Ok(Arc::new(ActorEngine {
            engine,
            linker,
            compiled: Mutex::new(HashMap::new()),
            call_timeout: config.call_timeout,
        }))
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with the waPC imports.
    pub fn linker(&self) -> &Linker<GuestState> {
        &self.linker
    }

    /// How long guest code may run for one call.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// Compiles `bytes`, or returns the module compiled before for the same code hash.
    pub fn compile(&self, code_hash: &str, bytes: &[u8]) -> wasmtime::Result<Module> {
        if let Some(module) = self.cached(code_hash) {
            return Ok(module);
        }
        let module = Module::new(&self.engine, bytes)?;
        if let Ok(mut compiled) = self.compiled.lock() {
            compiled.insert(code_hash.to_string(), module.clone());
        }
        Ok(module)
    }

    fn cached(&self, code_hash: &str) -> Option<Module> {
        self.compiled.lock().ok()?.get(code_hash).cloned()
    }
}

fn wasmtime_config(config: &HostConfig) -> Config {
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_core_instances(config.max_total_instances)
        .total_memories(config.max_total_instances)
        .total_tables(config.max_total_instances)
        .total_stacks(config.max_total_instances)
        .max_memory_size(config.memory_limit);
    let mut wasm = Config::new();
    // wasmtime's defaults, not an MVP-only set: today's Rust guests use
    // sign-extension and bulk-memory instructions.
    wasm.epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    wasm
}

/// Advances the epoch every tick until the engine is dropped.
fn start_epoch_clock(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("epoch-clock".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch clock, calls will not time out: {e}");
    }
}
