//! `wascc:messaging` against a real `nats-server` (it must be installed: these
//! tests fail, not skip, without it). The actor side is a channel
//! ([`ChannelDeliver`]); the host's end-to-end run is tested in the host.

mod common;

use common::{
    assert_no_delivery, broker, client, next_delivery, next_message, sync, values, ChannelDeliver,
};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trellis_codec::messaging::{BrokerMessage, RequestMessage};
use trellis_codec::{decode, encode};
use trellis_provider_messaging::{Messaging, MessagingProvider, OPERATIONS};
use trellis_provider_sdk::{ActorBinding, Call, Provider};
use trellis_test_support::{eventually, free_port, NatsServer};

const A: &str = "MACTORA";
const B: &str = "MACTORB";
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

fn request(subject: &str, body: &[u8], timeout: i64) -> Vec<u8> {
    encode(&RequestMessage {
        subject: subject.into(),
        body: body.to_vec(),
        timeout,
    })
    .unwrap()
}

/// A [`Messaging`] delivering into a channel, with a server.
async fn fixture() -> (
    NatsServer,
    Messaging<ChannelDeliver>,
    tokio::sync::mpsc::UnboundedReceiver<common::Delivery>,
) {
    let server = NatsServer::start();
    let (deliver, deliveries) = ChannelDeliver::new();
    (server, Messaging::new(deliver), deliveries)
}

