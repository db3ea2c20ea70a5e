//! The waPC host functions: how an actor module talks to the host.
//!
//! A call goes: the host writes the pending operation and payload into
//! [`GuestState`] and calls the guest's `__guest_call(op_len, msg_len)`; the
//! guest fetches them with `__guest_request`, may call out with `__host_call`
//! (awaited without blocking the thread: the actor runs on a fiber), and
//! answers with `__guest_response` or `__guest_error`. Every pointer the guest
//! passes is checked against its memory; a bad one traps that call only.

use crate::actor::ActorContext;
use std::sync::Arc;
use wasmtime::{format_err, Caller, Extern, Linker, Memory};

/// Per-instance state behind the waPC functions.
pub struct GuestState {
    context: Arc<ActorContext>,
    /// The instance's exported memory, found on first use: an instance's
    /// exports never change, and looking it up by name costs a hash per call.
    memory: Option<Memory>,
    operation: String,
    payload: Vec<u8>,
    guest_response: Vec<u8>,
    guest_error: Option<String>,
    host_response: Vec<u8>,
    host_error: String,
    deadline: Option<std::time::Instant>,
}

impl GuestState {
    /// Fresh state for an instance of the actor described by `context`.
    pub fn new(context: Arc<ActorContext>) -> Self {
        GuestState {
            context,
            memory: None,
            operation: String::new(),
            payload: Vec::new(),
            guest_response: Vec::new(),
            guest_error: None,
            host_response: Vec::new(),
            host_error: String::new(),
            deadline: None,
        }
    }

    /// Limits the guest code that runs from now on to `budget`.
    pub fn set_budget(&mut self, budget: std::time::Duration) {
        self.deadline = Some(std::time::Instant::now() + budget);
    }

    /// Whether the running call has used up its time.
    pub fn out_of_time(&self) -> bool {
        self.deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
    }

    /// Sets up the next guest call.
    pub fn begin(&mut self, operation: &str, payload: Vec<u8>) {
        // Nothing of an earlier call may leak into this one.
        self.host_response.clear();
        self.host_error.clear();
        self.operation.clear();
        self.operation.push_str(operation);
        self.payload = payload;
        self.guest_response.clear();
        self.guest_error = None;
    }

    /// The guest's answer to the last call: its response, or its error text.
    pub fn take_outcome(&mut self, succeeded: bool) -> Result<Vec<u8>, String> {
        self.payload = Vec::new();
        if succeeded {
            Ok(std::mem::take(&mut self.guest_response))
        } else {
            Err(self
                .guest_error
                .take()
                .unwrap_or_else(|| "the actor reported failure without an error text".into()))
        }
    }
}

type WasmResult<T> = wasmtime::Result<T>;

/// Defines every `wapc` import in `linker`.
pub fn link(linker: &mut Linker<GuestState>) -> WasmResult<()> {
    linker.func_wrap("wapc", "__guest_request", guest_request)?;
    linker.func_wrap(
        "wapc",
        "__guest_response",
        |mut c: Caller<'_, GuestState>, ptr: i32, len: i32| {
            let bytes = read(&mut c, ptr, len)?;
            c.data_mut().guest_response = bytes;
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_error",
        |mut c: Caller<'_, GuestState>, ptr: i32, len: i32| {
            let text = read_string(&mut c, ptr, len, "error text")?;
            c.data_mut().guest_error = Some(text);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response_len",
        |c: Caller<'_, GuestState>| len_i32(c.data().host_response.len()),
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response",
        |mut c: Caller<'_, GuestState>, ptr: i32| {
            let bytes = std::mem::take(&mut c.data_mut().host_response);
            // Guests may pass any pointer (even 1) for an empty result.
            let written = if bytes.is_empty() {
                Ok(())
            } else {
                write(&mut c, ptr, &bytes)
            };
            c.data_mut().host_response = bytes;
            written
        },
    )?;
    linker.func_wrap("wapc", "__host_error_len", |c: Caller<'_, GuestState>| {
        len_i32(c.data().host_error.len())
    })?;
    linker.func_wrap(
        "wapc",
        "__host_error",
        |mut c: Caller<'_, GuestState>, ptr: i32| {
            let text = std::mem::take(&mut c.data_mut().host_error);
            let written = write(&mut c, ptr, text.as_bytes());
            c.data_mut().host_error = text;
            written
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__console_log",
        |mut c: Caller<'_, GuestState>, ptr: i32, len: i32| {
            let text = read_string(&mut c, ptr, len, "log line")?;
            tracing::info!(target: "trellis::actor", actor = %c.data().context.id, "{text}");
            Ok(())
        },
    )?;
    linker.func_wrap_async("wapc", "__host_call", host_call)?;
    Ok(())
}

