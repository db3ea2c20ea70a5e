//! The host's side of the provider ABI: how providers call actors and log.
//!
//! A failed call's text carries its kind ([`InvocationError::kind`]) for
//! providers that read kinds (SDK 0.1.1 and later); older providers get the
//! plain message.

use super::Bus;
use crate::invocation::{Invocation, InvocationError, Origin, Target};
use abi_stable::std_types::{RStr, RString, RVec};
use async_ffi::FfiFuture;
use std::sync::{Arc, Weak};
use tokio::runtime::Handle;
use trellis_provider_sdk::ffi::{reads_failure_kinds, FfiCallFuture, FfiDispatcher};
use trellis_provider_sdk::runtime::enter_on_poll;
use trellis_provider_sdk::CallError;

/// Handed to each provider instance.
#[derive(Clone)]
pub struct ProviderDispatcher {
    bus: Weak<Bus>,
    runtime: Handle,
    /// Shared with every call's future, which names it as the origin.
    provider: Arc<str>,
    reads_failure_kinds: bool,
}

impl ProviderDispatcher {
    /// A dispatcher for the provider named `provider` (used in its log
    /// lines), built with provider SDK `sdk_version`.
    pub fn new(bus: Weak<Bus>, runtime: Handle, provider: &str, sdk_version: &str) -> Self {
        ProviderDispatcher {
            bus,
            runtime,
            provider: Arc::from(provider),
            reads_failure_kinds: reads_failure_kinds(sdk_version),
        }
    }
}

/// The error text a provider gets for `error`: its kind in front when the
/// provider reads kinds.
fn error_text(error: InvocationError, reads_failure_kinds: bool) -> RString {
    let message = error.to_string();
    if reads_failure_kinds {
        CallError::new(error.kind(), message).into_ffi_text()
    } else {
        RString::from(message)
    }
}

impl FfiDispatcher for ProviderDispatcher {
    fn invoke(&self, actor: RStr<'_>, operation: RStr<'_>, payload: RVec<u8>) -> FfiCallFuture {
        let (bus, provider) = (self.bus.clone(), Arc::clone(&self.provider));
        let kinds = self.reads_failure_kinds;
        let (actor, operation) = (actor.as_str().to_owned(), operation.as_str().to_owned());
        // The provider polls this future on its own threads, where the host's
        // tokio sees no runtime: enter ours for each poll (timers need it).
        FfiFuture::new(enter_on_poll(self.runtime.clone(), async move {
            let Some(bus) = bus.upgrade() else {
                return Err(error_text(InvocationError::ShuttingDown, kinds)).into();
            };
            let origin = Origin::Provider(&provider);
            let invocation = Invocation::new(
                origin,
                Target::Actor(&actor),
                &operation,
                payload.into_vec(),
            );
            bus.call(invocation)
                .await
                .map(RVec::from)
                .map_err(|e| error_text(e, kinds))
                .into()
        }))
    }

    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>) {
        let (provider, target) = (&*self.provider, target.as_str());
        match level {
            1 => {
                tracing::error!(target: "trellis::provider", provider, source = target, "{message}")
            }
            2 => {
                tracing::warn!(target: "trellis::provider", provider, source = target, "{message}")
            }
            3 => {
                tracing::info!(target: "trellis::provider", provider, source = target, "{message}")
            }
            4 => {
                tracing::debug!(target: "trellis::provider", provider, source = target, "{message}")
            }
            _ => {
                tracing::trace!(target: "trellis::provider", provider, source = target, "{message}")
            }
        }
    }
}
