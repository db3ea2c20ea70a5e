//! `trellis`: run a host, and make and inspect the keys and signed modules it runs.

mod cli;

use clap::Parser;
use std::process::ExitCode;

// mimalloc for the whole process. With its `override` feature it also
// replaces the C `malloc` that provider libraries allocate through (a cdylib
// without an allocator of its own uses the system one). Requests handed from
// a provider's threads to the host's and back free memory on other threads
// than allocated it, which glibc's arenas pay for: the two-host HTTP echo
// spends a fifth less CPU per request with mimalloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