#[test]
fn descriptor() {
    let (deliver, _) = ChannelDeliver::new();
    let d = MessagingProvider::new(deliver).descriptor();
    assert_eq!(d.capability_id, "wascc:messaging");
    assert_eq!(d.name, "Messaging");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(d.operations, ["Publish", "Request"]);
    assert_eq!(OPERATIONS, ["Publish", "Request"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_reaches_a_subscriber() {
    let (server, messaging, _) = fixture().await;
    messaging.bind(A, &values(&server, &[])).await.unwrap();
    let raw = client(&server).await;
    let mut sub = raw.subscribe("news.>").await.unwrap();
    sync(&raw).await;

    let reply = messaging
        .call(A, "Publish", &broker("news.today", "", b"hello"))
        .await
        .unwrap();
    assert!(reply.is_empty());
    let message = next_message(&mut sub, WAIT).await;
    assert_eq!(message.subject.as_str(), "news.today");
    assert_eq!(message.reply, None);
    assert_eq!(&message.payload[..], b"hello");

    messaging
        .call(A, "Publish", &broker("news.later", "answers.here", b""))
        .await
        .unwrap();
    let message = next_message(&mut sub, WAIT).await;
    assert_eq!(message.subject.as_str(), "news.later");
    assert_eq!(message.reply.as_deref(), Some("answers.here"));
    assert!(message.payload.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn request_gets_the_reply() {
    let (server, messaging, _) = fixture().await;
    messaging.bind(A, &values(&server, &[])).await.unwrap();
    let raw = client(&server).await;
    let mut sub = raw.subscribe("time.now").await.unwrap();
    sync(&raw).await;
    let responder = raw.clone();
    tokio::spawn(async move {
        while let Some(message) = sub.next().await {
            if let Some(reply) = message.reply {
                let mut body = b"reply: ".to_vec();
                body.extend_from_slice(&message.payload);
                responder.publish(reply, body.into()).await.unwrap();
            }
        }
    });

    // timeout 0 means the default (2000 ms).
    for timeout in [0, 1000] {
        let reply = messaging
            .call(A, "Request", &request("time.now", b"what time?", timeout))
            .await
            .unwrap();
        let reply: BrokerMessage = decode(&reply).unwrap();
        assert_eq!(reply.body, b"reply: what time?");
        assert!(reply.subject.starts_with("_INBOX."), "{}", reply.subject);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_without_responders_fails_fast() {
    let (server, messaging, _) = fixture().await;
    messaging.bind(A, &values(&server, &[])).await.unwrap();
    let started = Instant::now();
    let e = messaging
        .call(A, "Request", &request("nobody.home", b"?", 5000))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Request to 'nobody.home': no responders are listening"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_times_out() {
    let (server, messaging, _) = fixture().await;
    messaging.bind(A, &values(&server, &[])).await.unwrap();
    // Listens, never answers.
    let raw = client(&server).await;
    let _silent = raw.subscribe("slow.service").await.unwrap();
    sync(&raw).await;

    let started = Instant::now();
    let e = messaging
        .call(A, "Request", &request("slow.service", b"?", 300))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        e.to_string(),
        "Request to 'slow.service' got no reply within 300 ms"
    );
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    let e = messaging
        .call(A, "Request", &request("slow.service", b"?", -1))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Request: timeout must be 0 (the default, 2000 ms) or a number of milliseconds, not -1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_clear() {
    let (server, messaging, _) = fixture().await;
    let e = messaging
        .call(A, "Publish", &broker("a", "", b""))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "actor MACTORA is not bound to wascc:messaging"
    );
    let e = messaging
        .call(A, "Request", &request("a", b"", 0))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "actor MACTORA is not bound to wascc:messaging"
    );

    messaging.bind(A, &values(&server, &[])).await.unwrap();
    let e = messaging.call(A, "Shout", b"").await.unwrap_err();
    assert_eq!(e.to_string(), "unknown operation 'Shout'");
    let e = messaging.call(A, "Publish", &[0xc1]).await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Publish: cannot decode messaging::BrokerMessage"),
        "{e}"
    );
    let e = messaging.call(A, "Request", &[0xc1]).await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Request: cannot decode messaging::RequestMessage"),
        "{e}"
    );
    let e = messaging
        .call(A, "Publish", &broker("", "", b""))
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("cannot publish on '':"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_fails_the_binding() {
    let (deliver, _) = ChannelDeliver::new();
    let messaging = Messaging::new(deliver);
    let url = format!("nats://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let values = HashMap::from([("URL".to_owned(), url.clone())]);
    let e = messaging.bind(A, &values).await.unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot connect to NATS at {url}: ")),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!messaging.is_bound(A));

    let values = HashMap::from([("URL".to_owned(), "nats://me:secret@127.0.0.1:1".to_owned())]);
    let e = messaging.bind(A, &values).await.unwrap_err().to_string();
    assert!(
        e.starts_with("cannot connect to NATS at nats://me:***@127.0.0.1:1: "),
        "{e}"
    );
    assert!(!e.contains("secret"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribed_messages_are_delivered_to_the_actor() {
    let server = NatsServer::start();
    // The actor fails the first delivery: logged, and delivery goes on.
    let (deliver, mut deliveries) = ChannelDeliver::failing_first(1);
    let messaging = Messaging::new(deliver);
    messaging
        .bind(A, &values(&server, &[("SUBSCRIPTION", "greet.*")]))
        .await
        .unwrap();
    assert!(messaging.is_bound(A));
    let raw = client(&server).await;

    raw.publish("greet.one", "first".into()).await.unwrap();
    raw.publish_with_reply("greet.two", "back.here", "second".into())
        .await
        .unwrap();
    raw.publish("other.subject", "ignored".into())
        .await
        .unwrap();

    let (actor, message) = next_delivery(&mut deliveries, WAIT).await;
    assert_eq!(actor, A);
    assert_eq!(
        message,
        BrokerMessage {
            subject: "greet.one".into(),
            reply_to: String::new(),
            body: b"first".to_vec(),
        }
    );
    let (actor, message) = next_delivery(&mut deliveries, WAIT).await;
    assert_eq!(actor, A);
    assert_eq!(
        message,
        BrokerMessage {
            subject: "greet.two".into(),
            reply_to: "back.here".into(),
            body: b"second".to_vec(),
        }
    );
    assert_no_delivery(&mut deliveries, QUIET).await;

    // Unbinding stops delivery and unsubscribes at the server.
    assert!(messaging.unbind(A));
    assert!(!messaging.unbind(A));
    eventually(WAIT, "no responders once unbound", || async {
        // A short wait per try: a request the old subscription still took
        // gets no reply, and the next try comes soon.
        let answer = tokio::time::timeout(
            Duration::from_millis(200),
            raw.request("greet.anyone", "?".into()),
        )
        .await;
        matches!(answer, Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders)
            .then_some(())
    })
    .await;
    // The request above may have been delivered just before the unsubscribe.
    while let Ok(delivery) = deliveries.try_recv() {
        assert_eq!(delivery.1.subject, "greet.anyone");
    }
    raw.publish("greet.three", "late".into()).await.unwrap();
    assert_no_delivery(&mut deliveries, QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_actor_answers_another_actors_request() {
    // What the responder sample does, with the channel in the actor's place.
    let server = NatsServer::start();
    let (deliver, mut deliveries) = ChannelDeliver::new();
    let messaging = Arc::new(Messaging::new(deliver));
    messaging
        .bind(A, &values(&server, &[("SUBSCRIPTION", "echo")]))
        .await
        .unwrap();
    messaging.bind(B, &values(&server, &[])).await.unwrap();
    let responder = Arc::clone(&messaging);
    tokio::spawn(async move {
        while let Some((actor, message)) = deliveries.recv().await {
            let mut body = b"reply: ".to_vec();
            body.extend_from_slice(&message.body);
            responder
                .call(&actor, "Publish", &broker(&message.reply_to, "", &body))
                .await
                .unwrap();
        }
    });
    let reply = messaging
        .call(B, "Request", &request("echo", b"hi", 0))
        .await
        .unwrap();
    let reply: BrokerMessage = decode(&reply).unwrap();
    assert_eq!(reply.body, b"reply: hi");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_group_gets_each_message_once() {
    let (server, messaging, mut deliveries) = fixture().await;
    let group = [("SUBSCRIPTION", "work"), ("QUEUE_GROUP", "workers")];
    messaging.bind(A, &values(&server, &group)).await.unwrap();
    messaging.bind(B, &values(&server, &group)).await.unwrap();
    let raw = client(&server).await;
    const N: usize = 40;
    for i in 0..N {
        raw.publish("work", i.to_string().into()).await.unwrap();
    }
    let mut seen = HashSet::new();
    let mut per_actor: HashMap<String, usize> = HashMap::new();
    for _ in 0..N {
        let (actor, message) = next_delivery(&mut deliveries, WAIT).await;
        let body = String::from_utf8(message.body).unwrap();
        assert!(seen.insert(body.clone()), "{body} delivered twice");
        *per_actor.entry(actor).or_default() += 1;
    }
    assert_no_delivery(&mut deliveries, QUIET).await;
    assert_eq!(seen.len(), N);
    assert_eq!(per_actor.values().sum::<usize>(), N);

    // Without a group, both actors get every message.
    messaging
        .bind(A, &values(&server, &[("SUBSCRIPTION", "work")]))
        .await
        .unwrap();
    messaging
        .bind(B, &values(&server, &[("SUBSCRIPTION", "work")]))
        .await
        .unwrap();
    raw.publish("work", "all".into()).await.unwrap();
    let mut actors = HashSet::new();
    for _ in 0..2 {
        let (actor, message) = next_delivery(&mut deliveries, WAIT).await;
        assert_eq!(message.body, b"all");
        actors.insert(actor);
    }
    assert_eq!(actors, HashSet::from([A.to_owned(), B.to_owned()]));
    assert_no_delivery(&mut deliveries, QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rebinding_with_other_values_switches_subscription() {
    let (server, messaging, mut deliveries) = fixture().await;
    messaging
        .bind(A, &values(&server, &[("SUBSCRIPTION", "old")]))
        .await
        .unwrap();
    // The same values again keep the subscription (nothing is lost or doubled).
    messaging
        .bind(A, &values(&server, &[("SUBSCRIPTION", "old")]))
        .await
        .unwrap();
    let raw = client(&server).await;
    raw.publish("old", "1".into()).await.unwrap();
    assert_eq!(next_delivery(&mut deliveries, WAIT).await.1.body, b"1");
    assert_no_delivery(&mut deliveries, QUIET).await;

    messaging
        .bind(A, &values(&server, &[("SUBSCRIPTION", "new")]))
        .await
        .unwrap();
    raw.publish("old", "2".into()).await.unwrap();
    raw.publish("new", "3".into()).await.unwrap();
    assert_eq!(next_delivery(&mut deliveries, WAIT).await.1.body, b"3");
    assert_no_delivery(&mut deliveries, QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_trait_binds_calls_and_removes() {
    let server = NatsServer::start();
    let (deliver, mut deliveries) = ChannelDeliver::new();
    let provider = MessagingProvider::new(deliver);
    let call = |operation: &str, payload: Vec<u8>| Call {
        actor: A.into(),
        operation: operation.into(),
        payload,
    };
    let e = provider
        .handle_call(call("Publish", broker("x", "", b"")))
        .await
        .unwrap_err();
    assert_eq!(e.message(), "actor MACTORA is not bound to wascc:messaging");

    let mut values = values(&server, &[("SUBSCRIPTION", "inbox.a")]);
    // The host adds the actor's claims: they select nothing.
    values.insert("__wascc_name".into(), "responder".into());
    values.insert("__wascc_capabilities".into(), "wascc:messaging".into());
    provider
        .bind_actor(ActorBinding {
            actor: A.into(),
            values,
        })
        .unwrap();

    let raw = client(&server).await;
    let mut sub = raw.subscribe("out").await.unwrap();
    sync(&raw).await;
    provider
        .handle_call(call("Publish", broker("out", "", b"via trait")))
        .await
        .unwrap();
    assert_eq!(
        &next_message(&mut sub, WAIT).await.payload[..],
        b"via trait"
    );
    raw.publish("inbox.a", "in".into()).await.unwrap();
    assert_eq!(next_delivery(&mut deliveries, WAIT).await.1.body, b"in");

    let e = provider
        .bind_actor(ActorBinding {
            actor: B.into(),
            values: HashMap::from([(
                "URL".to_owned(),
                format!("nats://127.0.0.1:{}", free_port()),
            )]),
        })
        .unwrap_err();
    assert!(
        e.message()
            .starts_with("cannot connect to NATS at nats://127.0.0.1:"),
        "{e}"
    );

    provider.remove_actor(A).unwrap();
    assert!(!provider.messaging().is_bound(A));
    let e = provider
        .handle_call(call("Request", request("x", b"", 0)))
        .await
        .unwrap_err();
    assert_eq!(e.message(), "actor MACTORA is not bound to wascc:messaging");

    provider
        .bind_actor(ActorBinding {
            actor: A.into(),
            values: common::values(&server, &[]),
        })
        .unwrap();
    provider.stop();
    assert!(!provider.messaging().is_bound(A));
}
