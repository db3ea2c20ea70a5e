//! `wascc:logging`: actors write log lines into the host's log.

use serde::{Deserialize, Serialize};

/// The capability id.
pub const CAPABILITY: &str = "wascc:logging";
/// Actor → provider: write one line.
pub const OP_WRITE_LOG: &str = "WriteLog";

/// Log levels as waSCC numbered them.
pub mod level {
    /// Logging off.
    pub const OFF: u32 = 0;
    /// Errors.
    pub const ERROR: u32 = 1;
    /// Warnings.
    pub const WARN: u32 = 2;
    /// Information.
    pub const INFO: u32 = 3;
    /// Debugging detail.
    pub const DEBUG: u32 = 4;
    /// Tracing detail.
    pub const TRACE: u32 = 5;
}

/// One log line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WriteLogRequest {
    /// 0 off … 5 trace, see [`level`].
    pub level: u32,
    /// The text.
    pub body: String,
}
