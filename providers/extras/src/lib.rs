//! The `wascc:extras` capability provider: GUIDs, random numbers in a range
//! and named sequences.
//!
//! # Operations
//!
//! Every operation takes a [`GeneratorRequest`] and answers with a
//! [`GeneratorResult`] in which only the requested field is set (see
//! [`trellis_codec::extras`]):
//!
//! | operation | reads | answers |
//! | --- | --- | --- |
//! | `RequestGuid` | nothing | `guid`: a random version-4 UUID, 36 lowercase characters (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`) |
//! | `RequestRandom` | `min`, `max` | `randomNumber`: uniform in `[min, max]`, both ends included |
//! | `RequestSequence` | `name` | `sequenceNumber`: the next number of the calling actor's sequence `name`: 0, 1, 2, … |
//!
//! The request's `guid`, `sequence` and `random` flags (set by waSCC's actor
//! SDK) are ignored: the operation name decides.
//!
//! # Sequences
//!
//! Each actor has its own sequences, one per name (the empty name included),
//! so two actors, or two names, never see each other's numbers. Taking a
//! number is atomic: concurrent callers of one sequence each get a different
//! number, with none skipped. Sequences live in memory for as long as the
//! provider instance does; removing an actor's binding forgets that actor's
//! sequences (they restart at 0), and nothing survives a restart of the host.
//!
//! # Configuration
//!
//! None: binding values are ignored, and actors need not be bound to call.
//!
//! # Failures
//!
//! Returned as errors, never panics: a payload that is not a
//! `GeneratorRequest`, `RequestRandom` with `min` greater than `max`, a
//! sequence that would pass `u64::MAX`, and an unknown operation.

use rand::{Rng, RngCore};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use trellis_codec::extras::{op, GeneratorRequest, GeneratorResult, CAPABILITY};
use trellis_codec::{decode, encode};
use trellis_provider_sdk::{Call, Descriptor, HostHandle, Provider, ProviderError};

/// The root module the host loads. Private: the items `export_provider!`
/// makes have no docs of their own, and the host finds them by symbol.
mod entry {
    trellis_provider_sdk::export_provider!(super::new_provider);
}

/// Creates the provider for the host.
fn new_provider(_host: HostHandle) -> Result<ExtrasProvider, ProviderError> {
    Ok(ExtrasProvider::default())
}

/// The generators behind the provider: GUIDs, random numbers and each
/// actor's named sequences.
#[derive(Debug, Default)]
pub struct Extras {
    /// actor → sequence name → the next number to hand out.
    sequences: Mutex<HashMap<String, HashMap<String, u64>>>,
}

impl Extras {
    /// Serves one call from `actor`: decodes the [`GeneratorRequest`] in
    /// `payload` and returns the encoded [`GeneratorResult`].
    pub async fn call(
        &self,
        actor: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, ProviderError> {
        let result = match operation {
            op::REQUEST_GUID => GeneratorResult {
                guid: new_guid(),
                ..Default::default()
            },
            op::REQUEST_RANDOM => {
                let request: GeneratorRequest = decode(payload)?;
                GeneratorResult {
                    random_number: random_in(request.min, request.max)?,
                    ..Default::default()
                }
            }
            op::REQUEST_SEQUENCE => {
                let request: GeneratorRequest = decode(payload)?;
                GeneratorResult {
                    sequence_number: self.next_in_sequence(actor, &request.name)?,
                    ..Default::default()
                }
            }
            other => {
                tracing::debug!(actor = %actor, "unknown extras operation '{other}'");
                return Err(ProviderError::unknown_operation(other));
            }
        };
        Ok(encode(&result)?)
    }

    /// Takes the next number of `actor`'s sequence `name` (0 for a new one).
    pub fn next_in_sequence(&self, actor: &str, name: &str) -> Result<u64, ProviderError> {
        let mut sequences = self.sequences();
        let next = sequences
            .entry(actor.to_string())
            .or_default()
            .entry(name.to_string())
            .or_insert(0);
        let number = *next;
        *next = number.checked_add(1).ok_or_else(|| {
            ProviderError::new(format!("sequence '{name}' is exhausted (reached u64::MAX)"))
        })?;
        Ok(number)
    }

    /// Forgets `actor`'s sequences.
    pub fn forget_actor(&self, actor: &str) {
        if let Some(names) = self.sequences().remove(actor) {
            tracing::debug!(actor = %actor, "forgot {} sequence(s)", names.len());
        }
    }

    /// Forgets every actor's sequences.
    pub fn forget_all(&self) {
        self.sequences().clear();
    }

    fn sequences(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, u64>>> {
        // A panic while holding the lock cannot leave a half-written counter.
        self.sequences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A random version-4 UUID: 36 lowercase characters in the 8-4-4-4-12 layout.
pub fn new_guid() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut text = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// A uniformly random number in `[min, max]`; an error when `min > max`.
pub fn random_in(min: u32, max: u32) -> Result<u32, ProviderError> {
    if min > max {
        return Err(ProviderError::new(format!(
            "RequestRandom: min ({min}) is greater than max ({max})"
        )));
    }
    Ok(rand::rng().random_range(min..=max))
}

/// The provider: [`Extras`] behind the [`Provider`] trait.
#[derive(Debug, Default)]
pub struct ExtrasProvider {
    extras: Extras,
}

impl Provider for ExtrasProvider {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(CAPABILITY, "Extras", env!("CARGO_PKG_VERSION")).with_operations([
            op::REQUEST_GUID,
            op::REQUEST_RANDOM,
            op::REQUEST_SEQUENCE,
        ])
    }

    fn remove_actor(&self, actor: &str) -> Result<(), ProviderError> {
        self.extras.forget_actor(actor);
        Ok(())
    }

    async fn handle_call(&self, call: Call) -> Result<Vec<u8>, ProviderError> {
        self.extras
            .call(&call.actor, &call.operation, &call.payload)
            .await
    }

    fn stop(&self) {
        self.extras.forget_all();
    }
}

#[cfg(test)]
mod tests;
