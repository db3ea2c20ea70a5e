//! Write Trellis actors in Rust.
//!
//! An actor is a `cdylib` built for `wasm32-unknown-unknown`. The Trellis host
//! (and any waPC host) calls it by operation name with a MessagePack payload;
//! the actor answers with bytes or an error text, and may call capability
//! providers and other actors in between. This crate implements the guest side
//! of the waPC ABI itself (no `wapc-guest` dependency): it exports
//! `__guest_call` and imports only functions of module `wapc`.
//!
//! An actor registers one [`Handler`] per operation when the host calls its
//! `wapc_init` export; the [`actor!`] macro writes that export:
//!
//! ```
//! use trellis_actor::{http, keyvalue, HandlerResult};
//!
//! fn handle_request(payload: &[u8]) -> HandlerResult {
//!     http::handle(payload, |request| {
//!         let hits = keyvalue::add(&request.path, 1)?;
//!         Ok(http::ok(format!("{} was visited {hits} times", request.path)))
//!     })
//! }
//!
//! trellis_actor::actor! {
//!     http::OP_HANDLE_REQUEST => handle_request,
//! }
//! # fn main() {
//! #     use trellis_actor::{codec, testing};
//! #     testing::set_host(|_binding, _ns, _op, _payload| {
//! #         Ok(codec::encode(&codec::keyvalue::AddResponse { value: 3 }).unwrap())
//! #     });
//! #     wapc_init();
//! #     let request = http::Request { path: "/a".into(), ..Default::default() };
//! #     let reply = testing::call("HandleRequest", &codec::encode(&request).unwrap()).unwrap();
//! #     let reply: http::Response = codec::decode(&reply).unwrap();
//! #     assert_eq!(reply.body, b"/a was visited 3 times");
//! # }
//! ```
//!
//! Writing the export by hand is equivalent:
//!
//! ```
//! # fn handle_request(_: &[u8]) -> trellis_actor::HandlerResult { Ok(vec![]) }
//! #[no_mangle]
//! pub extern "C" fn wapc_init() {
//!     trellis_actor::register_function("HandleRequest", handle_request);
//! }
//! ```
//!
//! An operation with no handler fails with `bad dispatch: <op>`, the way
//! Rust waSCC guests answer. A handler's `Err` becomes the call's error text.
//! A panic traps the instance (on wasm32 a panic aborts); its message is
//! written to the host's log with `__console_log` first.
//!
//! Calling out: [`host_call`] is the raw waPC host call; the typed clients
//! [`http_client`], [`keyvalue`], [`logging`], [`messaging`] and [`actor`](mod@actor)
//! encode the `wascc:*` payloads of [`trellis_codec`] (re-exported as
//! [`codec`]) and use the binding `default`. Outside wasm32 the host is the
//! stand-in of [`testing`], for unit tests.

#![warn(missing_docs)]
// Only the waPC imports (module `abi`) and the `#[no_mangle]` exports need it.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod abi;
pub mod actor;
pub mod http;
pub mod http_client;
pub mod keyvalue;
pub mod logging;
pub mod messaging;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use trellis_codec as codec;
pub use trellis_codec::core::OP_HEALTH_REQUEST;

use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// The binding name the typed clients use.
pub const DEFAULT_BINDING: &str = "default";

/// What a handler returns: the reply bytes, or an error whose text goes back to the caller.
pub type HandlerResult<T = Vec<u8>> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A handler for one operation: gets the call's payload, returns the reply.
pub type Handler = fn(&[u8]) -> HandlerResult;

/// The standard answer to [`OP_HEALTH_REQUEST`]: an empty reply once the
/// payload is a `HealthRequest`. Register it as
/// `trellis_actor::OP_HEALTH_REQUEST => trellis_actor::health`.
pub fn health(payload: &[u8]) -> HandlerResult {
    let _: codec::core::HealthRequest = codec::decode(payload)?;
    Ok(Vec::new())
}

static HANDLERS: Mutex<BTreeMap<String, Handler>> = Mutex::new(BTreeMap::new());

/// Registers `handler` for operation `op`, replacing any earlier one.
///
/// Call it from `wapc_init` (see [`actor!`]).
pub fn register_function(op: &str, handler: Handler) {
    install_panic_hook();
    HANDLERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(op.to_owned(), handler);
}

fn handler_for(op: &str) -> Option<Handler> {
    HANDLERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(op)
        .copied()
}

/// On wasm32 a panic aborts silently; log its message through the host first.
fn install_panic_hook() {
    #[cfg(target_arch = "wasm32")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| std::panic::set_hook(Box::new(|info| console_log(&info.to_string()))));
    }
}

