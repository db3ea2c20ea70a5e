//! In-process calls, each against the physical baseline that bounds it,
//! measured in the same run with baseline and subject interleaved over rounds.
//!
//! 1. **Actor call** (provider → actor → reply): the echo sample's
//!    `HandleRequest` with a realistic HTTP request.
//!    - *baseline*: a raw wasmtime call of the same `__guest_call` export on a
//!      warm instance of the same module: synchronous wasmtime with its
//!      default config and the waPC imports implemented minimally here.
//!    - *subject*: the same call through the dispatcher a provider gets
//!      ([`ProviderDispatcher`] behind the same FFI trait object), which
//!      goes through the host's bus, its actor pool and its waPC functions.
//!    - also shown: the raw call with epoch interruption enabled, the
//!      mechanism the host bounds every call's time with (it adds a check to
//!      every function entry and loop of the guest's code), and
//!      `Bus::call`, the hosted path without the FFI future: together
//!      they tell the guest-code cost of deadlines, the FFI layer and the
//!      host's own work apart.
//!
//! 2. **Provider call** (actor → provider → reply): the `wascc:extras`
//!    provider's `RequestSequence`, a cheap handler.
//!    - *baseline*: a direct Rust call of the provider's handler (the crate
//!      linked as an rlib), per call averaged over batches of [`HOST_CALLS`].
//!    - *subject*: the chaos actor's `RepeatCall` makes [`HOST_CALLS`] host
//!      calls to the provider (loaded from its cdylib, as a host loads it) in
//!      one invocation; the same operation with a count of 0 is invoked right
//!      before it, and the per-call cost is the difference of the two
//!      divided by [`HOST_CALLS`]. This isolates guest → host → provider →
//!      host → guest from the fixed cost of an invocation, and it includes
//!      the guest's own share of a host call (copying the arguments out and
//!      the reply in, as every real actor does).
//!    - also shown: the bus's provider path called from Rust (no guest), to
//!      tell the wasm boundary and the FFI/bus layers apart.
//!
//! Prints Markdown tables: median and p99 per call, and the medians' ratio
//! to the baseline. Needs the signed actors (`scripts/build-actors`) and the
//! extras provider library of the bench profile
//! (`cargo build --release -p trellis-provider-extras`):
//!
//! ```text
//! cargo bench -p trellis-host --bench inprocess            # both
//! cargo bench -p trellis-host --bench inprocess -- actor   # only the tables whose name contains `actor`
//! ```
//!
//! For a profile, `-- profile raw|epoch|hosted` runs one actor-call path
//! [`PROFILE_CALLS`] times, each inside [`profiled`] (never inlined), so a
//! profiler can count those calls alone; docs/profile-actor-call.md shows
//! how, and what it found.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RStr, RVec};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trellis_codec::extras::{op as extras_op, GeneratorRequest, GeneratorResult, CAPABILITY};
use trellis_codec::http::{Request, Response};
use trellis_host::bus::ProviderDispatcher;
use trellis_host::invocation::{Invocation, Origin, Target};
use trellis_host::{Host, HostBuilder, HostConfig};
use trellis_provider_extras::ExtrasProvider;
use trellis_provider_sdk::ffi::{FfiDispatcherBox, FfiDispatcher_TO};
use trellis_provider_sdk::{Call, Provider};
use wasmtime::{Caller, Engine, Linker, Memory, Module, Store, TypedFunc};

mod support;

use support::{Samples, ECHO_KEY};

/// Interleaved rounds; each times every path in turn.
const ROUNDS: usize = 30;
/// Actor calls per path and round.
const ACTOR_CALLS: usize = 500;
/// Samples per path and round for the provider call.
const PROVIDER_SAMPLES: usize = 40;
/// Host calls per `RepeatCall` invocation (and direct calls per baseline sample).
const HOST_CALLS: u32 = 100;

/// Calls of one path in a profile run.
const PROFILE_CALLS: usize = 20_000;

const HANDLE_REQUEST: &str = "HandleRequest";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // The host runs on `runtime`; the bench drives its calls from this plain
    // thread, as a provider drives them from threads of its own runtime
    // (where the host's tokio sees no task, so no cooperative budget).
    let _host_runtime = runtime.enter();
    // `cargo bench` passes `--bench`; any other argument picks tables by name.
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let filter = args.next();
    if filter.as_deref() == Some("profile") {
        return profile(args.next().as_deref().unwrap_or("hosted"));
    }
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    futures::executor::block_on(async {
        if wanted("actor") {
            actor_call().await;
        }
        if wanted("provider") {
            provider_call().await;
        }
    });
}

