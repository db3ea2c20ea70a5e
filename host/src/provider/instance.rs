//! One running provider, serving one binding name.

use super::ProviderLibrary;
use abi_stable::std_types::{RStr, RString, RVec, Tuple2};
use std::collections::HashMap;
use std::path::PathBuf;
use trellis_provider_sdk::ffi::{FfiCallFuture, FfiDispatcherBox, FfiHostContext, FfiProviderBox};
use trellis_provider_sdk::Descriptor;

/// Why a provider instance could not start.
#[derive(Debug, thiserror::Error)]
#[error("{path}: provider failed to start: {message}")]
pub struct ProviderStartError {
    /// The library.
    pub path: PathBuf,
    /// What it said.
    pub message: String,
}

/// A provider instance.
pub struct ProviderInstance {
    path: PathBuf,
    binding: String,
    descriptor: Descriptor,
    inner: FfiProviderBox,
}

impl ProviderInstance {
    /// Creates an instance of `library` for `binding`.
    pub fn start(
        library: &ProviderLibrary,
        binding: &str,
        dispatcher: FfiDispatcherBox,
    ) -> Result<ProviderInstance, ProviderStartError> {
        let failed = |message: String| ProviderStartError {
            path: library.path().to_path_buf(),
            message,
        };
        let context = FfiHostContext {
            binding: RString::from(binding),
            dispatcher,
            max_log_level: max_log_level(),
        };
        let inner = (library.module().new())(context)
            .into_result()
            .map_err(|e| failed(e.into_string()))?;
        let d = inner
            .descriptor()
            .into_result()
            .map_err(|e| failed(format!("cannot describe itself: {e}")))?;
        let descriptor = Descriptor {
            capability_id: d.capability_id.into_string(),
            name: d.name.into_string(),
            version: d.version.into_string(),
            operations: d.operations.into_iter().map(RString::into_string).collect(),
        };
        Ok(ProviderInstance {
            path: library.path().to_path_buf(),
            binding: binding.to_string(),
            descriptor,
            inner,
        })
    }

    /// What the provider says it is.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The capability id.
    pub fn capability_id(&self) -> &str {
        &self.descriptor.capability_id
    }

    /// The binding name it serves.
    pub fn binding(&self) -> &str {
        &self.binding
    }

    /// The library file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Binds an actor with its values.
    pub fn bind_actor(&self, actor: &str, values: &HashMap<String, String>) -> Result<(), String> {
        let values: RVec<Tuple2<RString, RString>> = values
            .iter()
            .map(|(k, v)| Tuple2(RString::from(k.as_str()), RString::from(v.as_str())))
            .collect();
        self.inner
            .bind_actor(RStr::from_str(actor), values)
            .into_result()
            .map_err(RString::into_string)
    }

    /// Removes an actor's binding.
    pub fn remove_actor(&self, actor: &str) -> Result<(), String> {
        self.inner
            .remove_actor(RStr::from_str(actor))
            .into_result()
            .map_err(RString::into_string)
    }

    /// Calls `operation` on behalf of `actor`.
    pub fn call(&self, actor: &str, operation: &str, payload: Vec<u8>) -> FfiCallFuture {
        self.inner.handle_call(
            RStr::from_str(actor),
            RStr::from_str(operation),
            RVec::from(payload),
        )
    }

    /// Stops the instance (its library stays loaded).
    pub fn stop(&self) {
        self.inner.stop();
    }
}

impl std::fmt::Debug for ProviderInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInstance")
            .field("path", &self.path)
            .field("binding", &self.binding)
            .field("descriptor", &self.descriptor)
            .finish_non_exhaustive()
    }
}

/// The host's most detailed enabled level, 1 error … 5 trace.
fn max_log_level() -> u8 {
    use tracing::level_filters::LevelFilter;
    match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => 1,
        LevelFilter::WARN => 2,
        LevelFilter::INFO => 3,
        LevelFilter::DEBUG => 4,
        _ => 5,
    }
}
