//! Rotating a trusted lattice's cluster key while it serves, exactly as
//! docs/security.md says ("Rotating the cluster key without downtime"):
//! every host is restarted one by one on seed A trusting B, then on seed B
//! trusting A, then on seed B alone, while an actor calls an actor and a
//! provider of other hosts back to back. Not one call may fail.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tokio::task::JoinHandle;
use trellis_claims::nkeys::KeyPair;

/// A member of the lattice of `nats` holding `seed` and also trusting `issuers`.
fn keyed(nats: &NatsServer, seed: &KeyPair, issuers: &[&KeyPair]) -> LatticeConfig {
    LatticeConfig {
        cluster_issuers: issuers.iter().map(|k| k.public_key()).collect(),
        ..super::trusted::trusted(nats, &seed.seed().unwrap())
    }
}

/// Asks `trellis lattice hosts` given `seed` and `issuers`, as the hosts
/// are at this step, how many hosts it sees.
async fn hosts_the_cli_sees(nats: &NatsServer, seed: &KeyPair, issuers: &[&KeyPair]) -> usize {
    let seed = seed.seed().unwrap();
    let issuers: Vec<String> = issuers.iter().map(|k| k.public_key()).collect();
    let mut net = lattice_args(nats);
    net.extend(["--lattice-namespace".into(), "x".into()]);
    let ask = move || {
        let env = [
            ("LATTICE_CLUSTER_SEED", seed.as_str()),
            ("LATTICE_CLUSTER_ISSUERS", &issuers.join(",")),
        ];
        hosts_seen(&net, &env).len()
    };
    tokio::task::spawn_blocking(ask).await.unwrap()
}

/// A host joined to the lattice.
type Member = (Arc<Host>, Arc<Lattice>);

/// What a host of the rotation does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// Runs the echo actor and the chaos provider: what the calls reach.
    Answering,
    /// Runs the chaos actor, which makes the calls.
    Calling,
}

impl Role {
    async fn join(self, config: LatticeConfig) -> Member {
        match self {
            Role::Answering => member(config, &["echo_s"], &[chaos_library()]).await,
            Role::Calling => member(config, &["chaos_s"], &[]).await,
        }
    }
}

