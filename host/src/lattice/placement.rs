//! Bindings across hosts: the placement job.
//!
//! The host whose manifest declares a binding **owns** it. When the binding's
//! provider (or actor) is not all on the owner, the owner places it on one
//! live instance of the provider, chosen at random among the hosts that run
//! one, by a `bind` request to that host, which then **holds** it. The owner
//! re-places a binding when the host holding it leaves or misses two
//! heartbeats, and places bindings that were waiting as soon as a first
//! instance of their provider joins. A binding some host already serves is
//! adopted, not placed twice. A host holding a binding whose owners have all
//! gone removes it; an owner that leaves cleanly withdraws its bindings.
//!
//! The rules are plain bookkeeping: [`OwnedBindings`] (the owner's side) and
//! [`HeldBindings`] (the holder's side). This job keeps one of each, runs a
//! placement round whenever it is woken, sends the `bind` and `unbind`
//! requests they decide on, and answers those sent to this host.

use super::client::{LatticeClient, Received};
use super::held::HeldBindings;
use super::owned::{Bind, OwnedBindings};
use super::protocol::{ActorSummary, BindingKey, Control, ControlReply, Inventory};
use super::trust::Refusal;
use super::{LatticeConfig, LatticeError};
use crate::binding::{BindingPlacement, BindingRecord};
use crate::host::Host;
use crate::sync::Locked;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How long a withdrawal waits for the holder's answer.
const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(1);

/// Places the bindings this host owns, and holds those others place here.
pub struct Placement {
    client: LatticeClient,
    host_id: String,
    host: Weak<Host>,
    rpc_timeout: Duration,
    owned: Mutex<OwnedBindings>,
    held: Mutex<HeldBindings>,
    /// Wakes the placement loop for a round (a peer came or went, a binding
    /// was declared, a beat passed).
    wake_placement: Notify,
}

impl Placement {
    /// The placement job of the host `host_id`.
    pub fn new(
        client: LatticeClient,
        host_id: String,
        host: Weak<Host>,
        config: &LatticeConfig,
    ) -> Self {
        Placement {
            client,
            host_id,
            host,
            rpc_timeout: config.rpc_timeout,
            owned: Mutex::new(OwnedBindings::new(config.heartbeat)),
            held: Mutex::new(HeldBindings::new(config.heartbeat)),
            wake_placement: Notify::new(),
        }
    }

    /// Asks for a placement round.
    pub fn wake(&self) {
        self.wake_placement.notify_one();
    }

