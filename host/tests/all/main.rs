//! The host's integration tests: one binary, one module per topic (as
//! wasmtime's `tests/all`), so wasmtime and tokio link once.
//!
//! Everything is real: provider `cdylib`s built by cargo and loaded through
//! the real loader, actors built for wasm32 from `actors/` and signed with
//! our own tooling, HTTP over real sockets. `scripts/test` builds those
//! artifacts before it runs these tests.

mod actors;
mod claims;
mod cli;
mod code_cache;
mod demo;
mod http_status;
#[cfg(feature = "lattice")]
mod lattice;
mod manifests;
mod providers;
mod samples;
mod support;
mod watch;
