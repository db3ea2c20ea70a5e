//! The lattice: hosts that share a NATS server behave as one flat host.
//!
//! A host [`join`]s by connecting to NATS (the loopback "leafcar" by
//! default). A [`Lattice`] is the composition of a few jobs, each in its
//! own file, all talking through one [`LatticeClient`]:
//!
//! - **remote calls** (`remote.rs`): calls whose target this host lacks go out
//!   on the target's subject, bounded by the host's call timeout like a
//!   local call;
//! - **serving** (`serving.rs`): every actor and provider instance of this
//!   host is served on its own subject in a queue group, so copies on
//!   several hosts share the load and NATS prefers the nearest one;
//! - **membership** (`membership.rs`): this host's inventory is published at
//!   start, on every change and in a periodic heartbeat; a host silent for
//!   two and a half beats drops out of every view, a host that
//!   leaves says goodbye;
//! - **placement** (`placement.rs`): bindings this host declares but cannot
//!   serve alone are owned by it and placed on one live provider instance
//!   chosen at random, and re-placed when that instance goes;
//! - **events**: every change is published as a CloudEvent.
//!
//! The rules of membership and placement (`view.rs`, `owned.rs`, `held.rs`)
//! are plain bookkeeping that never touches NATS: the jobs feed them what
//! arrives and carry out what they decide.
//!
//! Subjects and messages: [`protocol`], and docs/lattice.md.

mod client;
mod config;
mod held;
mod membership;
mod owned;
mod placement;
pub mod protocol;
mod remote;
mod serving;
pub mod trust;
mod view;

pub use client::LatticeClient;
pub use config::{ClientCertificate, LatticeConfig};

