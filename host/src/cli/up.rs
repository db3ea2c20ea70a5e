//! `trellis up`: run a host until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use trellis_host::{HostBuilder, HostConfig};
use trellis_manifest::Manifest;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// A manifest to apply at start (YAML or JSON); repeat for several.
    #[arg(short, long = "manifest", value_name = "FILE")]
    manifests: Vec<PathBuf>,
    /// Watch a folder of manifests (*.yaml, *.yml, *.json) and apply every
    /// change live: add, edit or delete a file; rebuild an actor or provider
    /// it names. A broken file keeps its last good version running.
    #[arg(short, long, value_name = "DIR")]
    watch: Option<PathBuf>,
    #[command(flatten)]
    call_timeout: CallTimeout,
    /// Largest memory one actor instance may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    memory_limit_mib: usize,
    /// Most instances of one actor running at once.
    #[arg(long, value_name = "N", default_value_t = 32)]
    max_instances: u32,
    /// Most instances of all actors together. Every actor keeps one warm
    /// instance, so this also bounds how many actors a host runs.
    #[arg(long, value_name = "N", default_value_t = HostConfig::default().max_total_instances)]
    max_total_instances: u32,
    /// Keep compiled actor code in this folder, so a restarted host loads it
    /// instead of compiling again [default: $XDG_CACHE_HOME/trellis/code,
    /// or $HOME/.cache/trellis/code]. A folder that cannot be used is warned
    /// about, and every module is compiled.
    #[arg(long, value_name = "DIR", env = "TRELLIS_CODE_CACHE")]
    code_cache: Option<PathBuf>,
    /// Keep no compiled code on disk: compile every module at every start.
    #[arg(long)]
    no_code_cache: bool,
    /// Run only actors issued by this account key (A…); repeat for several.
    #[arg(long = "allow-issuer", value_name = "ACCOUNT")]
    allowed_issuers: Vec<String>,
    /// Longest a graceful stop waits for calls in flight, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    shutdown_grace_ms: u64,
    #[command(flatten)]
    lattice: super::lattice::JoinArgs,
}

/// How long one call may take: on a host, and from `trellis call`.
#[derive(Debug, Args)]
pub struct CallTimeout {
    /// Longest one call may take, in milliseconds, wherever its target runs.
    #[arg(
        long = "call-timeout-ms",
        value_name = "MS",
        default_value_t = 10_000,
        env = "TRELLIS_CALL_TIMEOUT_MILLIS"
    )]
    millis: u64,
}

impl CallTimeout {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.millis)
    }
}

impl UpArgs {
    fn config(&self) -> HostConfig {
        HostConfig {
            max_instances_per_actor: self.max_instances,
            max_total_instances: self.max_total_instances,
            code_cache: self.code_cache_dir(),
            call_timeout: self.call_timeout.duration(),
            memory_limit: self.memory_limit_mib << 20,
            allowed_issuers: (!self.allowed_issuers.is_empty())
                .then(|| self.allowed_issuers.clone()),
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
        }
    }

    /// The code cache folder asked for, or the user's cache folder.
    fn code_cache_dir(&self) -> Option<PathBuf> {
        if self.no_code_cache {
            return None;
        }
        let dir = self.code_cache.clone().or_else(default_code_cache_dir);
        if dir.is_none() {
            tracing::warn!(
                "no code cache: neither XDG_CACHE_HOME nor HOME is set (use --code-cache DIR)"
            );
        }
        dir
    }
}

/// `$XDG_CACHE_HOME/trellis/code`, else `$HOME/.cache/trellis/code`.
fn default_code_cache_dir() -> Option<PathBuf> {
    // The XDG spec says to ignore a relative XDG_CACHE_HOME.
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    let cache =
        absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".cache")))?;
    Some(cache.join("trellis").join("code"))
}

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("host")
        .build()
        .context("cannot start the host's runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: UpArgs) -> anyhow::Result<()> {
    // Read every manifest before starting anything: a typo fails fast.
    let manifests = args
        .manifests
        .iter()
        .map(|path| Manifest::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    let folder = args
        .watch
        .as_deref()
        .map(trellis_host::state::watch::ManifestFolder::new)
        .transpose()?;
    let host = std::sync::Arc::new(HostBuilder::new().config(args.config()).build()?);
    let lattice = super::lattice::Joined::join(&host, &args.lattice).await?;
    let outcome = run_until_stopped(&host, &manifests, folder).await;
    lattice.leave().await;
    host.shutdown().await;
    outcome
}

/// Applies `manifests`, each whole, then follows `folder` (if any) until a
/// stop signal: both are sources of the host's one desired state.
async fn run_until_stopped(
    host: &std::sync::Arc<trellis_host::Host>,
    manifests: &[Manifest],
    folder: Option<trellis_host::state::watch::ManifestFolder>,
) -> anyhow::Result<()> {
    for manifest in manifests {
        host.apply(manifest).await?;
        tracing::info!(manifest = %manifest.source.display(), "manifest applied");
    }
    let Some(folder) = folder else {
        if manifests.is_empty() {
            tracing::info!("no manifest given: the host runs empty");
        }
        tracing::info!("host ready; stop with Ctrl-C");
        return stop_signal().await;
    };
    let (status, _) = tokio::sync::watch::channel(Default::default());
    let stopped = async {
        if let Err(e) = stop_signal().await {
            tracing::error!("{e:#}");
        }
    };
    tracing::info!("host ready; stop with Ctrl-C");
    let host = std::sync::Arc::clone(host);
    Ok(trellis_host::state::watch::run(host, folder, status, stopped).await?)
}

/// Resolves on SIGINT or (on Unix) SIGTERM.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot watch SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot watch Ctrl-C")?;
    tracing::info!("stop signal received");
    Ok(())
}
