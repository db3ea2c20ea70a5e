//! `wascc:extras`: GUIDs, random numbers in a range and named sequences.
//!
//! Every operation takes a [`GeneratorRequest`] and answers with a
//! [`GeneratorResult`]; the operation name decides what is generated and the
//! other result fields are left at their defaults. The request's `guid`,
//! `sequence` and `random` flags are what waSCC's actor SDK sets; they are
//! carried for compatibility and do not change what an operation does.

use serde::{Deserialize, Serialize};

/// The capability id.
pub const CAPABILITY: &str = "wascc:extras";
/// Operation names, as actors send them.
pub mod op {
    /// [`super::GeneratorRequest`] → [`super::GeneratorResult`] with `guid` set.
    pub const REQUEST_GUID: &str = "RequestGuid";
    /// [`super::GeneratorRequest`] (`min`, `max`) → [`super::GeneratorResult`]
    /// with `randomNumber` set, in `[min, max]` inclusive.
    pub const REQUEST_RANDOM: &str = "RequestRandom";
    /// [`super::GeneratorRequest`] (`name`) → [`super::GeneratorResult`] with
    /// `sequenceNumber` set: the next number of the calling actor's sequence
    /// `name`.
    pub const REQUEST_SEQUENCE: &str = "RequestSequence";
}

/// `{guid, sequence, random, min, max, name}`: what to generate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneratorRequest {
    /// Set by waSCC's SDK for `RequestGuid`; informational.
    pub guid: bool,
    /// Set by waSCC's SDK for `RequestSequence`; informational.
    pub sequence: bool,
    /// Set by waSCC's SDK for `RequestRandom`; informational.
    pub random: bool,
    /// `RequestRandom`: the smallest number that may be drawn.
    pub min: u32,
    /// `RequestRandom`: the largest number that may be drawn (inclusive; not
    /// below `min`).
    pub max: u32,
    /// `RequestSequence`: the sequence's name; each actor has its own
    /// sequences, and the empty name is a sequence like any other.
    pub name: String,
}

/// `{guid, sequenceNumber, randomNumber}`: what was generated. Only the field
/// of the requested operation is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneratorResult {
    /// `RequestGuid`: a random (version 4) UUID as 36 lowercase characters,
    /// e.g. `0f8fad5b-d9cb-469f-a165-70867728950e`.
    pub guid: String,
    /// `RequestSequence`: the sequence's next number, starting at 0.
    pub sequence_number: u64,
    /// `RequestRandom`: the number drawn.
    pub random_number: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode};

    #[test]
    fn requests_and_results_roundtrip_as_camel_case_maps() {
        let request = GeneratorRequest {
            guid: false,
            sequence: true,
            random: true,
            min: 3,
            max: 4_000_000_000,
            name: "orders".into(),
        };
        let bytes = encode(&request).unwrap();
        assert_eq!(bytes[0], 0x86, "a fixmap of six entries");
        assert_eq!(decode::<GeneratorRequest>(&bytes).unwrap(), request);

        let result = GeneratorResult {
            guid: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            sequence_number: u64::MAX,
            random_number: 200,
        };
        let bytes = encode(&result).unwrap();
        assert!(bytes
            .windows(b"sequenceNumber".len())
            .any(|w| w == b"sequenceNumber"));
        assert!(bytes
            .windows(b"randomNumber".len())
            .any(|w| w == b"randomNumber"));
        // Trailing bytes, as some guests append, are ignored.
        let mut padded = bytes.clone();
        padded.push(0);
        assert_eq!(decode::<GeneratorResult>(&padded).unwrap(), result);
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        // {"min": 1} alone, as a guest that sends only what it uses.
        let bytes = [0x81, 0xa3, b'm', b'i', b'n', 0x01];
        let request: GeneratorRequest = decode(&bytes).unwrap();
        assert_eq!(
            request,
            GeneratorRequest {
                min: 1,
                ..Default::default()
            }
        );
    }
}