/// A request as a browser's `fetch` of a small JSON API sends it.
fn http_request() -> Request {
    let header = [
        ("host", "localhost:8080"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        ("accept", "application/json"),
        ("accept-language", "en-GB,en;q=0.5"),
        ("accept-encoding", "gzip, deflate, br"),
        ("content-type", "application/json"),
        ("content-length", "44"),
        ("connection", "keep-alive"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Request {
        method: "POST".into(),
        path: "/api/items/42".into(),
        query_string: "expand=owner&page=2".into(),
        header,
        body: br#"{"name":"widget","count":3,"tags":["a","b"]}"#.to_vec(),
    }
}

async fn actor_call() {
    let module = trellis_test_support::actor("echo_s");
    let payload = trellis_codec::encode(&http_request()).expect("encode the request");
    let host = HostBuilder::new().build().expect("a host");
    host.start_actor(&module).await.expect("echo starts");
    let dispatcher = dispatcher_of(&host);
    let bytes = std::fs::read(&module).expect("read echo");
    let mut raw = RawActor::new(&bytes, false);
    let mut raw_epoch = RawActor::new(&bytes, true);

    // Both paths do the same work: the same reply, byte for byte.
    let via_raw = raw.call(HANDLE_REQUEST, payload.clone());
    let via_dispatcher = dispatch(&dispatcher, payload.clone()).await;
    assert_eq!(via_raw, via_dispatcher, "raw and hosted echo disagree");
    assert_eq!(via_raw, raw_epoch.call(HANDLE_REQUEST, payload.clone()));
    let response: Response = trellis_codec::decode(&via_raw).expect("echo answers a response");
    assert_eq!(response.status_code, 200);

    let [mut baseline, mut epoch, mut subject, mut invoke] =
        std::array::from_fn(|_| Samples::default());
    for _ in 0..ROUNDS {
        support::timed_round(&mut baseline, ACTOR_CALLS, || {
            black_box(raw.call(HANDLE_REQUEST, payload.clone()));
            std::future::ready(())
        })
        .await;
        support::timed_round(&mut epoch, ACTOR_CALLS, || {
            black_box(raw_epoch.call(HANDLE_REQUEST, payload.clone()));
            std::future::ready(())
        })
        .await;
        support::timed_round(&mut subject, ACTOR_CALLS, || async {
            black_box(dispatch(&dispatcher, payload.clone()).await);
        })
        .await;
        support::timed_round(&mut invoke, ACTOR_CALLS, || async {
            let invocation = Invocation::to_actor(ECHO_KEY, HANDLE_REQUEST, payload.clone());
            black_box(host.bus().call(invocation).await).expect("echo answers");
        })
        .await;
    }
    println!(
        "### Actor call, in-process (echo `HandleRequest`, {} B request, {} B reply)\n",
        payload.len(),
        via_raw.len()
    );
    support::latency_table(&mut [
        ("raw wasmtime `__guest_call`", &mut baseline),
        ("raw wasmtime + epoch interruption", &mut epoch),
        ("provider dispatcher → actor", &mut subject),
        ("`Bus::call` (no FFI future)", &mut invoke),
    ]);
    host.shutdown().await;
}

/// The dispatcher a provider instance gets, behind the same FFI trait object.
fn dispatcher_of(host: &Host) -> FfiDispatcherBox {
    let dispatcher = ProviderDispatcher::new(
        Arc::downgrade(host.bus()),
        tokio::runtime::Handle::current(),
        "bench",
        trellis_provider_sdk::ffi::SDK_VERSION,
    );
    FfiDispatcher_TO::from_ptr(RArc::new(dispatcher), TD_Opaque)
}

/// Runs one actor-call path (`raw`, `epoch` or `hosted`) [`PROFILE_CALLS`] times.
fn profile(path: &str) {
    let module = trellis_test_support::actor("echo_s");
    let payload = trellis_codec::encode(&http_request()).expect("encode the request");
    let mut call: Box<dyn FnMut()> = match path {
        "raw" | "epoch" => {
            let bytes = std::fs::read(&module).expect("read echo");
            let mut raw = RawActor::new(&bytes, path == "epoch");
            Box::new(move || {
                black_box(raw.call(HANDLE_REQUEST, payload.clone()));
            })
        }
        "hosted" => {
            // Valgrind cannot reserve the address space of the default 1,000 slots.
            let config = HostConfig {
                max_total_instances: 4,
                ..HostConfig::default()
            };
            let host = HostBuilder::new().config(config).build().expect("a host");
            futures::executor::block_on(host.start_actor(&module)).expect("echo starts");
            let dispatcher = dispatcher_of(&host);
            Box::new(move || {
                let _running = &host;
                black_box(futures::executor::block_on(dispatch(
                    &dispatcher,
                    payload.clone(),
                )));
            })
        }
        other => panic!("no path {other}: profile raw, epoch or hosted"),
    };
    for _ in 0..PROFILE_CALLS {
        profiled(&mut call);
    }
}

/// One call of the profiled path: a profiler selects this function's cost.
#[inline(never)]
fn profiled(call: &mut dyn FnMut()) {
    call()
}

/// Calls echo's `HandleRequest` as a provider does.
async fn dispatch(dispatcher: &FfiDispatcherBox, payload: Vec<u8>) -> Vec<u8> {
    dispatcher
        .invoke(
            RStr::from_str(ECHO_KEY),
            RStr::from_str(HANDLE_REQUEST),
            RVec::from(payload),
        )
        .await
        .into_result()
        .expect("echo answers")
        .into_vec()
}

/// A warm instance of an actor module on plain synchronous wasmtime: the
/// least a waPC host must do per call.
struct RawActor {
    store: Store<RawState>,
    guest_call: TypedFunc<(i32, i32), i32>,
}

#[derive(Default)]
struct RawState {
    memory: Option<Memory>,
    operation: String,
    payload: Vec<u8>,
    response: Vec<u8>,
}

impl RawActor {
    /// Wasmtime's default config, with or without epoch interruption.
    fn new(bytes: &[u8], epoch_interruption: bool) -> RawActor {
        let mut config = wasmtime::Config::default();
        config.epoch_interruption(epoch_interruption);
        let engine = Engine::new(&config).expect("a wasmtime engine");
        let module = Module::new(&engine, bytes).expect("a valid module");
        let mut linker = Linker::new(&engine);
        link_minimal_wapc(&mut linker).expect("define the waPC imports");
        let mut store = Store::new(&engine, RawState::default());
        // Nothing advances this engine's epoch: the deadline is never reached,
        // so only the checks' cost remains (a no-op without epoch interruption).
        store.set_epoch_deadline(1);
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiate");
        let memory = instance
            .get_memory(&mut store, "memory")
            .expect("the module exports its memory");
        store.data_mut().memory = Some(memory);
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "wapc_init") {
            init.call(&mut store, ()).expect("wapc_init");
        }
        let guest_call = instance
            .get_typed_func(&mut store, "__guest_call")
            .expect("a waPC guest");
        RawActor { store, guest_call }
    }

    fn call(&mut self, operation: &str, payload: Vec<u8>) -> Vec<u8> {
        let lens = (operation.len() as i32, payload.len() as i32);
        let state = self.store.data_mut();
        state.operation.clear();
        state.operation.push_str(operation);
        state.payload = payload;
        let status = self
            .guest_call
            .call(&mut self.store, lens)
            .expect("no trap");
        assert_eq!(status, 1, "the guest failed");
        std::mem::take(&mut self.store.data_mut().response)
    }
}

fn memory_of(caller: &Caller<'_, RawState>) -> Memory {
    caller
        .data()
        .memory
        .expect("memory recorded at instantiation")
}

/// Reads `len` bytes at `ptr` of the guest's memory.
fn guest_bytes(caller: &Caller<'_, RawState>, ptr: i32, len: i32) -> Vec<u8> {
    let start = ptr as u32 as usize;
    memory_of(caller).data(caller)[start..start + len as u32 as usize].to_vec()
}

/// The waPC imports, as little as a working host needs: echo makes no host
/// calls, so `__host_call` fails and the host-call results are empty.
fn link_minimal_wapc(linker: &mut Linker<RawState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "wapc",
        "__guest_request",
        |mut caller: Caller<'_, RawState>, op_ptr: i32, msg_ptr: i32| {
            let memory = memory_of(&caller);
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let (op, msg) = (op_ptr as u32 as usize, msg_ptr as u32 as usize);
            data[op..op + state.operation.len()].copy_from_slice(state.operation.as_bytes());
            data[msg..msg + state.payload.len()].copy_from_slice(&state.payload);
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_response",
        |mut caller: Caller<'_, RawState>, ptr: i32, len: i32| {
            caller.data_mut().response = guest_bytes(&caller, ptr, len);
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_error",
        |caller: Caller<'_, RawState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let text = guest_bytes(&caller, ptr, len);
            Err(wasmtime::format_err!(
                "the guest failed: {}",
                String::from_utf8_lossy(&text)
            ))
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_call",
        |_: Caller<'_, RawState>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32|
         -> i32 { 0 },
    )?;
    linker.func_wrap("wapc", "__host_response_len", || -> i32 { 0 })?;
    linker.func_wrap("wapc", "__host_response", |_: i32| {})?;
    linker.func_wrap("wapc", "__host_error_len", || -> i32 { 0 })?;
    linker.func_wrap("wapc", "__host_error", |_: i32| {})?;
    linker.func_wrap("wapc", "__console_log", |_: i32, _: i32| {})?;
    Ok(())
}

async fn provider_call() {
    let host = HostBuilder::new().build().expect("a host");
    host.start_provider(
        &trellis_test_support::library("trellis_provider_extras"),
        "default",
    )
    .expect("the extras provider starts");
    let chaos = host
        .start_actor(&trellis_test_support::actor("chaos_s"))
        .await
        .expect("chaos starts");
    let request = trellis_codec::encode(&GeneratorRequest {
        sequence: true,
        name: "bench".into(),
        ..Default::default()
    })
    .expect("encode the request");
    let repeat = |count: u32| {
        let mut payload = format!(
            "{count}|{CAPABILITY}|default|{}|",
            extras_op::REQUEST_SEQUENCE
        )
        .into_bytes();
        payload.extend_from_slice(&request);
        payload
    };
    let (none, many) = (repeat(0), repeat(HOST_CALLS));
    let direct = ExtrasProvider::default();

    // The actor really reaches the provider: each call takes a number.
    let before = next_sequence(&host, &chaos, &repeat(1)).await;
    let after = next_sequence(&host, &chaos, &many).await;
    assert_eq!(after, before + u64::from(HOST_CALLS));

    let (mut baseline, mut subject, mut bus) =
        (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..ROUNDS {
        for _ in 0..PROVIDER_SAMPLES {
            let start = Instant::now();
            for _ in 0..HOST_CALLS {
                let call = Call {
                    actor: chaos.clone(),
                    operation: extras_op::REQUEST_SEQUENCE.into(),
                    payload: request.clone(),
                };
                black_box(direct.handle_call(call).await).expect("direct call");
            }
            baseline.push(start.elapsed() / HOST_CALLS);
        }
        for _ in 0..PROVIDER_SAMPLES {
            let start = Instant::now();
            for _ in 0..HOST_CALLS {
                let invocation = Invocation::new(
                    Origin::Actor(&chaos),
                    Target::Provider {
                        capability: CAPABILITY,
                        binding: "default",
                    },
                    extras_op::REQUEST_SEQUENCE,
                    request.clone(),
                );
                black_box(host.bus().call_local(invocation).await).expect("bus call");
            }
            bus.push(start.elapsed() / HOST_CALLS);
        }
        for _ in 0..PROVIDER_SAMPLES {
            let repeat =
                |payload: &[u8]| Invocation::to_actor(&chaos, "RepeatCall", payload.to_vec());
            let empty = time(host.bus().call(repeat(&none))).await;
            let full = time(host.bus().call(repeat(&many))).await;
            subject.push(full.saturating_sub(empty) / HOST_CALLS);
        }
    }
    println!(
        "### Provider call, in-process (`{CAPABILITY}` `{}`, per call; actor path = (invocation with {HOST_CALLS} host calls − with 0) / {HOST_CALLS})\n",
        extras_op::REQUEST_SEQUENCE
    );
    support::latency_table(&mut [
        ("direct Rust call of the handler", &mut baseline),
        ("actor host call → provider", &mut subject),
        ("bus → provider, from Rust (no guest)", &mut bus),
    ]);
    host.shutdown().await;
}

/// How long `call` takes; it must succeed.
async fn time<T, E: std::fmt::Debug>(
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Duration {
    let start = Instant::now();
    black_box(call.await).expect("the call succeeds");
    start.elapsed()
}

/// Runs `RepeatCall` with `payload` and returns the last sequence number taken.
async fn next_sequence(host: &Host, actor: &str, payload: &[u8]) -> u64 {
    let reply = host
        .bus()
        .call(Invocation::to_actor(actor, "RepeatCall", payload.to_vec()))
        .await
        .expect("RepeatCall answers");
    let result: GeneratorResult = trellis_codec::decode(&reply).expect("a GeneratorResult");
    result.sequence_number
}
