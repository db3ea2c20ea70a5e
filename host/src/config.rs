//! Limits and policies of a host, with defaults that suit one laptop.

use std::path::PathBuf;
use std::time::Duration;

/// How a host runs its actors. Build one with [`crate::HostBuilder`].
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Most instances of one actor that run at once; more calls wait their turn.
    pub max_instances_per_actor: u32,
    /// Most instances of all actors together (sizes the pooling allocator).
    /// Every actor keeps one warm instance, so this also bounds how many
    /// actors run. Each slot reserves 4 GiB of address space (nothing
    /// resident until used) and about half a KiB of memory: the default
    /// leaves room for 1,000 actors and as many calls beyond their first
    /// instance, while several hosts still fit in one process.
    pub max_total_instances: u32,
    /// Longest one invocation may take, the actor's own work and its host calls included.
    pub call_timeout: Duration,
    /// Largest linear memory one actor instance may grow to, in bytes.
    pub memory_limit: usize,
    /// When set, only actors issued by these account keys (`A…`) may run.
    pub allowed_issuers: Option<Vec<String>>,
    /// Longest a graceful stop waits for calls in flight.
    pub shutdown_grace: Duration,
    /// A folder where compiled actor code is kept across restarts, so a host
    /// that starts again loads it instead of compiling (`None`: compile every
    /// module at every start). A folder that cannot be used is warned about
    /// and ignored.
    pub code_cache: Option<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            max_instances_per_actor: 32,
            max_total_instances: 4096,
            call_timeout: Duration::from_secs(10),
            memory_limit: 64 << 20,
            allowed_issuers: None,
            shutdown_grace: Duration::from_secs(10),
            code_cache: None,
        }
    }
}
