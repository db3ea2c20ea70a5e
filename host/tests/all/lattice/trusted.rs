//! A trusted lattice (hosts given one cluster seed): its hosts call each
//! other, a tap reads nothing, a host holding another cluster's key is kept
//! out, and two keys can be trusted at once. The attacks of a stranger with
//! a NATS client are in `attacks.rs`.

use super::*;
use futures::StreamExt;
use trellis_claims::nkeys::KeyPair;
use trellis_host::lattice::protocol::Subjects;

pub(super) fn trusted(nats: &NatsServer, seed: &str) -> LatticeConfig {
    LatticeConfig {
        cluster_seed: Some(seed.into()),
        ..config(nats, "x")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_hosts_call_each_other_and_are_not_read_or_reached_by_others() {
    let nats = NatsServer::start();
    let seed = KeyPair::new_cluster().seed().unwrap();
    let a = member(trusted(&nats, &seed), &["chaos_s"], &[]).await;
    let b = member(trusted(&nats, &seed), &["echo_s"], &[chaos_library()]).await;
    let (host_a, _) = &a;

    // A stranger taps the echo actor's subject.
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
