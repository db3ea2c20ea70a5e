//! The `wascc:keyvalue` capability provider: strings, atomic counters, lists
//! and sets under keys, kept in memory or in Redis.
//!
//! # Operations
//!
//! Payloads are the MessagePack shapes of actor-abi §3 (types in
//! [`trellis_codec::keyvalue`]); the semantics are Redis's, whichever the
//! backend:
//!
//! | operation | request → reply | Redis equivalent |
//! |-----------|-----------------|------------------|
//! | `Get` | `{key}` → `{value, exists}` | `GET` |
//! | `Set` | `{key, value, expires}` → `{value}`; `expires` in seconds, 0 = never, negative refused | `SET` / `SET … EX` |
//! | `Add` | `{key, value}` → `{value}`: atomically adds (may be negative), returns the new value; a missing key counts as 0 | `INCRBY` |
//! | `Del` | `{key}` → `{key}` | `DEL` |
//! | `KeyExists` | `{key}` → `{value: "", exists}` | `EXISTS` |
//! | `Push` | `{key, value}` → `{newCount}`: appends to the list | `RPUSH` |
//! | `ListItemDelete` | `{key, value}` → `{newCount}`: removes every occurrence | `LREM key 0` + `LLEN` |
//! | `Clear` | `{key}` → `{newCount: 0}`: deletes the list | `DEL` |
//! | `Range` | `{key, start, stop}` → `{values}`: inclusive, negative indices count from the end | `LRANGE` |
//! | `SetAdd` / `SetRemove` | `{key, value}` → `{newCount}` | `SADD` / `SREM` + `SCARD` |
//! | `SetQuery` | `{key}` → `{values}` | `SMEMBERS` |
//! | `SetUnion` / `SetIntersection` | `{keys}` → `{values}` (no keys → no values) | `SUNION` / `SINTER` |
//!
//! Set members come back sorted. A list or set that becomes empty no longer
//! exists. An operation on a key of the wrong kind (e.g. `Get` on a list)
//! fails with `WRONGTYPE Operation against a key holding the wrong kind of
//! value`; `Add` on a string that is not an integer fails with `ERR value is
//! not an integer or out of range`. Counters are 64-bit; an `Add` whose new
//! value does not fit the reply's `i32` fails (after storing it).
//!
//! # Binding values
//!
//! Each actor binding chooses its own backend:
//!
//! - no `URL` (the default): an **in-memory** store of this actor's own,
//!   alive until the actor is unbound or the host stops. Samples run with
//!   nothing installed.
//! - `URL: redis://[user:password@]host[:port][/db]` (or `rediss://`,
//!   `redis+unix://`): **Redis**. Keys are written as they are, unprefixed, so
//!   actors bound to the same Redis database share its keys (as waSCC's Redis
//!   provider did). An empty or unparsable `URL` refuses the binding.
//! - `TIMEOUT_MS` (Redis only, default 2000): the bound on each call,
//!   connecting included.
//!
//! Binding the same actor again with the same values keeps its store (and an
//! in-memory store's data); different values replace it. Removing the binding
//! drops the store. An actor that calls without a binding gets `actor M… is
//! not bound to wascc:keyvalue`.
//!
//! # Failures
//!
//! The provider connects to Redis on the binding's first call, not when
//! binding, so a manifest applies while Redis is down. Every Redis call is
//! bounded by the timeout: while Redis is unreachable (or stopped, or slow)
//! callers get an error (`Redis at redis://… failed: …` or `Redis at
//! redis://… did not answer within 2000 ms`), never a hang; the connection is
//! re-established in the background and calls succeed again once Redis is
//! back. The provider logs a warning when a Redis becomes unreachable and an
//! info line when it is back. Passwords in URLs are masked in every message.

mod command;
mod memory;
mod redis_backend;

use command::{Command, Reply};
use memory::MemoryStore;
use redis_backend::RedisStore;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use trellis_codec::keyvalue::CAPABILITY;
use trellis_codec::CodecError;
use trellis_provider_sdk::{ActorBinding, Call, Descriptor, HostHandle, Provider, ProviderError};

