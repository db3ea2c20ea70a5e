//! Test harness: a real `nats-server` on a free loopback port, killed on
//! drop, and a [`Deliver`] that plays the host with a channel.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::HashMap;
use std::future::Future;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use trellis_codec::messaging::BrokerMessage;
use trellis_provider_messaging::Deliver;

/// How long a nats-server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(10);

/// A `nats-server` child process on 127.0.0.1, killed when dropped.
pub struct NatsServer {
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server on a free port and waits until it greets with INFO.
    pub fn start() -> NatsServer {
        // A port found free can be taken before the server binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let mut server = NatsServer {
                port: free_port(),
                child: None,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start nats-server: {last_error}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Binding values for this server plus `extra`.
    pub fn values(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut values: HashMap<String, String> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        values.insert("URL".into(), self.url());
        values
    }

    /// A plain client of this server, for the other side of the tests.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("connect a raw client")
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                if e.kind() == ErrorKind::NotFound {
                    panic!(
                        "nats-server is not installed (not found on PATH): the messaging \
                         tests need it; install it with `apt-get install -y nats-server`"
                    )
                }
                panic!("cannot run nats-server: {e}")
            });
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("nats-server exited at start with {status}"));
            }
            if greets(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no INFO within {STARTUP:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// Whether a NATS server on `port` sends its `INFO` greeting.
fn greets(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut greeting = [0u8; 4];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO"
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
