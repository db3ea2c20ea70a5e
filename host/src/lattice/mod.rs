//! The lattice: hosts that share a NATS server behave as one flat host.
//!
//! A host [`join`]s by connecting to NATS (the loopback "leafcar" by
//! default). From then on:
//!
//! - **calls** whose target this host lacks go out on the target's subject
//!   ([`remote::RemoteCalls`]); every actor and provider instance of this host
//!   is served on its own subject in a queue group, so copies on several
//!   hosts share the load and NATS prefers the nearest one;
//! - **inventory** (actors with claims, providers, bindings, labels, uptime)
//!   is published at start, on every change and in a periodic heartbeat;
//!   a host silent for two beats drops out of every [`view::View`], a host
//!   that leaves says goodbye;
//! - **bindings** this host declares but cannot serve alone are owned by it
//!   and placed on one live provider instance chosen at random
//!   ([`placement`]), and re-placed when that instance goes;
//! - **events** of every change are published as CloudEvents.
//!
//! Subjects and messages: [`protocol`], and docs/lattice.md.

mod config;
mod placement;
pub mod protocol;
mod remote;
mod view;

pub use config::LatticeConfig;

use crate::events::HostEvent;
use crate::host::Host;
use futures::StreamExt;
use placement::Placements;
use protocol::{
    ActorSummary, BindingSummary, CloudEvent, Control, ControlReply, Inventory, ProviderSummary,
    Subjects,
};
use remote::{Entity, RemoteCalls, Served};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use view::{Seen, View};

/// Why a host could not join the lattice.
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
    /// A subscription failed.
    #[error("cannot subscribe to {subject}: {message}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// What went wrong.
        message: String,
    },
}

/// A host's membership in the lattice.
pub struct Lattice {
    client: async_nats::Client,
    subjects: Subjects,
    host_id: String,
    config: LatticeConfig,
    host: Weak<Host>,
    view: Mutex<View>,
    placements: Placements,
    served: Mutex<HashMap<String, JoinHandle<()>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Wakes the placement loop (new peer, lost peer, new binding).
    replace: Notify,
    /// Asks for an immediate heartbeat (after a change or a reconnect).
    advertise: Arc<Notify>,
}

/// Connects `host` to the lattice and starts advertising and serving.
pub async fn join(host: &Arc<Host>, config: LatticeConfig) -> Result<Arc<Lattice>, LatticeError> {
    let host_id = trellis_claims::nkeys::KeyPair::new_server().public_key();
    let advertise = Arc::new(Notify::new());
    let client = connect(&config, &host_id, Arc::clone(&advertise)).await?;
    let subjects = Subjects::new(&config.namespace);
    let lattice = Arc::new(Lattice {
        placements: Placements::default(),
        client: client.clone(),
        subjects: subjects.clone(),
        host_id: host_id.clone(),
        host: Arc::downgrade(host),
        view: Mutex::default(),
        served: Mutex::default(),
        tasks: Mutex::default(),
        replace: Notify::new(),
        advertise,
        config,
    });
    let remote = RemoteCalls::new(
        client,
        subjects,
        host_id.clone(),
        lattice.config.rpc_timeout,
    );
    host.bus().set_remote(Arc::new(remote));
    host.set_placement(Arc::new(placement::Placer(Arc::downgrade(&lattice))));
    lattice.start_tasks(host).await?;
    tracing::info!(host = %host_id, namespace = %lattice.config.namespace, url = %lattice.config.server_url(), "Initialized Message Bus (lattice)");
    lattice
        .publish_event(
            "trellis.host_started",
            serde_json::json!({ "labels": host.labels() }),
        )
        .await;
    Ok(lattice)
}

async fn connect(
    config: &LatticeConfig,
    host_id: &str,
    advertise: Arc<Notify>,
) -> Result<async_nats::Client, LatticeError> {
    let url = config.server_url();
    let options = config
        .connect_options(&format!("trellis host {host_id}"))
        .await?
        .event_callback(move |event| {
            let advertise = Arc::clone(&advertise);
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!("lattice connection (re)established");
                        advertise.notify_one();
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!(
                            "lattice connection lost; local calls keep working, reconnecting"
                        )
                    }
                    other => tracing::debug!("lattice connection event: {other}"),
                }
            }
        });
    options
        .connect(url.as_str())
        .await
        .map_err(|e| LatticeError::Connect {
            url,
            message: e.to_string(),
        })
}

