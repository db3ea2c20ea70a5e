//! `trellis lattice …` and `trellis call`: look at and use a running lattice,
//! through the host's own [`LatticeClient`]; and how `trellis up` joins one.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use futures::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use trellis_host::lattice::protocol::{Inventory, InventoryRequest};
use trellis_host::lattice::{ClientCertificate, Lattice, LatticeClient, LatticeConfig};
use trellis_host::{Host, Invocation};

/// How to reach the lattice (shared by `trellis up` and these commands).
#[derive(Debug, Args)]
pub struct LatticeArgs {
    /// NATS server: host, host:port or URL (nats://user:pass@host:4222, tls://…).
    #[arg(
        long = "lattice-host",
        env = "LATTICE_HOST",
        default_value = "127.0.0.1",
        value_name = "HOST"
    )]
    host: String,
    /// NATS credentials file.
    #[arg(
        long = "lattice-creds",
        env = "LATTICE_CREDS_FILE",
        value_name = "FILE"
    )]
    creds: Option<PathBuf>,
    /// PEM file of the CA certificates that signed the NATS server's TLS
    /// certificate; given one, the connection must be TLS.
    #[arg(long = "lattice-tls-ca", env = "LATTICE_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// PEM file of a TLS client certificate, for a server that verifies
    /// its clients (with --lattice-tls-key).
    #[arg(
        long = "lattice-tls-cert",
        env = "LATTICE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM file of the private key of --lattice-tls-cert.
    #[arg(
        long = "lattice-tls-key",
        env = "LATTICE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Lattice namespace: hosts in other namespaces are invisible.
    #[arg(
        long = "lattice-namespace",
        env = "LATTICE_NAMESPACE",
        default_value = "default",
        value_name = "NAME"
    )]
    namespace: String,
    /// Longest a control request (bind, unbind) to another host may take,
    /// in milliseconds. Calls are bounded by the call timeout instead.
    #[arg(
        long = "lattice-rpc-timeout-ms",
        env = "LATTICE_RPC_TIMEOUT_MILLIS",
        default_value_t = 2000,
        value_name = "MS"
    )]
    rpc_timeout_ms: u64,
    /// How often hosts advertise themselves, in milliseconds.
    #[arg(
        long = "lattice-heartbeat-ms",
        env = "LATTICE_HEARTBEAT_MILLIS",
        default_value_t = 5000,
        value_name = "MS"
    )]
    heartbeat_ms: u64,
    /// Keep trying to reach NATS at start instead of failing.
    #[arg(long = "lattice-retry")]
    retry: bool,
    /// The cluster seed (SC…, from `trellis keys gen cluster`), or a file
    /// holding it: makes a trusted lattice, whose messages are signed and
    /// sealed. Without it the lattice is open to anyone who reaches NATS.
    #[arg(
        long = "lattice-cluster-seed",
        env = "LATTICE_CLUSTER_SEED",
        value_name = "SEED|FILE",
        hide_env_values = true
    )]
    cluster_seed: Option<String>,
    /// Other cluster public keys (C…, comma-separated) whose hosts are
    /// trusted too: for moving a lattice to a new cluster key without
    /// downtime (docs/security.md).
    #[arg(
        long = "lattice-cluster-issuers",
        env = "LATTICE_CLUSTER_ISSUERS",
        value_name = "KEYS",
        value_delimiter = ','
    )]
    cluster_issuers: Vec<String>,
}