pub use command::OPERATIONS;

/// The binding value that selects Redis.
pub const URL_KEY: &str = "URL";
/// The binding value that sets the Redis call timeout, in milliseconds.
pub const TIMEOUT_KEY: &str = "TIMEOUT_MS";
/// The default bound on each Redis call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The root module the host loads. Private: the items `export_provider!`
/// makes have no docs of their own, and the host finds them by symbol.
mod entry {
    trellis_provider_sdk::export_provider!(super::new_provider);
}

/// Creates the provider for the host.
fn new_provider(_host: HostHandle) -> Result<KeyValueProvider, ProviderError> {
    Ok(KeyValueProvider::new())
}

/// Why a key-value call or binding failed. The text is what the caller sees.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The calling actor has no binding to this provider.
    #[error("actor {0} is not bound to {CAPABILITY}")]
    NotBound(String),
    /// The operation is not one of [`OPERATIONS`].
    #[error("unknown operation '{0}'")]
    UnknownOperation(String),
    /// The payload is not the operation's request.
    #[error("{operation}: {source}")]
    Decode {
        /// The operation.
        operation: String,
        /// What the decoder found.
        source: CodecError,
    },
    /// The reply could not be encoded.
    #[error("cannot encode the reply: {0}")]
    Encode(CodecError),
    /// `Set` with a negative `expires`.
    #[error("Set: expires must be 0 (never) or a number of seconds, not {0}")]
    NegativeExpiry(i32),
    /// The key holds another kind of value (Redis's `WRONGTYPE`).
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// `Add` on a string that is not an integer.
    #[error("ERR value is not an integer or out of range")]
    NotAnInteger,
    /// `Add` past the 64-bit range.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// A number the reply cannot carry in its `i32`.
    #[error("the {what} {value} does not fit in the reply's 32-bit integer")]
    TooLarge {
        /// What the number is.
        what: &'static str,
        /// The number.
        value: i64,
    },
    /// An error Redis answered, as Redis wrote it.
    #[error("{0}")]
    Server(String),
    /// Redis could not be reached or the connection failed.
    #[error("Redis at {url} failed: {message}")]
    Redis {
        /// The URL, password masked.
        url: String,
        /// What failed.
        message: String,
    },
    /// Redis did not answer in time.
    #[error("Redis at {url} did not answer within {millis} ms")]
    Timeout {
        /// The URL, password masked.
        url: String,
        /// The timeout.
        millis: u128,
    },
    /// The binding's `URL` is not a Redis URL.
    #[error("{URL_KEY} '{url}' is not a Redis URL: {reason}")]
    BadUrl {
        /// The URL, password masked.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The binding's `TIMEOUT_MS` is not a positive number.
    #[error("{TIMEOUT_KEY} must be a positive number of milliseconds, not '{0}'")]
    BadTimeout(String),
}

impl From<KvError> for ProviderError {
    fn from(e: KvError) -> Self {
        ProviderError::new(e.to_string())
    }
}

/// What a binding's values ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Config {
    Memory,
    Redis { url: String, timeout: Duration },
}

impl Config {
    fn from_values(values: &HashMap<String, String>) -> Result<Config, KvError> {
        let Some(url) = values.get(URL_KEY) else {
            return Ok(Config::Memory);
        };
        if url.trim().is_empty() {
            return Err(KvError::BadUrl {
                url: url.clone(),
                reason: "it is empty (leave URL out for the in-memory store)".into(),
            });
        }
        let timeout = match values.get(TIMEOUT_KEY) {
            None => DEFAULT_TIMEOUT,
            Some(text) => match text.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => return Err(KvError::BadTimeout(text.clone())),
            },
        };
        Ok(Config::Redis {
            url: url.trim().to_owned(),
            timeout,
        })
    }
}

