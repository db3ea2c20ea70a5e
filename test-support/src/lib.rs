//! What the workspace's tests and benchmarks share, so that no test crate
//! keeps its own copy (as wasmtime's `crates/test-util`).
//!
//! - [`free_port`]: a loopback port nobody listens on, for servers a test starts.
//! - [`eventually`]: polls a condition until it holds or a deadline passes.
//! - [`Process`]: a child process killed when dropped, so a failing test
//!   leaves none behind.
//! - [`NatsServer`] and [`RedisServer`] (a [`Server`] of each kind): real
//!   servers on free loopback ports, ready when returned, restartable on
//!   their port, killed when dropped; their output is kept for the test to
//!   read, and a server that exits at start is reported with its own words.
//! - [`workspace_root`], [`profile_dir`], [`library`], [`actor`]: where the
//!   artifacts the tests load (provider libraries, signed actors) are built.
//!
//! ```no_run
//! # async fn example() {
//! use std::time::Duration;
//! use trellis_test_support::{eventually, NatsServer};
//!
//! let nats = NatsServer::start();
//! let url = nats.url(); // nats://127.0.0.1:<free port>
//! let answer = eventually(Duration::from_secs(5), "the answer", || async { Some(42) }).await;
//! assert_eq!(answer, 42);
//! # }
//! ```

mod artifacts;
mod eventually;
mod process;
mod servers;

pub use artifacts::{actor, library, library_file_name, profile_dir, workspace_root};
pub use eventually::eventually;
pub use process::Process;
pub use servers::{Nats, NatsServer, Redis, RedisServer, Server, ServerKind};

/// A loopback TCP port nobody listens on right now.
///
/// Another process may take it before the caller binds it; the server guards
/// retry on a fresh port when that happens.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the system hands out a free loopback port")
}
