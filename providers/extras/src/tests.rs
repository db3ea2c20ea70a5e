//! [`Extras`] through its `call`, with encoded payloads as actors send them,
//! and the provider's descriptor and lifecycle.

use super::*;
use std::collections::HashSet;
use std::sync::Arc;

const ACTOR: &str = "MACTOR";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn request(request: GeneratorRequest) -> Vec<u8> {
    encode(&request).unwrap()
}

fn call(extras: &Extras, actor: &str, operation: &str, payload: &[u8]) -> GeneratorResult {
    let reply = block_on(extras.call(actor, operation, payload)).unwrap();
    decode(&reply).unwrap()
}

fn random(extras: &Extras, min: u32, max: u32) -> Result<u32, ProviderError> {
    let payload = request(GeneratorRequest {
        random: true,
        min,
        max,
        ..Default::default()
    });
    let reply = block_on(extras.call(ACTOR, op::REQUEST_RANDOM, &payload))?;
    Ok(decode::<GeneratorResult>(&reply).unwrap().random_number)
}

fn sequence(extras: &Extras, actor: &str, name: &str) -> u64 {
    let payload = request(GeneratorRequest {
        sequence: true,
        name: name.into(),
        ..Default::default()
    });
    call(extras, actor, op::REQUEST_SEQUENCE, &payload).sequence_number
}

fn is_v4_guid(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() == 36
        && bytes.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            14 => c == b'4',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

#[test]
fn guids_are_unique_version_4_uuids() {
    let extras = Extras::default();
    let payload = request(GeneratorRequest {
        guid: true,
        ..Default::default()
    });
    let mut seen = HashSet::new();
    for _ in 0..1000 {
        let result = call(&extras, ACTOR, op::REQUEST_GUID, &payload);
        assert!(is_v4_guid(&result.guid), "not a v4 UUID: {}", result.guid);
        assert_eq!(result.sequence_number, 0);
        assert_eq!(result.random_number, 0);
        assert!(seen.insert(result.guid), "a GUID came twice");
    }
    // The payload is not needed for a GUID: an empty one works too.
    let result = call(&extras, ACTOR, op::REQUEST_GUID, &[]);
    assert!(is_v4_guid(&result.guid));
}

#[test]
fn the_guid_checker_rejects_what_is_no_v4_uuid() {
    assert!(is_v4_guid("0f8fad5b-d9cb-469f-a165-70867728950e"));
    assert!(!is_v4_guid("0f8fad5b-d9cb-369f-a165-70867728950e"));
    assert!(!is_v4_guid("0f8fad5b-d9cb-469f-c165-70867728950e"));
    assert!(!is_v4_guid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
    assert!(!is_v4_guid("0f8fad5bd9cb469fa16570867728950e"));
}

#[test]
fn random_numbers_stay_in_bounds_and_reach_both_ends() {
    let extras = Extras::default();
    let mut seen = HashSet::new();
    for _ in 0..2000 {
        let n = random(&extras, 5, 9).unwrap();
        assert!((5..=9).contains(&n), "{n} is outside [5, 9]");
        seen.insert(n);
    }
    // 2000 draws from 5 values: missing one has probability ~5 * 0.8^2000.
    assert_eq!(seen, (5..=9).collect::<HashSet<_>>());

    assert_eq!(random(&extras, 7, 7).unwrap(), 7);
    assert_eq!(random(&extras, u32::MAX, u32::MAX).unwrap(), u32::MAX);
    for _ in 0..100 {
        random(&extras, 0, u32::MAX).unwrap();
    }
}

#[test]
fn random_with_min_above_max_is_an_error() {
    let e = random(&Extras::default(), 10, 3).unwrap_err();
    assert!(e.message().contains("min (10)"), "{e}");
    assert!(e.message().contains("max (3)"), "{e}");
}

#[test]
fn sequences_count_independently_per_name_and_actor() {
    let extras = Extras::default();
    assert_eq!(sequence(&extras, ACTOR, "orders"), 0);
    assert_eq!(sequence(&extras, ACTOR, "orders"), 1);
    assert_eq!(sequence(&extras, ACTOR, "invoices"), 0);
    assert_eq!(sequence(&extras, ACTOR, "orders"), 2);
    assert_eq!(sequence(&extras, ACTOR, ""), 0);
    assert_eq!(sequence(&extras, ACTOR, ""), 1);
    assert_eq!(sequence(&extras, "MOTHER", "orders"), 0);
    assert_eq!(sequence(&extras, ACTOR, "invoices"), 1);

    extras.forget_actor(ACTOR);
    assert_eq!(sequence(&extras, ACTOR, "orders"), 0);
    assert_eq!(sequence(&extras, "MOTHER", "orders"), 1);
}

#[test]
fn concurrent_callers_get_every_number_once() {
    let extras = Arc::new(Extras::default());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let extras = Arc::clone(&extras);
            std::thread::spawn(move || {
                (0..250)
                    .map(|_| extras.next_in_sequence(ACTOR, "shared").unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
}

#[test]
fn an_exhausted_sequence_is_an_error() {
    let extras = Extras::default();
    extras
        .sequences()
        .entry(ACTOR.into())
        .or_default()
        .insert("full".into(), u64::MAX);
    let e = extras.next_in_sequence(ACTOR, "full").unwrap_err();
    assert!(e.message().contains("exhausted"), "{e}");
}

#[test]
fn unknown_operations_and_bad_payloads_are_errors() {
    let extras = Extras::default();
    let e = block_on(extras.call(ACTOR, "RequestPony", &[])).unwrap_err();
    assert_eq!(e, ProviderError::unknown_operation("RequestPony"));
    let e = block_on(extras.call(ACTOR, op::REQUEST_RANDOM, &[0xc1])).unwrap_err();
    assert!(e.message().contains("GeneratorRequest"), "{e}");
    let e = block_on(extras.call(ACTOR, op::REQUEST_SEQUENCE, &[0xc1])).unwrap_err();
    assert!(e.message().contains("GeneratorRequest"), "{e}");
}

#[test]
fn the_provider_describes_itself_and_forgets_removed_actors() {
    let provider = ExtrasProvider::default();
    let d = provider.descriptor();
    assert_eq!(d.capability_id, "wascc:extras");
    assert_eq!(d.name, "Extras");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        d.operations,
        ["RequestGuid", "RequestRandom", "RequestSequence"]
    );

    let seq = || Call {
        actor: ACTOR.into(),
        operation: op::REQUEST_SEQUENCE.into(),
        payload: request(GeneratorRequest {
            name: "n".into(),
            ..Default::default()
        }),
    };
    let number = |reply: Vec<u8>| decode::<GeneratorResult>(&reply).unwrap().sequence_number;
    assert_eq!(number(block_on(provider.handle_call(seq())).unwrap()), 0);
    assert_eq!(number(block_on(provider.handle_call(seq())).unwrap()), 1);
    provider.remove_actor(ACTOR).unwrap();
    assert_eq!(number(block_on(provider.handle_call(seq())).unwrap()), 0);
    provider.stop();
    assert_eq!(number(block_on(provider.handle_call(seq())).unwrap()), 0);
}
