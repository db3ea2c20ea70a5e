//! Serving: every actor and provider instance of this host answers on its
//! own subject, in a queue group shared with every copy on other hosts, so
//! copies share the load and NATS prefers the nearest one.
//!
//! A call that arrives is answered from this host only, never forwarded
//! again (that could loop).
//!
//! Leaving loses no call. Unsubscribing outright would: NATS may already
//! have routed calls to this host that the client drops once the
//! subscription is gone, and their callers would wait out their timeout. So
//! a leaving host asks the server to stop after a few more messages
//! ([`LEAVE_ALLOWANCE`]): server and client then agree on the last one, every
//! call sent to this host is answered, and the answers still running are
//! awaited before the host goes.

use super::client::LatticeClient;
use super::membership::Membership;
use super::protocol::{Invocation as Envelope, InvocationReply};
use super::trust::{Kind, MessageId, Refusal};
use super::LatticeError;
use crate::bus::Bus;
use crate::events::HostEvent;
use crate::host::Host;
use crate::invocation::{Invocation, Origin, Target};
use crate::sync::Locked;
use async_nats::Message;
use futures::StreamExt;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use trellis_provider_sdk::CallErrorKind;

/// How many more messages a leaving host takes per subject: more than can
/// be on their way to it, so that the server stops sending before the
/// client stops listening.
pub const LEAVE_ALLOWANCE: u64 = 256;
/// The longest a leaving host waits for its subscriptions to end and its
/// answers to finish.
pub const LEAVE_GRACE: Duration = Duration::from_secs(1);
/// A leaving subject that gets no call for this long ends before its
/// allowance is used up: with so little traffic, nothing is on its way.
pub const LEAVE_QUIET: Duration = Duration::from_millis(100);

/// What a subscription serves.
#[derive(Debug, Clone)]
enum Entity {
    /// An actor of this host.
    Actor(String),
    /// A provider instance of this host: capability and binding.
    Provider(String, String),
}

/// The subscriptions of this host's actors and provider instances.
pub struct Serving {
    client: LatticeClient,
    host_id: Arc<str>,
    host: Weak<Host>,
    /// Vouches for the actors that call this host's providers.
    membership: Arc<Membership>,
    /// How long a provider call waits for its caller's host to be seen.
    vouch_wait: Duration,
    /// Each served subject, and the task answering it.
    served: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Set when the host leaves: every subject winds down.
    leaving: watch::Sender<bool>,
    /// Answers running in tasks of their own.
    answering: TaskTracker,
}

impl Serving {
    /// Serves nothing yet; `membership` vouches for calling actors, whose
    /// host may take up to `vouch_wait` to be heard from.
    pub fn new(
        client: LatticeClient,
        host_id: &str,
        host: Weak<Host>,
        membership: Arc<Membership>,
        vouch_wait: Duration,
    ) -> Self {
        Serving {
            client,
            host_id: host_id.into(),
            host,
            membership,
            vouch_wait,
            served: Mutex::default(),
            leaving: watch::Sender::new(false),
            answering: TaskTracker::new(),
        }
    }

    /// Serves every actor and provider instance the host runs now.
    pub async fn serve_all(&self) -> Result<(), LatticeError> {
        for (_, entity) in self.wanted() {
            self.serve(entity).await?;
        }
        Ok(())
    }

    /// Follows one change of the host: serves what started, stops serving
    /// what stopped.
    pub async fn follow(&self, event: &HostEvent) -> Result<(), LatticeError> {
        let subjects = self.client.subjects();
        match event {
            HostEvent::ActorStarted { actor, .. } => {
                self.serve(Entity::Actor(actor.clone())).await?
            }
            HostEvent::ActorStopped { actor } => self.unserve(&subjects.actor(actor)),
            HostEvent::ProviderLoaded {
                capability,
                binding,
                ..
            } => {
                self.serve(Entity::Provider(capability.clone(), binding.clone()))
                    .await?
            }
            HostEvent::ProviderRemoved {
                capability,
                binding,
            } => self.unserve(&subjects.provider(capability, binding)),
            HostEvent::ActorUpdated { .. }
            | HostEvent::BindingCreated { .. }
            | HostEvent::BindingRemoved { .. } => {}
        }
        Ok(())
    }

    /// Serves exactly the host's current entities (after missed changes).
    pub async fn resync(&self) {
        let wanted = self.wanted();
        let served: Vec<String> = self
            .served
            .locked("served subjects")
            .keys()
            .cloned()
            .collect();
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
    }

