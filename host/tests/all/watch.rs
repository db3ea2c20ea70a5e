//! Hot reload: a host driven purely through file operations.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use trellis_host::state::watch::{ManifestFolder, WatchStatus};
use trellis_host::Host;

pub struct Watched {
    host: Arc<Host>,
    status: watch::Receiver<WatchStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watched {
    fn start(dir: &Path) -> Watched {
        Watched::start_on(Arc::new(host()), dir)
    }

    /// Watches `dir` for an existing host (one joined to a lattice, say).
    pub fn start_on(host: Arc<Host>, dir: &Path) -> Watched {
        let folder = ManifestFolder::new(dir).expect("a folder");
        let (status_tx, status) = watch::channel(WatchStatus::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let watched_host = Arc::clone(&host);
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            trellis_host::state::watch::run(watched_host, folder, status_tx, stopped)
                .await
                .expect("watches");
        });
        Watched {
            host,
            status,
            stop: Some(stop),
            task,
        }
    }

    async fn until(&mut self, what: &str, check: impl Fn(&WatchStatus) -> bool) {
        let waited =
            tokio::time::timeout(Duration::from_secs(15), self.status.wait_for(|s| check(s)))
                .await
                .map(|r| r.is_ok());
        let last = self.status.borrow().clone();
        assert!(
            matches!(waited, Ok(true)),
            "timed out waiting for {what}: {last:?}"
        );
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        self.host.shutdown().await;
    }
}

/// A manifest with the echo actor at `actor` served on `port`.
pub fn echo_yaml(actor: &Path, port: u16) -> String {
    format!(
        "actors: [{}]\ncapabilities: [{{path: {}}}]\nbindings:\n  - {{actor: {ECHO_KEY}, capability: \"wascc:http_server\", values: {{PORT: \"{port}\"}}}}\n",
        actor.display(),
        http_server_library().display()
    )
}

async fn serves(port: u16, needle: &str) {
    eventually(
        Duration::from_secs(15),
        &format!("port {port} to answer with {needle}"),
        || async move {
            let reply = http("GET", port, "/watched", "").await.ok()?;
            reply.body.contains(needle).then_some(())
        },
    )
    .await;
}

pub async fn refuses(port: u16) {
    eventually(
        Duration::from_secs(15),
        &format!("port {port} to close"),
        || async move { http("GET", port, "/", "").await.is_err().then_some(()) },
    )
    .await;
}

pub fn assets() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let echo = dir.path().join("echo.wasm");
    std::fs::copy(actor("echo_s"), &echo).unwrap();
    (dir, echo)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_follows_its_manifest_folder() {
    let manifests = tempfile::tempdir().unwrap();
    let (_assets, echo) = assets();
    let file = manifests.path().join("echo.yaml");
    let mut host = Watched::start(manifests.path());
    host.until("the first pass", |s| s.passes >= 1).await;
    assert!(host.host.bus().actors().is_empty());

    // Create.
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    std::fs::write(&file, echo_yaml(&echo, ports[0])).unwrap();
    serves(ports[0], "\"version\":1").await;

    // Edit in place: only the binding changes.
    std::fs::write(&file, echo_yaml(&echo, ports[1])).unwrap();
    serves(ports[1], "/watched").await;
    refuses(ports[0]).await;

    // Write a temporary file, then rename it into place (as editors do).
    let temp = manifests.path().join(".echo.yaml.swp");
    std::fs::write(&temp, echo_yaml(&echo, ports[2])).unwrap();
    std::fs::rename(&temp, &file).unwrap();
    serves(ports[2], "/watched").await;
    refuses(ports[1]).await;

    // A syntax error keeps the last good state.
    std::fs::write(&file, "actors: [\n").unwrap();
    host.until("the syntax error to be reported", |s| {
        s.manifest_errors.contains_key(&file)
    })
    .await;
    serves(ports[2], "/watched").await;

    // Fixing it applies it.
    std::fs::write(&file, echo_yaml(&echo, ports[0])).unwrap();
    host.until("the fix to be accepted", |s| s.manifest_errors.is_empty())
        .await;
    serves(ports[0], "/watched").await;

    // An actor declared in two files lives until the last one goes.
    let second = manifests.path().join("second.yml");
    let before = host.status.borrow().passes;
    std::fs::write(&second, format!("actors: [{}]\n", echo.display())).unwrap();
    host.until("a pass that read the second file", |s| s.passes > before)
        .await;
    std::fs::remove_file(&file).unwrap();
    refuses(ports[0]).await;
    assert!(
        host.host.bus().actor(ECHO_KEY).is_some(),
        "still declared by second.yml"
    );
    std::fs::remove_file(&second).unwrap();
    let bus = Arc::clone(host.host.bus());
    eventually(Duration::from_secs(15), "the actor to stop", || {
        let gone = bus.actor(ECHO_KEY).is_none();
        async move { gone.then_some(()) }
    })
    .await;
    host.stop().await;
}

