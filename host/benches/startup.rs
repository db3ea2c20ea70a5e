//! Start-up and scale: time from process start to serving, resident memory
//! per idle actor, a restart with the compiled-code cache, and the time to
//! start one pooled instance.
//!
//! The process-level runs start the release `trellis up` binary (built next
//! to this bench) on a manifest of N copies of the echo actor, each signed
//! here under its own freshly generated module key by a throwaway account,
//! with the first copy bound to the HTTP server provider. "Serving" is the
//! first HTTP request that copy answers; the bench polls for it every 2 ms.
//!
//! - *shared code*: 1, 100 and 1,000 copies whose code is identical (the
//!   signed token is not part of the code hash), so the host compiles once.
//!   Each run starts once with an empty code cache (a first start: echo is
//!   compiled) and once more with the cache that start filled (a restart).
//! - *memory*: `VmRSS` of the process once serving (the restarts); the
//!   cost of an idle actor is (RSS with 1,000 − RSS with 1) / 999.
//! - *restart, 100 distinct*: each copy carries an extra custom section with
//!   its number, so the 100 code hashes differ and the host must compile
//!   each one: with an empty cache directory (cold), then again with the
//!   directory the cold start filled (warm). Cold starts take seconds, so
//!   there are 2 of them, each followed by 3 restarts. The copies are otherwise the
//!   same module, which is the best case for the CPU's caches, not for the
//!   compiler: every copy is compiled in full.
//! - *instantiation*, in process: the raw wasmtime cost of a new instance
//!   of echo on the host's engine (same pooling allocator, imports stubbed)
//!   from an `InstancePre`, the same plus the guest's initialisers
//!   (`_start`, `wapc_init`, as the host runs them on every new instance),
//!   and `Host::start_actor` of a module whose code is already compiled
//!   (read, verify claims, link, instantiate, initialise, register).
//!
//! ```text
//! cargo build --release -p trellis-host -p trellis-provider-httpserver
//! cargo bench -p trellis-host --bench startup
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use trellis_claims::nkeys::KeyPair;
use trellis_claims::SigningRequest;
use trellis_host::actor::engine::ActorEngine;
use trellis_host::{HostBuilder, HostConfig};
use wasmtime::{Linker, Store};

mod support;

use support::{human, ratio, Samples};
use trellis_test_support::{NatsServer, Process};

/// Starts per fleet size and cache state (shared code).
const RUNS: usize = 5;
/// Cold starts of the distinct-code fleet, each followed by restarts.
const COLD_RUNS: usize = 2;
const RESTARTS_PER_COLD: usize = 3;
/// Fleet sizes of the shared-code table.
const FLEETS: [usize; 3] = [1, 100, 1000];
/// Actors in the restart table, each with its own code.
const DISTINCT: usize = 100;
/// How long a start may take before the bench gives up.
const DEADLINE: Duration = Duration::from_secs(120);

/// Signed copies of echo in a temporary folder.
struct Fleet {
    folder: tempfile::TempDir,
    modules: Vec<(PathBuf, String)>,
}

impl Fleet {
    /// `count` copies of echo, each signed under a new module key; with
    /// `distinct`, each also carries its own custom section, so its code
    /// hash differs from every other copy's.
    fn sign(count: usize, distinct: bool) -> Fleet {
        let folder = tempfile::tempdir().expect("temp folder");
        let echo =
            std::fs::read(trellis_test_support::actor("echo")).expect("reads the unsigned echo");
        let issuer = KeyPair::new_account();
        let request = SigningRequest {
            name: Some("echo".into()),
            caps: vec!["wascc:http_server".into()],
            ..Default::default()
        };
        let modules = (0..count)
            .map(|i| {
                let mut code = echo.clone();
                if distinct {
                    append_custom_section(
                        &mut code,
                        "trellis-bench-copy",
                        i.to_string().as_bytes(),
                    );
                }
                let subject = KeyPair::new_module();
                let signed =
                    trellis_claims::sign(&code, &request, &issuer, &subject).expect("signs echo");
                let path = folder.path().join(format!("echo-{i}.wasm"));
                std::fs::write(&path, signed).expect("writes a signed copy");
                (path, subject.public_key())
            })
            .collect();
        Fleet { folder, modules }
    }

