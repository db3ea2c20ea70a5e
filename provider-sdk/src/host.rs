//! The host, as a provider sees it: a way to call actors.

use crate::ffi::FfiDispatcherBox;
use crate::CallError;
use abi_stable::std_types::{RStr, RVec};
use std::future::Future;

/// A provider's handle on the host that loaded it. Cheap to clone.
#[derive(Clone)]
pub struct HostHandle {
    binding: String,
    dispatcher: FfiDispatcherBox,
}

impl HostHandle {
    pub(crate) fn new(binding: String, dispatcher: FfiDispatcherBox) -> Self {
        HostHandle {
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
    /// A failure comes back as a [`CallError`]: its [`CallError::kind`] says
    /// whether no instance could take the call, it timed out, or the actor
    /// itself failed. From a host older than SDK 0.1.1 every kind is
    /// [`CallErrorKind::Other`](crate::CallErrorKind::Other).
    ///
    /// A local actor runs on the thread that polls the returned future: await
    /// it from the task that needs the answer rather than spawning a task for
    /// it, which would cost a thread hop.
    pub fn invoke(
        &self,
        actor: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, CallError>> + Send + 'static {
        let call = self.dispatcher.invoke(
            RStr::from_str(actor),
            RStr::from_str(operation),
            RVec::from(payload),
        );
        async move {
            call.await
                .into_result()
                .map(RVec::into_vec)
                .map_err(CallError::from_ffi_text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{FfiCallFuture, FfiDispatcher, FfiDispatcher_TO};
    use crate::CallErrorKind;
    use abi_stable::sabi_trait::TD_Opaque;
    use abi_stable::std_types::{RArc, RErr, RString};
    use async_ffi::FfiFuture;

    /// A dispatcher as a host built with SDK 0.1.0 has it: `invoke` and
    /// `log` only, every failure a text.
    #[derive(Clone)]
    struct TextOnlyDispatcher;

    impl FfiDispatcher for TextOnlyDispatcher {
        fn invoke(&self, actor: RStr<'_>, _: RStr<'_>, _: RVec<u8>) -> FfiCallFuture {
            let message = RString::from(format!("no actor {actor} is running"));
            FfiFuture::new(async move { RErr(message) })
        }

        fn log(&self, _: u8, _: RStr<'_>, _: RStr<'_>) {}
    }

    #[tokio::test]
    async fn a_host_without_failure_kinds_gives_every_failure_as_other() {
        let dispatcher = FfiDispatcher_TO::from_ptr(RArc::new(TextOnlyDispatcher), TD_Opaque);
        let host = HostHandle::new("default".into(), dispatcher);
        let error = host.invoke("MACTOR", "Ping", Vec::new()).await.unwrap_err();
        assert_eq!(error.kind(), CallErrorKind::Other);
        assert_eq!(error.message(), "no actor MACTOR is running");
    }
}
