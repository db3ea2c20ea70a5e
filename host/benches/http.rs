//! HTTP echo end to end, under a real load generator (`wrk`, 64 connections):
//!
//! - *bare hyper*: a hyper server in its own process that answers each
//!   request with the JSON the echo actor writes (the physical bound: the
//!   same HTTP stack with no actor, no provider ABI, no wasm);
//! - *Trellis, one host*: `trellis up` with the HTTP server provider and the
//!   echo actor in one process (the actor is called in-process);
//! - *Trellis, two hosts*: the HTTP server provider in one `trellis up`
//!   process, the echo actor in another, every request crossing NATS.
//!
//! Rounds interleave the three, so machine noise hits all alike; the table
//! reports the median requests/s of the rounds (and their spread), the ratio
//! to bare hyper, and wrk's p50/p99 latency. The bench binary plays the bare
//! server itself (`http --serve-bare-echo PORT`). Needs `wrk` and
//! `nats-server` on PATH and the release artifacts `scripts/bench` builds.
//!
//! ```text
//! cargo bench -p trellis-host --features lattice --bench http
//! ```

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::ECHO_KEY;
use trellis_test_support::{free_port, NatsServer, Process};

// The allocator the `trellis` binary runs with, so that the baseline's HTTP
// stack allocates as fast as Trellis' own does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Interleaved rounds of every server.
const ROUNDS: usize = 3;
/// Length of each wrk run.
const RUN_SECONDS: u32 = 5;
const CONNECTIONS: u32 = 64;
/// The request every run sends (the echo actor answers with it as JSON).
const PATH: &str = "/bench/echo?x=1";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(port) = args
        .iter()
        .position(|a| a == "--serve-bare-echo")
        .and_then(|i| args.get(i + 1))
    {
        bare::serve(port.parse().expect("--serve-bare-echo takes a port"));
        return;
    }
    let wrk_version = Command::new("wrk").arg("-v").output();
    assert!(
        wrk_version.is_ok(),
        "wrk is not on PATH: `apt-get install wrk` (scripts/bench does it when run as root)"
    );
    run();
}

struct Target {
    name: &'static str,
    port: u16,
    /// The processes that serve it, by role, whose CPU time is measured.
    processes: Vec<(&'static str, u32)>,
    runs: Vec<WrkRun>,
}

fn run() {
    let nats = NatsServer::start();
    let folder = tempfile::tempdir().expect("temp folder");
    let (bare_port, single_port, double_port) = (free_port(), free_port(), free_port());

    let exe = std::env::current_exe().expect("bench binary path");
    let bare = Process::spawn(
        Command::new(exe).args(["--serve-bare-echo", &bare_port.to_string()]),
        "bare hyper echo",
    );
    let single = folder.path().join("single.yaml");
    write_manifest(&single, true, true, Some(single_port));
    let single = trellis_up(&nats, "bench-single", &single);
    let providers = folder.path().join("providers.yaml");
    write_manifest(&providers, false, true, None);
    let actor = folder.path().join("actor.yaml");
    write_manifest(&actor, true, false, Some(double_port));
    let provider_host = trellis_up(&nats, "bench-double", &providers);
    let actor_host = trellis_up(&nats, "bench-double", &actor);

    let mut targets = [
        ("bare hyper echo", bare_port, vec![("server", bare.id())]),
        (
            "Trellis, one host",
            single_port,
            vec![("host", single.id())],
        ),
        (
            "Trellis, two hosts (NATS)",
            double_port,
            vec![
                ("provider host", provider_host.id()),
                ("actor host", actor_host.id()),
                ("nats-server", nats.id()),
            ],
        ),
    ]
    .map(|(name, port, processes)| Target {
        name,
        port,
        processes,
        runs: Vec::new(),
    });
    for target in &targets {
        wait_until_echoed(target.port, target.name);
        wrk(target, 1); // warm up: connections, pools, caches
    }
    for _ in 0..ROUNDS {
        for target in &mut targets {
            let run = wrk(target, RUN_SECONDS);
            target.runs.push(run);
        }
    }
    print_table(&mut targets);
    print_cpu_table(&targets);
}

/// A manifest with the echo actor and/or the HTTP server provider, and the
/// binding on `port` when given.
fn write_manifest(path: &Path, with_actor: bool, with_provider: bool, port: Option<u16>) {
    let mut text = String::from("actors:\n");
    if with_actor {
        text += &format!("  - {}\n", trellis_test_support::actor("echo_s").display());
    }
    text += "capabilities:\n";
    if with_provider {
        let library = trellis_test_support::library("trellis_provider_httpserver");
        text += &format!("  - path: {}\n", library.display());
    }
    text += "bindings:\n";
    if let Some(port) = port {
        text += &format!(
            "  - {{actor: {ECHO_KEY}, capability: \"wascc:http_server\", values: {{PORT: \"{port}\"}}}}\n"
        );
    }
    std::fs::write(path, text).expect("writes the manifest");
}

fn trellis_up(nats: &NatsServer, namespace: &str, manifest: &Path) -> Process {
    Process::spawn(
        Command::new(support::trellis_binary())
            .args(["up", "--manifest"])
            .arg(manifest)
            .args(["--lattice-host", &nats.address()])
            .args(["--lattice-namespace", namespace])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
        "trellis up",
    )
}

fn wait_until_echoed(port: u16, name: &str) {
    let start = Instant::now();
    while !support::http_get(port, PATH).is_some_and(|body| body.contains("/bench/echo")) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name} never answered on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one wrk run measured.
struct WrkRun {
    requests: u64,
    requests_per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    /// CPU time each of the target's processes used during the run.
    cpu: Vec<Duration>,
}

fn wrk(target: &Target, seconds: u32) -> WrkRun {
    let cpu_before: Vec<Duration> = target
        .processes
        .iter()
        .map(|(_, pid)| support::cpu_time(*pid))
        .collect();
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
        .arg("--latency")
        .arg(format!("http://127.0.0.1:{}{PATH}", target.port))
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut run = parse_wrk(&text).unwrap_or_else(|| panic!("cannot read wrk's output:\n{text}"));
    run.cpu = target
        .processes
        .iter()
        .zip(cpu_before)
        .map(|((_, pid), before)| support::cpu_time(*pid).saturating_sub(before))
        .collect();
    run
}

/// Reads requests/s, the 50% and 99% latencies and the error count.
fn parse_wrk(text: &str) -> Option<WrkRun> {
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    };
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .flat_map(|l| l.split(|c: char| !c.is_ascii_digit()))
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(WrkRun {
        requests,
        cpu: Vec::new(),
        requests_per_second: field("Requests/sec:")?.parse().ok()?,
        p50: parse_latency(field("50%")?)?,
        p99: parse_latency(field("99%")?)?,
        errors,
    })
}

