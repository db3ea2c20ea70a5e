//! The Redis backend: one `ConnectionManager` per binding, every call bounded
//! by a timeout.

use crate::command::{Command, Reply};
use crate::KvError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, RedisError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use trellis_provider_sdk::mask_password;

/// A Redis server reached through one URL.
pub(crate) struct RedisStore {
    /// The URL with any password masked, for messages.
    display_url: String,
    client: Client,
    timeout: Duration,
    /// Connected on first use, so that a binding succeeds while Redis is
    /// down; reconnects are the manager's business after that.
    manager: Mutex<Option<ConnectionManager>>,
    /// Whether the last call reached Redis: logs each change, not each failure.
    reachable: AtomicBool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.display_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `url`; checks the URL but does not connect.
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<RedisStore, KvError> {
        let display_url = mask_password(url);
        let client = Client::open(url).map_err(|e| KvError::BadUrl {
            url: display_url.clone(),
            reason: e.to_string(),
        })?;
        Ok(RedisStore {
            display_url,
            client,
            timeout,
            manager: Mutex::new(None),
            reachable: AtomicBool::new(true),
        })
    }

    pub(crate) fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Runs `command`, failing with [`KvError::Timeout`] after the timeout.
    pub(crate) async fn execute(&self, command: Command) -> Result<Reply, KvError> {
        let result = match tokio::time::timeout(self.timeout, self.run(command)).await {
            Ok(result) => result.map_err(|e| self.error(e)),
            Err(_) => Err(KvError::Timeout {
                url: self.display_url.clone(),
                millis: self.timeout.as_millis(),
            }),
        };
        match &result {
            Err(e @ (KvError::Redis { .. } | KvError::Timeout { .. })) => {
                if self.reachable.swap(false, Ordering::Relaxed) {
                    tracing::warn!(url = %self.display_url, "Redis unavailable: {e}");
                }
            }
            _ => {
                if !self.reachable.swap(true, Ordering::Relaxed) {
                    tracing::info!(url = %self.display_url, "Redis reachable again");
                }
            }
        }
        result
    }

    /// The connection manager, connecting first if this is the first use
    /// (or the first connection attempts failed).
    async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let mut manager = self.manager.lock().await;
        if let Some(manager) = manager.as_ref() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            // No backoff retries (their first delay is a fixed second):
            // callers hear of an outage at once, and every call that finds
            // the connection broken starts one new connection attempt, so
            // the first calls after Redis is back reconnect it.
            .set_number_of_retries(0);
        let connected = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        tracing::info!(url = %self.display_url, "connected to Redis");
        *manager = Some(connected.clone());
        Ok(connected)
    }

    async fn run(&self, command: Command) -> Result<Reply, RedisError> {
        let mut c = self.connection().await?;
        Ok(match command {
            Command::Get(key) => Reply::Value(c.get(key).await?),
            Command::Set {
                key,
                value,
                expires,
            } => {
                if expires > 0 {
                    let () = c.set_ex(&key, &value, u64::from(expires)).await?;
                } else {
                    let () = c.set(&key, &value).await?;
                }
                Reply::Stored(value)
            }
            Command::Add { key, delta } => Reply::Counter(c.incr(key, delta).await?),
            Command::Del(key) => {
                let _: i64 = c.del(&key).await?;
                Reply::Deleted(key)
            }
            Command::Exists(key) => Reply::Exists(c.exists(key).await?),
            Command::Push { key, value } => Reply::Count(c.rpush(key, value).await?),
            Command::ListItemDelete { key, value } => {
                let (_, len): (i64, i64) = redis::pipe()
                    .atomic()
                    .lrem(&key, 0, value)
                    .llen(&key)
                    .query_async(&mut c)
                    .await?;
                Reply::Count(len)
            }
            Command::Clear(key) => {
                let _: i64 = c.del(key).await?;
                Reply::Count(0)
            }
            Command::Range { key, start, stop } => {
                Reply::Values(c.lrange(key, start as isize, stop as isize).await?)
            }
            Command::SetAdd { key, value } => {
                let (_, len): (i64, i64) = redis::pipe()
                    .atomic()
                    .sadd(&key, value)
                    .scard(&key)
                    .query_async(&mut c)
                    .await?;
                Reply::Count(len)
            }
            Command::SetRemove { key, value } => {
                let (_, len): (i64, i64) = redis::pipe()
                    .atomic()
                    .srem(&key, value)
                    .scard(&key)
                    .query_async(&mut c)
                    .await?;
                Reply::Count(len)
            }
            Command::SetQuery(key) => Reply::Values(sorted(c.smembers(key).await?)),
            // SUNION and SINTER need at least one key.
            Command::SetUnion(keys) if keys.is_empty() => Reply::Values(Vec::new()),
            Command::SetIntersection(keys) if keys.is_empty() => Reply::Values(Vec::new()),
            Command::SetUnion(keys) => Reply::Values(sorted(c.sunion(keys).await?)),
            Command::SetIntersection(keys) => Reply::Values(sorted(c.sinter(keys).await?)),
        })
    }

    /// A server error reads as Redis wrote it (`WRONGTYPE Operation …`, the
    /// same text the in-memory backend gives); anything else says which
    /// Redis failed.
    fn error(&self, e: RedisError) -> KvError {
        if let (Some(code), Some(detail)) = (e.code(), e.detail()) {
            return KvError::Server(format!("{code} {detail}"));
        }
        tracing::debug!(url = %self.display_url, "Redis call failed: {e}");
        if e.is_timeout() {
            return KvError::Timeout {
                url: self.display_url.clone(),
                millis: self.timeout.as_millis(),
            };
        }
        KvError::Redis {
            url: self.display_url.clone(),
            message: e.to_string(),
        }
    }
}

/// Set members in a stable order (the in-memory backend's order).
fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort_unstable();
    values
}
