//! The lattice's subjects (`trellis.…`) are out of an actor's reach unless
//! its binding has `ALLOW_LATTICE_SUBJECTS=true`, against a real
//! `nats-server`.

mod common;

use common::{
    assert_no_delivery, broker, client, next_delivery, next_message, sync, values, ChannelDeliver,
};
use futures::StreamExt;
use std::time::Duration;
use trellis_codec::encode;
use trellis_codec::messaging::RequestMessage;
use trellis_provider_messaging::Messaging;
use trellis_test_support::NatsServer;

const A: &str = "MACTORA";
const B: &str = "MACTORB";
/// An actor's invocation subject in the lattice's default namespace.
const LATTICE_SUBJECT: &str = "trellis.default.actor.MTARGET";
/// An allowed subject whose arrival shows the provider's earlier messages
/// have arrived too.
const MARKER: &str = "checks.marker";
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

fn request(subject: &str) -> Vec<u8> {
    encode(&RequestMessage {
        subject: subject.into(),
        body: b"forged".to_vec(),
        timeout: 500,
    })
    .unwrap()
}

fn refusal(role: &str, subject: &str) -> String {
    format!(
        "{role} {subject} is reserved for the lattice; \
         set ALLOW_LATTICE_SUBJECTS=true on the binding to allow it"
    )
}

/// A server and a messaging provider with nothing bound.
fn fixture() -> (
    NatsServer,
    Messaging<ChannelDeliver>,
    tokio::sync::mpsc::UnboundedReceiver<common::Delivery>,
) {
    let server = NatsServer::start();
    let (deliver, deliveries) = ChannelDeliver::new();
    (server, Messaging::new(deliver), deliveries)
}

/// A plain client listening on every lattice subject and on [`MARKER`].
struct Listener {
    _client: async_nats::Client,
    lattice: async_nats::Subscriber,
    marker: async_nats::Subscriber,
}

impl Listener {
    async fn start(server: &NatsServer) -> Listener {
        let raw = client(server).await;
        let lattice = raw.subscribe("trellis.>").await.unwrap();
        let marker = raw.subscribe(MARKER).await.unwrap();
        sync(&raw).await;
        Listener {
            _client: raw,
            lattice,
            marker,
        }
    }

    /// Has `actor` publish on [`MARKER`] and waits for it: one connection's
    /// messages arrive in order, so anything `actor` sent before is here too.
    /// Then nothing must have arrived on a lattice subject.
    async fn assert_nothing_reached_the_lattice(
        &mut self,
        messaging: &Messaging<ChannelDeliver>,
        actor: &str,
    ) {
        messaging
            .call(actor, "Publish", &broker(MARKER, "", b"marker"))
            .await
            .unwrap();
        assert_eq!(
            &next_message(&mut self.marker, WAIT).await.payload[..],
            b"marker"
        );
        if let Ok(Some(message)) = tokio::time::timeout(QUIET, self.lattice.next()).await {
            panic!("a message reached {}", message.subject);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_on_a_lattice_subject_is_refused() {
    let (server, messaging, _) = fixture();
    messaging.bind(A, &values(&server, &[])).await.unwrap();
    let mut listener = Listener::start(&server).await;

    let e = messaging
        .call(A, "Publish", &broker(LATTICE_SUBJECT, "", b"forged"))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), refusal("subject", LATTICE_SUBJECT));
    // A reply to it would be published there on the actor's behalf.
    let e = messaging
        .call(
            A,
            "Publish",
            &broker("orders.new", LATTICE_SUBJECT, b"forged"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), refusal("reply subject", LATTICE_SUBJECT));
    listener
        .assert_nothing_reached_the_lattice(&messaging, A)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn requesting_on_a_lattice_subject_is_refused() {
    let (server, messaging, _) = fixture();
    messaging.bind(A, &values(&server, &[])).await.unwrap();
    let mut listener = Listener::start(&server).await;

    let e = messaging
        .call(A, "Request", &request(LATTICE_SUBJECT))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), refusal("subject", LATTICE_SUBJECT));
    listener
        .assert_nothing_reached_the_lattice(&messaging, A)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_that_could_match_lattice_subjects_fail_the_binding() {
    let (server, messaging, _) = fixture();
    for subscription in ["trellis.>", ">", "*.default.heartbeat"] {
        let e = messaging
            .bind(A, &values(&server, &[("SUBSCRIPTION", subscription)]))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "SUBSCRIPTION {subscription} could receive the lattice's subjects (trellis.…); \
                 set ALLOW_LATTICE_SUBJECTS=true on the binding to allow it"
            )
        );
        assert!(!messaging.is_bound(A), "{subscription}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn other_subjects_are_untouched() {
    let (server, messaging, mut deliveries) = fixture();
    messaging
        .bind(A, &values(&server, &[("SUBSCRIPTION", "trellisx.foo")]))
        .await
        .unwrap();
    messaging
        .bind(B, &values(&server, &[("SUBSCRIPTION", "orders.>")]))
        .await
        .unwrap();

    messaging
        .call(B, "Publish", &broker("trellisx.foo", "", b"to A"))
        .await
        .unwrap();
    let (actor, message) = next_delivery(&mut deliveries, WAIT).await;
    assert_eq!((actor.as_str(), message.body.as_slice()), (A, &b"to A"[..]));
    messaging
        .call(
            A,
            "Publish",
            &broker("orders.new", "trellisx.answers", b"to B"),
        )
        .await
        .unwrap();
    let (actor, message) = next_delivery(&mut deliveries, WAIT).await;
    assert_eq!((actor.as_str(), message.body.as_slice()), (B, &b"to B"[..]));
    assert_eq!(message.reply_to, "trellisx.answers");
    assert_no_delivery(&mut deliveries, QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_lattice_subjects_lifts_the_refusal() {
    let (server, messaging, mut deliveries) = fixture();
    let allowed = [
        ("ALLOW_LATTICE_SUBJECTS", "true"),
        ("SUBSCRIPTION", "trellis.>"),
    ];
    messaging.bind(A, &values(&server, &allowed)).await.unwrap();
    let mut listener = Listener::start(&server).await;

    messaging
        .call(A, "Publish", &broker("trellis.default.x", "", b"bridged"))
        .await
        .unwrap();
    let message = next_message(&mut listener.lattice, WAIT).await;
    assert_eq!(message.subject.as_str(), "trellis.default.x");
    assert_eq!(&message.payload[..], b"bridged");
    // Its own subscription took it too.
    let (actor, message) = next_delivery(&mut deliveries, WAIT).await;
    assert_eq!(
        (actor.as_str(), message.subject.as_str()),
        (A, "trellis.default.x")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_allow_lattice_subjects_value_fails_the_binding() {
    let (server, messaging, _) = fixture();
    let e = messaging
        .bind(A, &values(&server, &[("ALLOW_LATTICE_SUBJECTS", "yes")]))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ALLOW_LATTICE_SUBJECTS must be true or false, not 'yes'"
    );
    assert!(!messaging.is_bound(A));
}
