//! Remote invocation over the lattice next to its baselines, in one run:
//!
//! - in-process: a call to an actor of the same host (no NATS);
//! - raw NATS: an async-nats request/reply of the same sizes, answered by a
//!   bare responder on the same server;
//! - lattice: the same call to the actor on another host, through NATS.
//!
//! Rounds interleave the three so that machine noise hits all alike; the
//! table reports medians, p99s and ratios. Needs `nats-server` on PATH and
//! the built artifacts (`scripts/test` builds them).
//!
//! ```text
//! cargo bench -p trellis-host --features lattice --bench lattice
//! ```

use futures::StreamExt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trellis_host::lattice::{self, LatticeConfig};
use trellis_host::{Host, HostBuilder};

const ECHO_KEY: &str = "MABDHSD55WXG7HMUURJCTYQBD7KYIV2HAYK5YBBVQDLZBPHE4FQRTOVD";
const ROUNDS: usize = 20;
const CALLS_PER_ROUND: usize = 100;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn request() -> Vec<u8> {
    let request = trellis_codec::http::Request {
        method: "GET".into(),
        path: "/bench/path".into(),
        query_string: "x=1".into(),
        body: vec![b'x'; 64],
        ..Default::default()
    };
    trellis_codec::encode(&request).expect("encodes")
}

async fn member(address: &str) -> (Arc<Host>, Arc<lattice::Lattice>) {
    let host = Arc::new(HostBuilder::new().build().expect("host"));
    let config = LatticeConfig {
        host: address.into(),
        ..LatticeConfig::default()
    };
    let lattice = lattice::join(&host, config).await.expect("joins");
    (host, lattice)
}

/// Latencies of `CALLS_PER_ROUND` sequential calls of `call`.
async fn round<F, Fut>(samples: &mut Vec<Duration>, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..CALLS_PER_ROUND {
        let start = Instant::now();
        call().await;
        samples.push(start.elapsed());
    }
}

fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * q) as usize]
}

#[tokio::main]
async fn main() {
    let port = free_port();
    let mut nats = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server on PATH");
    let address = format!("127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nats-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let (actor_host, actor_lattice) = member(&address).await;
    actor_host
        .start_actor(&root().join("target/actors/echo_s.wasm"))
        .await
        .expect("echo built: run scripts/test first");
    actor_lattice.ready().await;
    let (caller, _b) = member(&address).await;
    let payload = request();
    let reply_size = actor_host
        .invoke(ECHO_KEY, "HandleRequest", payload.clone())
        .await
        .expect("echo answers")
        .len();

    // A bare responder answering with a reply of the echo's size.
    let client = async_nats::connect(&address).await.expect("connects");
    let mut requests = client.subscribe("bench.raw").await.expect("subscribes");
    let responder = client.clone();
    tokio::spawn(async move {
        let reply = bytes::Bytes::from(vec![0u8; reply_size]);
        while let Some(message) = requests.next().await {
            if let Some(to) = message.reply {
                let _ = responder.publish(to, reply.clone()).await;
            }
        }
    });
    client.flush().await.expect("flush");

    let (mut local, mut raw, mut remote) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        round(&mut local, || async {
            actor_host
                .invoke(ECHO_KEY, "HandleRequest", payload.clone())
                .await
                .expect("local");
        })
        .await;
        round(&mut raw, || async {
            client
                .request("bench.raw", payload.clone().into())
                .await
                .expect("raw");
        })
        .await;
        round(&mut remote, || async {
            caller
                .invoke(ECHO_KEY, "HandleRequest", payload.clone())
                .await
                .expect("remote");
        })
        .await;
    }
    let _ = nats.kill();
    let _ = nats.wait();

    let (raw_p50, raw_p99) = (quantile(&mut raw, 0.5), quantile(&mut raw, 0.99));
    println!(
        "{} calls each, {} interleaved rounds, request {} B, reply {} B\n",
        ROUNDS * CALLS_PER_ROUND,
        ROUNDS,
        payload.len(),
        reply_size
    );
    println!("| path | median | p99 | median vs raw NATS |");
    println!("|---|---|---|---|");
    for (name, samples) in [
        ("in-process actor call", &mut local),
        ("raw async-nats request/reply", &mut raw),
        ("remote actor call (lattice)", &mut remote),
    ] {
        let (p50, p99) = (quantile(samples, 0.5), quantile(samples, 0.99));
        println!(
            "| {name} | {p50:?} | {p99:?} | {:.2}× |",
            p50.as_secs_f64() / raw_p50.as_secs_f64()
        );
    }
    let _ = raw_p99;
}
