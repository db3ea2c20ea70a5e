//! Remote invocation over the lattice next to its baselines, in one run:
//!
//! - in-process: a call to an actor of the bench's own host (no NATS), for
//!   reference;
//! - raw NATS: an async-nats request of the same request bytes, answered by
//!   a bare responder in another process (this bench re-run in its
//!   `responder` role) with a reply of the echo reply's size;
//! - open lattice: the same call to the echo actor run by another host
//!   process (`trellis up`, built with the lattice feature), through the
//!   same nats-server;
//! - trusted lattice: the same again on a lattice with a cluster seed, in a
//!   namespace of its own on that nats-server, so that every call and reply
//!   is sealed and opened on both sides.
//!
//! Two tables: sequential calls (median, p99, ratio to raw NATS), and 64
//! calls in flight (throughput and per-call latency, with ratios to raw NATS
//! and to the open lattice, and the CPU time a call costs each process).
//! Rounds interleave the paths so that machine noise hits all alike. A third
//! table times the sealing steps of one trusted call in process, and a last
//! line checks the trusted lattice against its budget. Needs `nats-server`
//! on PATH and the signed actors (`scripts/build-actors`).
//!
//! ```text
//! cargo bench -p trellis-host --features lattice --bench lattice
//! ```
//!
//! `TRELLIS_BENCH_ROUNDS` scales the rounds (default 20), e.g. to profile
//! the answering process for longer.

use bytes::Bytes;
use futures::StreamExt;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trellis_claims::nkeys::KeyPair;
use trellis_host::lattice::trust::{Kind, MessageId, Sealed, Trust};
use trellis_host::lattice::{self, LatticeConfig};
use trellis_host::{Host, HostBuilder, Invocation};

mod support;

use support::{human, latency_table, ratio, Samples, ECHO_KEY};
use trellis_test_support::{actor, NatsServer, Process};

const CALLS_PER_ROUND: usize = 100;
const IN_FLIGHT: usize = 64;
const CALLS_PER_CONCURRENT_ROUND: usize = 2_560;
const RAW_SUBJECT: &str = "bench.raw";
/// The argument that turns this binary into the raw baseline's responder.
const RESPONDER_ROLE: &str = "responder";

fn rounds() -> usize {
    std::env::var("TRELLIS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20)
}

/// An HTTP request as the HTTP provider would send it to the echo actor.
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    match args.get(1).map(String::as_str) {
        Some(RESPONDER_ROLE) => runtime.block_on(respond(&args[2], &args[3])),
        _ => runtime.block_on(bench()),
    }
}

/// The raw baseline's other process: answers every request on
/// [`RAW_SUBJECT`] with `reply_size` bytes, and says `ready` on stdout once
/// the server has its subscription.
async fn respond(address: &str, reply_size: &str) {
    let reply = Bytes::from(vec![0u8; reply_size.parse().expect("a reply size")]);
    let client = async_nats::connect(address).await.expect("connects");
    let mut requests = client.subscribe(RAW_SUBJECT).await.expect("subscribes");
    client.flush().await.expect("flushes");
    println!("ready");
    while let Some(message) = requests.next().await {
        if let Some(to) = message.reply {
            let _ = client.publish(to, reply.clone()).await;
        }
    }
}

/// Starts the raw responder in another process and waits until it listens.
fn start_responder(address: &str, reply_size: usize) -> Process {
    let exe = std::env::current_exe().expect("bench binary path");
    let mut responder = Process::spawn(
        Command::new(exe)
            .args([RESPONDER_ROLE, address, &reply_size.to_string()])
            .stdout(Stdio::piped()),
        "the raw responder",
    );
    let stdout = responder.take_stdout().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the responder answers");
    assert_eq!(line.trim(), "ready", "the responder did not start");
    responder
}

/// A lattice the bench calls across: its namespace on the shared
/// nats-server, and the cluster seed that makes it trusted.
struct Side {
    /// How the tables name calls across it.
    path: &'static str,
    namespace: &'static str,
    /// `None`: an open lattice.
    cluster_seed: Option<String>,
}

impl Side {
    fn open() -> Self {
        Side {
            path: "remote actor call (open lattice)",
            namespace: "bench-open",
            cluster_seed: None,
        }
    }

    /// A trusted lattice on a fresh cluster key.
    fn trusted() -> Self {
        Side {
            path: "remote actor call (trusted lattice)",
            namespace: "bench-trusted",
            cluster_seed: Some(KeyPair::new_cluster().seed().expect("a cluster seed")),
        }
    }

    fn config(&self, address: &str) -> LatticeConfig {
        LatticeConfig {
            host: address.into(),
            namespace: self.namespace.into(),
            cluster_seed: self.cluster_seed.clone(),
            ..LatticeConfig::default()
        }
    }
}

