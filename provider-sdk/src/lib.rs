//! Write a Trellis capability provider.
//!
//! A provider is a Rust `cdylib` that the host loads at run time. It offers one
//! capability (`wascc:http_server`, `wascc:keyvalue`, …) to actors, and may call
//! actors itself (an HTTP server hands each request to its bound actor).
//!
//! You implement [`Provider`] on an ordinary Rust type and export it with
//! [`export_provider!`]. You write no `unsafe` and touch no FFI type: the SDK
//! generates a root module in a checked stable ABI ([`ffi`]), and the host
//! verifies its layout and this SDK's version before it calls anything.
//!
//! Your constructor gets a [`HostHandle`], a handle on the host that loaded the
//! library: [`HostHandle::invoke`] calls actors, and a failed call is a
//! [`CallError`] whose [`CallErrorKind`] says why (no instance could take it,
//! it timed out, the actor failed), so that, e.g., an HTTP server can answer
//! 503, 504 or 500.
//!
//! Each provider library runs its own tokio runtime ([`runtime`]): every call
//! into your provider runs inside it, so `tokio::spawn`, timers and sockets
//! work as usual. Panics are caught at the boundary and become errors for that
//! call.
//!
//! ```
//! use trellis_provider_sdk::{Call, Descriptor, HostHandle, Provider, ProviderError};
//!
//! struct Upper;
//!
//! impl Provider for Upper {
//!     fn descriptor(&self) -> Descriptor {
//!         Descriptor::new("example:upper", "Upper-caser", env!("CARGO_PKG_VERSION"))
//!             .with_operations(["Upper"])
//!     }
//!
//!     async fn handle_call(&self, call: Call) -> Result<Vec<u8>, ProviderError> {
//!         match call.operation.as_str() {
//!             "Upper" => Ok(call.payload.to_ascii_uppercase()),
//!             other => Err(ProviderError::unknown_operation(other)),
//!         }
//!     }
//! }
//!
//! fn new(_host: HostHandle) -> Result<Upper, ProviderError> {
//!     Ok(Upper)
//! }
//!
//! // In the provider crate (crate-type = ["cdylib"], with `abi_stable` as a
//! // direct dependency):
//! trellis_provider_sdk::export_provider!(new);
//! ```

mod call_error;
pub mod ffi;
mod host;
mod instance;
mod log_forward;
pub mod runtime;
mod url;

pub use call_error::{CallError, CallErrorKind};
pub use host::HostHandle;
pub use trellis_codec as codec;
pub use url::mask_password;

use std::collections::HashMap;
use std::future::Future;

/// One call from an actor.
#[derive(Debug, Clone)]
pub struct Call {
    /// The calling actor's public key.
    pub actor: String,
    /// The operation, e.g. `Get`.
    pub operation: String,
    /// The payload, usually MessagePack (see [`codec`]).
    pub payload: Vec<u8>,
}

/// A binding of an actor to this provider.
#[derive(Debug, Clone)]
pub struct ActorBinding {
    /// The actor's public key.
    pub actor: String,
    /// The binding's values from the manifest, plus the actor's claims under
    /// the `__wascc_*` keys.
    pub values: HashMap<String, String>,
}

impl ActorBinding {
    /// A binding of `actor` with `values`, as a provider's own tests make them:
    ///
    /// ```
    /// let binding = trellis_provider_sdk::ActorBinding::new("MACTOR", &[("PORT", "8080")]);
    /// assert_eq!(binding.values["PORT"], "8080");
    /// ```
    pub fn new(actor: &str, values: &[(&str, &str)]) -> ActorBinding {
        ActorBinding {
            actor: actor.to_string(),
            values: values
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        }
    }
}

/// What a provider says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The capability id, e.g. `wascc:keyvalue`.
    pub capability_id: String,
    /// A human-readable name.
    pub name: String,
    /// The provider's semver version.
    pub version: String,
    /// The operations actors may call.
    pub operations: Vec<String>,
}

impl Descriptor {
    /// A descriptor with no operations listed yet.
    pub fn new(capability_id: &str, name: &str, version: &str) -> Self {
        Descriptor {
            capability_id: capability_id.into(),
            name: name.into(),
            version: version.into(),
            operations: Vec::new(),
        }
    }

    /// Lists the operations actors may call.
    pub fn with_operations<I, S>(mut self, operations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.operations = operations.into_iter().map(Into::into).collect();
        self
    }
}

/// An error a provider returns to its caller. It crosses the boundary as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError(String);

impl ProviderError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError(message.into())
    }

    /// The error for an operation the provider does not implement.
    pub fn unknown_operation(operation: &str) -> Self {
        ProviderError(format!("unknown operation '{operation}'"))
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProviderError {}

impl From<String> for ProviderError {
    fn from(message: String) -> Self {
        ProviderError(message)
    }
}

impl From<&str> for ProviderError {
    fn from(message: &str) -> Self {
        ProviderError(message.into())
    }
}

impl From<codec::CodecError> for ProviderError {
    fn from(e: codec::CodecError) -> Self {
        ProviderError(e.to_string())
    }
}

/// A capability provider. One value of this type serves one binding name.
pub trait Provider: Send + Sync + 'static {
    /// Says what the provider is; called once, when the host loads it.
    fn descriptor(&self) -> Descriptor;

    /// An actor was bound to this provider (e.g. start an HTTP server on its `PORT`).
    fn bind_actor(&self, binding: ActorBinding) -> Result<(), ProviderError> {
        let _ = binding;
        Ok(())
    }

    /// An actor's binding was removed: release what [`Provider::bind_actor`] took.
    fn remove_actor(&self, actor: &str) -> Result<(), ProviderError> {
        let _ = actor;
        Ok(())
    }

    /// An actor calls the provider. The future runs inside the provider's own
    /// runtime context, on the thread that awaits it.
    fn handle_call(
        &self,
        call: Call,
    ) -> impl Future<Output = Result<Vec<u8>, ProviderError>> + Send;

    /// The host stops using this instance.
    fn stop(&self) {}
}

/// Exports a provider from a `cdylib`.
///
/// Give it a function `fn(HostHandle) -> Result<P, ProviderError>` where `P:
/// Provider`. The crate must depend on `abi_stable` directly (the generated
/// export refers to `::abi_stable`).
#[macro_export]
macro_rules! export_provider {
    ($constructor:path) => {
        #[::abi_stable::export_root_module]
        pub fn trellis_provider_root_module() -> $crate::ffi::ProviderModuleRef {
            extern "C" fn new_instance(
                context: $crate::ffi::FfiHostContext,
            ) -> ::abi_stable::std_types::RResult<
                $crate::ffi::FfiProviderBox,
                ::abi_stable::std_types::RString,
            > {
                $crate::__private::instantiate(context, $constructor)
            }
            $crate::__private::root_module(new_instance)
        }
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::instance::{instantiate, root_module};
}