    /// Waits (at most 5 s) until every actor and provider of this host is
    /// served on its subject and the server has seen the subscriptions: from
    /// then on other hosts reach them. Starting an entity subscribes in the
    /// background, a few milliseconds later.
    pub async fn ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline && !self.serves_everything() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.client.flush().await;
    }

    /// Stops serving everything without dropping a call sent here: each
    /// subject takes what is on its way, then the answers still running
    /// finish (each within [`LEAVE_GRACE`]).
    pub async fn leave(&self) {
        self.leaving.send_replace(true);
        let deadline = tokio::time::Instant::now() + LEAVE_GRACE;
        let tasks: Vec<JoinHandle<()>> = self
            .served
            .locked("served subjects")
            .drain()
            .map(|(_, task)| task)
            .collect();
        for mut task in tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
        self.answering.close();
        let _ = tokio::time::timeout_at(deadline, self.answering.wait()).await;
    }

    fn serves_everything(&self) -> bool {
        let wanted = self.wanted();
        let served = self.served.locked("served subjects");
        wanted.keys().all(|subject| served.contains_key(subject))
    }

    /// The subject of every entity the host runs.
    fn wanted(&self) -> HashMap<String, Entity> {
        let Some(host) = self.host.upgrade() else {
            return HashMap::new();
        };
        let subjects = self.client.subjects();
        let actors = host
            .bus()
            .actors()
            .into_iter()
            .map(|a| (subjects.actor(a.id()), Entity::Actor(a.id().into())));
        let providers = host.bus().providers().into_iter().map(|p| {
            (
                subjects.provider(p.capability_id(), p.binding()),
                Entity::Provider(p.capability_id().into(), p.binding().into()),
            )
        });
        actors.chain(providers).collect()
    }

    /// Serves `entity` on its subject, in a queue group shared with every copy.
    async fn serve(&self, entity: Entity) -> Result<(), LatticeError> {
        let subject = match &entity {
            Entity::Actor(id) => self.client.subjects().actor(id),
            Entity::Provider(capability, binding) => {
                self.client.subjects().provider(capability, binding)
            }
        };
        let subscription = self.client.queue_subscribe(subject.clone()).await?;
        let served = Arc::new(Served {
            client: self.client.clone(),
            host_id: Arc::clone(&self.host_id),
            membership: Arc::clone(&self.membership),
            vouch_wait: self.vouch_wait,
            entity,
        });
        let host = Weak::clone(&self.host);
        let (leaving, answering) = (self.leaving.subscribe(), self.answering.clone());
        let task = tokio::spawn(async move {
            let mut calls = Calls::new(subscription, leaving);
            while let Some(message) = calls.next().await {
                let Some(host) = host.upgrade() else { break };
                let mut answer =
                    Box::pin(answer(Arc::clone(&served), Arc::clone(host.bus()), message));
                // Most calls finish in their first poll: answering them
                // here saves a task per call. One that waits (a slow actor,
                // a call onward) goes on in a task of its own so that the
                // calls behind it are not held up.
                if futures::poll!(answer.as_mut()).is_pending() {
                    answering.spawn(answer);
                }
            }
        });
        if let Some(old) = self.served.locked("served subjects").insert(subject, task) {
            old.abort();
        }
        Ok(())
    }

    /// Stops serving the subject (dropping the subscription unsubscribes).
    fn unserve(&self, subject: &str) {
        if let Some(task) = self.served.locked("served subjects").remove(subject) {
            task.abort();
        }
    }
}

/// One entity served on its subject: what answering a call needs.
struct Served {
    client: LatticeClient,
    host_id: Arc<str>,
    membership: Arc<Membership>,
    vouch_wait: Duration,
    entity: Entity,
}

/// Answers one invocation that arrived from the lattice, from this host
/// only. A message that does not open is dropped (and counted): a forger
/// learns nothing, not even an error.
async fn answer(served: Arc<Served>, bus: Arc<Bus>, message: Message) {
    let Message {
        subject,
        reply,
        payload,
        ..
    } = message;
    let Some(reply_to) = reply else {
        tracing::debug!(%subject, "invocation without a reply subject dropped");
        return;
    };
    let trust = served.client.trust();
    let Ok(opened) = trust.open(Kind::Call, &subject, None, &payload) else {
        return;
    };
    let outcome = match trellis_codec::decode::<Envelope>(opened.plaintext()) {
        Err(e) => Err((format!("malformed invocation: {e}"), CallErrorKind::Other)),
        Ok(call) => match served.admit(&call).await {
            Err(error) => {
                trust.refuse(Refusal::NotEntitled, &subject);
                Err((error, CallErrorKind::Other))
            }
            Ok(target) => {
                // The caller names its actor, if an actor calls.
                let origin = match &*call.origin {
                    "" => Origin::Host,
                    actor => Origin::Actor(actor),
                };
                let invocation =
                    Invocation::new(origin, target, &call.operation, call.payload.into_owned());
                bus.call_local(invocation)
                    .await
                    .map_err(|e| (e.to_string(), e.kind()))
            }
        },
    };
    served.reply(&reply_to, opened.id.as_ref(), outcome).await;
}