/// Writes a manifest running only the echo actor.
fn echo_manifest(folder: &Path) -> PathBuf {
    let manifest = folder.join("echo.yaml");
    std::fs::write(
        &manifest,
        format!("actors: [{}]\n", actor("echo_s").display()),
    )
    .expect("writes the manifest");
    manifest
}

/// Starts `trellis up` with `manifest`, joined to `side`'s lattice at `address`.
fn start_actor_host(address: &str, manifest: &Path, side: &Side) -> Process {
    let mut command = Command::new(support::trellis_binary());
    command
        .arg("up")
        .arg("--manifest")
        .arg(manifest)
        .args(["--lattice-host", address])
        .args(["--lattice-namespace", side.namespace])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    // The seed goes through the environment, out of the process list; an
    // open host must not inherit one from the bench's environment.
    match &side.cluster_seed {
        Some(seed) => command.env("LATTICE_CLUSTER_SEED", seed),
        None => command.env_remove("LATTICE_CLUSTER_SEED"),
    };
    Process::spawn(&mut command, "trellis up")
}

/// A host of the bench's own, joined to `side`'s lattice, once a call to
/// echo across it gets through. The lattice handle keeps it a member.
async fn caller(address: &str, side: &Side, payload: &[u8]) -> (Arc<Host>, Arc<lattice::Lattice>) {
    let host = Arc::new(HostBuilder::new().build().expect("host"));
    let lattice = lattice::join(&host, side.config(address))
        .await
        .expect("joins");
    until_reachable(&host, &lattice, payload).await;
    (host, lattice)
}

/// A call of echo's `HandleRequest` through a host's bus, wherever echo
/// runs: `move || echo.call()` is a path the rounds can time.
#[derive(Clone)]
struct EchoCall {
    host: Arc<Host>,
    payload: Bytes,
}

impl EchoCall {
    fn new(host: &Arc<Host>, payload: &Bytes) -> Self {
        EchoCall {
            host: Arc::clone(host),
            payload: payload.clone(),
        }
    }

    fn call(&self) -> impl Future<Output = ()> + Send + 'static {
        let (host, payload) = (Arc::clone(&self.host), self.payload.to_vec());
        async move {
            host.bus()
                .call(Invocation::to_actor(ECHO_KEY, "HandleRequest", payload))
                .await
                .expect("echo answers");
        }
    }
}

/// Waits until `caller`'s view holds a host running echo and a call to it
/// gets through.
async fn until_reachable(caller: &Host, lattice: &lattice::Lattice, payload: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = lattice
            .peers()
            .iter()
            .any(|p| p.actors.iter().any(|a| a.id == ECHO_KEY));
        if seen
            && caller
                .bus()
                .call(Invocation::to_actor(
                    ECHO_KEY,
                    "HandleRequest",
                    payload.to_vec(),
                ))
                .await
                .is_ok()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the echo host never became reachable"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `total` calls made by `IN_FLIGHT` concurrent callers: each call's
/// latency into `samples`; returns the round's wall time.
async fn concurrent_round<F, Fut>(samples: &mut Samples, total: usize, call: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let callers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total / IN_FLIGHT);
                for _ in 0..total / IN_FLIGHT {
                    let start = Instant::now();
                    call().await;
                    latencies.push(start.elapsed());
                }
                latencies
            })
        })
        .collect();
    for caller in callers {
        for latency in caller.await.expect("a caller finished") {
            samples.push(latency);
        }
    }
    start.elapsed()
}

/// Per-call latencies, per-round throughputs and CPU time of one path
/// under concurrent load.
struct Load {
    samples: Samples,
    rates: Vec<f64>,
    /// The processes a call keeps busy: the caller (this bench), then the
    /// answering process and nats-server when the call leaves it.
    processes: Vec<u32>,
    /// The CPU time each of them used in the rounds.
    cpu: Vec<Duration>,
}

impl Load {
    /// A path whose calls keep `processes` busy.
    fn new(processes: Vec<u32>) -> Self {
        Load {
            samples: Samples::default(),
            rates: Vec::new(),
            cpu: vec![Duration::ZERO; processes.len()],
            processes,
        }
    }

