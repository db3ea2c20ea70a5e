//! Calling another actor: a host call whose namespace is the target's public key (`M…`).
//!
//! ```no_run
//! # fn f() -> Result<(), trellis_actor::HostError> {
//! let reply = trellis_actor::actor::call(
//!     "MB4OLDIC3TCZ4Q4TGGOVAZC43VXFE2JQVRAXQMQFXUCREOOFEKOKZTY2",
//!     "Echo",
//!     b"ping",
//! )?;
//! # let _ = reply; Ok(()) }
//! ```

use crate::{host_call, HostError, DEFAULT_BINDING};

/// Calls `operation` of the actor `actor_key` with `payload` (binding `default`).
pub fn call(actor_key: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, HostError> {
    host_call(DEFAULT_BINDING, actor_key, operation, payload)
}
