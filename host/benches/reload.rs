//! Hot reload: time from a file write to the change being served.
//!
//! A host watches a temporary folder (as `trellis up --watch` does). Each run
//! writes a file and measures until an HTTP request sees the change:
//!
//! - *binding change*: the manifest is rewritten with a new port;
//! - *actor swap*: the actor module is overwritten with the other build of
//!   echo (same key), until answers carry the other version.
//!
//! Reports the median and the worst of the runs. Needs the artifacts
//! `scripts/test` builds.
//!
//! ```text
//! cargo bench -p trellis-host --bench reload
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trellis_host::state::watch::{ManifestFolder, WatchStatus};
use trellis_host::HostBuilder;

mod support;

use support::{Samples, ECHO_KEY};
use trellis_test_support::free_port;

const RUNS: usize = 15;

fn manifest(actor: &Path, port: u16) -> String {
    let library = trellis_test_support::library("trellis_provider_httpserver");
    format!(
        "actors: [{}]\ncapabilities: [{{path: {}}}]\nbindings:\n  - {{actor: {ECHO_KEY}, capability: \"wascc:http_server\", values: {{PORT: \"{port}\"}}}}\n",
        actor.display(),
        library.display()
    )
}

/// Waits (polling every millisecond) until `port` answers with `needle`.
async fn until_served(port: u16, needle: &str) -> Duration {
    let start = Instant::now();
    loop {
        let wanted = needle.to_string();
        let served = tokio::task::spawn_blocking(move || {
            support::http_get(port, "/bench").is_some_and(|t| t.contains(&wanted))
        })
        .await
        .unwrap_or(false);
        if served {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "port {port} never served {needle}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn report(name: &str, samples: &mut Samples) {
    println!(
        "| {name} | {} | {} | {} |",
        samples.len(),
        support::human(samples.median()),
        support::human(samples.worst())
    );
}

#[tokio::main]
async fn main() {
    let folder = tempfile::tempdir().expect("temp folder");
    let assets = tempfile::tempdir().expect("temp folder");
    let echo = assets.path().join("echo.wasm");
    let builds = [
        trellis_test_support::actor("echo_s"),
        trellis_test_support::actor("echo_v2_s"),
    ];
    std::fs::copy(&builds[0], &echo).expect("copies echo");

    let host = Arc::new(HostBuilder::new().build().expect("host"));
    let (status, _) = tokio::sync::watch::channel(WatchStatus::default());
    let watched = ManifestFolder::new(folder.path()).expect("folder");
    let watcher = tokio::spawn(trellis_host::state::watch::run(
        Arc::clone(&host),
        watched,
        status,
        std::future::pending(),
    ));
    let file = folder.path().join("echo.yaml");

    let mut port = free_port();
    std::fs::write(&file, manifest(&echo, port)).unwrap();
    until_served(port, "\"version\":1").await;

    let mut binding = Samples::default();
    for _ in 0..RUNS {
        port = free_port();
        let start = Instant::now();
        std::fs::write(&file, manifest(&echo, port)).unwrap();
        until_served(port, "/bench").await;
        binding.push(start.elapsed());
    }
    let mut swap = Samples::default();
    for run in 0..RUNS {
        let next = (run + 1) % 2;
        let start = Instant::now();
        std::fs::copy(&builds[next], &echo).unwrap();
        until_served(port, &format!("\"version\":{}", next + 1)).await;
        swap.push(start.elapsed());
    }
    println!(
        "file write → change served (debounce {:?})\n",
        trellis_host::state::watch::QUIET
    );
    println!("| change | runs | median | worst |");
    println!("|---|---|---|---|");
    report("binding change (new port)", &mut binding);
    report("actor swap (module rebuilt)", &mut swap);
    watcher.abort();
    host.shutdown().await;
}