impl Served {
    /// The target of `call` on this host, once the call may run: a provider
    /// runs only for an actor whose own host advertises it with the
    /// provider's capability (a caller cannot borrow another actor's name).
    async fn admit(&self, call: &Envelope<'_>) -> Result<Target<'_>, String> {
        match &self.entity {
            Entity::Actor(actor) => Ok(Target::Actor(actor)),
            Entity::Provider(capability, binding) => {
                let origin = &*call.origin;
                let vouched = !origin.is_empty()
                    && self
                        .membership
                        .vouches(&call.host, origin, capability, self.vouch_wait)
                        .await;
                if !vouched {
                    return Err(format!(
                        "refused: host {} does not vouch for actor {origin:?} holding capability {capability}",
                        call.host
                    ));
                }
                Ok(Target::Provider {
                    capability,
                    binding,
                })
            }
        }
    }

    /// Sends the reply to the call `id`, sealed like the call.
    async fn reply(
        &self,
        reply_to: &async_nats::Subject,
        id: Option<&MessageId>,
        outcome: Result<Vec<u8>, (String, CallErrorKind)>,
    ) {
        let host = Cow::Borrowed(&*self.host_id);
        let reply = match &outcome {
            Ok(payload) => InvocationReply {
                payload: Cow::Borrowed(payload),
                error: None,
                host,
                error_kind: None,
            },
            Err((error, kind)) => {
                tracing::debug!(entity = ?self.entity, "remote invocation failed: {error}");
                InvocationReply {
                    payload: Cow::Borrowed(&[]),
                    error: Some(error.clone()),
                    host,
                    error_kind: Some(Cow::Borrowed(kind.name())),
                }
            }
        };
        let sealed = self.client.trust().seal(
            Kind::Reply,
            reply_to,
            id,
            reply.payload.len() + 128,
            |out| trellis_codec::encode_into(&reply, out),
        );
        match sealed {
            Ok(sealed) => {
                if let Err(e) = self.client.publish(reply_to.clone(), sealed.bytes).await {
                    tracing::warn!("cannot send an invocation reply: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot encode an invocation reply: {e}"),
        }
    }
}

/// The calls of one subscription, until the host leaves: then the server is
/// told to stop after [`LEAVE_ALLOWANCE`] more, and the calls end when the
/// last of those arrived, after [`LEAVE_QUIET`] without one, or at
/// [`LEAVE_GRACE`], whichever comes first.
struct Calls {
    subscription: async_nats::Subscriber,
    leaving: watch::Receiver<bool>,
    /// Messages taken so far: never more than the client received.
    taken: u64,
    /// When the host is leaving: the end of its grace.
    deadline: Option<tokio::time::Instant>,
}

impl Calls {
    fn new(subscription: async_nats::Subscriber, leaving: watch::Receiver<bool>) -> Self {
        Calls {
            subscription,
            leaving,
            taken: 0,
            deadline: None,
        }
    }

    async fn next(&mut self) -> Option<Message> {
        loop {
            let grace = self.deadline;
            let leave_now = tokio::select! {
                message = self.subscription.next() => {
                    self.taken += u64::from(message.is_some());
                    return message;
                }
                changed = self.leaving.wait_for(|leaving| *leaving), if grace.is_none() => {
                    changed.is_ok()
                }
                () = quiet_or(grace), if grace.is_some() => {
                    return None;
                }
            };
            if !leave_now {
                return None;
            }
            self.wind_down().await;
        }
    }

    /// Asks the server to stop after [`LEAVE_ALLOWANCE`] more messages than
    /// were taken: the client keeps the subscription until it has received
    /// as many, so none that the server sent is dropped.
    async fn wind_down(&mut self) {
        self.deadline = Some(tokio::time::Instant::now() + LEAVE_GRACE);
        let last = self.taken + LEAVE_ALLOWANCE;
        if let Err(e) = self.subscription.unsubscribe_after(last).await {
            tracing::debug!("cannot wind the subscription down: {e}");
        }
    }
}

/// Sleeps for [`LEAVE_QUIET`], or until `grace` if that comes first.
async fn quiet_or(grace: Option<tokio::time::Instant>) {
    let quiet = tokio::time::Instant::now() + LEAVE_QUIET;
    tokio::time::sleep_until(grace.map_or(quiet, |grace| grace.min(quiet))).await;
}
