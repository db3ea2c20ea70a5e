//! Test harness: binding values and a raw client for a real `nats-server`
//! (from `trellis-test-support`), and a [`Deliver`] that plays the host with
//! a channel.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use trellis_codec::messaging::BrokerMessage;
use trellis_provider_messaging::Deliver;
use trellis_test_support::NatsServer;

/// A publication as an actor asks for it, encoded.
pub fn broker(subject: &str, reply_to: &str, body: &[u8]) -> Vec<u8> {
    trellis_codec::encode(&BrokerMessage {
        subject: subject.into(),
        reply_to: reply_to.into(),
        body: body.to_vec(),
    })
    .unwrap()
}

/// Binding values for `server` plus `extra`.
pub fn values(server: &NatsServer, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut values: HashMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    values.insert("URL".into(), server.url());
    values
}

/// A plain client of `server`, for the other side of the tests.
pub async fn client(server: &NatsServer) -> async_nats::Client {
    async_nats::connect(server.url())
        .await
        .expect("connect a raw client")
}

/// One delivery the provider made: `(actor, message)`.
pub type Delivery = (String, BrokerMessage);

/// Plays the host: every delivery goes into a channel. The first
/// `fail_first` deliveries are recorded and then answered with an error.
#[derive(Clone)]
pub struct ChannelDeliver {
    sender: mpsc::UnboundedSender<Delivery>,
    fail_first: Arc<AtomicUsize>,
}

impl ChannelDeliver {
    pub fn new() -> (ChannelDeliver, mpsc::UnboundedReceiver<Delivery>) {
        ChannelDeliver::failing_first(0)
    }

    pub fn failing_first(n: usize) -> (ChannelDeliver, mpsc::UnboundedReceiver<Delivery>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let deliver = ChannelDeliver {
            sender,
            fail_first: Arc::new(AtomicUsize::new(n)),
        };
        (deliver, receiver)
    }
}

impl Deliver for ChannelDeliver {
    fn deliver(
        &self,
        actor: &str,
        message: BrokerMessage,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let sent = self.sender.send((actor.to_owned(), message));
        let fail = self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        async move {
            sent.map_err(|_| "the test stopped listening".to_owned())?;
            if fail {
                Err("actor trapped".to_owned())
            } else {
                Ok(())
            }
        }
    }
}

/// The next delivery, failing the test after `within`.
pub async fn next_delivery(
    receiver: &mut mpsc::UnboundedReceiver<Delivery>,
    within: Duration,
) -> Delivery {
    match tokio::time::timeout(within, receiver.recv()).await {
        Ok(Some(delivery)) => delivery,
        Ok(None) => panic!("the delivery channel closed"),
        Err(_) => panic!("no delivery within {within:?}"),
    }
}

/// Asserts that nothing is delivered for `quiet` (after the deliveries that
/// were expected have been awaited).
pub async fn assert_no_delivery(receiver: &mut mpsc::UnboundedReceiver<Delivery>, quiet: Duration) {
    if let Ok(Some(delivery)) = tokio::time::timeout(quiet, receiver.recv()).await {
        panic!("unexpected delivery: {delivery:?}");
    }
}

/// A subscription's next message, failing the test after `within`.
pub async fn next_message(
    subscriber: &mut async_nats::Subscriber,
    within: Duration,
) -> async_nats::Message {
    use futures::StreamExt;
    match tokio::time::timeout(within, subscriber.next()).await {
        Ok(Some(message)) => message,
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no message within {within:?}"),
    }
}

/// Waits until the server has processed everything `client` sent so far
/// (e.g. a subscription): a message to itself makes the round trip.
pub async fn sync(client: &async_nats::Client) {
    use futures::StreamExt;
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await.expect("subscribe");
    client
        .publish(inbox, Vec::new().into())
        .await
        .expect("publish");
    tokio::time::timeout(Duration::from_secs(5), echo.next())
        .await
        .expect("round trip to nats-server")
        .expect("subscription open");
}