/// The waPC entry point: the host starts a call with the lengths of the
/// operation name and the payload; the guest fetches both, dispatches, and
/// answers. Returns 1 on success, 0 on failure.
#[allow(unsafe_code)] // `#[no_mangle]` counts as unsafe code
#[no_mangle]
pub extern "C" fn __guest_call(op_len: i32, msg_len: i32) -> i32 {
    guest_call(op_len, msg_len)
}

/// The body of [`__guest_call`], a plain Rust function so that a panicking
/// handler unwinds normally in native tests (it cannot cross `extern "C"`).
pub(crate) fn guest_call(op_len: i32, msg_len: i32) -> i32 {
    let (Ok(op_len), Ok(msg_len)) = (usize::try_from(op_len), usize::try_from(msg_len)) else {
        abi::guest_error("bad call: negative length");
        return 0;
    };
    let mut op = vec![0u8; op_len];
    let mut msg = vec![0u8; msg_len];
    abi::guest_request(&mut op, &mut msg);
    let op = String::from_utf8_lossy(&op);

    let Some(handler) = handler_for(&op) else {
        abi::guest_error(&format!("bad dispatch: {op}"));
        return 0;
    };
    match handler(&msg) {
        Ok(reply) => {
            abi::guest_response(&reply);
            1
        }
        Err(e) => {
            abi::guest_error(&e.to_string());
            0
        }
    }
}

/// Writes `wapc_init`, registering one handler per operation.
///
/// ```
/// # use trellis_actor::HandlerResult;
/// # fn handle_request(_: &[u8]) -> HandlerResult { Ok(vec![]) }
/// trellis_actor::actor! {
///     "HandleRequest" => handle_request,
///     trellis_actor::OP_HEALTH_REQUEST => trellis_actor::health,
/// }
/// ```
#[macro_export]
macro_rules! actor {
    ($($op:expr => $handler:expr),* $(,)?) => {
        /// Registers this actor's handlers; the host calls it once after instantiation.
        #[allow(unsafe_code)] // `#[no_mangle]` counts as unsafe code
        #[no_mangle]
        pub extern "C" fn wapc_init() {
            $( $crate::register_function($op, $handler); )*
        }
    };
}

/// Writes a line to the host's log (waPC `__console_log`).
pub fn console_log(text: &str) {
    abi::console_log(text)
}

/// A host call that failed: the host's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub String);

impl HostError {
    /// The host's error text.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}

/// Asks the host to call `operation` of `namespace` (a capability id such as
/// `wascc:keyvalue`, or an actor's public key) through `binding`, with
/// `payload`. The call is synchronous; `Ok` carries the result bytes.
pub fn host_call(
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, HostError> {
    if abi::host_call(binding, namespace, operation, payload) {
        let mut result = vec![0u8; abi::host_response_len()];
        abi::host_response(&mut result);
        Ok(result)
    } else {
        let mut text = vec![0u8; abi::host_error_len()];
        abi::host_error(&mut text);
        Err(HostError(String::from_utf8_lossy(&text).into_owned()))
    }
}

/// Why a typed capability call failed.
#[derive(Debug)]
pub enum Error {
    /// The host call failed (not allowed, no provider bound, the provider failed …).
    Host(HostError),
    /// The request could not be encoded or the reply decoded.
    Codec(codec::CodecError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Host(e) => e.fmt(f),
            Error::Codec(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Host(e) => Some(e),
            Error::Codec(e) => Some(e),
        }
    }
}

impl From<HostError> for Error {
    fn from(e: HostError) -> Self {
        Error::Host(e)
    }
}

impl From<codec::CodecError> for Error {
    fn from(e: codec::CodecError) -> Self {
        Error::Codec(e)
    }
}

/// Encodes `request`, host-calls `capability`/`operation` on `binding`, returns the raw reply.
pub(crate) fn call_raw<Req: Serialize + ?Sized>(
    binding: &str,
    capability: &str,
    operation: &str,
    request: &Req,
) -> Result<Vec<u8>, Error> {
    let payload = codec::encode(request)?;
    Ok(host_call(binding, capability, operation, &payload)?)
}

/// Like [`call_raw`], decoding the reply as `Resp`.
pub(crate) fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
    binding: &str,
    capability: &str,
    operation: &str,
    request: &Req,
) -> Result<Resp, Error> {
    let reply = call_raw(binding, capability, operation, request)?;
    Ok(codec::decode(&reply)?)
}

#[cfg(test)]
mod tests;
