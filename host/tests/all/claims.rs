//! Actors run only with valid claims, and call only what their claims allow.

use crate::support::*;
use trellis_claims::nkeys::KeyPair;
use trellis_claims::SigningRequest;
use trellis_host::{HostBuilder, HostError, Invocation, InvocationError};

fn example_key(name: &str) -> KeyPair {
    let text = std::fs::read_to_string(
        workspace_root()
            .join("examples/keys")
            .join(format!("{name}.nk")),
    )
    .unwrap();
    let seed = text.lines().find(|l| l.starts_with('S')).unwrap();
    KeyPair::from_seed(seed).unwrap()
}

/// Signs the unsigned echo build with `request` into a temp file.
fn signed_echo(dir: &std::path::Path, request: SigningRequest) -> std::path::PathBuf {
    let bytes = std::fs::read(actor("echo")).unwrap();
    let signed = trellis_claims::sign(
        &bytes,
        &request,
        &example_key("issuer"),
        &example_key("echo"),
    )
    .unwrap();
    let path = dir.join("echo_test.wasm");
    std::fs::write(&path, signed).unwrap();
    path
}

async fn refusal(path: &std::path::Path) -> String {
    let err = host().start_actor(path).await.unwrap_err();
    assert!(matches!(err, HostError::Actor(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&*path.to_string_lossy()),
        "names the file: {text}"
    );
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_module_is_refused() {
    let text = refusal(&actor("echo")).await;
    assert!(text.contains("not signed"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_changed_after_signing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(actor("echo_s")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let path = dir.path().join("tampered.wasm");
    std::fs::write(&path, bytes).unwrap();
    let text = refusal(&path).await;
    assert!(text.contains("modified after signing"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_module_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let now = trellis_claims::now_secs();
    let path = signed_echo(
        dir.path(),
        SigningRequest {
            expires: Some(now - 60),
            ..Default::default()
        },
    );
    let text = refusal(&path).await;
    assert!(text.contains("expired"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_not_yet_valid_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let now = trellis_claims::now_secs();
    let path = signed_echo(
        dir.path(),
        SigningRequest {
            not_before: Some(now + 3600),
            ..Default::default()
        },
    );
    let text = refusal(&path).await;
    assert!(text.contains("not valid until"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issuer_outside_the_allow_list_is_refused() {
    let host = HostBuilder::new()
        .config(test_config())
        .allowed_issuers(vec![KeyPair::new_account().public_key()])
        .build()
        .unwrap();
    let err = host
        .start_actor(&actor("echo_s"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&example_key("issuer").public_key()), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_to_an_undeclared_capability_is_refused() {
    let host = host();
    host.start_actor(&actor("chaos_s")).await.unwrap();
    // chaos may call http_server, logging, extras and trellis:chaos, not keyvalue.
    let err = chaos_calls(&host, b"wascc:keyvalue|default|Get|")
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::ActorFailed { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("may not call wascc:keyvalue"), "{text}");
    let reply = host
        .bus()
        .call(Invocation::to_actor(CHAOS_KEY, "Echo", b"ok".to_vec()))
        .await
        .unwrap();
    assert_eq!(reply, b"ok");
}
