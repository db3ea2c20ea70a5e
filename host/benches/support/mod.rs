//! What every benchmark shares beyond `trellis-test-support` (artifact
//! paths, free ports, `nats-server` and process guards): the `trellis`
//! binary, a plain HTTP GET, latency statistics printed as Markdown tables
//! and CPU time from `/proc`.
//!
//! Each bench includes this with `mod support;` and uses what it needs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub const ECHO_KEY: &str = "MABDHSD55WXG7HMUURJCTYQBD7KYIV2HAYK5YBBVQDLZBPHE4FQRTOVD";

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

/// CPU time process `pid`'s live threads have used so far, to the
/// nanosecond (`/proc/<pid>/task/*/schedstat`): precise enough for rounds
/// of a fraction of a second, where [`cpu_time`] counts 10 ms ticks. A
/// thread that has exited no longer counts, so use it on processes whose
/// threads live as long as they do (a tokio runtime's workers).
pub fn thread_cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("reads /proc/<pid>/task");
    let nanos: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}
