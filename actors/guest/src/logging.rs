//! Writing to the host's log through `wascc:logging` `WriteLog`.
//!
//! For a line that needs no capability, see [`crate::console_log`].
//!
//! ```no_run
//! use trellis_actor::logging;
//!
//! # fn f() -> Result<(), trellis_actor::Error> {
//! logging::write(logging::level::WARN, "disk almost full")?;
//! logging::info("started")?;
//! # Ok(()) }
//! ```

use crate::{codec::logging::WriteLogRequest, Error, DEFAULT_BINDING};

pub use trellis_codec::logging::{level, CAPABILITY, OP_WRITE_LOG};

/// Writes `text` at `level` (0 off … 5 trace, see [`level`]).
pub fn write(level: u32, text: &str) -> Result<(), Error> {
    write_on(DEFAULT_BINDING, level, text)
}

/// Writes `text` at `level` through the named binding.
pub fn write_on(binding: &str, level: u32, text: &str) -> Result<(), Error> {
    let request = WriteLogRequest {
        level,
        body: text.to_owned(),
    };
    crate::call_raw(binding, CAPABILITY, OP_WRITE_LOG, &request).map(drop)
}

/// Writes `text` at level error.
pub fn error(text: &str) -> Result<(), Error> {
    write(level::ERROR, text)
}

/// Writes `text` at level warn.
pub fn warn(text: &str) -> Result<(), Error> {
    write(level::WARN, text)
}

/// Writes `text` at level info.
pub fn info(text: &str) -> Result<(), Error> {
    write(level::INFO, text)
}

/// Writes `text` at level debug.
pub fn debug(text: &str) -> Result<(), Error> {
    write(level::DEBUG, text)
}

/// Writes `text` at level trace.
pub fn trace(text: &str) -> Result<(), Error> {
    write(level::TRACE, text)
}