/// `812.00us`, `1.11ms`, `2.00s` → a duration.
fn parse_latency(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

fn print_table(targets: &mut [Target]) {
    println!(
        "wrk -t2 -c{CONNECTIONS} -d{RUN_SECONDS}s --latency, {ROUNDS} interleaved rounds; \
         medians of the rounds (min–max of requests/s)\n"
    );
    println!("| server | requests/s | vs bare hyper | p50 | p99 | errors |");
    println!("|---|---|---|---|---|---|");
    let bare = median(
        targets[0]
            .runs
            .iter()
            .map(|r| r.requests_per_second)
            .collect(),
    );
    for target in targets.iter() {
        let rates: Vec<f64> = target.runs.iter().map(|r| r.requests_per_second).collect();
        let (low, high) = rates
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), r| (l.min(*r), h.max(*r)));
        let rate = median(rates);
        println!(
            "| {} | {:.0} ({:.0}–{:.0}) | {:.0}% | {} | {} | {} |",
            target.name,
            rate,
            low,
            high,
            100.0 * rate / bare,
            support::human(median(target.runs.iter().map(|r| r.p50).collect())),
            support::human(median(target.runs.iter().map(|r| r.p99).collect())),
            target.runs.iter().map(|r| r.errors).sum::<u64>(),
        );
    }
    println!();
}

/// CPU time per request of each serving process, over all rounds: where a
/// request's work goes, robust to the machine's noise in a way rates are not.
fn print_cpu_table(targets: &[Target]) {
    println!("CPU time per request (user + system, all rounds, from /proc)\n");
    println!("| server | CPU per request | vs bare hyper | by process |");
    println!("|---|---|---|---|");
    let per_request = |target: &Target, process: usize| {
        let requests: u64 = target.runs.iter().map(|r| r.requests).sum();
        let cpu: Duration = target.runs.iter().map(|r| r.cpu[process]).sum();
        cpu / requests.max(1) as u32
    };
    let total = |target: &Target| -> Duration {
        (0..target.processes.len())
            .map(|process| per_request(target, process))
            .sum()
    };
    let bare = total(&targets[0]);
    for target in targets {
        let by_process: Vec<String> = target
            .processes
            .iter()
            .enumerate()
            .map(|(i, (role, _))| format!("{role} {}", support::human(per_request(target, i))))
            .collect();
        println!(
            "| {} | {} | {} | {} |",
            target.name,
            support::human(total(target)),
            support::ratio(total(target), bare),
            by_process.join(", ")
        );
    }
    println!();
}

/// The baseline: hyper alone, configured as the HTTP server provider
/// configures it (HTTP/1.1, keep-alive, no delay), on a multi-threaded tokio
/// runtime, answering with the JSON the echo actor writes.
mod bare {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use std::collections::BTreeMap;
    use std::convert::Infallible;

    pub fn serve(port: u16) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("binds the bare server's port");
            let mut builder = http1::Builder::new();
            builder.keep_alive(true).timer(TokioTimer::new());
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let builder = builder.clone();
                tokio::spawn(async move {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service_fn(echo))
                        .await;
                });
            }
        });
    }

    async fn echo(
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let headers: BTreeMap<&str, &str> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")))
            .collect();
        let json = serde_json::json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query_string": parts.uri.query().unwrap_or(""),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
            "version": 1,
        });
        let mut response = hyper::Response::new(Full::new(Bytes::from(
            serde_json::to_vec(&json).unwrap_or_default(),
        )));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        Ok(response)
    }
}
