//! The command line: `up`, `keys`, `claims`.

mod claims;
mod keys;
#[cfg(feature = "lattice")]
mod lattice;
#[cfg(not(feature = "lattice"))]
#[path = "no_lattice.rs"]
mod lattice;
mod up;

use clap::{Parser, Subcommand};

/// Trellis runs signed WebAssembly actors and native capability providers.
///
/// Set RUST_LOG to choose what is logged (default: info), e.g.
/// RUST_LOG=trellis=debug.
#[derive(Debug, Parser)]
#[command(name = "trellis", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a host with the actors, providers and bindings of the given manifests.
    Up(up::UpArgs),
    /// Generate keys (accounts issue actors, modules are actors' identities).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Sign actor modules with claims, or show a module's claims.
    #[command(subcommand)]
    Claims(claims::ClaimsCommand),
    /// Look at a running lattice: its hosts, what they run, its events.
    #[cfg(feature = "lattice")]
    #[command(subcommand)]
    Lattice(lattice::LatticeCommand),
    /// Call an actor anywhere in the lattice and print its decoded reply.
    #[cfg(feature = "lattice")]
    Call(lattice::CallArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up::run(args),
        Command::Keys(command) => keys::run(command),
        Command::Claims(command) => claims::run(command),
        #[cfg(feature = "lattice")]
        Command::Lattice(command) => lattice::run(command),
        #[cfg(feature = "lattice")]
        Command::Call(args) => lattice::call(args),
    }
}

/// Logs to stderr, filtered by RUST_LOG (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Colours only for a person at a terminal: not in files, pipes or CI logs.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
