//! The provider library's own tokio runtime.
//!
//! A tokio runtime cannot be shared across separately compiled binaries: the
//! host and each provider library carry their own copy of tokio, with their
//! own thread-locals. So each provider library starts one multi-threaded
//! runtime of its own, the first time the host creates an instance, and every
//! call into the provider enters it. It lives as long as the process (the
//! library is never unloaded).

use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The library's runtime, started on first use.
pub fn handle() -> Result<Handle, String> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("provider")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the provider's runtime: {e}"))
        })
        .as_ref()
        .map(|runtime| runtime.handle().clone())
        .map_err(Clone::clone)
}

/// Polls `future` inside `handle`'s runtime context, whichever thread polls it.
///
/// Futures cross the library boundary and get polled by threads of the other
/// side, where this copy of tokio sees no runtime: a timer or socket created
/// there would panic with "no reactor running". Entering the right runtime for
/// the duration of each poll is a thread-local write, much cheaper than moving
/// the work to one of that runtime's threads.
pub async fn enter_on_poll<F: Future>(handle: Handle, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        let _entered = handle.enter();
        future.as_mut().poll(cx)
    })
    .await
}
