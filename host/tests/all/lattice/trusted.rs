//! A trusted lattice (hosts given one cluster seed), attacked by a plain
//! NATS client of the test and by a host holding another cluster's key.

use super::*;
use futures::StreamExt;
use trellis_claims::nkeys::KeyPair;
use trellis_host::lattice::protocol::{Invocation as Envelope, Subjects};

pub(super) fn trusted(nats: &NatsServer, seed: &str) -> LatticeConfig {
    LatticeConfig {
        cluster_seed: Some(seed.into()),
        ..config(nats, "x")
    }
}

/// A host whose calls give up after half a second.
pub(super) fn impatient_host() -> Host {
    HostBuilder::new()
        .config(test_config())
        .call_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_hosts_call_each_other_and_strangers_are_refused() {
    let nats = NatsServer::start();
    let seed = KeyPair::new_cluster().seed().unwrap();
    let a = member(trusted(&nats, &seed), &["chaos_s"], &[]).await;
    let b = member(trusted(&nats, &seed), &["echo_s"], &[chaos_library()]).await;
    let (host_a, _) = &a;

    // A stranger taps the echo actor's subject to capture a genuine call.
    let stranger = async_nats::connect(nats.address()).await.unwrap();
    let subject = Subjects::new("x").actor(ECHO_KEY);
    let mut tap = stranger.subscribe(subject.clone()).await.unwrap();
    stranger.flush().await.unwrap();

    host_a
        .bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .expect("host → remote actor on a trusted lattice");
    let reply = host_a
        .bus()
        .call(Invocation::to_actor(
            CHAOS_KEY,
            "CallCapability",
            b"trellis:chaos|default|Echo|sealed".to_vec(),
        ))
        .await
        .expect("actor → remote provider on a trusted lattice");
    assert_eq!(reply, b"sealed");

    let captured = tokio::time::timeout(Duration::from_secs(5), tap.next())
        .await
        .expect("the tap saw the call")
        .unwrap();
    assert!(
        !captured
            .payload
            .windows(b"HealthRequest".len())
            .any(|w| w == b"HealthRequest"),
        "the call is not readable off the bus"
    );

    let refused_before = b.1.inventory().refused;
    // Replaying the captured call, and forging a plain one, get no answer.
    let replay = stranger.request(subject.clone(), captured.payload.clone());
    let replay = tokio::time::timeout(Duration::from_millis(500), replay).await;
    assert!(!matches!(replay, Ok(Ok(_))), "a replayed call was answered");
    let forged = trellis_codec::encode(&Envelope {
        id: "forged-1".into(),
        target: ECHO_KEY.into(),
        operation: "HealthRequest".into(),
        payload: health().into(),
        host: "NFORGER".into(),
        ..Envelope::default()
    })
    .unwrap();
    let forged = stranger.request(subject.clone(), forged.into());
    let forged = tokio::time::timeout(Duration::from_millis(500), forged).await;
    assert!(!matches!(forged, Ok(Ok(_))), "a forged call was answered");
    eventually(Duration::from_secs(5), "both refusals counted", || {
        let counted = b.1.inventory().refused >= refused_before + 2;
        async move { counted.then_some(()) }
    })
    .await;

    // A host keyed by another cluster cannot call in.
    let other = KeyPair::new_cluster().seed().unwrap();
    let c = member_with(impatient_host(), trusted(&nats, &other), &[], &[]).await;
    let err =
        c.0.bus()
            .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
            .await
            .unwrap_err();
    assert!(matches!(err, InvocationError::Timeout { .. }), "{err}");
    assert!(
        !b.1.peers().iter().any(|p| p.host == c.1.host_id()),
        "the other cluster's host is not in the view"
    );
    leave(&[&a, &b, &c]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_on_two_keys_that_trust_each_other_share_a_lattice() {
    let nats = NatsServer::start();
    let (key_a, key_b) = (KeyPair::new_cluster(), KeyPair::new_cluster());
    let on_a = LatticeConfig {
        cluster_issuers: vec![key_b.public_key()],
        ..trusted(&nats, &key_a.seed().unwrap())
    };
    let on_b = LatticeConfig {
        cluster_issuers: vec![key_a.public_key()],
        ..trusted(&nats, &key_b.seed().unwrap())
    };
    let a = member(on_a, &["chaos_s"], &[]).await;
    let b = member(on_b, &["echo_s"], &[chaos_library()]).await;
    let reply =
        a.0.bus()
            .call(Invocation::to_actor(
                CHAOS_KEY,
                "CallCapability",
                b"trellis:chaos|default|Echo|rotated".to_vec(),
            ))
            .await
            .expect("a host on key A calls a provider on key B");
    assert_eq!(reply, b"rotated");
    leave(&[&a, &b]).await;
}
