//! The attacks a stranger with a NATS client can stage on a lattice, each
//! run twice: on a **trusted** lattice (hosts given one cluster seed), where
//! it must be refused with nothing changed, and on an **open** one, where
//! the test asserts what happens today, so that the difference is a fact
//! of the test suite rather than a claim of the docs (docs/security.md has
//! the table).
//!
//! The attacker is a plain NATS client of the test on the lattice's own
//! server; the hosts are real, with real providers and signed actors.
//! Covered elsewhere: what a tap on a trusted lattice reads and a host keyed
//! by another cluster (`trusted.rs`), an actor with `wascc:messaging`
//! replying onto a lattice subject (`samples.rs`).

use super::*;
use futures::StreamExt;
use std::path::PathBuf;
use std::sync::Mutex;
use trellis_claims::nkeys::KeyPair;
use trellis_codec::keyvalue::{GetResponse, KeyRequest, SetRequest};
use trellis_host::invocation::{Origin, Target};
use trellis_host::lattice::protocol::{
    BindingKey, BindingSummary, Control, ControlReply, Inventory, Invocation as Envelope,
    InvocationReply, Subjects,
};

/// Which lattice an attack runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Trusted,
}

/// Runs `attack` against both kinds of lattice, as two tests named
/// `<attack>::open` and `<attack>::trusted`.
macro_rules! on_both_lattices {
    ($($attack:ident),* $(,)?) => {$(
        mod $attack {
            #[tokio::test(flavor = "multi_thread")]
            async fn open() {
                super::$attack(super::Kind::Open).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn trusted() {
                super::$attack(super::Kind::Trusted).await
            }
        }
    )*};
}

on_both_lattices!(
    forged_call,
    replayed_call,
    forged_origin_to_the_http_client,
    forged_origin_to_the_key_value_store,
    forged_bind,
    forged_unbind,
    forged_goodbye,
    forged_heartbeat,
    queue_group_hijacker,
    inventory_read,
    messaging_actor_aims_at_the_lattice,
);

/// How long the attacker waits for an answer that must not come.
const NO_ANSWER: Duration = Duration::from_millis(700);

/// A lattice under attack: its server, its settings and the attacker.
struct Scene {
    kind: Kind,
    nats: NatsServer,
    seed: String,
    attacker: async_nats::Client,
    subjects: Subjects,
}

impl Scene {
    async fn new(kind: Kind) -> Scene {
        let nats = NatsServer::start();
        let attacker = async_nats::connect(nats.address()).await.unwrap();
        Scene {
            kind,
            seed: KeyPair::new_cluster().seed().unwrap(),
            attacker,
            subjects: Subjects::new("x"),
            nats,
        }
    }

    fn trusted(&self) -> bool {
        self.kind == Kind::Trusted
    }

    /// The settings of this lattice's hosts.
    fn config(&self) -> LatticeConfig {
        LatticeConfig {
            cluster_seed: self.trusted().then(|| self.seed.clone()),
            ..config(&self.nats, "x")
        }
    }

    async fn member(&self, actors: &[&str], providers: &[PathBuf]) -> (Arc<Host>, Arc<Lattice>) {
        member(self.config(), actors, providers).await
    }

    /// Sends `bytes` to `subject` as a request: the answer, or `None` when
    /// none came in time.
    async fn ask(&self, subject: &str, bytes: Vec<u8>) -> Option<async_nats::Message> {
        let asked = self.attacker.request(subject.to_string(), bytes.into());
        match tokio::time::timeout(NO_ANSWER, asked).await {
            Ok(Ok(answer)) => Some(answer),
            Ok(Err(_)) | Err(_) => None,
        }
    }

    /// Publishes `bytes` on `subject` and waits until the server has them.
    async fn publish(&self, subject: String, bytes: Vec<u8>) {
        self.attacker.publish(subject, bytes.into()).await.unwrap();
        self.attacker.flush().await.unwrap();
    }

    /// Waits until `member` has counted one more refusal than `before`: the
    /// attack reached it and was turned away.
    async fn refused_by(&self, member: &Arc<Lattice>, before: u64) {
        let member = Arc::clone(member);
        eventually(Duration::from_secs(5), "the attack to be refused", || {
            let counted = member.inventory().refused > before;
            async move { counted.then_some(()) }
        })
        .await;
    }
}

/// A call as a host would put it on the wire of an open lattice.
fn envelope(origin: &str, target: &str, operation: &str, payload: Vec<u8>, host: &str) -> Vec<u8> {
    trellis_codec::encode(&Envelope {
        id: "forged-1".into(),
        origin: origin.into(),
        target: target.into(),
        operation: operation.into(),
        payload: payload.into(),
        host: host.into(),
    })
    .unwrap()
}

/// The reply an open lattice's host gave to a forged call.
fn reply_of(answer: &async_nats::Message) -> InvocationReply<'_> {
    trellis_codec::decode(&answer.payload).expect("a plain reply")
}