    /// Answers the `bind` and `unbind` requests owners send this host, and
    /// runs a placement round every time it is woken, with what `everyone`
    /// (this host included) runs at that moment.
    pub async fn start(
        self: &Arc<Self>,
        everyone: impl Fn() -> Vec<Inventory> + Send + Sync + 'static,
    ) -> Result<Vec<JoinHandle<()>>, LatticeError> {
        let subject = self.client.subjects().control(&self.host_id);
        let mut requests = self.client.subscribe(subject).await?;
        let everyone = Arc::new(everyone);
        let me = Arc::clone(self);
        let lattice = Arc::clone(&everyone);
        let answering = tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                me.answer_control(message, &lattice()).await;
            }
        });
        let me = Arc::clone(self);
        let placing = tokio::spawn(async move {
            loop {
                me.wake_placement.notified().await;
                me.round(&everyone()).await;
            }
        });
        Ok(vec![answering, placing])
    }

    /// Answers a `bind` or `unbind` request, given what `everyone` runs.
    async fn answer_control(&self, message: async_nats::Message, everyone: &[Inventory]) {
        let subject = message.subject.as_str();
        let Some(request) = self
            .client
            .open_json::<Control>(subject, None, &message.payload)
        else {
            return;
        };
        let reply = match self.admit(&request, everyone) {
            Ok(control) => self.serve_control(control),
            Err((refusal, why)) => {
                self.client.trust().refuse(refusal, subject);
                ControlReply { error: Some(why) }
            }
        };
        if let Some(to) = &message.reply {
            self.client
                .publish_json(to, request.id.as_ref(), &reply)
                .await;
        }
    }

    /// Checks a control request from the lattice before it is served: only
    /// a binding's owner binds or withdraws it, only an actor some host
    /// advertises with the capability is bound, and the actor's claims come
    /// from that advertisement, never from the request.
    fn admit(
        &self,
        request: &Received<Control>,
        everyone: &[Inventory],
    ) -> Result<Control, (Refusal, String)> {
        match &request.value {
            Control::Bind {
                owner,
                actor,
                capability,
                binding,
                values,
            } => {
                if !request.is_from_host(owner) {
                    return Err((
                        Refusal::WrongSender,
                        format!("bind refused: not signed by its owner {owner}"),
                    ));
                }
                let claims = vouched_actor(everyone, actor, capability).ok_or_else(|| {
                    (
                        Refusal::NotEntitled,
                        format!("bind refused: no host advertises actor {actor} with capability {capability}"),
                    )
                })?;
                let mut values: HashMap<String, String> = values
                    .iter()
                    .filter(|(k, _)| !k.starts_with("__wascc_"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                values.extend(claims.claims_values());
                Ok(Control::Bind {
                    owner: owner.clone(),
                    actor: actor.clone(),
                    capability: capability.clone(),
                    binding: binding.clone(),
                    values,
                })
            }
            Control::Unbind { owner, .. } if !request.is_from_host(owner) => Err((
                Refusal::WrongSender,
                format!("unbind refused: not signed by its owner {owner}"),
            )),
            Control::Unbind { .. } => Ok(request.value.clone()),
        }
    }

    /// Owns `record` from now on, and places it.
    fn own(&self, record: BindingRecord, claims_values: HashMap<String, String>) {
        tracing::info!(actor = %record.actor, capability = %record.capability, binding = %record.binding, "binding owned by this host; placing it in the lattice");
        self.owned
            .locked("owned bindings")
            .own(record, claims_values);
        self.wake();
    }

    /// Gives up `record`, telling its holder (in the background: the host
    /// may call this with its own state locked).
    fn withdraw(self: Arc<Self>, record: &BindingRecord) {
        let key = BindingKey::of(record);
        let Some(holder) = self.owned.locked("owned bindings").withdraw(&key) else {
            return;
        };
        tracing::info!(host = %holder, actor = %key.actor, capability = %key.capability, "withdrawing a binding no manifest declares any more");
        tokio::spawn(async move { self.withdraw_from(&holder, key).await });
    }

    /// The bindings this host owns, and the host holding each (`None`: waiting).
    pub fn owned(&self) -> Vec<(BindingKey, Option<String>)> {
        self.owned.locked("owned bindings").holders()
    }

    /// The owners of a binding this host holds for others, comma-separated.
    pub fn owners_of(&self, key: &BindingKey) -> Option<String> {
        self.held.locked("held bindings").owners_of(key)
    }

    /// Drops the bindings held for owners that all left, then places the
    /// owned bindings that need a holder.
    async fn round(&self, everyone: &[Inventory]) {
        let orphans = self
            .held
            .locked("held bindings")
            .orphans(|owner| everyone.iter().any(|inv| inv.host == owner));
        for key in orphans {
            tracing::info!(actor = %key.actor, capability = %key.capability, binding = %key.binding, "the binding's owner left the lattice; removing it");
            self.unbind_here(&key);
        }
        let binds = self
            .owned
            .locked("owned bindings")
            .plan(everyone, &self.host_id);
        for bind in binds {
            self.bind(bind).await;
        }
    }

    /// Sends one `bind`, and records where the binding landed.
    async fn bind(&self, bind: Bind) {
        let Bind {
            holder,
            key,
            control,
        } = bind;
        if let Err(e) = self.send(&holder, control, self.rpc_timeout).await {
            tracing::warn!(host = %holder, actor = %key.actor, capability = %key.capability, "binding placement failed: {e}");
            return;
        }
        tracing::info!(host = %holder, actor = %key.actor, capability = %key.capability, binding = %key.binding, "binding placed");
        let still_owned = self
            .owned
            .locked("owned bindings")
            .placed(&key, holder.clone());
        if !still_owned {
            // Withdrawn while it was being placed: take it back.
            self.withdraw_from(&holder, key).await;
        }
    }

    /// Tells `holder` this host no longer owns `key`.
    async fn withdraw_from(&self, holder: &str, key: BindingKey) {
        let control = Control::Unbind {
            owner: self.host_id.clone(),
            key,
        };
        if let Err(e) = self.send(holder, control, WITHDRAW_TIMEOUT).await {
            tracing::warn!(host = %holder, "could not withdraw a binding: {e}");
        }
    }

    /// Sends `control` to `holder`, this host answering its own directly.
    async fn send(&self, holder: &str, control: Control, timeout: Duration) -> Result<(), String> {
        if holder == self.host_id {
            return self.serve_control(control).error.map_or(Ok(()), Err);
        }
        self.client.control(holder, &control, timeout).await
    }

    /// Serves a `bind` or `unbind` request from an owner.
    fn serve_control(&self, control: Control) -> ControlReply {
        let Some(host) = self.host.upgrade() else {
            return ControlReply {
                error: Some("the host is shutting down".into()),
            };
        };
        let error = match control {
            Control::Bind {
                owner,
                actor,
                capability,
                binding,
                values,
            } => {
                let record = BindingRecord {
                    actor,
                    capability,
                    binding,
                    values,
                };
                let key = BindingKey::of(&record);
                let served = host.bindings().iter().any(|b| BindingKey::of(b) == key);
                let outcome = if served {
                    Ok(())
                } else {
                    host.bind_with_claims(record, HashMap::new())
                };
                match outcome {
                    Ok(()) => {
                        self.held.locked("held bindings").add_owner(key, owner);
                        None
                    }
                    Err(e) => Some(e.to_string()),
                }
            }
            Control::Unbind { owner, key } => {
                let last = self.held.locked("held bindings").remove_owner(&key, &owner);
                if last {
                    unbind_key(&host, &key);
                }
                None
            }
        };
        ControlReply { error }
    }

    /// Removes the binding `key` from this host.
    fn unbind_here(&self, key: &BindingKey) {
        if let Some(host) = self.host.upgrade() {
            unbind_key(&host, key);
        }
    }

    /// Tells every other host holding one of this host's bindings to remove it.
    pub async fn withdraw_all(&self) {
        let held = self
            .owned
            .locked("owned bindings")
            .held_elsewhere(&self.host_id);
        for (key, holder) in held {
            self.withdraw_from(&holder, key).await;
        }
    }
}

/// The claims of `actor` as a host in `everyone` advertises them, if they
/// include `capability`.
fn vouched_actor<'a>(
    everyone: &'a [Inventory],
    actor: &str,
    capability: &str,
) -> Option<&'a ActorSummary> {
    everyone
        .iter()
        .flat_map(|inventory| &inventory.actors)
        .find(|a| a.id == actor && a.caps.iter().any(|c| c == capability))
}

/// Removes the one binding `key` names (its siblings with other values stay).
fn unbind_key(host: &Host, key: &BindingKey) {
    if let Some(record) = host
        .bindings()
        .into_iter()
        .find(|b| BindingKey::of(b) == *key)
    {
        host.unbind_exact(&record);
    }
}

/// The host's placement hook: hands declared bindings to the placement job.
pub struct Placer(pub Weak<Placement>);

impl BindingPlacement for Placer {
    fn place(&self, record: BindingRecord, claims_values: HashMap<String, String>) {
        if let Some(placement) = self.0.upgrade() {
            placement.own(record, claims_values);
        }
    }

    fn withdraw(&self, record: &BindingRecord) {
        if let Some(placement) = self.0.upgrade() {
            placement.withdraw(record);
        }
    }
}
