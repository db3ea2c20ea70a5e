//! The payloads that actors, capability providers and the host exchange.
//!
//! Every payload on the wire is **MessagePack**, written the way the waSCC
//! ecosystem (2020) wrote it, so that actors built then run unmodified:
//!
//! - structs are maps keyed by their **camelCase** field names;
//! - byte fields are msgpack `bin`;
//! - signed integers use the **signed** formats only (positive fixint for
//!   0–127, otherwise int8/16/32/64), because AssemblyScript guests reject the
//!   unsigned formats a stock encoder picks for e.g. `200i32`.
//!
//! Decoding is lenient: maps or arrays, unknown keys ignored, trailing bytes
//! after the value tolerated (some guests append a zero byte to every reply).
//!
//! This crate builds for the host and for `wasm32-unknown-unknown` alike and
//! depends on nothing that needs a platform.
//!
//! ```
//! use trellis_codec::{decode, encode, http};
//!
//! let request = http::Request {
//!     method: "GET".into(),
//!     path: "/foo/bar".into(),
//!     query_string: "x=1".into(),
//!     ..Default::default()
//! };
//! let bytes = encode(&request).unwrap();
//! let back: http::Request = decode(&bytes).unwrap();
//! assert_eq!(back, request);
//! ```

mod encoder;

pub mod core;
pub mod extras;
pub mod http;
pub mod keyvalue;
pub mod logging;
pub mod messaging;

use serde::{Deserialize, Serialize};

/// A payload that could not be encoded or decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The value cannot be written as MessagePack (e.g. a sequence of unknown length).
    #[error("cannot encode payload: {0}")]
    Encode(String),
    /// The bytes are not a MessagePack value of the expected shape.
    #[error("cannot decode {what}: {message}")]
    Decode {
        /// The Rust type that was expected.
        what: &'static str,
        /// What the decoder found wrong.
        message: String,
    },
}

/// Encodes `value` as MessagePack in the ecosystem's conventions (see the crate docs).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(128);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Like [`encode`], appending to `out`: a caller that knows the size ahead
/// (an envelope around a payload) sizes the buffer once.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    value.serialize(&mut encoder::Encoder::new(out))
}

/// Decodes one MessagePack value from the start of `bytes`; trailing bytes
/// are ignored. A `T` that borrows (`&str`, `Cow` fields marked
/// `#[serde(borrow)]`) points into `bytes` instead of copying.
pub fn decode<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, CodecError> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    T::deserialize(&mut de).map_err(|e| CodecError::Decode {
        what: short_type_name::<T>(),
        message: e.to_string(),
    })
}

/// `trellis_codec::http::Request` → `http::Request`: short enough for an error line.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let generic_start = full.find('<').unwrap_or(full.len());
    let path = &full[..generic_start];
    match path.rfind("::") {
        Some(i) => match path[..i].rfind("::") {
            Some(j) => &full[j + 2..],
            None => full,
        },
        None => full,
    }
}

#[cfg(test)]
mod tests;