    /// One round of [`CALLS_PER_CONCURRENT_ROUND`] calls.
    async fn run<F, Fut>(&mut self, call: F)
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let before: Vec<Duration> = self
            .processes
            .iter()
            .map(|&p| support::thread_cpu_time(p))
            .collect();
        let wall = concurrent_round(&mut self.samples, CALLS_PER_CONCURRENT_ROUND, call).await;
        self.rates
            .push(CALLS_PER_CONCURRENT_ROUND as f64 / wall.as_secs_f64());
        for ((total, &pid), before) in self.cpu.iter_mut().zip(&self.processes).zip(before) {
            *total += support::thread_cpu_time(pid).saturating_sub(before);
        }
    }

    /// Calls per second of the median round: one round stalled by the
    /// machine does not drag the figure down.
    fn throughput(&mut self) -> f64 {
        self.rates.sort_by(f64::total_cmp);
        self.rates[self.rates.len() / 2]
    }

    /// Each process's CPU time per call, as `12.3 µs + 4.56 µs + 7.89 µs`.
    fn cpu_per_call(&self) -> String {
        let calls = self.samples.len().max(1) as u32;
        let shares: Vec<String> = self.cpu.iter().map(|cpu| human(*cpu / calls)).collect();
        shares.join(" + ")
    }
}

/// Prints the concurrent rows: throughput, latency and CPU per call, with
/// ratios to the first row (the baseline), and the throughput's ratio to
/// row `also`.
fn load_table(rows: &mut [(&str, &mut Load)], also: usize) {
    let base_rate = rows[0].1.throughput();
    let base_p50 = rows[0].1.samples.median();
    let also_rate = rows[also].1.throughput();
    let (base, other) = (rows[0].0, rows[also].0);
    println!(
        "| path ({IN_FLIGHT} in flight) | calls | calls/s (median round) | p50 | p99 | calls/s vs {base} | p50 vs {base} | calls/s vs {other} | CPU per call: caller + answering process + nats-server |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, load) in rows.iter_mut() {
        let (p50, p99, rate) = (load.samples.median(), load.samples.p99(), load.throughput());
        println!(
            "| {name} | {} | {rate:.0} | {} | {} | {:.2}× | {} | {:.2}× | {} |",
            load.samples.len(),
            human(p50),
            human(p99),
            rate / base_rate,
            ratio(p50, base_p50),
            rate / also_rate,
            load.cpu_per_call()
        );
    }
    println!();
}

/// Times the sealing work of `calls` trusted calls in process, between two
/// members of `side`'s cluster, and prints it step by step: what the
/// trusted lattice adds to a call besides the bytes on the wire. The
/// contents are the request and a reply of its size, without the envelope
/// a real call wraps them in (a few dozen bytes more).
fn sealing_table(side: &Side, request: &[u8], reply_size: usize, calls: usize) {
    // What a member trusts does not depend on the server's address.
    let member = || {
        side.config("")
            .trust(&KeyPair::new_server())
            .expect("a cluster member")
    };
    let (caller, answerer) = (member(), member());
    let reply = vec![0u8; reply_size];
    let (call_subject, reply_subject) = (
        format!("trellis.{}.actor.{ECHO_KEY}", side.namespace),
        "_INBOX.bench.1",
    );
    let mut steps: [Samples; 5] = Default::default();
    for _ in 0..calls {
        let start = Instant::now();
        let call = seal(&caller, Kind::Call, &call_subject, None, request);
        let sealed_call = start.elapsed();
        let opened = answerer
            .open(Kind::Call, &call_subject, None, &call.bytes)
            .expect("opens the call");
        let opened_call = start.elapsed();
        let answer = seal(
            &answerer,
            Kind::Reply,
            reply_subject,
            opened.id.as_ref(),
            &reply,
        );
        let sealed_reply = start.elapsed();
        caller
            .open(Kind::Reply, reply_subject, call.id.as_ref(), &answer.bytes)
            .expect("opens the reply");
        let done = start.elapsed();
        let times = [
            sealed_call,
            opened_call - sealed_call,
            sealed_reply - opened_call,
            done - sealed_reply,
            done,
        ];
        for (samples, time) in steps.iter_mut().zip(times) {
            samples.push(time);
        }
    }
    println!(
        "Sealing work of one trusted call, in process (request {} B, reply {reply_size} B):\n",
        request.len()
    );
    println!("| step | runs | median | p99 |");
    println!("|---|---|---|---|");
    let names = [
        "caller seals the call",
        "answering host opens the call",
        "answering host seals the reply",
        "caller opens the reply",
        "all four",
    ];
    for (name, samples) in names.iter().zip(&mut steps) {
        println!(
            "| {name} | {} | {} | {} |",
            samples.len(),
            human(samples.median()),
            human(samples.p99())
        );
    }
    println!();
}

/// `content` sealed by `trust` as a message of `kind` on `subject`.
fn seal(
    trust: &Trust,
    kind: Kind,
    subject: &str,
    in_reply_to: Option<&MessageId>,
    content: &[u8],
) -> Sealed {
    trust
        .seal(kind, subject, in_reply_to, content.len(), |out| {
            out.extend_from_slice(content);
            Ok::<_, std::convert::Infallible>(())
        })
        .expect("seals")
}

