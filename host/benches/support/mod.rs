//! What every benchmark shares: finding the built artifacts, free ports, a
//! `nats-server` per run, and latency statistics printed as Markdown tables.
//!
//! Each bench includes this with `mod support;` and uses what it needs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub const ECHO_KEY: &str = "MABDHSD55WXG7HMUURJCTYQBD7KYIV2HAYK5YBBVQDLZBPHE4FQRTOVD";

/// The repository's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A signed actor module built by `scripts/build-actors`, e.g. `echo_s`.
pub fn actor(name: &str) -> PathBuf {
    must_exist(root().join("target/actors").join(format!("{name}.wasm")))
}

/// The folder of the profile this bench was built with (`target/release`
/// under `cargo bench`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("bench binary path");
    // target/<profile>/deps/<bench>-<hash> → target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("bench binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// A provider library of the bench's profile, e.g. `trellis_provider_httpserver`.
pub fn library(crate_name: &str) -> PathBuf {
    must_exist(profile_dir().join(trellis_host::provider::platform_file_name(crate_name)))
}

fn must_exist(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/bench, which builds the providers and actors first",
        path.display()
    );
    path
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something accepts connections on `address`.
pub fn wait_for_listener(address: &str, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(address).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} did not start listening on {address}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A child process, killed when dropped (so a failing bench leaves none behind).
pub struct Process(Child);

impl Process {
    /// Starts `command`; `what` names it in the error.
    pub fn spawn(command: &mut Command, what: &str) -> Process {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Process(child)
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// The exit status, if the child has ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }

    /// The child's standard output, when it was piped (once).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.0.stdout.take()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `nats-server` on a free loopback port, killed when dropped.
pub struct NatsServer {
    _process: Process,
    /// `127.0.0.1:<port>`.
    pub address: String,
}

impl NatsServer {
    /// The server's process id.
    pub fn id(&self) -> u32 {
        self._process.id()
    }

    pub fn start() -> NatsServer {
        let port = free_port();
        let process = Process::spawn(
            Command::new("nats-server")
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "nats-server (scripts/setup --with-servers installs it)",
        );
        let address = format!("127.0.0.1:{port}");
        wait_for_listener(&address, "nats-server");
        NatsServer {
            _process: process,
            address,
        }
    }
}

/// The `trellis` binary of this bench's profile (cargo builds it for benches).
pub fn trellis_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trellis"))
}

/// One plain HTTP/1.1 GET of `path` on the loopback `port`: the whole
/// response (status line, headers, body), if the server answered.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Latencies of one path, gathered over interleaved rounds.
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0.5 = median).
    pub fn quantile(&mut self, q: f64) -> Duration {
        self.0.sort_unstable();
        self.0[((self.0.len() - 1) as f64 * q).round() as usize]
    }

    pub fn median(&mut self) -> Duration {
        self.quantile(0.5)
    }

    pub fn p99(&mut self) -> Duration {
        self.quantile(0.99)
    }

    pub fn worst(&mut self) -> Duration {
        self.quantile(1.0)
    }
}

/// Times `calls` sequential awaits of `call` into `samples`.
pub async fn timed_round<F, Fut>(samples: &mut Samples, calls: usize, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..calls {
        let start = Instant::now();
        call().await;
        samples.push(start.elapsed());
    }
}

/// A duration in the unit that reads best (`812 ns`, `3.21 µs`, `84.0 µs`, `1.52 ms`).
pub fn human(d: Duration) -> String {
    let nanos = d.as_nanos() as f64;
    match nanos {
        n if n < 1e3 => format!("{n:.0} ns"),
        n if n < 1e4 => format!("{:.2} µs", n / 1e3),
        n if n < 1e6 => format!("{:.1} µs", n / 1e3),
        n if n < 1e9 => format!("{:.2} ms", n / 1e6),
        n => format!("{:.2} s", n / 1e9),
    }
}

/// `subject / baseline` as `1.23×`.
pub fn ratio(subject: Duration, baseline: Duration) -> String {
    format!("{:.2}×", subject.as_secs_f64() / baseline.as_secs_f64())
}

/// Prints a Markdown table of `(name, samples)` rows: median, p99 and the
/// median's ratio to the first row (the baseline).
pub fn latency_table(rows: &mut [(&str, &mut Samples)]) {
    let baseline = rows[0].1.median();
    println!("| path | calls | median | p99 | median vs {} |", rows[0].0);
    println!("|---|---|---|---|---|");
    for (name, samples) in rows.iter_mut() {
        let (p50, p99) = (samples.median(), samples.p99());
        println!(
            "| {name} | {} | {} | {} | {} |",
            samples.len(),
            human(p50),
            human(p99),
            ratio(p50, baseline)
        );
    }
    println!();
}

/// CPU time (user + system) process `pid` has used so far, from `/proc`.
pub fn cpu_time(pid: u32) -> Duration {
    static TICKS_PER_SECOND: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks_per_second = *TICKS_PER_SECOND.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("reads /proc/<pid>/stat");
    // The command name (in parentheses) may hold spaces: count fields after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = [11, 12] // utime and stime, fields 14 and 15 of stat(5)
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    Duration::from_secs_f64(ticks / ticks_per_second)
}