#[derive(Debug)]
enum Backend {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl Backend {
    fn new(config: &Config) -> Result<Backend, KvError> {
        Ok(match config {
            Config::Memory => Backend::Memory(MemoryStore::default()),
            Config::Redis { url, timeout } => Backend::Redis(RedisStore::new(url, *timeout)?),
        })
    }

    fn describe(&self) -> String {
        match self {
            Backend::Memory(_) => "memory".into(),
            Backend::Redis(redis) => redis.display_url().to_owned(),
        }
    }

    async fn execute(&self, command: Command) -> Result<Reply, KvError> {
        match self {
            Backend::Memory(store) => store.execute(command),
            Backend::Redis(store) => store.execute(command).await,
        }
    }
}

#[derive(Debug)]
struct Binding {
    config: Config,
    backend: Arc<Backend>,
}

/// The key-value stores of all bound actors: the whole provider, minus the
/// FFI. [`KeyValueProvider`] wraps it; tests use it directly.
#[derive(Debug, Default)]
pub struct KeyValue {
    bindings: RwLock<HashMap<String, Binding>>,
}

impl KeyValue {
    /// No actor bound yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `actor` with a binding's `values` (see the crate docs): chooses
    /// its backend. Checks a Redis URL but does not connect.
    pub fn bind(&self, actor: &str, values: &HashMap<String, String>) -> Result<(), KvError> {
        let config = Config::from_values(values)?;
        let mut bindings = self
            .bindings
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if bindings.get(actor).is_some_and(|b| b.config == config) {
            tracing::debug!(actor, "bound again with the same values: store kept");
            return Ok(());
        }
        let backend = Arc::new(Backend::new(&config)?);
        tracing::info!(actor, backend = %backend.describe(), "actor bound to {CAPABILITY}");
        bindings.insert(actor.to_owned(), Binding { config, backend });
        Ok(())
    }

    /// Removes `actor`'s binding and drops its store; false if it had none.
    pub fn unbind(&self, actor: &str) -> bool {
        let removed = self
            .bindings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(actor)
            .is_some();
        if removed {
            tracing::info!(actor, "actor unbound from {CAPABILITY}");
        }
        removed
    }

    /// Removes every binding.
    pub fn unbind_all(&self) {
        self.bindings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// `"memory"` or the (password-masked) Redis URL of `actor`'s store.
    pub fn backend(&self, actor: &str) -> Option<String> {
        self.bindings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(actor)
            .map(|b| b.backend.describe())
    }

    /// Runs `operation` with `payload` for `actor`, in `actor`'s store.
    pub async fn call(
        &self,
        actor: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, KvError> {
        let backend = self
            .bindings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(actor)
            .map(|b| Arc::clone(&b.backend))
            .ok_or_else(|| KvError::NotBound(actor.to_owned()))?;
        let command = Command::decode(operation, payload)?;
        tracing::trace!(actor, operation, "key-value call");
        backend.execute(command).await?.encode()
    }
}

/// The provider: [`KeyValue`] behind the [`Provider`] trait.
#[derive(Debug, Default)]
pub struct KeyValueProvider {
    store: KeyValue,
}

impl KeyValueProvider {
    /// A provider with no actor bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stores.
    pub fn store(&self) -> &KeyValue {
        &self.store
    }
}

impl Provider for KeyValueProvider {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(CAPABILITY, "Key-Value", env!("CARGO_PKG_VERSION"))
            .with_operations(OPERATIONS)
    }

    fn bind_actor(&self, binding: ActorBinding) -> Result<(), ProviderError> {
        Ok(self.store.bind(&binding.actor, &binding.values)?)
    }

    fn remove_actor(&self, actor: &str) -> Result<(), ProviderError> {
        self.store.unbind(actor);
        Ok(())
    }

    async fn handle_call(&self, call: Call) -> Result<Vec<u8>, ProviderError> {
        Ok(self
            .store
            .call(&call.actor, &call.operation, &call.payload)
            .await?)
    }

    fn stop(&self) {
        self.store.unbind_all();
    }
}
