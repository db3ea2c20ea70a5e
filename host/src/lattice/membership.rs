//! Membership: who is in the lattice, and telling them who this host is.
//!
//! A member publishes its inventory (actors with claims, providers,
//! bindings, labels, uptime) at start, on every change and every heartbeat,
//! answers inventory requests, and keeps a [`View`] of the others from their
//! heartbeats: a host silent for two and a half beats drops out, a goodbye
//! drops it at once. Every change in the view wakes placement.

use super::client::{LatticeClient, Received};
use super::placement::Placement;
use super::protocol::{
    ActorSummary, BindingKey, BindingSummary, Inventory, InventoryRequest, ProviderSummary,
};
use super::trust::Refusal;
use super::view::{Seen, View};
use super::{LatticeConfig, LatticeError};
use crate::host::Host;
use crate::sync::Locked;
use futures::StreamExt;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// This host's membership: its view of the others, and its advertisements.
pub struct Membership {
    client: LatticeClient,
    host_id: String,
    namespace: String,
    heartbeat: Duration,
    host: Weak<Host>,
    view: Mutex<View>,
    /// Asked about the owners of the bindings this host holds, and woken by
    /// every change in the view.
    placement: Arc<Placement>,
    /// Asks for an immediate heartbeat (after a change or a reconnect).
    advertise: Arc<Notify>,
    /// Woken whenever a heartbeat is recorded.
    view_changed: Notify,
}

impl Membership {
    /// The membership of the host `host_id`; `advertise` is also woken by
    /// the connection when it comes back.
    pub fn new(
        client: LatticeClient,
        host_id: String,
        config: &LatticeConfig,
        host: Weak<Host>,
        placement: Arc<Placement>,
        advertise: Arc<Notify>,
    ) -> Self {
        Membership {
            client,
            host_id,
            namespace: config.namespace.clone(),
            heartbeat: config.heartbeat,
            host,
            view: Mutex::new(View::new(config.heartbeat)),
            placement,
            advertise,
            view_changed: Notify::new(),
        }
    }

    /// Listens to heartbeats and inventory requests, starts beating, and
    /// advertises this host at once.
    pub async fn start(self: &Arc<Self>) -> Result<Vec<JoinHandle<()>>, LatticeError> {
        let subjects = self.client.subjects();
        let mut heartbeats = self.client.subscribe(subjects.heartbeat()).await?;
        let mut requests = self.client.subscribe(subjects.inventory()).await?;
        let me = Arc::clone(self);
        let listening = tokio::spawn(async move {
            while let Some(message) = heartbeats.next().await {
                me.on_heartbeat(&message.subject, &message.payload);
            }
        });
        let me = Arc::clone(self);
        let answering = tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                let (Some(reply), Some(request)) = (&message.reply, me.inventory_request(&message))
                else {
                    continue;
                };
                me.client
                    .publish_json(reply, request.id.as_ref(), &me.answer(request.value))
                    .await;
            }
        });
        let me = Arc::clone(self);
        let beating = tokio::spawn(async move { me.beat().await });
        self.advertise_now().await;
        Ok(vec![listening, answering, beating])
    }

    /// The inventories of the other hosts this one sees.
    pub fn peers(&self) -> Vec<Inventory> {
        self.view.locked("lattice view").inventories()
    }

    /// The inventories of every host this one sees, its own included.
    pub fn everyone(&self) -> Vec<Inventory> {
        let mut everyone = self.peers();
        everyone.push(self.inventory());
        everyone
    }

    /// Advertises this host before the next beat.
    pub fn advertise_soon(&self) {
        self.advertise.notify_one();
    }

    /// Whether the host `host` advertises `actor` with `capability` in its
    /// claims; waits up to `within` for a host not heard from yet (its first
    /// heartbeat may trail its first call).
    pub async fn vouches(
        &self,
        host: &str,
        actor: &str,
        capability: &str,
        within: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.view_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self
                .view
                .locked("lattice view")
                .vouches(host, actor, capability)
            {
                Some(vouched) => return vouched,
                None if tokio::time::Instant::now() >= deadline => return false,
                None => {}
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    /// An inventory request, opened and checked; old clients send no body.
    fn inventory_request(
        &self,
        message: &async_nats::Message,
    ) -> Option<Received<InventoryRequest>> {
        if message.payload.is_empty() && !self.client.trust().is_trusted() {
            return Some(Received {
                value: InventoryRequest::default(),
                id: None,
                signer: None,
            });
        }
        self.client
            .open_json(&message.subject, None, &message.payload)
    }

    fn on_heartbeat(&self, subject: &str, payload: &[u8]) {
        let Some(received) = self.client.open_json::<Inventory>(subject, None, payload) else {
            return;
        };
        if received.value.host == self.host_id {
            return;
        }
        // A host speaks only for itself: its own key signs its heartbeats.
        if !received.is_from_host(&received.value.host) {
            self.client.trust().refuse(Refusal::WrongSender, subject);
            return;
        }
        let inventory = received.value;
        let host = inventory.host.clone();
        match self.view.locked("lattice view").record(inventory) {
            Seen::New => {
                tracing::info!(host = %host, "host joined the lattice");
                // Tell the newcomer about us at once rather than at our next beat.
                self.advertise_soon();
            }
            Seen::Left => tracing::info!(host = %host, "host left the lattice"),
            Seen::Known => {}
        }
        self.view_changed.notify_waiters();
        self.placement.wake();
    }

    /// Heartbeats (every beat, or sooner when asked) and expiry of silent hosts.
    async fn beat(&self) {
        let mut interval = tokio::time::interval(self.heartbeat);
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
            for host in self.view.locked("lattice view").expire() {
                tracing::warn!(host = %host, "host silent for 2.5 heartbeats; dropped from the lattice");
            }
            // Also retries placements that failed or wait for a provider.
            self.placement.wake();
        }
    }

    async fn advertise_now(&self) {
        self.client
            .publish_json(&self.client.subjects().heartbeat(), None, &self.inventory())
            .await;
    }

    /// Says goodbye: every other host drops this one at once.
    pub async fn goodbye(&self) {
        let goodbye = Inventory {
            leaving: true,
            ..self.inventory()
        };
        self.client
            .publish_json(&self.client.subjects().heartbeat(), None, &goodbye)
            .await;
    }

    /// The answer to an inventory `request`: the inventory, with the
    /// bindings' values (masked) only when asked for on a trusted lattice,
    /// where the request came from a member and the answer is sealed.
    fn answer(&self, request: InventoryRequest) -> Inventory {
        self.inventory_revealing(request.reveals(self.client.trust().is_trusted()))
    }

    /// What this host runs, as the lattice sees it (no binding values).
    pub fn inventory(&self) -> Inventory {
        self.inventory_revealing(false)
    }

    /// [`Self::inventory`]; `reveal` adds the bindings' values, masked.
    fn inventory_revealing(&self, reveal: bool) -> Inventory {
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
                let owner = self
                    .placement
                    .owners_of(&BindingKey::of(&b))
                    .unwrap_or_else(|| self.host_id.clone());
                BindingSummary::of(&b, owner, reveal)
            })
            .collect();
        Inventory {
            host: self.host_id.clone(),
            namespace: self.namespace.clone(),
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
            refused: self.client.trust().refusals().total(),
        }
    }
}
