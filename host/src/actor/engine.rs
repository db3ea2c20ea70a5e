//! The wasmtime engine shared by every actor of a host.
//!
//! One engine compiles each distinct module once (keyed by its code hash),
//! keeps compiled code in an optional on-disk cache so that a restarted host
//! does not compile again, bounds every instance's memory through the pooling
//! allocator, and bounds every call's time through epoch interruption: a
//! background thread advances the epoch every [`EPOCH_TICK`]; at each tick a
//! running guest yields to the executor (so a busy actor never holds a worker
//! thread for long) and traps once its call has used up the call timeout.

use crate::actor::wapc::{self, GuestState};
use crate::config::HostConfig;
use crate::sync::Locked;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, Linker, Module,
    PoolingAllocationConfig,
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
    code_cache: Option<Cache>,
    call_timeout: Duration,
}

/// How often the on-disk code cache answered, since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodeCacheStats {
    /// Modules loaded from the cache instead of compiled.
    pub hits: usize,
    /// Modules compiled and then stored in the cache.
    pub misses: usize,
}

impl ActorEngine {
    /// Creates the engine and starts its epoch clock.
    pub fn new(config: &HostConfig) -> Result<Arc<Self>, EngineError> {
        let code_cache = config.code_cache.as_deref().and_then(open_code_cache);
        let mut wasm = wasmtime_config(config);
        wasm.cache(code_cache.clone());
        let engine = Engine::new(&wasm).map_err(|e| EngineError(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wapc::link(&mut linker).map_err(|e| EngineError(e.to_string()))?;
        start_epoch_clock(&engine);
        Ok(Arc::new(ActorEngine {
            engine,
            linker,
            compiled: Mutex::new(HashMap::new()),
            code_cache,
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

    /// The on-disk code cache's counts, or `None` when the engine has none.
    pub fn code_cache_stats(&self) -> Option<CodeCacheStats> {
        self.code_cache.as_ref().map(|cache| CodeCacheStats {
            hits: cache.cache_hits(),
            misses: cache.cache_misses(),
        })
    }

    /// Compiles `bytes` (or loads them from the code cache), or returns the
    /// module compiled before for the same code hash.
    pub fn compile(&self, code_hash: &str, bytes: &[u8]) -> wasmtime::Result<Module> {
        // Held while compiling: actors that load at the same time with the
        // same code wait for one compilation instead of each doing their own,
        // and the cache's hit count tells exactly whether this one was a hit.
        let mut compiled = self.compiled.locked("compiled modules");
        if let Some(module) = compiled.get(code_hash) {
            return Ok(module.clone());
        }
        let (before, started) = (self.code_cache_stats(), Instant::now());
        let module = Module::new(&self.engine, bytes)?;
        let millis = started.elapsed().as_millis() as u64;
        match (before, self.code_cache_stats()) {
            (Some(before), Some(after)) if after.hits > before.hits => {
                tracing::info!(code_hash, millis, "module loaded from the code cache")
            }
            _ => tracing::info!(code_hash, millis, "module compiled"),
        }
        compiled.insert(code_hash.to_string(), module.clone());
        Ok(module)
    }
}

/// The code cache in `dir`, or `None` (with a warning naming it) when the
/// folder cannot be used: the host then compiles every module, as without one.
fn open_code_cache(dir: &Path) -> Option<Cache> {
    match private_folder(dir).and_then(|dir| {
        let mut config = CacheConfig::new();
        config.with_directory(dir);
        Cache::new(config).map_err(|e| format!("{e:#}"))
    }) {
        Ok(cache) => {
            tracing::debug!(dir = %dir.display(), "compiled code is cached");
            Some(cache)
        }
        Err(reason) => {
            tracing::warn!(
                "cannot use {} as the code cache, compiling every module instead: {reason}",
                dir.display()
            );
            None
        }
    }
}

/// Creates `dir` readable by its owner only when missing, and refuses a
/// folder that other users may write to: the host runs the native code it
/// finds there.
fn private_folder(dir: &Path) -> Result<std::path::PathBuf, String> {
    let dir = std::path::absolute(dir).map_err(|e| e.to_string())?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir)
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            return Err(format!(
                "other users may write to it (mode {:o}); make it private \
                 (chmod go-w {}) or pick another folder",
                mode & 0o7777,
                dir.display()
            ));
        }
    }
    Ok(dir)
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
