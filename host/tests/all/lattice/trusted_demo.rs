//! The README's trusted walkthrough, as a user runs it: a cluster key made
//! by `trellis keys gen cluster` into a file only its owner reads, given by
//! `LATTICE_CLUSTER_SEED` to the three `trellis up` processes of the demo and
//! to the CLI. A host and a CLI without the seed stay outside.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Runs the README's line `trellis keys gen cluster > cluster.nk && chmod
/// 600 cluster.nk` in `dir`; returns the file.
fn cluster_key_file(dir: &Path) -> PathBuf {
    let trellis = trellis().get_program().to_owned();
    let line = format!(
        "'{}' keys gen cluster > cluster.nk && chmod 600 cluster.nk",
        trellis.to_string_lossy()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &line])
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Keep the seed secret"), "{stderr}");
    let file = dir.join("cluster.nk");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_trusted_three_host_demo_works_and_keeps_open_hosts_out() {
    let nats = NatsServer::start();
    let net = lattice_args(&nats);
    let dir = tempfile::tempdir().unwrap();
    let key_file = cluster_key_file(dir.path());
    let seed = [("LATTICE_CLUSTER_SEED", key_file.to_str().unwrap())];
    let (hosts, _, _) = demo_hosts(&net, &seed).await;
    for host in &hosts {
        let log = host.log();
        assert!(
            log.contains("trusted lattice") && !log.contains("open lattice"),
            "{log}"
        );
    }

    // A host without the seed, on the same NATS server and namespace.
    let open = member_with(super::impatient_host(), config(&nats, "default"), &[], &[]).await;
    let view = Arc::clone(&open.1);
    eventually(
        Duration::from_secs(10),
        "the open host to receive (and refuse) the trusted hosts' heartbeats",
        || {
            let refused = view.inventory().refused;
            async move { (refused >= 3).then_some(()) }
        },
    )
    .await;
    assert!(open.1.peers().is_empty(), "{:?}", open.1.peers());
    let err = open
        .0
        .bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::Timeout { .. }), "{err}");

    // The CLI with the seed sees the three trusted hosts and not the open one;
    // without it, it sees only the open host.
    let trusted = hosts_seen(&net, &seed);
    assert_eq!(trusted.len(), 3, "{trusted:#?}");
    assert!(trusted.iter().all(|h| h["host"] != open.1.host_id()));
    let outside = hosts_seen(&net, &[]);
    assert_eq!(outside.len(), 1, "{outside:#?}");
    assert_eq!(outside[0]["host"], open.1.host_id());

    leave(&[&open]).await;
    for host in hosts {
        let status = host.stop();
        assert!(status.success(), "{status:?}");
    }
}
