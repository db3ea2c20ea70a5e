//! The compiled-code cache: a restarted host loads actor code instead of
//! compiling it again, and a cache folder it cannot use never stops it.

use crate::support::*;
use trellis_host::HostBuilder;

#[tokio::test(flavor = "multi_thread")]
async fn a_second_host_loads_echo_from_the_cache_the_first_filled() {
    let cache = tempfile::tempdir().unwrap();
    let mut stats = Vec::new();
    for _ in 0..2 {
        let host = HostBuilder::new()
            .config(test_config())
            .code_cache(cache.path())
            .build()
            .unwrap();
        host.start_actor(&actor("echo_s")).await.unwrap();
        // Code from the cache runs like freshly compiled code.
        let health = trellis_codec::core::HealthRequest { placeholder: true };
        let reply = host
            .invoke(
                ECHO_KEY,
                "HealthRequest",
                trellis_codec::encode(&health).unwrap(),
            )
            .await;
        assert!(reply.is_ok(), "{reply:?}");
        stats.push(host.code_cache_stats().expect("the host has a code cache"));
        host.shutdown().await;
    }
    assert_eq!((stats[0].hits, stats[0].misses), (0, 1), "first: {stats:?}");
    assert_eq!(
        (stats[1].hits, stats[1].misses),
        (1, 0),
        "second: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_cache_folder_a_host_has_no_cache() {
    let host = HostBuilder::new().config(test_config()).build().unwrap();
    assert_eq!(host.code_cache_stats(), None);
}

/// `trellis up` with only echo, and `extra` arguments, until it is ready; its log.
#[cfg(not(feature = "lattice"))]
fn up_until_ready(dir: &std::path::Path, extra: &[&str]) -> String {
    let manifest = dir.join("echo.yaml");
    std::fs::write(
        &manifest,
        format!("actors:\n  - {}\n", actor("echo_s").display()),
    )
    .unwrap();
    let mut args = vec!["--manifest", manifest.to_str().unwrap()];
    args.extend_from_slice(extra);
    let host = Running::start(&args);
    host.wait_for_log("host ready");
    let log = host.log();
    let status = host.stop();
    assert!(status.success(), "exit status {status:?}\n{log}");
    log
}

#[cfg(not(feature = "lattice"))]
#[test]
fn up_compiles_once_then_loads_from_the_code_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("code");
    let args = ["--code-cache", cache.to_str().unwrap()];
    let first = up_until_ready(dir.path(), &args);
    assert!(first.contains("module compiled"), "{first}");
    let second = up_until_ready(dir.path(), &args);
    assert!(
        second.contains("module loaded from the code cache"),
        "{second}"
    );
    assert!(!second.contains("module compiled"), "{second}");
}

#[cfg(not(feature = "lattice"))]
#[test]
fn up_warns_about_an_unusable_code_cache_and_runs_anyway() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: nothing can be created under it.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "not a folder").unwrap();
    let cache = blocker.join("code");
    let log = up_until_ready(dir.path(), &["--code-cache", cache.to_str().unwrap()]);
    assert!(
        log.contains(&format!("cannot use {} as the code cache", cache.display())),
        "{log}"
    );
    assert!(log.contains("module compiled"), "{log}");
}
