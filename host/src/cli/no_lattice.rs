//! How `trellis up` joins a lattice, in a build without the lattice
//! feature: the names of `cli/lattice.rs`, joining nothing. The host runs on
//! its internal bus.

use clap::Args;
use std::sync::Arc;
use trellis_host::Host;

/// Only `--no-lattice`, which changes nothing here: there is no lattice to join.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// Run on the internal bus only (always so in this build, which has no
    /// lattice: accepted so that one command line serves both builds).
    #[arg(
        long,
        env = "TRELLIS_NO_LATTICE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    no_lattice: bool,
}

/// No lattice joined.
pub struct Joined;

impl Joined {
    /// Says the host runs on its internal bus.
    pub async fn join(_host: &Arc<Host>, args: &JoinArgs) -> anyhow::Result<Joined> {
        if args.no_lattice {
            tracing::debug!("--no-lattice: this build has no lattice anyway");
        }
        tracing::info!("Initialized Message Bus (internal)");
        Ok(Joined)
    }

    /// Nothing to leave.
    pub async fn leave(&self) {}
}