impl Lattice {
    /// This host's id in the lattice.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Waits (at most 5 s) until every actor and provider of this host is
    /// served on its subject and the server has seen the subscriptions: from
    /// then on other hosts reach them. Starting an entity subscribes in the
    /// background, a few milliseconds later.
    pub async fn ready(&self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline && !self.serves_everything() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        if let Err(e) = self.client.flush().await {
            tracing::debug!("lattice flush failed: {e}");
        }
    }

    fn serves_everything(&self) -> bool {
        let (Some(host), Ok(served)) = (self.host.upgrade(), self.served.lock()) else {
            return true;
        };
        let actors = host.bus().actors();
        let providers = host.bus().providers();
        actors
            .iter()
            .all(|a| served.contains_key(&self.subjects.actor(a.id())))
            && providers.iter().all(|p| {
                served.contains_key(&self.subjects.provider(p.capability_id(), p.binding()))
            })
    }

    /// The bindings this host owns, and the host holding each (`None`: waiting).
    pub fn owned_bindings(&self) -> Vec<(protocol::BindingKey, Option<String>)> {
        self.placements.owned()
    }

    /// The inventories of the other hosts this one sees.
    pub fn peers(&self) -> Vec<Inventory> {
        self.view
            .lock()
            .map(|v| v.inventories())
            .unwrap_or_default()
    }