/// A manifest made to exhaust the host is refused like a syntax error, and
/// the last good state stays: here one whose aliases would repeat a large
/// scalar (about 60 MB decoded from a 1 MB file), then one over the size
/// limit.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_manifest_keeps_the_last_good_state() {
    let manifests = tempfile::tempdir().unwrap();
    let (_assets, echo) = assets();
    let file = manifests.path().join("echo.yaml");
    let port = free_port();
    std::fs::write(&file, echo_yaml(&echo, port)).unwrap();
    let mut host = Watched::start(manifests.path());
    serves(port, "/watched").await;

    let big = "x".repeat(1_000_000);
    let aliases = vec!["*big"; 60].join(", ");
    let bomb = format!("labels: {{big: &big {big}}}\nactors: [{aliases}]\n");
    std::fs::write(&file, bomb).unwrap();
    host.until("the alias bomb to be refused", |s| {
        s.manifest_errors
            .get(&file)
            .is_some_and(|e| e.contains("aliases (`*name`) up to here may repeat"))
    })
    .await;
    serves(port, "/watched").await;

    let padding = "x".repeat(trellis_manifest::MAX_MANIFEST_BYTES);
    let oversized = format!("{}#{padding}\n", echo_yaml(&echo, port));
    std::fs::write(&file, oversized).unwrap();
    host.until("the oversized manifest to be refused", |s| {
        s.manifest_errors
            .get(&file)
            .is_some_and(|e| e.contains("bytes, more than the limit of 1048576 bytes"))
    })
    .await;
    serves(port, "/watched").await;
    assert!(host.host.bus().actor(ECHO_KEY).is_some());
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_actor_is_swapped_under_load_without_a_failed_request() {
    let manifests = tempfile::tempdir().unwrap();
    let (_assets, echo) = assets();
    let port = free_port();
    std::fs::write(manifests.path().join("echo.yaml"), echo_yaml(&echo, port)).unwrap();
    let host = Watched::start(manifests.path());
    serves(port, "\"version\":1").await;

    let (failures, sent, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (seen_v2_tx, seen_v2) = tokio::sync::oneshot::channel::<()>();
    let load = {
        let (failures, sent, stop) = (Arc::clone(&failures), Arc::clone(&sent), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut seen_v2_tx = Some(seen_v2_tx);
            // Bounded: at most 20 000 requests or until told to stop.
            for _ in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                match http("GET", port, "/load", "").await {
                    Ok(reply) if reply.status == 200 => {
                        if reply.body.contains("\"version\":2") {
                            if let Some(tx) = seen_v2_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                    }
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    eventually(Duration::from_secs(10), "load to flow", || {
        let n = sent.load(Ordering::Relaxed);
        async move { (n > 50).then_some(()) }
    })
    .await;
    // Rebuild: the new code overwrites the module in place, same key.
    std::fs::copy(actor("echo_v2_s"), &echo).unwrap();
    tokio::time::timeout(Duration::from_secs(15), seen_v2)
        .await
        .expect("answers switch to the new code")
        .unwrap();
    // Keep the load on a little longer across the switch, then stop it.
    let switched_at = sent.load(Ordering::Relaxed);
    eventually(
        Duration::from_secs(10),
        "more requests after the switch",
        || {
            let n = sent.load(Ordering::Relaxed);
            async move { (n > switched_at + 50).then_some(()) }
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "{} requests sent",
        sent.load(Ordering::Relaxed)
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_provider_is_loaded_from_a_fresh_copy() {
    let manifests = tempfile::tempdir().unwrap();
    let (assets, echo) = assets();
    let library = assets.path().join("libhttp.so");
    std::fs::copy(http_server_library(), &library).unwrap();
    let port = free_port();
    let yaml = echo_yaml(&echo, port).replace(
        &http_server_library().display().to_string(),
        &library.display().to_string(),
    );
    std::fs::write(manifests.path().join("echo.yaml"), yaml).unwrap();
    let host = Watched::start(manifests.path());
    serves(port, "/watched").await;
    let first = host
        .host
        .bus()
        .provider("wascc:http_server", "default")
        .unwrap()
        .path()
        .to_path_buf();

    // "Rebuild" the library: new bytes on disk under the same name.
    let mut bytes = std::fs::read(http_server_library()).unwrap();
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&library, bytes).unwrap();
    let bus = Arc::clone(host.host.bus());
    let reloaded = eventually(
        Duration::from_secs(15),
        "the provider to be reloaded",
        || {
            let path = bus
                .provider("wascc:http_server", "default")
                .map(|p| p.path().to_path_buf());
            let first = first.clone();
            async move { path.filter(|p| *p != first) }
        },
    )
    .await;
    assert_ne!(
        reloaded, library,
        "loaded from a copy, not the rebuilt file itself"
    );
    serves(port, "/watched").await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_with_another_key_replaces_the_actor() {
    let manifests = tempfile::tempdir().unwrap();
    let (_assets, module) = assets();
    std::fs::write(
        manifests.path().join("actor.yaml"),
        format!("actors: [{}]\n", module.display()),
    )
    .unwrap();
    let host = Watched::start(manifests.path());
    let bus = Arc::clone(host.host.bus());
    let runs = |key: &'static str| {
        let bus = Arc::clone(&bus);
        move || {
            let found = bus.actor(key).is_some();
            async move { found.then_some(()) }
        }
    };
    eventually(Duration::from_secs(15), "echo to start", runs(ECHO_KEY)).await;
    // The file now holds another actor (another key): echo stops, chaos starts.
    std::fs::copy(actor("chaos_s"), &module).unwrap();
    eventually(Duration::from_secs(15), "chaos to start", runs(CHAOS_KEY)).await;
    assert!(bus.actor(ECHO_KEY).is_none(), "the old actor stopped");
    assert_eq!(bus.actors().len(), 1);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_saved_again_unchanged_is_not_loaded_again() {
    let manifests = tempfile::tempdir().unwrap();
    let (_assets, echo) = assets();
    let port = free_port();
    std::fs::write(manifests.path().join("echo.yaml"), echo_yaml(&echo, port)).unwrap();
    let mut host = Watched::start(manifests.path());
    serves(port, "/watched").await;
    let mut events = host.host.subscribe();

    // Saved again with the same bytes: a new modification time, same content.
    let before = host.status.borrow().passes;
    std::fs::write(&echo, std::fs::read(actor("echo_s")).unwrap()).unwrap();
    host.until("a pass after the save", |s| s.passes > before)
        .await;
    // And a manifest naming it a second time.
    let before = host.status.borrow().passes;
    std::fs::write(
        manifests.path().join("again.yaml"),
        format!("actors: [{}]\n", echo.display()),
    )
    .unwrap();
    host.until("a pass that read the second file", |s| s.passes > before)
        .await;
    serves(port, "/watched").await;
    assert!(
        events.try_recv().is_err(),
        "nothing started, swapped or stopped"
    );
    host.stop().await;
}
