//! Turns an author's [`Provider`] into the FFI-safe [`FfiProvider`].
//!
//! Every entry point enters the library's own runtime (so the provider's
//! tokio calls find their reactor whichever thread called) and catches panics
//! (a panic must never unwind into the host: abi_stable would abort the
//! process). Calls are polled on the caller's thread: no thread hop unless the
//! provider itself awaits work that lives elsewhere.

use crate::ffi::{
    FfiCallFuture, FfiCallResult, FfiDescriptor, FfiHostContext, FfiProvider, FfiProviderBox,
    FfiProvider_TO, FfiValues, ProviderModule, ProviderModuleRef, SDK_VERSION,
};
use crate::{log_forward, runtime, ActorBinding, Call, HostHandle, Provider, ProviderError};
use abi_stable::{
    prefix_type::PrefixTypeTrait,
    sabi_trait::TD_Opaque,
    std_types::{RErr, ROk, RResult, RStr, RString, RVec},
};
use async_ffi::FfiFuture;
use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Poll;
use tokio::runtime::Handle;

/// The root module of a provider library; `new` creates instances.
pub fn root_module(
    new: extern "C" fn(FfiHostContext) -> RResult<FfiProviderBox, RString>,
) -> ProviderModuleRef {
    ProviderModule {
        sdk_version: RStr::from_str(SDK_VERSION),
        new,
    }
    .leak_into_prefix()
}

/// Creates one instance with the author's constructor.
pub fn instantiate<P, F>(
    context: FfiHostContext,
    constructor: F,
) -> RResult<FfiProviderBox, RString>
where
    P: Provider,
    F: FnOnce(HostHandle) -> Result<P, ProviderError>,
{
    let created = guarded(|| {
        log_forward::install(context.dispatcher.clone(), context.max_log_level);
        let runtime = runtime::handle()?;
        let _entered = runtime.enter();
        let host = HostHandle::new(context.binding.into_string(), context.dispatcher);
        let provider = constructor(host).map_err(|e| e.to_string())?;
        let instance = Instance {
            provider: Arc::new(provider),
            runtime,
        };
        Ok(FfiProvider_TO::from_value(instance, TD_Opaque))
    });
    created.map_err(RString::from).into()
}

struct Instance<P> {
    provider: Arc<P>,
    runtime: Handle,
}

impl<P: Provider> Instance<P> {
    /// Runs `f` inside the provider's runtime, turning a panic into an error.
    fn enter<T>(&self, f: impl FnOnce() -> Result<T, String>) -> RResult<T, RString> {
        let _entered = self.runtime.enter();
        guarded(f).map_err(RString::from).into()
    }
}

impl<P: Provider> FfiProvider for Instance<P> {
    fn descriptor(&self) -> RResult<FfiDescriptor, RString> {
        self.enter(|| {
            let d = self.provider.descriptor();
            Ok(FfiDescriptor {
                capability_id: d.capability_id.into(),
                name: d.name.into(),
                version: d.version.into(),
                operations: d.operations.into_iter().map(RString::from).collect(),
            })
        })
    }

    fn bind_actor(&self, actor: RStr<'_>, values: FfiValues) -> RResult<(), RString> {
        let binding = ActorBinding {
            actor: actor.to_string(),
            values: values
                .into_iter()
                .map(|pair| (pair.0.into_string(), pair.1.into_string()))
                .collect(),
        };
        self.enter(|| self.provider.bind_actor(binding).map_err(|e| e.to_string()))
    }

    fn remove_actor(&self, actor: RStr<'_>) -> RResult<(), RString> {
        self.enter(|| {
            self.provider
                .remove_actor(actor.as_str())
                .map_err(|e| e.to_string())
        })
    }

    fn handle_call(
        &self,
        actor: RStr<'_>,
        operation: RStr<'_>,
        payload: RVec<u8>,
    ) -> FfiCallFuture {
        let call = Call {
            actor: actor.to_string(),
            operation: operation.to_string(),
            payload: payload.into_vec(),
        };
        let provider = Arc::clone(&self.provider);
        FfiFuture::new(in_runtime(self.runtime.clone(), async move {
            provider.handle_call(call).await
        }))
    }

    fn stop(&self) {
        if let RErr(e) = self.enter(|| {
            self.provider.stop();
            Ok(())
        }) {
            tracing::error!("provider failed to stop: {e}");
        }
    }
}

/// Polls `call` inside `runtime`'s context, converting its output (or its
/// panic) into the FFI result. The call's synchronous part runs in the first
/// poll, so a panic there is caught too.
fn in_runtime<F>(runtime: Handle, call: F) -> impl Future<Output = FfiCallResult> + Send
where
    F: Future<Output = Result<Vec<u8>, ProviderError>> + Send,
{
    runtime::enter_on_poll(runtime, async move {
        let mut call = std::pin::pin!(call);
        poll_fn(
            move |cx| match catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(Ok(reply))) => Poll::Ready(ROk(RVec::from(reply))),
                Ok(Poll::Ready(Err(e))) => Poll::Ready(RErr(RString::from(e.to_string()))),
                Err(panic) => Poll::Ready(RErr(RString::from(panic_message(&*panic)))),
            },
        )
        .await
    })
}

/// Runs `f`, turning a panic into an error message.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| Err(panic_message(&*panic)))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    format!("provider panicked: {detail}")
}