    async fn start_tasks(self: &Arc<Self>, host: &Arc<Host>) -> Result<(), LatticeError> {
        let mut events = host.subscribe();
        for actor in host.bus().actors() {
            self.serve(Entity::Actor(actor.id().to_string())).await?;
        }
        for p in host.bus().providers() {
            self.serve(Entity::Provider(
                p.capability_id().into(),
                p.binding().into(),
            ))
            .await?;
        }
        let heartbeats = self.subscribe(self.subjects.heartbeat()).await?;
        let inventory_requests = self.subscribe(self.subjects.inventory()).await?;
        let control = self.subscribe(self.subjects.control(&self.host_id)).await?;

        let me = Arc::clone(self);
        let on_events = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => me.on_host_event(event).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "the lattice fell behind the host's changes; resynchronising"
                        );
                        me.resync().await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let me = Arc::clone(self);
        let on_heartbeats = tokio::spawn(async move {
            let mut heartbeats = heartbeats;
            while let Some(message) = heartbeats.next().await {
                me.on_heartbeat(&message.payload).await;
            }
        });
        let me = Arc::clone(self);
        let on_inventory = tokio::spawn(async move {
            let mut requests = inventory_requests;
            while let Some(message) = requests.next().await {
                if let Some(reply) = message.reply {
                    me.publish_json(reply.to_string(), &me.inventory()).await;
                }
            }
        });
        let me = Arc::clone(self);
        let on_control = tokio::spawn(async move {
            let mut control = control;
            while let Some(message) = control.next().await {
                me.on_control(message).await;
            }
        });
        let me = Arc::clone(self);
        let ticking = tokio::spawn(async move { me.tick().await });
        let me = Arc::clone(self);
        let placing = tokio::spawn(async move { me.place_loop().await });
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.extend([
                on_events,
                on_heartbeats,
                on_inventory,
                on_control,
                ticking,
                placing,
            ]);
        }
        self.advertise_now().await;
        Ok(())
    }

    async fn subscribe(&self, subject: String) -> Result<async_nats::Subscriber, LatticeError> {
        self.client
            .subscribe(subject.clone())
            .await
            .map_err(|e| LatticeError::Subscribe {
                subject,
                message: e.to_string(),
            })
    }

    /// Serves `entity` on its subject, in a queue group shared with every copy.
    async fn serve(self: &Arc<Self>, entity: Entity) -> Result<(), LatticeError> {
        let subject = match &entity {
            Entity::Actor(id) => self.subjects.actor(id),
            Entity::Provider(capability, binding) => self.subjects.provider(capability, binding),
        };
        let mut subscription = self
            .client
            .queue_subscribe(subject.clone(), subject.clone())
            .await
            .map_err(|e| LatticeError::Subscribe {
                subject: subject.clone(),
                message: e.to_string(),
            })?;
        let served = Arc::new(Served {
            client: self.client.clone(),
            host_id: self.host_id.clone(),
            entity,
        });
        let host = Weak::clone(&self.host);
        let task = tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                let Some(host) = host.upgrade() else { break };
                let mut answer = Box::pin(remote::answer(
                    Arc::clone(&served),
                    Arc::clone(host.bus()),
                    message,
                ));
                // Most calls finish in their first poll: answering them
                // here saves a task per call. One that waits (a slow actor,
                // a call onward) goes on in a task of its own so that the
                // calls behind it are not held up.
                if futures::poll!(answer.as_mut()).is_pending() {
                    tokio::spawn(answer);
                }
            }
        });
        if let Ok(mut served) = self.served.lock() {
            if let Some(old) = served.insert(subject, task) {
                old.abort();
            }
        }
        Ok(())
    }

    /// Serves exactly the host's current entities (after missed events).
    async fn resync(self: &Arc<Self>) {
        let Some(host) = self.host.upgrade() else {
            return;
        };
        let mut wanted: HashMap<String, Entity> = HashMap::new();
        for a in host.bus().actors() {
            wanted.insert(self.subjects.actor(a.id()), Entity::Actor(a.id().into()));
        }
        for p in host.bus().providers() {
            let entity = Entity::Provider(p.capability_id().into(), p.binding().into());
            wanted.insert(
                self.subjects.provider(p.capability_id(), p.binding()),
                entity,
            );
        }
        let served: Vec<String> = self
            .served
            .lock()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        for subject in served.iter().filter(|s| !wanted.contains_key(*s)) {
            self.unserve(subject);
        }
        for (subject, entity) in wanted {
            if !served.contains(&subject) {
                if let Err(e) = self.serve(entity).await {
                    tracing::error!("{e}");
                }
            }
        }
        self.advertise.notify_one();
        self.replace.notify_one();
    }

    /// Stops serving the subject (dropping the subscription unsubscribes).
    fn unserve(&self, subject: &str) {
        if let Some(task) = self.served.lock().ok().and_then(|mut s| s.remove(subject)) {
            task.abort();
        }
    }

    async fn on_host_event(self: &Arc<Self>, event: HostEvent) {
        let outcome = match &event {
            HostEvent::ActorStarted { actor, .. } => self.serve(Entity::Actor(actor.clone())).await,
            HostEvent::ActorStopped { actor } => {
                self.unserve(&self.subjects.actor(actor));
                Ok(())
            }
            HostEvent::ProviderLoaded {
                capability,
                binding,
                ..
            } => {
                self.serve(Entity::Provider(capability.clone(), binding.clone()))
                    .await
            }
            HostEvent::ProviderRemoved {
                capability,
                binding,
            } => {
                self.unserve(&self.subjects.provider(capability, binding));
                Ok(())
            }
            HostEvent::ActorUpdated { .. }
            | HostEvent::BindingCreated { .. }
            | HostEvent::BindingRemoved { .. } => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::error!("lattice cannot follow a change ({event:?}): {e}");
        }
        let data = serde_json::to_value(&event).unwrap_or_default();
        self.publish_event(event.event_type(), data).await;
        self.advertise.notify_one();
        self.replace.notify_one();
    }

    async fn on_heartbeat(&self, payload: &[u8]) {
        let inventory: Inventory = match serde_json::from_slice(payload) {
            Ok(inventory) => inventory,
            Err(e) => {
                tracing::debug!("unreadable heartbeat ignored: {e}");
                return;
            }
        };
        if inventory.host == self.host_id {
            return;
        }
        let host = inventory.host.clone();
        let seen = self.view.lock().map(|mut v| v.record(inventory));
        match seen {
            Ok(Seen::New) => {
                tracing::info!(host = %host, "host joined the lattice");
                // Tell the newcomer about us at once rather than at our next beat.
                self.advertise.notify_one();
                self.replace.notify_one();
            }
            Ok(Seen::Left) => {
                tracing::info!(host = %host, "host left the lattice");
                self.replace.notify_one();
            }
            _ => self.replace.notify_one(),
        }
    }

    async fn on_control(&self, message: async_nats::Message) {
        let reply = match serde_json::from_slice::<Control>(&message.payload) {
            Ok(control) => self.placements.serve_control(self, control),
            Err(e) => ControlReply {
                error: Some(format!("malformed control request: {e}")),
            },
        };
        if let Some(to) = message.reply {
            self.publish_json(to.to_string(), &reply).await;
        }
    }

    /// Heartbeats, expiry of silent hosts, and cleanup of orphaned bindings.
    async fn tick(&self) {
        let beat = self.config.heartbeat;
        let mut interval = tokio::time::interval(beat);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = self.advertise.notified() => {}
            }
            if self.host.strong_count() == 0 {
                tracing::debug!("the host is gone; the lattice stops advertising it");
                return;
            }
            self.advertise_now().await;
            // Retry placements that failed or wait for a provider.
            self.replace.notify_one();
            let gone = self
                .view
                .lock()
                .map(|mut v| v.expire(beat * 2 + beat / 2))
                .unwrap_or_default();
            for host in gone {
                tracing::warn!(host = %host, "host missed two heartbeats; dropped from the lattice");
                self.replace.notify_one();
            }
            self.placements.drop_orphans(self);
        }
    }

    async fn advertise_now(&self) {
        self.publish_json(self.subjects.heartbeat(), &self.inventory())
            .await;
    }

    /// What this host runs, as the lattice sees it.
    pub fn inventory(&self) -> Inventory {
        let Some(host) = self.host.upgrade() else {
            return Inventory::default();
        };
        let (started, uptime) = host.started();
        let actors = host
            .bus()
            .actors()
            .iter()
            .map(|a| {
                let c = a.claims();
                ActorSummary {
                    id: a.id().into(),
                    name: c.metadata.name.clone().unwrap_or_default(),
                    issuer: c.issuer.clone(),
                    caps: c.metadata.caps.clone(),
                    tags: c.metadata.tags.clone(),
                    expires: c.expires,
                    hash: c.metadata.hash.clone(),
                }
            })
            .collect();
        let providers = host
            .bus()
            .providers()
            .iter()
            .map(|p| ProviderSummary {
                capability: p.capability_id().into(),
                binding: p.binding().into(),
                name: p.descriptor().name.clone(),
                version: p.descriptor().version.clone(),
            })
            .collect();
        let bindings = host
            .bindings()
            .into_iter()
            .map(|b| {
                let key = protocol::BindingKey::of(&b);
                BindingSummary {
                    owner: self
                        .placements
                        .owner_of(&key)
                        .unwrap_or_else(|| self.host_id.clone()),
                    actor: b.actor,
                    capability: b.capability,
                    binding: b.binding,
                    config: key.config,
                }
            })
            .collect();
        Inventory {
            host: self.host_id.clone(),
            namespace: self.config.namespace.clone(),
            labels: host.labels(),
            started_at: started
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            uptime_secs: uptime.as_secs(),
            actors,
            providers,
            bindings,
            leaving: false,
        }
    }

    async fn publish_json<T: serde::Serialize>(&self, subject: String, value: &T) {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                if let Err(e) = self.client.publish(subject, bytes.into()).await {
                    tracing::debug!("lattice publish failed: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot encode a lattice message: {e}"),
        }
    }

    async fn publish_event(&self, kind: &str, data: serde_json::Value) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let event = CloudEvent {
            specversion: "1.0".into(),
            id: format!("{}-{}", self.host_id, now.as_nanos()),
            source: format!("trellis/{}", self.host_id),
            kind: kind.into(),
            time: trellis_claims::rfc3339(now.as_secs()),
            datacontenttype: "application/json".into(),
            data,
        };
        self.publish_json(self.subjects.events(), &event).await;
    }

    /// Leaves cleanly: withdraws the bindings this host placed elsewhere,
    /// says goodbye, and stops serving. Call before [`Host::shutdown`].
    pub async fn leave(&self) {
        self.placements.withdraw_all(self).await;
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.drain(..).for_each(|t| t.abort());
        }
        if let Ok(mut served) = self.served.lock() {
            served.drain().for_each(|(_, t)| t.abort());
        }
        let goodbye = Inventory {
            leaving: true,
            ..self.inventory()
        };
        self.publish_json(self.subjects.heartbeat(), &goodbye).await;
        self.publish_event("trellis.host_stopped", serde_json::json!({}))
            .await;
        if let Err(e) = self.client.flush().await {
            tracing::debug!("lattice flush on leave failed: {e}");
        }
        tracing::info!(host = %self.host_id, "left the lattice");
    }
}
