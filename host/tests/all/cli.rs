//! The `trellis` binary, run as a user runs it.

use crate::support::*;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    trellis().args(args).output().expect("trellis runs")
}

/// Runs `trellis` and asserts it succeeded, showing its stderr if not.
fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A build with the lattice runs on the internal bus when told to: no NATS
/// answers on the port it is given. A build without it takes `--no-lattice`
/// too, so one command line serves both.
#[tokio::test(flavor = "multi_thread")]
async fn up_serves_the_demo_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let manifest = dir.path().join("echo.yaml");
    std::fs::write(&manifest, echo_manifest(port)).unwrap();
    let nowhere = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--manifest", manifest.to_str().unwrap(), "--no-lattice"];
    if cfg!(feature = "lattice") {
        args.extend(["--lattice-host", &nowhere]);
    }
    let host = Running::start(&args);
    host.wait_for_log("Initialized Message Bus (internal)");
    host.wait_for_log("host ready");
    let reply = http("GET", port, "/foo/bar?x=1", "hi")
        .await
        .expect("answers");
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.contains("\"path\":\"/foo/bar\""),
        "{}",
        reply.body
    );
    let log = host.log();
    let status = host.stop();
    assert!(status.success(), "exit status {status:?}\n{log}");
}

#[test]
fn up_with_a_bad_manifest_fails_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("broken.yaml");
    std::fs::write(&manifest, "actors: [\n").unwrap();
    let out = run(&["up", "--manifest", manifest.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml"), "{stderr}");
}

#[test]
fn keys_sign_and_inspect_work_together() {
    let dir = tempfile::tempdir().unwrap();
    let gen = |kind: &str| {
        let out = run_ok(&["keys", "gen", kind, "--json"]);
        let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            keys["public_key"].as_str().unwrap().to_string(),
            keys["seed"].as_str().unwrap().to_string(),
        )
    };
    let (account, account_seed) = gen("account");
    let (module, module_seed) = gen("module");
    assert!(account.starts_with('A') && account_seed.starts_with("SA"));
    assert!(module.starts_with('M') && module_seed.starts_with("SM"));

    let signed = dir.path().join("signed.wasm");
    run_ok(&[
        "claims",
        "sign",
        actor("echo").to_str().unwrap(),
        "--issuer",
        &account_seed,
        "--subject",
        &module_seed,
        "--cap",
        "wascc:http_server",
        "--name",
        "Echo",
        "--tag",
        "demo",
        "--output",
        signed.to_str().unwrap(),
    ]);

    let out = run(&["claims", "inspect", signed.to_str().unwrap(), "--json"]);
    let claims: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(claims["sub"], module.as_str());
    assert_eq!(claims["iss"], account.as_str());
    assert_eq!(claims["wascap"]["caps"][0], "wascc:http_server");
    assert_eq!(claims["wascap"]["name"], "Echo");

    let table =
        String::from_utf8(run(&["claims", "inspect", signed.to_str().unwrap()]).stdout).unwrap();
    assert!(
        table.contains(&module) && table.contains("wascc:http_server"),
        "{table}"
    );

    // What `keys gen` prints, saved to a file, works as a key file.
    let issuer_file = dir.path().join("issuer.txt");
    std::fs::write(&issuer_file, run(&["keys", "gen", "account"]).stdout).unwrap();
    run_ok(&[
        "claims",
        "sign",
        actor("echo").to_str().unwrap(),
        "--issuer",
        issuer_file.to_str().unwrap(),
        "--subject",
        &module_seed,
        "--output",
        signed.to_str().unwrap(),
    ]);

    let out = run(&["claims", "inspect", actor("echo").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed"));
}

#[cfg(not(feature = "lattice"))]
#[tokio::test(flavor = "multi_thread")]
async fn up_watch_applies_a_folder_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let host = Running::start(&["--watch", dir.path().to_str().unwrap()]);
    host.wait_for_log("watching manifests");
    let port = free_port();
    std::fs::write(dir.path().join("echo.yaml"), echo_manifest(port)).unwrap();
    eventually(
        std::time::Duration::from_secs(15),
        "the watched manifest to be served",
        || async move {
            http("GET", port, "/", "")
                .await
                .ok()
                .filter(|r| r.status == 200)
        },
    )
    .await;
    std::fs::write(dir.path().join("echo.yaml"), "bindings: [\n").unwrap();
    host.wait_for_log("its last good version stays");
    assert_eq!(http("GET", port, "/", "").await.map(|r| r.status), Ok(200));
    let status = host.stop();
    assert!(status.success(), "{status:?}");
}

#[cfg(not(feature = "lattice"))]
#[tokio::test(flavor = "multi_thread")]
async fn up_with_manifests_and_a_watched_folder_runs_their_union() {
    let dir = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let (first, second) = (free_port(), free_port());
    let manifest = dir.path().join("echo.yaml");
    std::fs::write(&manifest, echo_manifest(first)).unwrap();
    // The watched file declares the same actor and provider, and a second binding.
    let watched = folder.path().join("more.yaml");
    std::fs::write(&watched, echo_manifest(second)).unwrap();
    let host = Running::start(&[
        "--manifest",
        manifest.to_str().unwrap(),
        "--watch",
        folder.path().to_str().unwrap(),
    ]);
    let answers = |port: u16| async move {
        http("GET", port, "/", "")
            .await
            .ok()
            .filter(|r| r.status == 200)
    };
    let wait = std::time::Duration::from_secs(15);
    eventually(wait, "the -m binding", || answers(first)).await;
    eventually(wait, "the watched binding", || answers(second)).await;

    // Dropping the watched file's binding leaves what the -m manifest declares.
    std::fs::write(
        &watched,
        format!("actors: [{}]\n", actor("echo_s").display()),
    )
    .unwrap();
    eventually(wait, "the watched binding to go", || async move {
        http("GET", second, "/", "").await.is_err().then_some(())
    })
    .await;
    assert!(answers(first).await.is_some(), "the -m binding stays");

    // Declared by both sources, echo started once and was never loaded again.
    let log = host.log();
    assert_eq!(log.matches("actor started").count(), 1, "{log}");
    assert!(!log.contains("actor updated"), "{log}");
    assert_eq!(log.matches("provider loaded").count(), 1, "{log}");
    let status = host.stop();
    assert!(status.success(), "{status:?}");
}