    /// A manifest of the first `count` copies, the first bound to HTTP on `port`.
    fn manifest(&self, count: usize, port: u16) -> PathBuf {
        let mut text = String::from("actors:\n");
        for (path, _) in &self.modules[..count] {
            text.push_str(&format!("  - {}\n", path.display()));
        }
        text.push_str(&format!(
            "capabilities:\n  - path: {}\nbindings:\n  - actor: {}\n    capability: wascc:http_server\n    values: {{PORT: \"{port}\"}}\n",
            trellis_test_support::library("trellis_provider_httpserver").display(),
            self.modules[0].1,
        ));
        let path = self.folder.path().join(format!("fleet-{count}.yaml"));
        std::fs::write(&path, text).expect("writes the manifest");
        path
    }
}

/// Appends a custom section (id 0: size, name, data) to a module.
fn append_custom_section(module: &mut Vec<u8>, name: &str, data: &[u8]) {
    fn leb128(out: &mut Vec<u8>, mut value: usize) {
        loop {
            let low = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                return out.push(low);
            }
            out.push(low | 0x80);
        }
    }
    let mut body = Vec::new();
    leb128(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    module.push(0);
    leb128(module, body.len());
    module.extend_from_slice(&body);
}

/// One `trellis up` process that answered HTTP.
struct Started {
    /// From spawning the process to the first answered request.
    serving: Duration,
    /// Resident memory right after that, in KiB.
    rss_kib: u64,
}

/// Starts `trellis up` on the first `count` actors of `fleet` with the code
/// cache in `cache` (joined to the lattice at `lattice`, when given), waits
/// until it serves, measures, and kills it.
fn start(fleet: &Fleet, count: usize, cache: &Path, lattice: Option<&str>) -> Started {
    let port = trellis_test_support::free_port();
    let manifest = fleet.manifest(count, port);
    let mut command = Command::new(support::trellis_binary());
    command
        .arg("up")
        .arg("--manifest")
        .arg(&manifest)
        .arg("--code-cache")
        .arg(cache)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(address) = lattice {
        // A namespace per start: no host sees the killed hosts before it.
        command
            .args(["--lattice-host", address])
            .args(["--lattice-namespace", &format!("startup-{port}")]);
    }
    let started = Instant::now();
    let mut host = Process::spawn(&mut command, "trellis up");
    let serving = until_served(&mut host, port, started);
    let rss_kib = resident_kib(host.id());
    Started { serving, rss_kib }
}

