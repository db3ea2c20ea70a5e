//! The waPC imports, each wrapped in a safe function over slices.
//!
//! On `wasm32` these call the host's functions imported from module `wapc`.
//! Elsewhere (unit tests, doc tests) they talk to the in-process stand-in host
//! of [`crate::testing`], so actor code can be exercised natively.
//!
//! This is the only place in the crate with `unsafe` code.

#[cfg(target_arch = "wasm32")]
mod imp {
    // Pointers and `usize` lengths are both `i32` in the wasm32 signature, so
    // these declarations are exactly the waPC imports of the ABI.
    #[link(wasm_import_module = "wapc")]
    extern "C" {
        fn __guest_request(op_ptr: *mut u8, msg_ptr: *mut u8);
        fn __guest_response(ptr: *const u8, len: usize);
        fn __guest_error(ptr: *const u8, len: usize);
        #[allow(clippy::too_many_arguments)]
        fn __host_call(
            bd_ptr: *const u8,
            bd_len: usize,
            ns_ptr: *const u8,
            ns_len: usize,
            op_ptr: *const u8,
            op_len: usize,
            ptr: *const u8,
            len: usize,
        ) -> i32;
        fn __host_response_len() -> usize;
        fn __host_response(ptr: *mut u8);
        fn __host_error_len() -> usize;
        fn __host_error(ptr: *mut u8);
        fn __console_log(ptr: *const u8, len: usize);
    }

    /// Fetches the pending call: the host writes exactly the lengths it
    /// announced to `__guest_call`, which are the lengths of `op` and `msg`.
    pub(crate) fn guest_request(op: &mut [u8], msg: &mut [u8]) {
        // SAFETY: both buffers are live, writable and exactly as long as the
        // op and message lengths the host passed to `__guest_call`; the host
        // writes no more than that into each.
        unsafe { __guest_request(op.as_mut_ptr(), msg.as_mut_ptr()) }
    }

    pub(crate) fn guest_response(bytes: &[u8]) {
        // SAFETY: the host only reads `bytes.len()` bytes from a live slice.
        unsafe { __guest_response(bytes.as_ptr(), bytes.len()) }
    }

    pub(crate) fn guest_error(text: &str) {
        // SAFETY: the host only reads `text.len()` bytes from a live slice.
        unsafe { __guest_error(text.as_ptr(), text.len()) }
    }

    pub(crate) fn host_call(
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> bool {
        // SAFETY: the host only reads the four live slices, each within its
        // given length, and keeps no pointer after returning.
        let rc = unsafe {
            __host_call(
                binding.as_ptr(),
                binding.len(),
                namespace.as_ptr(),
                namespace.len(),
                operation.as_ptr(),
                operation.len(),
                payload.as_ptr(),
                payload.len(),
            )
        };
        rc == 1
    }

    pub(crate) fn host_response_len() -> usize {
        // SAFETY: no pointers involved; the host returns a length.
        unsafe { __host_response_len() }
    }

    /// `buf` must be exactly `host_response_len()` long.
    pub(crate) fn host_response(buf: &mut [u8]) {
        // SAFETY: `buf` is live, writable and as long as the result the host
        // just reported with `__host_response_len`, which is what it copies.
        unsafe { __host_response(buf.as_mut_ptr()) }
    }

    pub(crate) fn host_error_len() -> usize {
        // SAFETY: no pointers involved; the host returns a length.
        unsafe { __host_error_len() }
    }

    /// `buf` must be exactly `host_error_len()` long.
    pub(crate) fn host_error(buf: &mut [u8]) {
        // SAFETY: `buf` is live, writable and as long as the error the host
        // just reported with `__host_error_len`, which is what it copies.
        unsafe { __host_error(buf.as_mut_ptr()) }
    }

    pub(crate) fn console_log(text: &str) {
        // SAFETY: the host only reads `text.len()` bytes from a live slice.
        unsafe { __console_log(text.as_ptr(), text.len()) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::testing::with_state;

    pub(crate) fn guest_request(op: &mut [u8], msg: &mut [u8]) {
        with_state(|s| {
            let (pending_op, pending_msg) = s
                .pending
                .as_ref()
                .expect("__guest_request outside of a call");
            op.copy_from_slice(pending_op);
            msg.copy_from_slice(pending_msg);
        })
    }

    pub(crate) fn guest_response(bytes: &[u8]) {
        with_state(|s| s.guest_response = Some(bytes.to_vec()))
    }

    pub(crate) fn guest_error(text: &str) {
        with_state(|s| s.guest_error = Some(text.to_owned()))
    }

    pub(crate) fn host_call(
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> bool {
        // Take the stand-in out while it runs, so it may itself use the state.
        let handler = with_state(|s| s.host.take());
        let result = match handler {
            Some(mut h) => {
                let r = h(binding, namespace, operation, payload);
                with_state(|s| {
                    s.host.get_or_insert(h);
                });
                r
            }
            None => {
                Err("no waPC host: this is a native build without testing::set_host".to_owned())
            }
        };
        let ok = result.is_ok();
        with_state(|s| s.host_result = Some(result));
        ok
    }

    /// Which side of the last host call's result an import reads.
    #[derive(Clone, Copy, PartialEq)]
    enum Side {
        Response,
        Error,
    }

    /// Applies `read` to the last host call's response or error bytes, or
    /// gives `None` when that call ended the other way (or none was made).
    fn last_host_bytes<T>(side: Side, read: impl FnOnce(&[u8]) -> T) -> Option<T> {
        with_state(|s| match &s.host_result {
            Some(Ok(bytes)) if side == Side::Response => Some(read(bytes)),
            Some(Err(text)) if side == Side::Error => Some(read(text.as_bytes())),
            _ => None,
        })
    }

    pub(crate) fn host_response_len() -> usize {
        last_host_bytes(Side::Response, <[u8]>::len).unwrap_or(0)
    }

    pub(crate) fn host_response(buf: &mut [u8]) {
        last_host_bytes(Side::Response, |bytes| buf.copy_from_slice(bytes));
    }

    pub(crate) fn host_error_len() -> usize {
        last_host_bytes(Side::Error, <[u8]>::len).unwrap_or(0)
    }

    pub(crate) fn host_error(buf: &mut [u8]) {
        last_host_bytes(Side::Error, |bytes| buf.copy_from_slice(bytes));
    }

    pub(crate) fn console_log(text: &str) {
        with_state(|s| s.console.push(text.to_owned()))
    }
}

pub(crate) use imp::*;