/// `__guest_request(op_ptr, msg_ptr)`: copy the pending operation and payload into the guest.
fn guest_request(mut caller: Caller<'_, GuestState>, op_ptr: i32, msg_ptr: i32) -> WasmResult<()> {
    let memory = memory(&mut caller)?;
    let (data, state) = memory.data_and_store_mut(&mut caller);
    copy_into(data, op_ptr, state.operation.as_bytes())?;
    copy_into(data, msg_ptr, &state.payload)
}

/// `__host_call(binding, namespace, operation, payload) -> 1 | 0`.
#[allow(clippy::type_complexity)]
fn host_call(
    mut caller: Caller<'_, GuestState>,
    (bd_ptr, bd_len, ns_ptr, ns_len, op_ptr, op_len, ptr, len): (
        i32,
        i32,
        i32,
        i32,
        i32,
        i32,
        i32,
        i32,
    ),
) -> Box<dyn std::future::Future<Output = WasmResult<i32>> + Send + '_> {
    Box::new(async move {
        let binding = read_string(&mut caller, bd_ptr, bd_len, "binding name")?;
        let namespace = read_string(&mut caller, ns_ptr, ns_len, "namespace")?;
        let operation = read_string(&mut caller, op_ptr, op_len, "operation")?;
        let payload = read(&mut caller, ptr, len)?;
        caller.data_mut().host_response.clear();
        caller.data_mut().host_error.clear();
        let context = Arc::clone(&caller.data().context);
        let outcome = context
            .host_call(&binding, &namespace, &operation, payload)
            .await;
        let state = caller.data_mut();
        Ok(match outcome {
            Ok(reply) => {
                state.host_response = reply;
                1
            }
            Err(e) => {
                state.host_error = e.to_string();
                0
            }
        })
    })
}

fn memory(caller: &mut Caller<'_, GuestState>) -> WasmResult<Memory> {
    if let Some(memory) = caller.data().memory {
        return Ok(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => {
            caller.data_mut().memory = Some(memory);
            Ok(memory)
        }
        _ => Err(format_err!("the actor exports no memory named `memory`")),
    }
}

fn offset(ptr: i32) -> usize {
    // waPC pointers are i32 offsets into a 32-bit memory: reinterpret as unsigned.
    ptr as u32 as usize
}

fn len_i32(len: usize) -> WasmResult<i32> {
    i32::try_from(len).map_err(|_| format_err!("result of {len} bytes is too large for the guest"))
}

fn copy_into(data: &mut [u8], ptr: i32, bytes: &[u8]) -> WasmResult<()> {
    let start = offset(ptr);
    data.get_mut(start..start + bytes.len())
        .ok_or_else(|| format_err!("the actor passed pointer {start} outside its memory"))?
        .copy_from_slice(bytes);
    Ok(())
}

fn read(caller: &mut Caller<'_, GuestState>, ptr: i32, len: i32) -> WasmResult<Vec<u8>> {
    let memory = memory(caller)?;
    let start = offset(ptr);
    let bytes = memory
        .data(&*caller)
        .get(start..start + offset(len))
        .ok_or_else(|| {
            format_err!("the actor passed a buffer ({start}, {len}) outside its memory")
        })?;
    Ok(bytes.to_vec())
}

fn read_string(
    caller: &mut Caller<'_, GuestState>,
    ptr: i32,
    len: i32,
    what: &str,
) -> WasmResult<String> {
    String::from_utf8(read(caller, ptr, len)?)
        .map_err(|_| format_err!("the actor's {what} is not valid UTF-8"))
}

fn write(caller: &mut Caller<'_, GuestState>, ptr: i32, bytes: &[u8]) -> WasmResult<()> {
    let memory = memory(caller)?;
    copy_into(memory.data_mut(&mut *caller), ptr, bytes)
}