fn until_served(host: &mut Process, port: u16, started: Instant) -> Duration {
    loop {
        if support::http_get(port, "/bench").is_some_and(|reply| reply.starts_with("HTTP/1.1 200"))
        {
            return started.elapsed();
        }
        if let Some(status) = host.exited() {
            panic!("trellis up exited before serving: {status}");
        }
        assert!(
            started.elapsed() < DEADLINE,
            "trellis up did not serve within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `VmRSS` of process `pid`, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reads /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn median_of(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn shared_code(lattice: Option<&str>) {
    let fleet = Fleet::sign(*FLEETS.iter().max().unwrap_or(&1), false);
    let mut cold: Vec<Samples> = FLEETS.iter().map(|_| Samples::default()).collect();
    let mut warm: Vec<Samples> = FLEETS.iter().map(|_| Samples::default()).collect();
    let mut rss: Vec<Vec<u64>> = FLEETS.iter().map(|_| Vec::new()).collect();
    // Interleaved: every round starts each fleet size once with an empty
    // cache, then once more with the cache that start filled.
    for _ in 0..RUNS {
        for (i, &count) in FLEETS.iter().enumerate() {
            let cache = tempfile::tempdir().expect("temp folder");
            cold[i].push(start(&fleet, count, cache.path(), lattice).serving);
            let run = start(&fleet, count, cache.path(), lattice);
            warm[i].push(run.serving);
            rss[i].push(run.rss_kib);
        }
    }
    println!(
        "### Start-up to serving, actors sharing one code
"
    );
    println!("| actors | runs | empty cache: median | worst | warm cache: median | worst | warm vs 1 actor | RSS (median) |");
    println!("|---|---|---|---|---|---|---|---|");
    let baseline = warm[0].median();
    for (i, &count) in FLEETS.iter().enumerate() {
        let median = warm[i].median();
        println!(
            "| {count} | {} | {} | {} | {} | {} | {} | {} |",
            warm[i].len(),
            human(cold[i].median()),
            human(cold[i].worst()),
            human(median),
            human(warm[i].worst()),
            ratio(median, baseline),
            mib(median_of(&mut rss[i]))
        );
    }
    let (first, last) = (0, FLEETS.len() - 1);
    let (one, many) = (median_of(&mut rss[first]), median_of(&mut rss[last]));
    let per_actor = many.saturating_sub(one) as f64 / (FLEETS[last] - FLEETS[first]) as f64;
    println!("\n### Resident memory per idle actor (warm cache)\n");
    println!(
        "| RSS, {} actor | RSS, {} actors | per idle actor |",
        FLEETS[first], FLEETS[last]
    );
    println!("|---|---|---|");
    println!("| {} | {} | {per_actor:.0} KiB |\n", mib(one), mib(many));
}

fn restart(lattice: Option<&str>) {
    let fleet = Fleet::sign(DISTINCT, true);
    let (mut cold, mut warm) = (Samples::default(), Samples::default());
    // A cold start compiles every module: seconds each, so fewer of them.
    for _ in 0..COLD_RUNS {
        let cache = tempfile::tempdir().expect("temp folder");
        cold.push(start(&fleet, DISTINCT, cache.path(), lattice).serving);
        for _ in 0..RESTARTS_PER_COLD {
            warm.push(start(&fleet, DISTINCT, cache.path(), lattice).serving);
        }
    }
    println!("### Start-up to serving, {DISTINCT} actors with distinct code\n");
    println!("| code cache | runs | median | worst | median vs cold |");
    println!("|---|---|---|---|---|");
    let baseline = cold.median();
    for (name, samples) in [("cold (empty)", &mut cold), ("warm (restart)", &mut warm)] {
        let median = samples.median();
        println!(
            "| {name} | {} | {} | {} | {} |",
            samples.len(),
            human(median),
            human(samples.worst()),
            ratio(median, baseline)
        );
    }
    println!();
}

/// A store whose guest code never runs out of time (the engine interrupts at
/// every epoch tick past a store's deadline, which starts at zero).
fn unlimited_store(engine: &ActorEngine) -> Store<()> {
    let mut store = Store::new(engine.engine(), ());
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

async fn instantiation() {
    const ROUNDS: usize = 20;
    const PER_ROUND: usize = 50;
    let config = HostConfig::default();
    let engine = ActorEngine::new(&config).expect("engine");
    let bytes = std::fs::read(trellis_test_support::actor("echo_s")).expect("reads echo");
    let hash = trellis_claims::code_hash(&bytes).expect("hashes echo");
    let module = engine.compile(&hash, &bytes).expect("compiles echo");
    // The same module on the same engine, its imports stubbed: instantiation
    // does not call them, and the initialisers of echo do not either.
    let mut linker = Linker::new(engine.engine());
    linker
        .define_unknown_imports_as_traps(&module)
        .expect("stubs the imports");
    let pre = linker.instantiate_pre(&module).expect("links echo");

    let host = HostBuilder::new().config(config).build().expect("host");
    let echo = trellis_test_support::actor("echo_s");
    host.start_actor(&echo).await.expect("starts echo");

    let (mut raw, mut initialised, mut actor) =
        (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..ROUNDS {
        support::timed_round(&mut raw, PER_ROUND, || async {
            let mut store = unlimited_store(&engine);
            pre.instantiate_async(&mut store)
                .await
                .expect("instantiates echo");
        })
        .await;
        support::timed_round(&mut initialised, PER_ROUND, || async {
            let mut store = unlimited_store(&engine);
            let instance = pre
                .instantiate_async(&mut store)
                .await
                .expect("instantiates echo");
            for init in ["_start", "wapc_init"] {
                if let Ok(f) = instance.get_typed_func::<(), ()>(&mut store, init) {
                    f.call_async(&mut store, ()).await.expect("initialises");
                }
            }
        })
        .await;
        support::timed_round(&mut actor, PER_ROUND, || async {
            host.start_actor(&echo).await.expect("restarts echo");
        })
        .await;
    }
    println!("### A new instance of echo (pooling allocator, in process)\n");
    support::latency_table(&mut [
        ("wasmtime: InstancePre::instantiate", &mut raw),
        ("wasmtime: instantiate + initialisers", &mut initialised),
        ("Host::start_actor (code compiled)", &mut actor),
    ]);
    host.shutdown().await;
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    // A binary built with the lattice feature joins a lattice at start.
    let nats = cfg!(feature = "lattice").then(NatsServer::start);
    let address = nats.as_ref().map(NatsServer::address);
    let lattice = address.as_deref();
    shared_code(lattice);
    restart(lattice);
    instantiation().await;
    println!("(bench took {})", human(started.elapsed()));
}