/// Whether `bytes` contain `text`.
fn shows(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

async fn forged_call(kind: Kind) {
    let scene = Scene::new(kind).await;
    let echo = scene.member(&["echo_s"], &[]).await;
    let before = echo.1.inventory().refused;
    let forged = envelope("", ECHO_KEY, "HealthRequest", health(), "NFORGER");
    let answer = scene.ask(&scene.subjects.actor(ECHO_KEY), forged).await;
    if scene.trusted() {
        assert!(answer.is_none(), "a forged call was answered");
        scene.refused_by(&echo.1, before).await;
    } else {
        let answer = answer.expect("an open lattice runs a stranger's call");
        assert_eq!(reply_of(&answer).error, None, "and answers it");
    }
    leave(&[&echo]).await;
}

async fn replayed_call(kind: Kind) {
    let scene = Scene::new(kind).await;
    let caller = scene.member(&[], &[]).await;
    let echo = scene.member(&["echo_s"], &[]).await;
    sees_actor(&caller.1, ECHO_KEY).await;
    let subject = scene.subjects.actor(ECHO_KEY);
    let mut tap = scene.attacker.subscribe(subject.clone()).await.unwrap();
    scene.attacker.flush().await.unwrap();
    caller
        .0
        .bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .expect("a genuine call");
    let captured = tokio::time::timeout(Duration::from_secs(5), tap.next())
        .await
        .expect("the tap saw the call")
        .unwrap();
    let before = echo.1.inventory().refused;
    let answer = scene.ask(&subject, captured.payload.to_vec()).await;
    if scene.trusted() {
        assert!(answer.is_none(), "a replayed call was answered");
        scene.refused_by(&echo.1, before).await;
    } else {
        let answer = answer.expect("an open lattice runs a replayed call again");
        assert_eq!(reply_of(&answer).error, None);
    }
    leave(&[&caller, &echo]).await;
}

/// An HTTP server that counts the requests it gets (the URL a forged call
/// would have the HTTP client fetch).
struct Bait {
    port: u16,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    serving: tokio::task::JoinHandle<()>,
}

impl Bait {
    async fn start() -> Bait {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let serving = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret",
                    )
                    .await;
            }
        });
        Bait {
            port,
            hits,
            serving,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Bait {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// The echo actor's host (echo's claims lack `wascc:http_client`) is named
/// as the caller of the HTTP client provider of another host.
async fn forged_origin_to_the_http_client(kind: Kind) {
    let scene = Scene::new(kind).await;
    let bait = Bait::start().await;
    let echo = scene.member(&["echo_s"], &[]).await;
    let client = scene
        .member(&[], &[library("trellis_provider_httpclient")])
        .await;
    let fetch = trellis_codec::encode(&trellis_codec::http::Request {
        method: "GET".into(),
        path: format!("http://127.0.0.1:{}/", bait.port),
        ..Default::default()
    })
    .unwrap();
    let forged = envelope(
        ECHO_KEY,
        "wascc:http_client/default",
        trellis_codec::http::OP_PERFORM_REQUEST,
        fetch,
        echo.1.host_id(),
    );
    let subject = scene.subjects.provider("wascc:http_client", "default");
    let before = client.1.inventory().refused;
    let answer = scene.ask(&subject, forged).await;
    if scene.trusted() {
        assert!(answer.is_none(), "a forged provider call was answered");
    } else {
        // Open lattices check the origin too: echo's own host does not
        // vouch for it holding the capability.
        let answer = answer.expect("an open lattice answers with a refusal");
        let error = reply_of(&answer).error.unwrap_or_default();
        assert!(error.contains("does not vouch"), "{error}");
    }
    scene.refused_by(&client.1, before).await;
    assert_eq!(bait.hits(), 0, "the HTTP client fetched for a stranger");
    leave(&[&echo, &client]).await;
}

/// A call as kvcounter would make it to its key-value store.
fn key_value_call(operation: &str, payload: Vec<u8>) -> Invocation<'_> {
    Invocation::new(
        Origin::Actor(KVCOUNTER_KEY),
        Target::Provider {
            capability: "wascc:keyvalue",
            binding: "default",
        },
        operation,
        payload,
    )
}

/// kvcounter (which holds `wascc:keyvalue`) is named as the caller by a
/// stranger who wants to write into its store.
async fn forged_origin_to_the_key_value_store(kind: Kind) {
    let scene = Scene::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let store = scene
        .member(&[], &[library("trellis_provider_keyvalue")])
        .await;
    let owner = scene.member(&[], &[]).await;
    let text = format!(
        "actors: [{}]\nbindings:\n  - {{actor: {KVCOUNTER_KEY}, capability: \"wascc:keyvalue\"}}\n",
        actor("kvcounter_s").display()
    );
    owner
        .0
        .apply(&manifest(&text, dir.path()).unwrap())
        .await
        .unwrap();
    let held = Arc::clone(&store.0);
    eventually(Duration::from_secs(10), "kvcounter's store", || {
        let placed = !held.bindings().is_empty();
        async move { placed.then_some(()) }
    })
    .await;

    let set = SetRequest {
        key: "planted".into(),
        value: "by a stranger".into(),
        expires: 0,
    };
    let forged = envelope(
        KVCOUNTER_KEY,
        "wascc:keyvalue/default",
        "Set",
        trellis_codec::encode(&set).unwrap(),
        owner.1.host_id(),
    );
    let subject = scene.subjects.provider("wascc:keyvalue", "default");
    let before = store.1.inventory().refused;
    let answer = scene.ask(&subject, forged).await;
    if scene.trusted() {
        assert!(answer.is_none(), "a forged provider call was answered");
        scene.refused_by(&store.1, before).await;
    } else {
        let answer = answer.expect("an open lattice runs it as kvcounter");
        assert_eq!(reply_of(&answer).error, None);
    }
    // What kvcounter itself reads back from its store.
    let get = trellis_codec::encode(&KeyRequest {
        key: "planted".into(),
    })
    .unwrap();
    let got = owner
        .0
        .bus()
        .call(key_value_call("Get", get))
        .await
        .expect("kvcounter reads its store");
    let got: GetResponse = trellis_codec::decode(&got).unwrap();
    assert_eq!(got.exists, !scene.trusted(), "{got:?}");
    leave(&[&owner, &store]).await;
}

/// A bind as a host would send it on an open lattice.
fn bind(owner: &str, actor: &str, port: u16) -> Vec<u8> {
    serde_json::to_vec(&Control::Bind {
        owner: owner.into(),
        actor: actor.into(),
        capability: "wascc:http_server".into(),
        binding: "default".into(),
        values: HashMap::from([("PORT".to_string(), port.to_string())]),
    })
    .unwrap()
}

/// The error a host answered a control request with.
fn control_error(answer: &async_nats::Message) -> Option<String> {
    serde_json::from_slice::<ControlReply>(&answer.payload)
        .expect("a plain control reply")
        .error
}

/// A stranger asks an HTTP server's host to serve an actor no host runs
/// (the stranger would then answer its requests), and to serve echo on a
/// port of the stranger's choosing.
async fn forged_bind(kind: Kind) {
    let scene = Scene::new(kind).await;
    let echo = scene.member(&["echo_s"], &[]).await;
    let server = scene.member(&[], &[http_server_library()]).await;
    let control = scene.subjects.control(server.1.host_id());
    let ghost = KeyPair::new_module().public_key();
    let (ghost_port, echo_port) = (free_port(), free_port());
    let before = server.1.inventory().refused;

    let answer = scene
        .ask(&control, bind(echo.1.host_id(), &ghost, ghost_port))
        .await;
    if scene.trusted() {
        assert!(answer.is_none(), "a forged bind was answered");
    } else {
        let error = control_error(&answer.expect("an open lattice answers"));
        assert!(error.is_some_and(|e| e.contains(&ghost)), "no host runs it");
    }
    let answer = scene
        .ask(&control, bind(echo.1.host_id(), ECHO_KEY, echo_port))
        .await;
    if scene.trusted() {
        assert!(answer.is_none(), "a forged bind was answered");
        scene.refused_by(&server.1, before + 1).await;
        assert!(server.0.bindings().is_empty(), "nothing was bound");
    } else {
        // Open: any real actor can be bound by anyone, as its owner.
        assert_eq!(control_error(&answer.expect("answered")), None);
        serves_echo(echo_port, Duration::from_secs(10)).await;
    }
    assert!(http("GET", ghost_port, "/", "").await.is_err(), "no server");
    leave(&[&echo, &server]).await;
}

/// A stranger withdraws a binding in its owner's name (the owner and the
/// binding's values are known to it: the worst case).
async fn forged_unbind(kind: Kind) {
    let scene = Scene::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let owner = scene.member(&[], &[]).await;
    let server = scene.member(&[], &[http_server_library()]).await;
    owner
        .0
        .apply(&manifest(&echo_binding_manifest(port, true), dir.path()).unwrap())
        .await
        .unwrap();
    serves_echo(port, Duration::from_secs(10)).await;

    let key = owner.1.owned_bindings()[0].0.clone();
    let unbind = serde_json::to_vec(&Control::Unbind {
        owner: owner.1.host_id().into(),
        key,
    })
    .unwrap();
    let before = server.1.inventory().refused;
    let answer = scene
        .ask(&scene.subjects.control(server.1.host_id()), unbind)
        .await;
    if scene.trusted() {
        assert!(answer.is_none(), "a forged unbind was answered");
        scene.refused_by(&server.1, before).await;
        serves_echo(port, Duration::from_secs(1)).await;
    } else {
        assert_eq!(control_error(&answer.expect("answered")), None);
        assert!(server.0.bindings().is_empty(), "the server was stopped");
        assert!(http("GET", port, "/", "").await.is_err());
    }
    leave(&[&owner, &server]).await;
}

/// Heartbeats every 30 s: a host dropped from a view stays dropped long
/// enough for the test to see it.
fn slow_beats(scene: &Scene) -> LatticeConfig {
    LatticeConfig {
        heartbeat: Duration::from_secs(30),
        ..scene.config()
    }
}

/// A stranger says goodbye in the name of a host that stays.
async fn forged_goodbye(kind: Kind) {
    let scene = Scene::new(kind).await;
    let watcher = member(slow_beats(&scene), &[], &[]).await;
    let victim = member(slow_beats(&scene), &["echo_s"], &[]).await;
    let victim_id = victim.1.host_id().to_string();
    let sees_victim = |view: &Arc<Lattice>| view.peers().iter().any(|p| p.host == victim_id);
    let view = Arc::clone(&watcher.1);
    eventually(Duration::from_secs(5), "the hosts to meet", || {
        let met = sees_victim(&view);
        async move { met.then_some(()) }
    })
    .await;

    let goodbye = Inventory {
        host: victim_id.clone(),
        namespace: "x".into(),
        leaving: true,
        ..Inventory::default()
    };
    let before = watcher.1.inventory().refused;
    scene
        .publish(
            scene.subjects.heartbeat(),
            serde_json::to_vec(&goodbye).unwrap(),
        )
        .await;
    if scene.trusted() {
        scene.refused_by(&watcher.1, before).await;
        assert!(sees_victim(&watcher.1), "the victim is still in the view");
    } else {
        let view = Arc::clone(&watcher.1);
        eventually(Duration::from_secs(5), "the victim to be dropped", || {
            let dropped = !sees_victim(&view);
            async move { dropped.then_some(()) }
        })
        .await;
    }
    leave(&[&watcher, &victim]).await;
}

/// A stranger keeps claiming, in heartbeats of a host that does not exist,
/// to serve a binding, before its owner places it.
async fn forged_heartbeat(kind: Kind) {
    let scene = Scene::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let owner = scene.member(&[], &[]).await;
    let manifest_text = echo_binding_manifest(port, true);
    let values = HashMap::from([("PORT".to_string(), port.to_string())]);
    let key = BindingKey {
        actor: ECHO_KEY.into(),
        capability: "wascc:http_server".into(),
        binding: "default".into(),
        values_digest: trellis_host::lattice::protocol::values_digest(&values),
    };
    let impostor = Inventory {
        host: KeyPair::new_server().public_key(),
        namespace: "x".into(),
        bindings: vec![BindingSummary {
            actor: key.actor.clone(),
            capability: key.capability.clone(),
            binding: key.binding.clone(),
            keys: vec!["PORT".into()],
            values_digest: key.values_digest.clone(),
            values: None,
            owner: owner.1.host_id().into(),
        }],
        ..Inventory::default()
    };
    let beat = serde_json::to_vec(&impostor).unwrap();
    let (subject, attacker) = (scene.subjects.heartbeat(), scene.attacker.clone());
    let beating = tokio::spawn(async move {
        loop {
            let _ = attacker.publish(subject.clone(), beat.clone().into()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    if scene.trusted() {
        scene
            .refused_by(&owner.1, owner.1.inventory().refused)
            .await;
    } else {
        let (view, impostor_id) = (Arc::clone(&owner.1), impostor.host.clone());
        eventually(Duration::from_secs(5), "the impostor to be seen", || {
            let seen = view.peers().iter().any(|p| p.host == impostor_id);
            async move { seen.then_some(()) }
        })
        .await;
    }

    owner
        .0
        .apply(&manifest(&manifest_text, dir.path()).unwrap())
        .await
        .unwrap();
    let server = scene.member(&[], &[http_server_library()]).await;
    if scene.trusted() {
        serves_echo(port, Duration::from_secs(10)).await;
    } else {
        // The owner believes the impostor serves it: it is never placed.
        let view = Arc::clone(&owner.1);
        let impostor_id = impostor.host.clone();
        eventually(Duration::from_secs(5), "the impostor to hold it", || {
            let held = view.owned_bindings().first().and_then(|(_, h)| h.clone());
            let by_impostor = held.as_deref() == Some(impostor_id.as_str());
            async move { by_impostor.then_some(()) }
        })
        .await;
        assert!(
            server.0.bindings().is_empty(),
            "never placed on a real server"
        );
    }
    beating.abort();
    leave(&[&owner, &server]).await;
}

/// Waits until `caller` sees a host that runs `actor`.
async fn sees_actor(caller: &Arc<Lattice>, actor: &str) {
    let (view, actor) = (Arc::clone(caller), actor.to_string());
    eventually(
        Duration::from_secs(5),
        "the actor's host to be seen",
        || {
            let seen = view
                .peers()
                .iter()
                .any(|p| p.actors.iter().any(|a| a.id == actor));
            async move { seen.then_some(()) }
        },
    )
    .await;
}

/// A stranger joins echo's queue group and answers every call it gets.
async fn queue_group_hijacker(kind: Kind) {
    let scene = Scene::new(kind).await;
    let caller = member_with(impatient_host(), scene.config(), &[], &[]).await;
    let echo = scene.member(&["echo_s"], &[]).await;
    sees_actor(&caller.1, ECHO_KEY).await;
    let subject = scene.subjects.actor(ECHO_KEY);
    let mut hijack = scene
        .attacker
        .queue_subscribe(subject.clone(), subject.clone())
        .await
        .unwrap();
    scene.attacker.flush().await.unwrap();
    let forged_reply = trellis_codec::encode(&InvocationReply {
        payload: b"hijacked".as_slice().into(),
        host: "NHIJACKER".into(),
        ..InvocationReply::default()
    })
    .unwrap();
    let taken = Arc::new(Mutex::new(Vec::new()));
    let (attacker, taking) = (scene.attacker.clone(), Arc::clone(&taken));
    let answering = tokio::spawn(async move {
        while let Some(call) = hijack.next().await {
            taking.lock().unwrap().push(call.payload.to_vec());
            if let Some(reply) = call.reply {
                let _ = attacker.publish(reply, forged_reply.clone().into()).await;
            }
        }
    });

    let (mut genuine, mut hijacked, mut failed) = (0, 0, 0);
    for _ in 0..20 {
        let call = Invocation::to_actor(ECHO_KEY, "HealthRequest", health());
        match caller.0.bus().call(call).await {
            Ok(reply) if reply == b"hijacked" => hijacked += 1,
            Ok(_) => genuine += 1,
            Err(_) => failed += 1,
        }
    }
    answering.abort();
    let taken = taken.lock().unwrap().clone();
    assert!(!taken.is_empty(), "the hijacker got a share of the calls");
    assert!(genuine > 0, "echo answered its share");
    if scene.trusted() {
        assert_eq!(hijacked, 0, "a forged reply was taken");
        assert_eq!(failed, taken.len(), "only the hijacked calls failed");
        assert!(
            taken.iter().all(|call| !shows(call, "HealthRequest")),
            "the hijacker read a call"
        );
    } else {
        assert_eq!(hijacked, taken.len(), "open: the caller takes its replies");
        assert!(taken.iter().all(|call| shows(call, "HealthRequest")));
    }
    leave(&[&caller, &echo]).await;
}

/// A stranger asks for every host's inventory, values included, and
/// listens to heartbeats.
async fn inventory_read(kind: Kind) {
    let scene = Scene::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let mut beats = scene
        .attacker
        .subscribe(scene.subjects.heartbeat())
        .await
        .unwrap();
    scene.attacker.flush().await.unwrap();
    let owner = scene.member(&[], &[http_server_library()]).await;
    let text = format!(
        "actors: [{}]\nbindings:\n  - actor: {ECHO_KEY}\n    capability: wascc:http_server\n    values: {{PORT: \"{}\", CACHE_URL: \"redis://u:s3cret@cache\"}}\n",
        actor("echo_s").display(),
        free_port()
    );
    owner
        .0
        .apply(&manifest(&text, dir.path()).unwrap())
        .await
        .unwrap();
    let before = owner.1.inventory().refused;
    let answer = scene
        .ask(&scene.subjects.inventory(), br#"{"values": true}"#.to_vec())
        .await;
    if scene.trusted() {
        assert!(answer.is_none(), "a stranger was answered");
        scene.refused_by(&owner.1, before).await;
        // Beats while the binding runs: none can be read.
        for _ in 0..4 {
            let beat = tokio::time::timeout(Duration::from_secs(5), beats.next())
                .await
                .expect("heartbeats flow")
                .unwrap();
            assert!(!shows(&beat.payload, ECHO_KEY), "a heartbeat is readable");
            assert!(!shows(&beat.payload, "s3cret"), "a value in a heartbeat");
        }
    } else {
        // Open: anyone reads what runs where, but never the values.
        let answer = answer.expect("an open lattice answers anyone");
        assert!(!shows(&answer.payload, "s3cret"), "values were shown");
        let inventory: Inventory = serde_json::from_slice(&answer.payload).unwrap();
        assert_eq!(inventory.actors[0].id, ECHO_KEY);
        assert_eq!(inventory.bindings[0].keys, ["CACHE_URL", "PORT"]);
        let beat = beat_with_a_binding(&mut beats).await.to_string();
        assert!(
            beat.contains(ECHO_KEY) && !beat.contains("s3cret"),
            "{beat}"
        );
    }
    leave(&[&owner]).await;
}

/// The responder actor (it holds `wascc:messaging`) is bound to the
/// lattice's own server with a subscription that would make it a member of
/// echo's queue group: an actor hijacking calls from inside.
async fn messaging_actor_aims_at_the_lattice(kind: Kind) {
    let scene = Scene::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let inside = scene.member(&[], &[]).await;
    let echo_calls = scene.subjects.actor(ECHO_KEY);
    let text = format!(
        "actors: [{}]\ncapabilities:\n  - path: {}\nbindings:\n  - actor: MBHBBKDM2NTYLXZB4E22QYGVBVGSOGFZYJSNK2BZBRWUOKREPW2KLKSB\n    capability: wascc:messaging\n    values: {{URL: \"{}\", SUBSCRIPTION: \"{echo_calls}\", QUEUE_GROUP: \"{echo_calls}\"}}\n",
        actor("responder_s").display(),
        library("trellis_provider_messaging").display(),
        scene.nats.url(),
    );
    let refused = inside
        .0
        .apply(&manifest(&text, dir.path()).unwrap())
        .await
        .expect_err("the binding is refused");
    let refused = format!("{refused:#}");
    assert!(
        refused.contains("could receive the lattice's subjects")
            && refused.contains("ALLOW_LATTICE_SUBJECTS=true"),
        "{refused}"
    );
    assert!(
        inside.0.bindings().is_empty(),
        "the last good state is kept"
    );
    leave(&[&inside]).await;
}
