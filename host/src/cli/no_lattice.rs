//! How `trellis up` joins a lattice, in a build without the lattice
//! feature: the names of `cli/lattice.rs`, joining nothing. The host runs on
//! its internal bus.

use clap::Args;
use std::sync::Arc;
use trellis_host::Host;

/// No settings: there is no lattice to join.
#[derive(Debug, Args)]
pub struct JoinArgs {}

/// No lattice joined.
pub struct Joined;

impl Joined {
    /// Says the host runs on its internal bus.
    pub async fn join(_host: &Arc<Host>, _args: &JoinArgs) -> anyhow::Result<Joined> {
        tracing::info!("Initialized Message Bus (internal)");
        Ok(Joined)
    }

    /// Nothing to leave.
    pub async fn leave(&self) {}
}
