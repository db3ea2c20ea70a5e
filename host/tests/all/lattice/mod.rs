//! The lattice, with real `nats-server` processes: hosts in one process
//! (many members per test are cheap) and, for the seed's demo, as separate
//! `trellis up` processes exactly as a user runs them.

mod attacks;
mod rotation;
mod transport;
mod trusted_demo;
mod trusted_values;

use crate::support::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trellis_host::lattice::protocol::values_digest;
use trellis_host::lattice::{self, Lattice, LatticeConfig};
use trellis_host::{Host, HostBuilder, Invocation, InvocationError};

fn config(nats: &NatsServer, namespace: &str) -> LatticeConfig {
    LatticeConfig {
        host: nats.address(),
        namespace: namespace.into(),
        rpc_timeout: Duration::from_secs(2),
        heartbeat: Duration::from_millis(250),
        ..LatticeConfig::default()
    }
}

/// A host joined to the lattice of `config`, running `actors` and `providers`.
async fn member(
    config: LatticeConfig,
    actors: &[&str],
    providers: &[std::path::PathBuf],
) -> (Arc<Host>, Arc<Lattice>) {
    member_with(host(), config, actors, providers).await
}

/// [`member`], with a host built by the test.
async fn member_with(
    host: Host,
    config: LatticeConfig,
    actors: &[&str],
    providers: &[std::path::PathBuf],
) -> (Arc<Host>, Arc<Lattice>) {
    let host = Arc::new(host);
    let lattice = lattice::join(&host, config)
        .await
        .expect("joins the lattice");
    for name in actors {
        host.start_actor(&actor(name)).await.unwrap();
    }
    for library in providers {
        host.start_provider(library, "default").unwrap();
    }
    lattice.ready().await;
    (host, lattice)
}

