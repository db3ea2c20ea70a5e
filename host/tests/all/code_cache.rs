//! The compiled-code cache: a restarted host loads actor code instead of
//! compiling it again, and a cache folder it cannot use never stops it.

use crate::support::*;
use trellis_host::{HostBuilder, Invocation};

#[tokio::test(flavor = "multi_thread")]
async fn a_second_host_loads_echo_from_the_cache_the_first_filled() {
    let cache = tempfile::tempdir().unwrap();
    let mut stats = Vec::new();
    for _ in 0..2 {
        let host = cached_host(cache.path());
        host.start_actor(&actor("echo_s")).await.unwrap();
        // Code from the cache runs like freshly compiled code.
        let health = trellis_codec::core::HealthRequest { placeholder: true };
        let reply = host
            .bus()
            .call(Invocation::to_actor(
                ECHO_KEY,
                "HealthRequest",
                trellis_codec::encode(&health).unwrap(),
            ))
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

fn cached_host(cache: &std::path::Path) -> trellis_host::Host {
    HostBuilder::new()
        .config(test_config())
        .code_cache(cache)
        .build()
        .unwrap()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_folder_other_users_may_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let host = cached_host(&shared);
    assert_eq!(host.code_cache_stats(), None, "no cache in a shared folder");
    host.start_actor(&actor("echo_s")).await.unwrap();
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_new_cache_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("a/b/code");
    let _host = cached_host(&cache);
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// Every compiled module file under `dir` (wasmtime's temporary and
/// statistics files have an extension; modules have none).
fn module_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_none() {
                files.push(path);
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_cache_file_is_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = cached_host(dir.path());
    first.start_actor(&actor("echo_s")).await.unwrap();
    first.shutdown().await;
    let files = module_files(dir.path());
    assert!(!files.is_empty(), "the first host stored its compiled code");
    for file in &files {
        std::fs::write(file, b"not compiled code").unwrap();
    }
    let second = cached_host(dir.path());
    second.start_actor(&actor("echo_s")).await.unwrap();
    let stats = second.code_cache_stats().unwrap();
    assert_eq!((stats.hits, stats.misses), (0, 1), "recompiled: {stats:?}");
    let health = trellis_codec::encode(&trellis_codec::core::HealthRequest { placeholder: true });
    let reply = second
        .bus()
        .call(Invocation::to_actor(
            ECHO_KEY,
            "HealthRequest",
            health.unwrap(),
        ))
        .await;
    assert!(reply.is_ok(), "{reply:?}");
}
