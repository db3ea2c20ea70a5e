//! Loading providers through the checked ABI: many at once, bad ones refused,
//! one built with an older SDK still served.

use crate::support::*;
use trellis_host::provider::{ProviderLibrary, ProviderLoadError};
use trellis_host::{HostError, Invocation};

fn refusal(path: &std::path::Path) -> ProviderLoadError {
    match ProviderLibrary::load(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_providers_serve_one_host_at_once() {
    let host = host();
    for (library, capability) in [
        (http_server_library(), "wascc:http_server"),
        (library("trellis_provider_logging"), "wascc:logging"),
        (chaos_library(), "trellis:chaos"),
    ] {
        let provider = host.start_provider(&library, "default").unwrap();
        assert_eq!(provider.capability_id(), capability);
    }
    assert_eq!(host.bus().providers().len(), 3);
    host.start_actor(&actor("chaos_s")).await.unwrap();

    let log = trellis_codec::encode(&trellis_codec::logging::WriteLogRequest {
        level: trellis_codec::logging::level::INFO,
        body: "hello from chaos".into(),
    })
    .unwrap();
    let mut call = b"wascc:logging||WriteLog|".to_vec();
    call.extend_from_slice(&log);
    chaos_calls(&host, call).await.expect("logging answers");
    let reply = chaos_calls(&host, b"trellis:chaos|default|Echo|hey")
        .await
        .expect("chaos answers");
    assert_eq!(reply, b"hey");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_file_named_like_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir
        .path()
        .join(trellis_host::provider::platform_file_name("fake"));
    std::fs::write(&fake, "this is not a library\n").unwrap();
    let err = refusal(&fake);
    assert!(
        matches!(err, ProviderLoadError::NotALibrary { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&*fake.to_string_lossy()) && text.contains("not a shared library"),
        "{text}"
    );
}

#[test]
fn a_library_without_a_root_module_is_refused() {
    let path = library("fixture_no_root_module");
    let err = refusal(&path);
    assert!(
        matches!(err, ProviderLoadError::NotAProvider { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("exports no provider root module"),
        "{err}"
    );
}

#[test]
fn a_provider_built_against_an_incompatible_sdk_is_refused() {
    let err = refusal(&library("fixture_future_sdk"));
    assert!(
        matches!(err, ProviderLoadError::IncompatibleSdk { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("99.0.0") && text.contains(trellis_provider_sdk::ffi::SDK_VERSION),
        "{text}"
    );
}

#[test]
fn a_provider_with_another_abi_layout_is_refused() {
    let err = refusal(&library("fixture_layout_mismatch"));
    assert!(
        matches!(err, ProviderLoadError::LayoutMismatch { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.lines().count() == 1 && text.len() < 600,
        "one readable line: {text}"
    );
}

#[test]
fn a_missing_library_is_refused() {
    let err = refusal(std::path::Path::new("/nonexistent/libnothing.so"));
    assert!(matches!(err, ProviderLoadError::NotFound { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_keeps_working_after_refusing_libraries() {
    let host = host();
    host.start_actor(&actor("echo_s")).await.unwrap();
    for bad in [
        "fixture_no_root_module",
        "fixture_future_sdk",
        "fixture_layout_mismatch",
    ] {
        let err = host.start_provider(&library(bad), "default").unwrap_err();
        assert!(matches!(err, HostError::ProviderLoad(_)), "{err}");
    }
    let health =
        trellis_codec::encode(&trellis_codec::core::HealthRequest { placeholder: true }).unwrap();
    host.bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health))
        .await
        .expect("echo still answers");
    assert!(host.bus().providers().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_panic_becomes_an_error_for_that_call() {
    let host = host();
    host.start_provider(&chaos_library(), "default").unwrap();
    host.start_actor(&actor("chaos_s")).await.unwrap();
    let err = chaos_calls(&host, b"trellis:chaos|default|Panic|")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("provider panicked: chaos asked to panic"),
        "{err}"
    );

    let bind = host.bind(trellis_host::BindingRecord {
        actor: CHAOS_KEY.into(),
        capability: "trellis:chaos".into(),
        binding: "default".into(),
        values: [("PANIC_ON_BIND".to_string(), "1".to_string())].into(),
    });
    let err = bind.unwrap_err().to_string();
    assert!(err.contains("provider panicked"), "{err}");

    let reply = chaos_calls(&host, b"trellis:chaos|default|Echo|alive")
        .await
        .expect("the provider still answers after panicking");
    assert_eq!(reply, b"alive");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_library_serves_two_binding_names() {
    let host = host();
    host.start_provider(&chaos_library(), "default").unwrap();
    host.start_provider(&chaos_library(), "other").unwrap();
    host.start_actor(&actor("chaos_s")).await.unwrap();
    let reply = chaos_calls(&host, b"trellis:chaos|other|Echo|two")
        .await
        .unwrap();
    assert_eq!(reply, b"two");
    let err = host.start_provider(&chaos_library(), "other").unwrap_err();
    assert!(matches!(err, HostError::DuplicateProvider { .. }), "{err}");
}

/// A provider built against SDK 0.1.0 (host/tests/fixtures/old-sdk-provider,
/// built by scripts/build-fixtures), which predates failure kinds.
fn old_sdk_library() -> std::path::PathBuf {
    library("fixture_old_sdk")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_built_with_sdk_0_1_0_still_works_both_ways() {
    let host = host();
    host.start_actor(&actor("chaos_s")).await.unwrap();
    let provider = host
        .start_provider(&old_sdk_library(), "old-sdk")
        .expect("a provider of SDK 0.1.0 loads");
    assert_eq!(provider.descriptor().name, "Old SDK");

    // On bind it calls the actor's `Fail`: provider → actor, failing.
    host.bind(trellis_host::BindingRecord {
        actor: CHAOS_KEY.into(),
        capability: "trellis:chaos".into(),
        binding: "old-sdk".into(),
        values: [("CALL".to_string(), "Fail".to_string())].into(),
    })
    .expect("the old provider takes the binding");

    // Actor → provider: the chaos actor asks it what that call gave. SDK
    // 0.1.0 gets a failure as the host's plain message, kind-less.
    let outcome = eventually(
        std::time::Duration::from_secs(10),
        "the call made on bind",
        || async {
            chaos_calls(&host, b"trellis:chaos|old-sdk|Outcome|")
                .await
                .ok()
        },
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&outcome),
        format!("error: actor {CHAOS_KEY} failed Fail: chaos failed on purpose")
    );
    host.shutdown().await;
}

/// A library cut short (a copy in progress, a full disk) is refused by name
/// before the loader maps it: mapping it would kill the process with SIGBUS.
#[test]
fn a_library_cut_short_is_refused_and_the_process_lives() {
    let bytes = std::fs::read(http_server_library()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for length in [4 << 10, 64 << 10, 1 << 20] {
        let cut = dir
            .path()
            .join(trellis_host::provider::platform_file_name(&format!(
                "cut{length}"
            )));
        std::fs::write(&cut, &bytes[..length]).unwrap();
        let err = refusal(&cut);
        let text = err.to_string();
        assert!(
            matches!(err, ProviderLoadError::CutShort { size, .. } if size == length as u64),
            "{length}: {text}"
        );
        assert!(
            text.contains(&*cut.to_string_lossy()) && text.contains("cut short"),
            "{text}"
        );
    }
    ProviderLibrary::load(&http_server_library()).expect("the whole library loads");
}
