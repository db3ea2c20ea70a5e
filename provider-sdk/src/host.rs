//! The host, as a provider sees it: a way to call actors.

use crate::ffi::FfiDispatcherBox;
use crate::ProviderError;
use abi_stable::std_types::{RStr, RVec};
use std::future::Future;

/// A provider's handle on the host that loaded it. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    binding: String,
    dispatcher: FfiDispatcherBox,
}

impl Host {
    pub(crate) fn new(binding: String, dispatcher: FfiDispatcherBox) -> Self {
        Host {
            binding,
            dispatcher,
        }
    }

    /// The binding name this provider instance serves.
    pub fn binding(&self) -> &str {
        &self.binding
    }

    /// Calls `operation` on the actor `actor` (its public key) with `payload`.
    ///
    /// A local actor runs on the thread that polls the returned future: await
    /// it from the task that needs the answer rather than spawning a task for
    /// it, which would cost a thread hop.
    pub fn invoke(
        &self,
        actor: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, ProviderError>> + Send + 'static {
        let call = self.dispatcher.invoke(
            RStr::from_str(actor),
            RStr::from_str(operation),
            RVec::from(payload),
        );
        async move {
            call.await
                .into_result()
                .map(RVec::into_vec)
                .map_err(|e| ProviderError::new(e.into_string()))
        }
    }
}
