//! A stand-in waPC host for native unit tests (not built for `wasm32`).
//!
//! [`call`] drives the guest exactly as a host does — `__guest_call`, then the
//! guest fetches the op and payload and answers with `__guest_response` or
//! `__guest_error` — so handlers, dispatch and the typed clients can be tested
//! with `cargo test`. Host calls made by the guest go to the closure given to
//! [`set_host`]. State is per thread: each test sees its own host.
//!
//! ```
//! use trellis_actor::{testing, HandlerResult};
//!
//! fn shout(payload: &[u8]) -> HandlerResult {
//!     Ok(payload.to_ascii_uppercase())
//! }
//!
//! trellis_actor::register_function("Shout", shout);
//! assert_eq!(testing::call("Shout", b"hi").unwrap(), b"HI");
//! assert_eq!(testing::call("Whisper", b"hi").unwrap_err(), "bad dispatch: Whisper");
//! ```

use std::cell::RefCell;

/// What the stand-in host answers to a host call: `(binding, namespace, operation, payload)`.
pub type HostFn = Box<dyn FnMut(&str, &str, &str, &[u8]) -> Result<Vec<u8>, String>>;

#[derive(Default)]
pub(crate) struct State {
    pub(crate) pending: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) guest_response: Option<Vec<u8>>,
    pub(crate) guest_error: Option<String>,
    pub(crate) host: Option<HostFn>,
    pub(crate) host_result: Option<Result<Vec<u8>, String>>,
    pub(crate) console: Vec<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

pub(crate) fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// Calls operation `op` of the guest with `payload`, as a host would.
///
/// `Ok` carries the bytes the guest gave to `__guest_response`, `Err` the text
/// it gave to `__guest_error` when `__guest_call` returned 0.
pub fn call(op: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
    with_state(|s| {
        s.pending = Some((op.as_bytes().to_vec(), payload.to_vec()));
        s.guest_response = None;
        s.guest_error = None;
    });
    let rc = crate::guest_call(op.len() as i32, payload.len() as i32);
    with_state(|s| {
        s.pending = None;
        match rc {
            1 => Ok(s.guest_response.take().unwrap_or_default()),
            0 => Err(s.guest_error.take().unwrap_or_default()),
            other => Err(format!("__guest_call returned {other}")),
        }
    })
}

/// Answers the guest's host calls on this thread with `f(binding, namespace, operation, payload)`.
pub fn set_host(f: impl FnMut(&str, &str, &str, &[u8]) -> Result<Vec<u8>, String> + 'static) {
    with_state(|s| s.host = Some(Box::new(f)));
}

/// Removes the stand-in host: host calls fail again.
pub fn clear_host() {
    with_state(|s| s.host = None);
}

/// Returns and forgets the lines the guest wrote with `__console_log` on this thread.
pub fn take_console() -> Vec<String> {
    with_state(|s| std::mem::take(&mut s.console))
}