/// Calls across hosts back to back, from one calling host at a time,
/// counting the successes of each step and keeping every failure.
struct Traffic {
    /// The calling host; held for the whole of each call, so that taking
    /// it waits for the call in flight.
    caller: tokio::sync::Mutex<Arc<Host>>,
    /// Each step's name and how many calls succeeded during it.
    steps: Mutex<Vec<(String, usize)>>,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Traffic {
    fn start(caller: Arc<Host>, first_step: &str) -> (Arc<Self>, JoinHandle<()>) {
        let traffic = Arc::new(Traffic {
            caller: tokio::sync::Mutex::new(caller),
            steps: Mutex::new(vec![(first_step.to_string(), 0)]),
            failures: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let calling = tokio::spawn(Arc::clone(&traffic).run());
        (traffic, calling)
    }

    async fn run(self: Arc<Self>) {
        let mut n = 0usize;
        while !self.stop.load(Ordering::Relaxed) {
            let outcome = {
                let caller = self.caller.lock().await;
                call_across(&caller, n).await
            };
            let mut steps = self.steps.lock().unwrap();
            let (step, successes) = steps.last_mut().expect("a step");
            match outcome {
                Ok(()) => *successes += 1,
                Err(e) => self
                    .failures
                    .lock()
                    .unwrap()
                    .push(format!("call {n} during `{step}`: {e}")),
            }
            n += 1;
        }
    }

    /// Counts what follows as the step `name`.
    fn begin(&self, name: String) {
        self.steps.lock().unwrap().push((name, 0));
    }

    /// Calls from `caller` from the next call on, once the call in flight ended.
    async fn hand_over(&self, caller: &Arc<Host>) {
        *self.caller.lock().await = Arc::clone(caller);
    }

    /// Waits until `more` calls more succeeded in the current step.
    async fn succeeds(&self, more: usize) {
        let successes = || self.steps.lock().unwrap().last().expect("a step").1;
        let target = successes() + more;
        eventually(Duration::from_secs(15), "calls to go on succeeding", || {
            let done = successes() >= target;
            async move { done.then_some(()) }
        })
        .await;
    }

    /// Stops calling; returns each step's successes and every failure.
    async fn stop(&self, calling: JoinHandle<()>) -> (Vec<(String, usize)>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        calling.await.expect("the calls ran");
        let steps = self.steps.lock().unwrap().clone();
        (steps, self.failures.lock().unwrap().clone())
    }
}

/// The `n`th call: the calling host's chaos actor calls, in turn, the
/// chaos provider and the echo actor, both on answering hosts.
async fn call_across(caller: &Host, n: usize) -> Result<(), String> {
    if n.is_multiple_of(2) {
        let payload = format!("call {n}");
        let call = format!("trellis:chaos|default|Echo|{payload}");
        let reply = chaos_calls(caller, call)
            .await
            .map_err(|e| format!("actor → provider: {e}"))?;
        (reply == payload.as_bytes())
            .then_some(())
            .ok_or_else(|| format!("the provider answered {reply:?}"))
    } else {
        let mut call = format!("{ECHO_KEY}|HealthRequest|").into_bytes();
        call.extend_from_slice(&health());
        caller
            .bus()
            .call(Invocation::to_actor(CHAOS_KEY, "CallActor", call))
            .await
            .map(drop)
            .map_err(|e| format!("actor → actor: {e}"))
    }
}

/// Waits until `new` and each of `others` see one another, as an operator
/// waits for a restarted host to show in `trellis lattice hosts` before
/// restarting the next.
async fn in_every_view(new: &Arc<Lattice>, others: &[Arc<Lattice>]) {
    let (new, others) = (Arc::clone(new), others.to_vec());
    eventually(
        Duration::from_secs(10),
        "the restarted host and the others to see each other",
        || {
            let sees = |viewer: &Lattice, host: &str| viewer.peers().iter().any(|p| p.host == host);
            let all = others
                .iter()
                .all(|o| sees(o, new.host_id()) && sees(&new, o.host_id()));
            async move { all.then_some(()) }
        },
    )
    .await;
}

/// The hosts of a rolling restart, each with its role, and the calls
/// flowing between them.
struct Rotation {
    hosts: Vec<(Role, Member)>,
    /// What the hosts that left had refused, each.
    refused: Vec<u64>,
    traffic: Arc<Traffic>,
    calling: JoinHandle<()>,
}

impl Rotation {
    /// Hosts of `roles` joined with `config`, once they all see each other
    /// and the first calling host's calls succeed.
    async fn start(roles: &[Role], config: LatticeConfig) -> Rotation {
        let mut hosts = Vec::new();
        for role in roles {
            hosts.push((*role, role.join(config.clone()).await));
        }
        let lattices: Vec<_> = hosts.iter().map(|(_, (_, l))| Arc::clone(l)).collect();
        for (i, lattice) in lattices.iter().enumerate() {
            in_every_view(lattice, &lattices[i + 1..]).await;
        }
        let caller = hosts.iter().find(|(role, _)| *role == Role::Calling);
        let caller = Arc::clone(&caller.expect("a calling host").1 .0);
        let (traffic, calling) = Traffic::start(caller, "before any restart");
        traffic.succeeds(20).await;
        Rotation {
            hosts,
            refused: Vec::new(),
            traffic,
            calling,
        }
    }

    /// Restarts host `at` with `config` as the step `step`: it leaves (calls
    /// go on through the other host of its role), a new one joins in its
    /// place, and calls succeed again.
    async fn restart(&mut self, at: usize, config: LatticeConfig, step: String) {
        self.traffic.begin(step);
        let role = self.hosts[at].0;
        if role == Role::Calling {
            let other = self
                .hosts
                .iter()
                .enumerate()
                .find(|(i, (r, _))| *i != at && *r == role);
            self.traffic
                .hand_over(&other.expect("two callers").1 .1 .0)
                .await;
        }
        let (_, old) = &self.hosts[at];
        self.refused.push(old.1.inventory().refused);
        leave(&[old]).await;
        let new = role.join(config).await;
        let others: Vec<Arc<Lattice>> = (self.hosts.iter().enumerate())
            .filter(|(i, _)| *i != at)
            .map(|(_, (_, (_, lattice)))| Arc::clone(lattice))
            .collect();
        in_every_view(&new.1, &others).await;
        self.hosts[at] = (role, new);
        self.traffic.succeeds(20).await;
    }

    /// Stops the calls and the hosts, and checks that no message was
    /// refused, no call failed and calls succeeded at every step.
    async fn end(mut self) {
        let (steps, failures) = self.traffic.stop(self.calling).await;
        for (step, successes) in &steps {
            eprintln!("{successes:>6} calls succeeded: {step}");
        }
        for (_, (_, lattice)) in &self.hosts {
            self.refused.push(lattice.inventory().refused);
        }
        let members: Vec<_> = self.hosts.iter().map(|(_, m)| m).collect();
        leave(&members).await;
        // Refusals would mean the keys of two hosts did not fit at some step.
        assert!(
            self.refused.iter().all(|r| *r == 0),
            "messages refused, host by host: {:?}",
            self.refused
        );
        assert!(
            failures.is_empty(),
            "failed calls:\n{}",
            failures.join("\n")
        );
        assert!(steps.iter().all(|(_, n)| *n > 0), "{steps:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "loses one call in about a thousand in half the runs (a remote call times out while an \
            answering host restarts); no message is refused, and the same restarts on an open \
            lattice lose none: the cause is not found yet"]
async fn the_cluster_key_rotates_as_documented_without_a_failed_call() {
    let nats = NatsServer::start();
    let (a, b) = (KeyPair::new_cluster(), KeyPair::new_cluster());
    let roles = [
        Role::Answering,
        Role::Answering,
        Role::Calling,
        Role::Calling,
    ];
    let mut rotation = Rotation::start(&roles, keyed(&nats, &a, &[])).await;
    let stages: [(&str, &KeyPair, &[&KeyPair]); 3] = [
        ("seed A, issuers B", &a, &[&b]),
        ("seed B, issuers A", &b, &[&a]),
        ("seed B alone", &b, &[]),
    ];
    for (stage, seed, issuers) in stages {
        for (at, role) in roles.iter().enumerate() {
            let step = format!("{role:?} host {at} restarted on {stage}");
            rotation
                .restart(at, keyed(&nats, seed, issuers), step)
                .await;
            let seen = hosts_the_cli_sees(&nats, seed, issuers).await;
            assert_eq!(
                seen,
                roles.len(),
                "the CLI on {stage} after restarting host {at}"
            );
        }
    }
    rotation.end().await;
}

/// The same rolling restart on an open lattice, keys left out: a host that
/// leaves answers every call NATS already routed to it.
#[tokio::test(flavor = "multi_thread")]
async fn calls_go_on_while_answering_hosts_restart_one_by_one() {
    let nats = NatsServer::start();
    let roles = [Role::Answering, Role::Answering, Role::Calling];
    let mut rotation = Rotation::start(&roles, config(&nats, "x")).await;
    for round in 0..4 {
        for at in 0..2 {
            let step = format!("answering host {at} restarted, round {round}");
            rotation.restart(at, config(&nats, "x"), step).await;
        }
    }
    rotation.end().await;
}

/// Why the procedure has a step on seed B trusting A: a host on seed B
/// alone and one still on seed A (even trusting B) cannot read each other,
/// since each seals only for the keys agreed from its own seed.
#[tokio::test(flavor = "multi_thread")]
async fn seed_b_alone_and_seed_a_trusting_b_do_not_read_each_other() {
    let nats = NatsServer::start();
    let (a, b) = (KeyPair::new_cluster(), KeyPair::new_cluster());
    let on_a = member_with(
        super::impatient_host(),
        keyed(&nats, &a, &[&b]),
        &["chaos_s"],
        &[],
    )
    .await;
    let on_b = Role::Answering.join(keyed(&nats, &b, &[])).await;
    let members = [Arc::clone(&on_a.1), Arc::clone(&on_b.1)];
    eventually(
        Duration::from_secs(10),
        "each host to refuse the other's heartbeats",
        || {
            let refusing = members.iter().all(|m| m.inventory().refused > 0);
            async move { refusing.then_some(()) }
        },
    )
    .await;
    assert!(on_a.1.peers().is_empty() && on_b.1.peers().is_empty());
    let err = chaos_calls(&on_a.0, "trellis:chaos|default|Echo|hello")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("500 ms"), "{err}");
    leave(&[&on_a, &on_b]).await;
}