/// Prints the trusted lattice's budget and where this run stands.
fn budget(sequential_vs_raw: f64, throughput_vs_open: f64) {
    let met = sequential_vs_raw <= 1.3 && throughput_vs_open >= 0.85;
    println!(
        "Budget: trusted sequential median ≤ 1.3× raw NATS; trusted {IN_FLIGHT}-in-flight throughput ≥ 85% of open. \
         Measured: {sequential_vs_raw:.2}× raw NATS, {:.0}% of open: {}.",
        throughput_vs_open * 100.0,
        if met { "met" } else { "**not met**" }
    );
}

async fn bench() {
    let nats = NatsServer::start();
    let address = nats.address();
    let folder = tempfile::tempdir().expect("a temporary folder");
    let manifest = echo_manifest(folder.path());
    let (open, trusted) = (Side::open(), Side::trusted());
    let open_host = start_actor_host(&address, &manifest, &open);
    let trusted_host = start_actor_host(&address, &manifest, &trusted);

    let payload = Bytes::from(request());
    let local = Arc::new(HostBuilder::new().build().expect("host"));
    local
        .start_actor(&actor("echo_s"))
        .await
        .expect("echo starts");
    let reply_size = local
        .bus()
        .call(Invocation::to_actor(
            ECHO_KEY,
            "HandleRequest",
            payload.to_vec(),
        ))
        .await
        .expect("echo answers")
        .len();
    let responder = start_responder(&address, reply_size);
    let client = async_nats::connect(&address).await.expect("connects");
    let (open_caller, _open_membership) = caller(&address, &open, &payload).await;
    let (trusted_caller, _trusted_membership) = caller(&address, &trusted, &payload).await;

    let local_echo = EchoCall::new(&local, &payload);
    let open_echo = EchoCall::new(&open_caller, &payload);
    let trusted_echo = EchoCall::new(&trusted_caller, &payload);
    let local_call = move || local_echo.call();
    let open_call = move || open_echo.call();
    let trusted_call = move || trusted_echo.call();
    let raw_call = {
        let (client, payload) = (client.clone(), payload.clone());
        move || {
            let (client, payload) = (client.clone(), payload.clone());
            async move {
                client
                    .request(RAW_SUBJECT, payload)
                    .await
                    .expect("raw request");
            }
        }
    };

    let rounds = rounds();
    let [mut raw, mut open_lattice, mut trusted_lattice, mut in_process]: [Samples; 4] =
        Default::default();
    for _ in 0..rounds {
        support::timed_round(&mut raw, CALLS_PER_ROUND, &raw_call).await;
        support::timed_round(&mut open_lattice, CALLS_PER_ROUND, &open_call).await;
        support::timed_round(&mut trusted_lattice, CALLS_PER_ROUND, &trusted_call).await;
        support::timed_round(&mut in_process, CALLS_PER_ROUND, &local_call).await;
    }
    let (me, nats_id) = (std::process::id(), nats.id());
    let mut raw_load = Load::new(vec![me, responder.id(), nats_id]);
    let mut open_load = Load::new(vec![me, open_host.id(), nats_id]);
    let mut trusted_load = Load::new(vec![me, trusted_host.id(), nats_id]);
    let mut local_load = Load::new(vec![me]);
    for _ in 0..rounds.div_ceil(4) {
        raw_load.run(raw_call.clone()).await;
        open_load.run(open_call.clone()).await;
        trusted_load.run(trusted_call.clone()).await;
        local_load.run(local_call.clone()).await;
    }

    println!(
        "Request {} B, reply {reply_size} B; the two actor hosts (an open and a trusted lattice, a namespace each) and the raw responder are other processes on one nats-server; {rounds} interleaved rounds.\n",
        payload.len()
    );
    let sequential_vs_raw = trusted_lattice.median().as_secs_f64() / raw.median().as_secs_f64();
    let throughput_vs_open = trusted_load.throughput() / open_load.throughput();
    latency_table(&mut [
        ("raw async-nats request/reply", &mut raw),
        (open.path, &mut open_lattice),
        (trusted.path, &mut trusted_lattice),
        ("in-process actor call (reference)", &mut in_process),
    ]);
    load_table(
        &mut [
            ("raw async-nats request/reply", &mut raw_load),
            (open.path, &mut open_load),
            (trusted.path, &mut trusted_load),
            ("in-process actor call (reference)", &mut local_load),
        ],
        1,
    );
    sealing_table(&trusted, &payload, reply_size, rounds * CALLS_PER_ROUND);
    budget(sequential_vs_raw, throughput_vs_open);
}
