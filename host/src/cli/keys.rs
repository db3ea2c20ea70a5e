//! `trellis keys gen`: make nkeys.

use clap::{Subcommand, ValueEnum};
use trellis_claims::nkeys::KeyPair;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key pair and print its public key and seed.
    Gen {
        /// What the key is for.
        kind: KeyKind,
        /// Print JSON: {"public_key": …, "seed": …}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyKind {
    /// Issues actors (public key A…, seed SA…).
    Account,
    /// An actor's identity (public key M…, seed SM…).
    Module,
    /// A host's identity (public key N…, seed SN…).
    Server,
    /// A trusted lattice's key (public key C…, seed SC…): give the seed to
    /// every host with --lattice-cluster-seed.
    Cluster,
}

pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Gen { kind, json } = command;
    let pair = match kind {
        KeyKind::Account => KeyPair::new_account(),
        KeyKind::Module => KeyPair::new_module(),
        KeyKind::Server => KeyPair::new_server(),
        KeyKind::Cluster => KeyPair::new_cluster(),
    };
    let seed = pair.seed()?;
    if json {
        let out = serde_json::json!({ "public_key": pair.public_key(), "seed": seed });
        println!("{out}");
    } else {
        println!("Public Key: {}\nSeed:       {seed}", pair.public_key());
        eprintln!("Keep the seed secret: whoever has it can sign as this key.");
    }
    Ok(())
}