impl LatticeArgs {
    fn config(&self) -> LatticeConfig {
        LatticeConfig {
            host: self.host.clone(),
            creds_file: self.creds.clone(),
            tls_ca: self.tls_ca.clone(),
            tls_client: self
                .tls_cert
                .clone()
                .zip(self.tls_key.clone())
                .map(|(cert, key)| ClientCertificate { cert, key }),
            namespace: self.namespace.clone(),
            rpc_timeout: Duration::from_millis(self.rpc_timeout_ms),
            // At most an hour: the lattice's timing multiplies the beat.
            heartbeat: Duration::from_millis(self.heartbeat_ms.clamp(100, 3_600_000)),
            retry_connect: self.retry,
            cluster_seed: self.cluster_seed.clone(),
            cluster_issuers: self.cluster_issuers.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum LatticeCommand {
    /// List the hosts of the lattice.
    Hosts(QueryArgs),
    /// Show what each host runs: actors, providers, and where bindings landed.
    ///
    /// A binding is listed with the names of its values and their digest
    /// (`values_digest`), never the values themselves: inventories and
    /// heartbeats travel to everyone on the lattice.
    Inventory {
        /// Only this host (its id, or a prefix of it).
        #[arg(value_name = "HOST")]
        host_id: Option<String>,
        /// Ask for the bindings' values too (passwords masked). Hosts show
        /// them only on a trusted lattice; an open lattice refuses.
        #[arg(long)]
        show_values: bool,
        #[command(flatten)]
        query: QueryArgs,
    },
    /// Print the lattice's events as they happen (CloudEvents), until Ctrl-C.
    Watch {
        /// Print each event's JSON on one line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lattice: LatticeArgs,
    },
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// How long to collect answers, in milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    wait_ms: u64,
    #[command(flatten)]
    lattice: LatticeArgs,
}

/// Whether and how `trellis up` joins a lattice.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// Run on the internal bus only, as a build without the lattice does:
    /// no NATS, no other hosts. The environment takes 1, true, yes or on.
    #[arg(
        long,
        env = "TRELLIS_NO_LATTICE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    no_lattice: bool,
    #[command(flatten)]
    lattice: LatticeArgs,
}

/// The lattice `trellis up` joined, if it joined one.
pub struct Joined(Option<Arc<Lattice>>);

impl Joined {
    /// Joins the lattice `args` name, unless told not to.
    pub async fn join(host: &Arc<Host>, args: &JoinArgs) -> anyhow::Result<Joined> {
        if args.no_lattice {
            tracing::info!("Initialized Message Bus (internal)");
            return Ok(Joined(None));
        }
        let lattice = trellis_host::lattice::join(host, args.lattice.config()).await?;
        Ok(Joined(Some(lattice)))
    }

    /// Leaves the lattice cleanly, if one was joined.
    pub async fn leave(&self) {
        if let Some(lattice) = &self.0 {
            lattice.leave().await;
        }
    }
}

/// `trellis call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The actor's public key (M…).
    actor: String,
    /// The operation, e.g. HandleRequest.
    operation: String,
    /// The payload as JSON (sent as MessagePack), or @FILE holding JSON.
    #[arg(long, value_name = "JSON|@FILE", conflicts_with = "raw")]
    data: Option<String>,
    /// The payload as raw bytes, or @FILE.
    #[arg(long, value_name = "TEXT|@FILE")]
    raw: Option<String>,
    #[command(flatten)]
    call_timeout: super::up::CallTimeout,
    #[command(flatten)]
    lattice: LatticeArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")
}

async fn connect(args: &LatticeArgs) -> anyhow::Result<LatticeClient> {
    let caller = format!("cli-{}", std::process::id());
    Ok(LatticeClient::connect(&args.config(), &caller).await?)
}

pub fn run(command: LatticeCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        match command {
            LatticeCommand::Hosts(query) => {
                let hosts = gather(&query, InventoryRequest::default()).await?;
                if query.json {
                    println!("{}", serde_json::to_string_pretty(&hosts)?);
                } else {
                    print_hosts(&hosts);
                }
                Ok(())
            }
            LatticeCommand::Inventory {
                host_id,
                show_values,
                query,
            } => {
                let request = InventoryRequest {
                    values: show_values,
                };
                let mut hosts = gather(&query, request).await?;
                if let Some(prefix) = &host_id {
                    hosts.retain(|h| h.host.starts_with(prefix.as_str()));
                    if hosts.is_empty() {
                        bail!("no host {prefix} answered");
                    }
                }
                if show_values && withheld_values(&hosts) {
                    bail!("binding values are shown only on a trusted lattice (give the cluster seed with --lattice-cluster-seed)");
                }
                if query.json {
                    println!("{}", serde_json::to_string_pretty(&hosts)?);
                } else {
                    hosts.iter().for_each(print_inventory);
                }
                Ok(())
            }
            LatticeCommand::Watch { json, lattice } => watch(&lattice, json).await,
        }
    })
}

/// Asks every host for its inventory and collects the answers for a while.
async fn gather(query: &QueryArgs, request: InventoryRequest) -> anyhow::Result<Vec<Inventory>> {
    let client = connect(&query.lattice).await?;
    Ok(client
        .inventories(&request, Duration::from_millis(query.wait_ms))
        .await?)
}

/// Whether values were asked for in vain: bindings are listed, and no host
/// showed the values of any.
fn withheld_values(hosts: &[Inventory]) -> bool {
    let mut bindings = hosts.iter().flat_map(|h| &h.bindings).peekable();
    bindings.peek().is_some() && bindings.all(|b| b.values.is_none())
}

