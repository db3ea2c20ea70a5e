//! Errors from building a host and applying manifests to it.

use crate::actor::engine::EngineError;
use crate::actor::ActorLoadError;
use crate::provider::{ProviderLoadError, ProviderStartError};
use std::path::PathBuf;
use trellis_manifest::ManifestError;

/// Why a host could not be built or a manifest could not be applied.
/// When `apply` fails, nothing of that manifest was left running.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The engine could not be set up.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// `HostBuilder::build` was called outside a tokio runtime.
    #[error("a host must be built inside a tokio runtime")]
    NoRuntime,
    /// The manifest could not be read or is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Files the manifest names do not exist.
    #[error("{manifest}: these files do not exist: {}", list(files))]
    MissingFiles {
        /// The manifest.
        manifest: PathBuf,
        /// The missing files.
        files: Vec<PathBuf>,
    },
    /// A file the manifests name could not be read (or copied).
    #[error("{path}: cannot read: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not a separate `source`).
        reason: std::io::Error,
    },
    /// An actor module was refused.
    #[error(transparent)]
    Actor(#[from] ActorLoadError),
    /// A provider library was refused.
    #[error(transparent)]
    ProviderLoad(#[from] ProviderLoadError),
    /// A provider instance failed to start.
    #[error(transparent)]
    ProviderStart(#[from] ProviderStartError),
    /// Two providers claim the same capability and binding name.
    #[error("{path}: a provider for {capability} with binding '{binding}' is already loaded")]
    DuplicateProvider {
        /// The second library.
        path: PathBuf,
        /// The capability id.
        capability: String,
        /// The binding name.
        binding: String,
    },
    /// A binding refers to something that does not exist.
    #[error("{manifest}: {entry}: {message}")]
    Binding {
        /// The manifest.
        manifest: PathBuf,
        /// e.g. `bindings[0]`.
        entry: String,
        /// What is wrong.
        message: String,
    },
    /// The provider refused the binding (e.g. its port is in use).
    #[error("binding actor {actor} to {capability} (binding '{binding}') failed: {message}")]
    Bind {
        /// The actor.
        actor: String,
        /// The capability id.
        capability: String,
        /// The binding name.
        binding: String,
        /// What the provider said.
        message: String,
    },
}

impl HostError {
    /// The same error, naming the provider library `file` where it named a
    /// private copy of it.
    pub(crate) fn naming(self, file: &std::path::Path) -> Self {
        match self {
            HostError::ProviderStart(e) => HostError::ProviderStart(ProviderStartError {
                path: file.to_path_buf(),
                ..e
            }),
            other => other,
        }
    }
}

fn list(files: &[PathBuf]) -> String {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    names.join(", ")
}