/// A host whose calls give up after half a second.
fn impatient_host() -> Host {
    HostBuilder::new()
        .config(test_config())
        .call_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

fn health() -> Vec<u8> {
    trellis_codec::encode(&trellis_codec::core::HealthRequest { placeholder: true }).unwrap()
}

async fn leave(members: &[&(Arc<Host>, Arc<Lattice>)]) {
    for (host, lattice) in members {
        lattice.leave().await;
        host.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_cross_hosts_in_every_direction() {
    let nats = NatsServer::start();
    let a = member(config(&nats, "x"), &["chaos_s"], &[]).await;
    let b = member(config(&nats, "x"), &["echo_s"], &[chaos_library()]).await;
    let (host_a, _) = &a;

    // host → actor on another host
    host_a
        .bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .expect("remote actor");
    // actor → provider on another host
    let reply = host_a
        .bus()
        .call(Invocation::to_actor(
            CHAOS_KEY,
            "CallCapability",
            b"trellis:chaos|default|Echo|over there".to_vec(),
        ))
        .await
        .expect("remote provider");
    assert_eq!(reply, b"over there");
    // actor → actor on another host
    let mut call = format!("{ECHO_KEY}|HealthRequest|").into_bytes();
    call.extend_from_slice(&health());
    host_a
        .bus()
        .call(Invocation::to_actor(CHAOS_KEY, "CallActor", call))
        .await
        .expect("actor → remote actor");
    // actor → remote provider → back to the actor's own host
    let call = format!("trellis:chaos|default|CallActor|{CHAOS_KEY}|Echo|round trip");
    let reply = host_a
        .bus()
        .call(Invocation::to_actor(
            CHAOS_KEY,
            "CallCapability",
            call.into_bytes(),
        ))
        .await
        .expect("provider → remote actor");
    assert_eq!(reply, b"round trip");
    // a remote error comes back as that error
    let err = host_a
        .bus()
        .call(Invocation::to_actor(ECHO_KEY, "NoSuchOperation", vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::Remote { .. }), "{err}");
    assert!(err.to_string().contains("bad dispatch"), "{err}");
    leave(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_responders_fail_at_once_and_slow_targets_time_out() {
    let nats = NatsServer::start();
    let a = member(config(&nats, "x"), &["chaos_s"], &[chaos_library()]).await;
    // A remote call is bounded by the caller's call timeout, as a local one is.
    let quick = HostBuilder::new()
        .config(test_config())
        .call_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let b = member_with(quick, config(&nats, "x"), &[], &[]).await;
    let nobody = "MCZ3U3XNKTPW7TNRWS6M3QKXNZG5WAVTC2NJA2I6PDDEKLCQK5ZNKEK2";
    let start = Instant::now();
    let err =
        b.0.bus()
            .call(Invocation::to_actor(nobody, "HealthRequest", health()))
            .await
            .unwrap_err();
    assert!(matches!(err, InvocationError::NoResponders { .. }), "{err}");
    assert!(
        start.elapsed() < Duration::from_millis(250),
        "took {:?}",
        start.elapsed()
    );

    let start = Instant::now();
    let slow = b"trellis:chaos|default|Sleep|3000".to_vec();
    let err =
        b.0.bus()
            .call(Invocation::to_actor(CHAOS_KEY, "CallCapability", slow))
            .await
            .unwrap_err();
    assert!(matches!(err, InvocationError::Timeout { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(CHAOS_KEY) && text.contains("500 ms"),
        "{text}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        start.elapsed()
    );
    leave(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_call_is_bounded_by_the_call_timeout_not_the_rpc_timeout() {
    let nats = NatsServer::start();
    let short_rpc = LatticeConfig {
        rpc_timeout: Duration::from_millis(100),
        ..config(&nats, "x")
    };
    let a = member(short_rpc.clone(), &["chaos_s"], &[chaos_library()]).await;
    let b = member(short_rpc, &[], &[]).await;
    let start = Instant::now();
    let slow = b"trellis:chaos|default|Sleep|400".to_vec();
    b.0.bus()
        .call(Invocation::to_actor(CHAOS_KEY, "CallCapability", slow))
        .await
        .expect("a 400 ms call fits the 5 s call timeout");
    assert!(start.elapsed() >= Duration::from_millis(400));
    leave(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_remote_call_does_not_hold_up_the_next_to_the_same_actor() {
    let nats = NatsServer::start();
    let a = member(config(&nats, "x"), &["chaos_s"], &[chaos_library()]).await;
    let b = member(config(&nats, "x"), &[], &[]).await;
    let caller = Arc::clone(&b.0);
    let slow = tokio::spawn(async move {
        let sleep = b"trellis:chaos|default|Sleep|1500".to_vec();
        caller
            .bus()
            .call(Invocation::to_actor(CHAOS_KEY, "CallCapability", sleep))
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(2);
    while a.0.bus().in_flight() == 0 {
        assert!(Instant::now() < deadline, "the slow call never arrived");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let start = Instant::now();
    let reply =
        b.0.bus()
            .call(Invocation::to_actor(
                CHAOS_KEY,
                "Echo",
                b"meanwhile".to_vec(),
            ))
            .await
            .expect("answered while the slow call runs");
    assert_eq!(reply, b"meanwhile");
    assert!(
        start.elapsed() < Duration::from_millis(750) && !slow.is_finished(),
        "waited {:?} behind the slow call",
        start.elapsed()
    );
    slow.await
        .expect("the slow caller ran")
        .expect("the slow call succeeds");
    leave(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn namespaces_on_one_server_do_not_see_each_other() {
    let nats = NatsServer::start();
    let blue = member(config(&nats, "blue"), &["echo_s"], &[]).await;
    let green = member(config(&nats, "green"), &[], &[]).await;
    let blue_too = member(config(&nats, "blue"), &[], &[]).await;

    blue_too
        .0
        .bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .expect("same namespace");
    let blue_id = blue.1.host_id().to_string();
    let peers = Arc::clone(&blue_too.1);
    eventually(
        Duration::from_secs(10),
        "blue hosts to see each other",
        || {
            let seen = peers.peers().iter().any(|p| p.host == blue_id);
            async move { seen.then_some(()) }
        },
    )
    .await;

    let err = green
        .0
        .bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::NoResponders { .. }), "{err}");
    assert!(green.1.peers().is_empty(), "green sees no blue host");
    leave(&[&blue, &green, &blue_too]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_reconnect_after_nats_restarts() {
    let mut nats = NatsServer::start();
    let a = member(config(&nats, "x"), &["echo_s"], &[]).await;
    let b = member(config(&nats, "x"), &[], &[]).await;
    b.0.bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .expect("before the restart");

    nats.restart();
    let host_b = Arc::clone(&b.0);
    eventually(
        Duration::from_secs(30),
        "remote calls to work again",
        || {
            let host_b = Arc::clone(&host_b);
            async move {
                host_b
                    .bus()
                    .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
                    .await
                    .ok()
            }
        },
    )
    .await;
    // Local calls never needed NATS.
    a.0.bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .expect("local call");
    leave(&[&a, &b]).await;
}

fn varz_in_msgs(monitor: u16) -> u64 {
    let body = std::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{monitor}/varz")])
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    let varz: serde_json::Value = serde_json::from_slice(&body).expect("hub /varz is JSON");
    varz["in_msgs"].as_u64().expect("in_msgs")
}

#[tokio::test(flavor = "multi_thread")]
async fn leaf_nodes_keep_local_calls_off_the_hub() {
    let (leaf_port, monitor) = (free_port(), free_port());
    let hub = NatsServer::with_config(&format!(
        "http: 127.0.0.1:{monitor}\nleafnodes {{ listen: 127.0.0.1:{leaf_port} }}"
    ));
    let remote =
        format!("leafnodes {{ remotes = [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ] }}");
    let (leaf1, leaf2) = (
        NatsServer::with_config(&remote),
        NatsServer::with_config(&remote),
    );
    let quiet = |leaf: &NatsServer| LatticeConfig {
        heartbeat: Duration::from_secs(60),
        ..config(leaf, "leafcar")
    };
    let echo_host = member(quiet(&leaf1), &["echo_s"], &[]).await;
    let neighbour = member(quiet(&leaf1), &[], &[]).await;
    let far = member(quiet(&leaf2), &[], &[]).await;

    // Across leaves, through the hub (once the leaf connections are up).
    let far_host = Arc::clone(&far.0);
    eventually(Duration::from_secs(20), "a call across leaves", || {
        let far_host = Arc::clone(&far_host);
        async move {
            far_host
                .bus()
                .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
                .await
                .ok()
        }
    })
    .await;

    let before = varz_in_msgs(monitor);
    for _ in 0..100 {
        neighbour
            .0
            .bus()
            .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
            .await
            .expect("same leaf");
    }
    let local_traffic = varz_in_msgs(monitor) - before;
    assert!(
        local_traffic < 10,
        "100 same-leaf calls put {local_traffic} messages through the hub"
    );

    let before = varz_in_msgs(monitor);
    for _ in 0..20 {
        far.0
            .bus()
            .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
            .await
            .expect("across leaves");
    }
    let crossing = varz_in_msgs(monitor) - before;
    assert!(
        crossing >= 40,
        "20 calls across leaves put only {crossing} messages through the hub"
    );
    leave(&[&echo_host, &neighbour, &far]).await;
    drop(hub);
}

fn lattice_args(nats: &NatsServer) -> Vec<String> {
    vec![
        "--lattice-host".into(),
        nats.address(),
        "--lattice-heartbeat-ms".into(),
        "300".into(),
    ]
}

fn trellis_json(args: &[String]) -> serde_json::Value {
    let out = trellis().args(args).output().expect("trellis runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// `trellis lattice hosts --json` on the lattice of `net`, given a cluster
/// seed and issuers only if `env` sets them: the hosts that answered.
fn hosts_seen(net: &[String], env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let out = trellis()
        .args(["lattice", "hosts", "--json"])
        .args(net)
        .env_remove("LATTICE_CLUSTER_SEED")
        .env_remove("LATTICE_CLUSTER_ISSUERS")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let hosts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    hosts.as_array().expect("a list of hosts").clone()
}

/// Whether `binding`, from an inventory's JSON, is the one whose only value
/// is `PORT=port`: told by its value names and digest, as its values are
/// not in an inventory.
fn binds_port(binding: &serde_json::Value, port: u16) -> bool {
    let values = HashMap::from([("PORT".to_string(), port.to_string())]);
    assert!(binding.get("values").is_none(), "values shown: {binding}");
    binding["keys"] == serde_json::json!(["PORT"])
        && binding["values_digest"] == values_digest(&values)
}

async fn serves_echo(port: u16, deadline: Duration) {
    eventually(
        deadline,
        &format!("port {port} to answer with the echo actor"),
        || async move {
            let reply = http("GET", port, "/foo/bar", "").await.ok()?;
            (reply.status == 200 && reply.body.contains("\"path\":\"/foo/bar\"")).then_some(())
        },
    )
    .await;
}

/// The README's three hosts as `trellis up` processes on the lattice of
/// `net`, started in its order with `env` set (manifests
/// examples/lattice/host{3,2,1}.yaml), once both HTTP ports answer with the
/// echo actor: the processes (host 3, 2, 1) and the two ports.
async fn demo_hosts(net: &[String], env: &[(&str, &str)]) -> (Vec<Running>, u16, u16) {
    let (port_1, port_2) = (free_port(), free_port());
    let up = |n: u32| {
        let manifest = workspace_root().join(format!("examples/lattice/host{n}.yaml"));
        let mut command = trellis();
        command
            .arg("up")
            .arg("--manifest")
            .arg(manifest)
            .args(net)
            .envs(env.iter().copied())
            .env("HTTP_PORT_1", port_1.to_string())
            .env("HTTP_PORT_2", port_2.to_string());
        Running::spawn(&mut command)
    };
    let mut hosts = vec![up(3), up(2)];
    hosts.iter().for_each(|h| h.wait_for_log("host ready"));
    hosts.push(up(1));
    hosts[2].wait_for_log("Initialized Message Bus (lattice)");
    serves_echo(port_1, Duration::from_secs(30)).await;
    serves_echo(port_2, Duration::from_secs(30)).await;
    (hosts, port_1, port_2)
}

/// The seed's walkthrough: three `trellis up` processes, none of which can
/// answer alone; then the host holding a server is killed.
#[tokio::test(flavor = "multi_thread")]
async fn the_seed_three_host_demo_works_and_survives_a_kill() {
    let nats = NatsServer::start();
    let net = lattice_args(&nats);
    let watch_args: Vec<String> = ["lattice", "watch", "--json"]
        .iter()
        .map(|s| s.to_string())
        .chain(net.clone())
        .collect();
    let watcher = Running::spawn(trellis().args(&watch_args));
    watcher.wait_for_log("watching lattice events");

    let (mut hosts, port_1, port_2) = demo_hosts(&net, &[]).await;

    let inventory_args: Vec<String> = ["lattice", "inventory", "--json"]
        .iter()
        .map(|s| s.to_string())
        .chain(net.clone())
        .collect();
    let inventory = trellis_json(&inventory_args);
    let inventory = inventory.as_array().expect("a list of hosts");
    assert_eq!(inventory.len(), 3, "{inventory:#?}");
    let owner = inventory
        .iter()
        .find(|h| h["actors"].as_array().is_some_and(|a| !a.is_empty()))
        .expect("host 1 runs the actor")["host"]
        .clone();
    let holder_of = |port: u16| {
        inventory
            .iter()
            .position(|h| {
                h["bindings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| binds_port(b, port) && b["owner"] == owner)
            })
            .unwrap_or_else(|| panic!("no host reports the binding on {port}: {inventory:#?}"))
    };
    let holder = holder_of(port_1);
    assert!(inventory[holder]["providers"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    holder_of(port_2);

    let hosts_args: Vec<String> = ["lattice", "hosts"]
        .iter()
        .map(|s| s.to_string())
        .chain(net.clone())
        .collect();
    let table = String::from_utf8(trellis().args(&hosts_args).output().unwrap().stdout).unwrap();
    assert!(table.contains("3 host(s)"), "{table}");

    let call: Vec<String> = [
        "call",
        ECHO_KEY,
        "HandleRequest",
        "--data",
        r#"{"method":"GET","path":"/from-cli"}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(net.clone())
    .collect();
    let out = trellis().args(&call).output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("/from-cli"),
        "{out:?}"
    );

    for event in [
        "trellis.host_started",
        "trellis.actor_started",
        "trellis.provider_loaded",
        "trellis.binding_created",
    ] {
        watcher.wait_for_log(event);
    }

    // Kill -9 the host serving port 1: its binding moves to the other provider host.
    let holder_id = inventory[holder]["host"].as_str().unwrap().to_string();
    let banner = format!("Initialized Message Bus (lattice) host={holder_id}");
    let index = hosts
        .iter()
        .position(|h| h.log().contains(&banner))
        .expect("the holder's log names its id");
    hosts.remove(index).kill();
    let replaced = Instant::now();
    eventually(
        Duration::from_secs(20),
        "the binding to move to the surviving provider host",
        || {
            let args = inventory_args.clone();
            let holder_id = holder_id.clone();
            async move {
                let inventory = trellis_json(&args);
                let hosts = inventory.as_array()?.clone();
                let moved = hosts.iter().any(|h| {
                    h["host"] != holder_id.as_str()
                        && h["bindings"]
                            .as_array()
                            .is_some_and(|b| b.iter().any(|b| binds_port(b, port_1)))
                });
                (hosts.len() == 2 && moved).then_some(())
            }
        },
    )
    .await;
    eprintln!("binding re-placed {:?} after the kill", replaced.elapsed());
    serves_echo(port_1, Duration::from_secs(20)).await;
    serves_echo(port_2, Duration::from_secs(20)).await;

    for host in hosts {
        let status = host.stop();
        assert!(status.success(), "{status:?}");
    }
    watcher.wait_for_log("trellis.host_stopped");
}

fn echo_binding_manifest(port: u16, with_actor: bool) -> String {
    let actors = if with_actor {
        format!("actors: [{}]\n", actor("echo_s").display())
    } else {
        String::new()
    };
    format!("{actors}bindings:\n  - actor: {ECHO_KEY}\n    capability: wascc:http_server\n    values: {{PORT: \"{port}\"}}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn bindings_wait_for_a_provider_and_go_with_their_last_owner() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let first = member(config(&nats, "x"), &[], &[]).await;
    first
        .0
        .apply(&manifest(&echo_binding_manifest(port, true), dir.path()).unwrap())
        .await
        .expect("applies without a provider anywhere");
    assert_eq!(first.1.owned_bindings().len(), 1);
    assert!(
        first.1.owned_bindings()[0].1.is_none(),
        "waits for a provider"
    );
    assert!(http("GET", port, "/", "").await.is_err(), "no server yet");

    // A first provider instance joins: the waiting binding is placed on it.
    let provider = member(config(&nats, "x"), &[], &[http_server_library()]).await;
    serves_echo(port, Duration::from_secs(10)).await;

    // The same declaration from a second owner is adopted, not placed twice.
    let second = member(config(&nats, "x"), &[], &[]).await;
    second
        .0
        .apply(&manifest(&echo_binding_manifest(port, false), dir.path()).unwrap())
        .await
        .unwrap();
    let provider_id = provider.1.host_id().to_string();
    let lattice = Arc::clone(&second.1);
    eventually(
        Duration::from_secs(10),
        "the second owner to adopt the placement",
        || {
            let placed = lattice
                .owned_bindings()
                .first()
                .and_then(|(_, holder)| holder.clone());
            let adopted = placed.as_deref() == Some(provider_id.as_str());
            async move { adopted.then_some(()) }
        },
    )
    .await;
    assert_eq!(
        provider.0.bindings().len(),
        1,
        "one server for two identical declarations"
    );

    // One owner leaving keeps the binding; the last one leaving removes it.
    leave(&[&second]).await;
    assert_eq!(provider.0.bindings().len(), 1);
    serves_echo(port, Duration::from_secs(5)).await;
    leave(&[&first]).await;
    assert!(
        provider.0.bindings().is_empty(),
        "the last owner's goodbye withdrew it"
    );
    assert!(
        http("GET", port, "/", "").await.is_err(),
        "its server stopped"
    );
    leave(&[&provider]).await;
}

/// The first heartbeat from the subscription `beats` that lists a binding.
async fn beat_with_a_binding(beats: &mut async_nats::Subscriber) -> serde_json::Value {
    use futures::StreamExt;
    let listing = async {
        loop {
            let beat = beats.next().await.expect("heartbeats flow");
            let beat: serde_json::Value = serde_json::from_slice(&beat.payload).unwrap();
            if beat["bindings"].as_array().is_some_and(|b| !b.is_empty()) {
                return beat;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), listing)
        .await
        .expect("a heartbeat lists the binding")
}

/// A binding value holding a password.
const CACHE_URL: &str = "redis://user:s3cret@cache:6379/0";

/// The echo actor, and its HTTP binding on `port` whose values also hold
/// [`CACHE_URL`].
fn cache_binding_manifest(port: u16) -> String {
    format!(
        "actors: [{}]\nbindings:\n  - actor: {ECHO_KEY}\n    capability: wascc:http_server\n    values: {{PORT: \"{port}\", CACHE_URL: \"{CACHE_URL}\"}}\n",
        actor("echo_s").display()
    )
}

/// A binding's values stay on its host: heartbeats and inventories name them
/// and carry their digest, and an open lattice shows them to nobody.
#[tokio::test(flavor = "multi_thread")]
async fn binding_values_stay_out_of_heartbeats_and_inventories() {
    let nats = NatsServer::start();
    let nats_client = async_nats::connect(nats.address()).await.unwrap();
    let mut beats = nats_client.subscribe("trellis.x.heartbeat").await.unwrap();
    let (dir, port) = (tempfile::tempdir().unwrap(), free_port());
    let a = member(config(&nats, "x"), &[], &[http_server_library()]).await;
    a.0.apply(&manifest(&cache_binding_manifest(port), dir.path()).unwrap())
        .await
        .unwrap();
    serves_echo(port, Duration::from_secs(10)).await;
    let values = HashMap::from([
        ("PORT".to_string(), port.to_string()),
        ("CACHE_URL".to_string(), CACHE_URL.to_string()),
    ]);
    let names_the_binding = |inventory: &serde_json::Value| {
        let text = inventory.to_string();
        assert!(
            !text.contains("s3cret") && !text.contains("redis:"),
            "{text}"
        );
        let binding = &inventory["bindings"][0];
        assert_eq!(binding["keys"], serde_json::json!(["CACHE_URL", "PORT"]));
        assert_eq!(binding["values_digest"], values_digest(&values));
        assert!(binding.get("values").is_none(), "{binding}");
    };

    names_the_binding(&beat_with_a_binding(&mut beats).await);
    let asked = nats_client
        .request(
            "trellis.x.inventory",
            br#"{"values": true}"#.to_vec().into(),
        )
        .await
        .expect("the host answers");
    names_the_binding(&serde_json::from_slice(&asked.payload).unwrap());

    let mut cli: Vec<String> = ["lattice", "inventory", "--lattice-namespace", "x"]
        .iter()
        .map(|s| s.to_string())
        .chain(lattice_args(&nats))
        .collect();
    let listed = trellis().args(&cli).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("values CACHE_URL,PORT"), "{listed}");
    cli.push("--show-values".into());
    let refused = trellis().args(&cli).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    let refusal = "error: binding values are shown only on a trusted lattice (give the cluster seed with --lattice-cluster-seed)";
    assert!(stderr.lines().any(|line| line == refusal), "{stderr}");
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("s3cret"));
    leave(&[&a]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_goodbye_drops_a_host_from_every_view_at_once() {
    let nats = NatsServer::start();
    let slow_beats = |nats: &NatsServer| LatticeConfig {
        heartbeat: Duration::from_secs(30),
        ..config(nats, "x")
    };
    let leaving = member(slow_beats(&nats), &[], &[]).await;
    let staying = member(slow_beats(&nats), &[], &[]).await;
    let (id, view) = (leaving.1.host_id().to_string(), Arc::clone(&staying.1));
    let sees = move |present: bool| {
        let (id, view) = (id.clone(), Arc::clone(&view));
        move || {
            let found = view.peers().iter().any(|p| p.host == id) == present;
            async move { found.then_some(()) }
        }
    };
    eventually(
        Duration::from_secs(5),
        "the hosts to see each other",
        sees(true),
    )
    .await;
    leave(&[&leaving]).await;
    // Far sooner than the two missed 30 s heartbeats that would drop it otherwise.
    eventually(
        Duration::from_secs(5),
        "the goodbye to drop the host",
        sees(false),
    )
    .await;
    leave(&[&staying]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_password_and_token_in_the_url_authenticate() {
    for (auth, good, bad) in [
        (
            "authorization { user: trellis, password: s3cret }",
            "trellis:s3cret",
            "trellis:wrong",
        ),
        ("authorization { token: t0ken }", "t0ken", "nope"),
    ] {
        let nats = NatsServer::with_config(auth);
        let with = |credentials: &str| LatticeConfig {
            host: format!("nats://{credentials}@{}", nats.address()),
            ..config(&nats, "x")
        };
        let a = member(with(good), &["echo_s"], &[]).await;
        let b = member(with(good), &[], &[]).await;
        b.0.bus()
            .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
            .await
            .expect("authenticated call");
        let refused = lattice::join(&Arc::new(host()), with(bad)).await;
        let err = refused
            .err()
            .expect("wrong credentials are refused")
            .to_string();
        assert!(
            err.contains("cannot connect to NATS") && !err.contains(bad),
            "{err}"
        );
        leave(&[&a, &b]).await;
    }
}

#[test]
fn up_fails_fast_when_nats_is_unreachable() {
    let start = Instant::now();
    let nowhere = format!("127.0.0.1:{}", free_port());
    let out = trellis()
        .args(["up", "--lattice-host", &nowhere])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot connect to NATS") && stderr.contains(&nowhere),
        "{stderr}"
    );
}

#[test]
fn the_environment_can_turn_the_lattice_off() {
    let help = trellis().args(["up", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--no-lattice") && help.contains("TRELLIS_NO_LATTICE"),
        "{help}"
    );
    let nowhere = format!("127.0.0.1:{}", free_port());
    let host = Running::spawn(
        trellis()
            .arg("up")
            .env("TRELLIS_NO_LATTICE", "1")
            .env("LATTICE_HOST", &nowhere),
    );
    host.wait_for_log("Initialized Message Bus (internal)");
    host.wait_for_log("host ready");
    let log = host.log();
    assert!(!log.contains("NATS"), "{log}");
    let status = host.stop();
    assert!(status.success(), "{status:?}\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watched_folder_places_and_withdraws_lattice_bindings() {
    use crate::watch::{assets, echo_yaml, refuses, Watched};
    let nats = NatsServer::start();
    let provider = member(config(&nats, "x"), &[], &[http_server_library()]).await;
    let owner_host = Arc::new(host());
    let owner = lattice::join(&owner_host, config(&nats, "x"))
        .await
        .unwrap();
    let (manifests, (_assets, echo)) = (tempfile::tempdir().unwrap(), assets());
    let file = manifests.path().join("echo.yaml");
    let port = free_port();
    // The owner declares the binding but runs no HTTP provider: it is placed.
    let without_provider = |yaml: String| {
        yaml.lines()
            .filter(|l| !l.starts_with("capabilities"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    std::fs::write(&file, without_provider(echo_yaml(&echo, port))).unwrap();
    let watched = Watched::start_on(Arc::clone(&owner_host), manifests.path());
    serves_echo(port, Duration::from_secs(15)).await;
    assert_eq!(provider.0.bindings().len(), 1);

    // The binding leaves the manifest: the owner withdraws it.
    std::fs::write(&file, format!("actors: [{}]\n", echo.display())).unwrap();
    refuses(port).await;
    assert!(provider.0.bindings().is_empty());
    watched.stop().await;
    owner.leave().await;
    leave(&[&provider]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kvcounter_counts_across_three_hosts() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let http_host = member(config(&nats, "x"), &[], &[http_server_library()]).await;
    let kv_host = member(
        config(&nats, "x"),
        &[],
        &[library("trellis_provider_keyvalue")],
    )
    .await;
    // The actor's host declares both bindings; neither provider runs there.
    let actor_host = Arc::new(host());
    let actor_lattice = lattice::join(&actor_host, config(&nats, "x"))
        .await
        .unwrap();
    let text = format!(
        "actors: [{}]\nbindings:\n  - {{actor: {KVCOUNTER_KEY}, capability: \"wascc:http_server\", values: {{PORT: \"{port}\"}}}}\n  - {{actor: {KVCOUNTER_KEY}, capability: \"wascc:keyvalue\"}}\n",
        actor("kvcounter_s").display()
    );
    actor_host
        .apply(&manifest(&text, dir.path()).unwrap())
        .await
        .expect("applies");
    let kv = Arc::clone(&kv_host.0);
    eventually(
        Duration::from_secs(15),
        "the key-value binding to be placed",
        || {
            let placed = !kv.bindings().is_empty();
            async move { placed.then_some(()) }
        },
    )
    .await;
    for n in 1..=3 {
        let reply = eventually(
            Duration::from_secs(15),
            "kvcounter to answer",
            || async move {
                http("GET", port, "/hits", "")
                    .await
                    .ok()
                    .filter(|r| r.status == 200)
            },
        )
        .await;
        assert!(
            reply.body.contains(&format!("\"counter\":{n}")),
            "request {n}: {}",
            reply.body
        );
    }
    actor_lattice.leave().await;
    actor_host.shutdown().await;
    leave(&[&http_host, &kv_host]).await;
}
mod trusted;