fn print_hosts(hosts: &[Inventory]) {
    println!(
        "{:<58} {:>8} {:>6} {:>9} {:>8} {:>7}  LABELS",
        "HOST", "UPTIME", "ACTORS", "PROVIDERS", "BINDINGS", "REFUSED"
    );
    for h in hosts {
        let labels: Vec<String> = h.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<58} {:>7}s {:>6} {:>9} {:>8} {:>7}  {}",
            h.host,
            h.uptime_secs,
            h.actors.len(),
            h.providers.len(),
            h.bindings.len(),
            h.refused,
            labels.join(",")
        );
    }
    println!("{} host(s)", hosts.len());
}

fn print_inventory(h: &Inventory) {
    println!("Host {} (up {}s)", h.host, h.uptime_secs);
    for a in &h.actors {
        println!(
            "  actor     {}  {}  caps: {}",
            a.id,
            a.name,
            a.caps.join(",")
        );
    }
    for p in &h.providers {
        println!(
            "  provider  {} '{}'  {} {}",
            p.capability, p.binding, p.name, p.version
        );
    }
    for b in &h.bindings {
        let values = match &b.values {
            Some(values) => values
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            None => b.keys.join(","),
        };
        let values = if values.is_empty() {
            "none".into()
        } else {
            values
        };
        println!(
            "  binding   {} → {} '{}'  values {}  owner {}",
            b.actor, b.capability, b.binding, values, b.owner
        );
    }
    if h.actors.is_empty() && h.providers.is_empty() {
        println!("  (runs nothing)");
    }
}

async fn watch(args: &LatticeArgs, json: bool) -> anyhow::Result<()> {
    let mut events = connect(args).await?.events().await?;
    eprintln!("watching lattice events (Ctrl-C to stop)");
    loop {
        tokio::select! {
            text = events.next() => {
                let Some(text) = text else { bail!("the NATS connection closed") };
                if json {
                    println!("{text}");
                } else {
                    let event: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    println!("{} {:<26} {} {}", event["time"].as_str().unwrap_or(""), event["type"].as_str().unwrap_or(""), event["source"].as_str().unwrap_or(""), event["data"]);
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// `trellis call ACTOR OPERATION`.
pub fn call(args: CallArgs) -> anyhow::Result<()> {
    let payload = match (&args.data, &args.raw) {
        (Some(data), _) => {
            let value: serde_json::Value =
                serde_json::from_slice(&read_arg(data)?).context("--data is not JSON")?;
            trellis_codec::encode(&value)?
        }
        (None, Some(raw)) => read_arg(raw)?,
        (None, None) => Vec::new(),
    };
    runtime()?.block_on(async {
        let client = connect(&args.lattice).await?;
        let invocation = Invocation::to_actor(&args.actor, &args.operation, payload);
        let reply = client
            .call(invocation, args.call_timeout.duration())
            .await?;
        println!("{}", describe(&reply));
        Ok(())
    })
}

fn read_arg(value: &str) -> anyhow::Result<Vec<u8>> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {path}")),
        None => Ok(value.as_bytes().to_vec()),
    }
}

/// The reply as JSON when it is MessagePack (binary fields shown as text
/// when they are UTF-8), else as text.
fn describe(payload: &[u8]) -> String {
    if payload.is_empty() {
        return "(empty reply)".into();
    }
    match rmpv::decode::read_value(&mut &payload[..]) {
        Ok(value) => serde_json::to_string_pretty(&to_json(value)).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(payload).into_owned(),
    }
}

fn to_json(value: rmpv::Value) -> serde_json::Value {
    use rmpv::Value as M;
    use serde_json::Value as J;
    match value {
        M::Nil => J::Null,
        M::Boolean(b) => J::Bool(b),
        M::Integer(i) => i
            .as_i64()
            .map(J::from)
            .or_else(|| i.as_u64().map(J::from))
            .unwrap_or(J::Null),
        M::F32(f) => J::from(f64::from(f)),
        M::F64(f) => J::from(f),
        M::String(s) => J::String(s.into_str().unwrap_or_default()),
        M::Binary(b) => match String::from_utf8(b) {
            Ok(text) => J::String(text),
            Err(e) => J::from(e.into_bytes()),
        },
        M::Array(items) => J::Array(items.into_iter().map(to_json).collect()),
        M::Map(entries) => J::Object(
            entries
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| k.to_string()),
                        to_json(v),
                    )
                })
                .collect(),
        ),
        M::Ext(_, bytes) => J::from(bytes),
    }
}