use crate::events::HostEvent;
use crate::host::Host;
use crate::sync::Locked;
use membership::Membership;
use placement::{Placement, Placer};
use remote::RemoteCalls;
use serving::Serving;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Why a host could not join the lattice, or a client could not use it.
#[derive(Debug, thiserror::Error)]
pub enum LatticeError {
    /// NATS could not be reached or refused the connection.
    #[error("cannot connect to NATS at {url}: {message} (start one with `nats-server -a 127.0.0.1`, set LATTICE_HOST, or pass --lattice-retry to keep trying)")]
    Connect {
        /// The URL tried.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The credentials file could not be read.
    #[error("cannot read the NATS credentials file {path}: {message}")]
    Credentials {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The cluster keys could not be used.
    #[error(transparent)]
    Trust(#[from] trust::TrustError),
    /// A TLS file (CA certificates, client certificate or key) cannot be used.
    #[error("cannot use {path} as the lattice's TLS {what}: {message}")]
    Tls {
        /// Which file it was meant to be: `CA file`, `client certificate`, `client key`.
        what: String,
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A subscription failed.
    #[error("cannot subscribe to {subject}: {message}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// What went wrong.
        message: String,
    },
    /// A message could not be sent.
    #[error("cannot publish on {subject}: {message}")]
    Publish {
        /// The subject.
        subject: String,
        /// What went wrong.
        message: String,
    },
}

/// A host's membership in the lattice: its jobs, and the tasks running them.
pub struct Lattice {
    client: LatticeClient,
    host_id: String,
    membership: Arc<Membership>,
    serving: Arc<Serving>,
    placement: Arc<Placement>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Connects `host` to the lattice and starts advertising and serving.
pub async fn join(host: &Arc<Host>, config: LatticeConfig) -> Result<Arc<Lattice>, LatticeError> {
    let identity = trellis_claims::nkeys::KeyPair::new_server();
    let host_id = identity.public_key();
    let trust = config.trust(&identity)?;
    match trust.cluster_key() {
        Some(key) => tracing::info!(cluster = key, "trusted lattice: messages are signed and sealed with the cluster's keys"),
        None => tracing::warn!("open lattice: anyone who can reach NATS can read calls and forge them, bindings and goodbyes (give a cluster seed with --lattice-cluster-seed or LATTICE_CLUSTER_SEED; see docs/security.md)"),
    }
    let advertise = Arc::new(Notify::new());
    let client =
        LatticeClient::connect_member(&config, &host_id, trust, Arc::clone(&advertise)).await?;
    let placement = Arc::new(Placement::new(
        client.clone(),
        host_id.clone(),
        Arc::downgrade(host),
        &config,
    ));
    let membership = Arc::new(Membership::new(
        client.clone(),
        host_id.clone(),
        &config,
        Arc::downgrade(host),
        Arc::clone(&placement),
        advertise,
    ));
    // A caller's host is heard from within a beat of its first call.
    let vouch_wait = config.heartbeat.min(std::time::Duration::from_secs(1));
    let serving = Arc::new(Serving::new(
        client.clone(),
        &host_id,
        Arc::downgrade(host),
        Arc::clone(&membership),
        vouch_wait,
    ));
    let remote = RemoteCalls::new(client.clone(), host.config().call_timeout);
    host.bus().set_remote(Arc::new(remote));
    host.set_placement(Arc::new(Placer(Arc::downgrade(&placement))));
    let lattice = Arc::new(Lattice {
        client,
        host_id,
        membership,
        serving,
        placement,
        tasks: Mutex::default(),
    });
    lattice.start(host).await?;
    tracing::info!(host = %lattice.host_id, namespace = %config.namespace, url = %config.server_url(), "Initialized Message Bus (lattice)");
    lattice
        .client
        .publish_event(
            &lattice.host_id,
            "trellis.host_started",
            serde_json::json!({ "labels": host.labels() }),
        )
        .await;
    Ok(lattice)
}

impl Lattice {
    /// This host's id in the lattice.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Waits (at most 5 s) until every actor and provider of this host is
    /// served on its subject and the server has seen the subscriptions: from
    /// then on other hosts reach them.
    pub async fn ready(&self) {
        self.serving.ready().await;
    }

    /// The bindings this host owns, and the host holding each (`None`: waiting).
    pub fn owned_bindings(&self) -> Vec<(protocol::BindingKey, Option<String>)> {
        self.placement.owned()
    }

    /// The inventories of the other hosts this one sees.
    pub fn peers(&self) -> Vec<protocol::Inventory> {
        self.membership.peers()
    }

    /// What this host runs, as the lattice sees it.
    pub fn inventory(&self) -> protocol::Inventory {
        self.membership.inventory()
    }

    /// Starts every job: serving first (the host's changes are followed
    /// from before it, so none is missed), then membership and placement.
    async fn start(self: &Arc<Self>, host: &Arc<Host>) -> Result<(), LatticeError> {
        let mut changes = host.subscribe();
        self.serving.serve_all().await?;
        let me = Arc::clone(self);
        let following = tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => me.follow(change).await,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "the lattice fell behind the host's changes; resynchronising"
                        );
                        me.serving.resync().await;
                        me.membership.advertise_soon();
                        me.placement.wake();
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        let mut tasks = vec![following];
        let membership = Arc::clone(&self.membership);
        tasks.extend(self.placement.start(move || membership.everyone()).await?);
        tasks.extend(self.membership.start().await?);
        self.tasks.locked("lattice tasks").extend(tasks);
        Ok(())
    }

    /// Follows one change of the host: serves it, tells the lattice, and
    /// wakes placement (a new provider may take a waiting binding).
    async fn follow(&self, change: HostEvent) {
        if let Err(e) = self.serving.follow(&change).await {
            tracing::error!("lattice cannot follow a change ({change:?}): {e}");
        }
        let data = serde_json::to_value(&change).unwrap_or_default();
        self.client
            .publish_event(&self.host_id, change.event_type(), data)
            .await;
        self.membership.advertise_soon();
        self.placement.wake();
    }

    /// Leaves cleanly: withdraws the bindings this host placed elsewhere,
    /// says goodbye, and stops serving. Call before [`Host::shutdown`].
    pub async fn leave(&self) {
        self.placement.withdraw_all().await;
        self.tasks
            .locked("lattice tasks")
            .drain(..)
            .for_each(|t| t.abort());
        self.serving.leave().await;
        self.membership.goodbye().await;
        self.client
            .publish_event(&self.host_id, "trellis.host_stopped", serde_json::json!({}))
            .await;
        self.client.flush().await;
        tracing::info!(host = %self.host_id, "left the lattice");
    }
}
