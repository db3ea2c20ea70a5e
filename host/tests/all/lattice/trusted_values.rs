//! `trellis lattice inventory --show-values` on a trusted lattice: a CLI
//! holding the cluster seed sees a binding's values, passwords masked,
//! while nothing on the wire carries them in clear, and a CLI without the
//! seed sees none of them.

use super::*;
use futures::StreamExt;
use std::sync::Mutex;
use tokio::task::JoinHandle;
use trellis_claims::nkeys::KeyPair;

/// What a tap saw: each message's subject and payload.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Everything published on `subjects` from now on, until the task is aborted.
async fn tap(nats: &NatsServer, subjects: &[&str]) -> (JoinHandle<()>, Seen) {
    let client = async_nats::connect(nats.address()).await.unwrap();
    let mut streams = Vec::new();
    for subject in subjects {
        streams.push(client.subscribe(subject.to_string()).await.unwrap());
    }
    client.flush().await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&seen);
    let tapping = tokio::spawn(async move {
        let _client = client;
        let mut all = futures::stream::select_all(streams);
        while let Some(message) = all.next().await {
            into.lock()
                .unwrap()
                .push((message.subject.to_string(), message.payload.to_vec()));
        }
    });
    (tapping, seen)
}

/// `trellis lattice inventory --show-values` on namespace `x` of `nats`,
/// with `extra` arguments.
fn inventory_showing_values(nats: &NatsServer, extra: &[&str]) -> std::process::Output {
    trellis()
        .args([
            "lattice",
            "inventory",
            "--show-values",
            "--lattice-namespace",
            "x",
        ])
        .args(lattice_args(nats))
        .args(extra)
        .env_remove("LATTICE_CLUSTER_SEED")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_cli_sees_masked_values_that_never_cross_the_wire_in_clear() {
    let nats = NatsServer::start();
    let (tapping, seen) = tap(&nats, &["trellis.x.>", "_INBOX.>"]).await;
    let seed = KeyPair::new_cluster().seed().unwrap();
    let a = member(
        super::trusted::trusted(&nats, &seed),
        &[],
        &[http_server_library()],
    )
    .await;
    let (dir, port) = (tempfile::tempdir().unwrap(), free_port());
    a.0.apply(&manifest(&cache_binding_manifest(port), dir.path()).unwrap())
        .await
        .unwrap();
    serves_echo(port, Duration::from_secs(10)).await;

    let shown = inventory_showing_values(&nats, &["--json", "--lattice-cluster-seed", &seed]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let hosts: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let values = &hosts[0]["bindings"][0]["values"];
    assert_eq!(
        values,
        &serde_json::json!({"CACHE_URL": "redis://user:***@cache:6379/0", "PORT": port.to_string()}),
        "{hosts:#}"
    );
    let table = inventory_showing_values(&nats, &["--lattice-cluster-seed", &seed]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("values CACHE_URL=redis://user:***@cache:6379/0,PORT="),
        "{table}"
    );

    let outside = inventory_showing_values(&nats, &["--json"]);
    let stdout = String::from_utf8_lossy(&outside.stdout);
    assert!(
        !stdout.contains("s3cret") && !stdout.contains("redis:"),
        "{stdout}"
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&outside.stdout).ok(),
        Some(serde_json::json!([])),
        "no host answers a CLI without the seed: {stdout}\n{}",
        String::from_utf8_lossy(&outside.stderr)
    );

    leave(&[&a]).await;
    tapping.abort();
    let seen = seen.lock().unwrap();
    // Heartbeats, the inventory requests, and the answers to them.
    let on = |prefix: &str| seen.iter().filter(|(s, _)| s.starts_with(prefix)).count();
    assert!(on("trellis.x.heartbeat") > 0 && on("trellis.x.inventory") >= 3 && on("_INBOX.") >= 2);
    let in_clear = |needle: &[u8]| {
        seen.iter()
            .any(|(_, m)| m.windows(needle.len()).any(|w| w == needle))
    };
    for needle in ["s3cret", CACHE_URL, "redis://user:***@cache", "CACHE_URL"] {
        assert!(
            !in_clear(needle.as_bytes()),
            "`{needle}` crossed the wire in clear"
        );
    }
}
