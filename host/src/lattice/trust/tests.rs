//! Sealing and opening, between members holding the same or different keys.

use super::*;

const SUBJECT: &str = "trellis.default.actor.MECHO";

fn cluster_seed() -> (String, String) {
    let pair = KeyPair::new_cluster();
    (pair.seed().unwrap(), pair.public_key())
}

fn member(seed: &str, issuers: &[String]) -> Trust {
    let keys = ClusterKeys::new(seed, issuers, "default").unwrap();
    Trust::cluster(keys, &KeyPair::new_server()).unwrap()
}

fn seal(trust: &Trust, kind: Kind, text: &[u8]) -> Sealed {
    trust
        .seal(kind, SUBJECT, None, text.len(), |out| {
            out.extend_from_slice(text);
            Ok::<_, ()>(())
        })
        .unwrap()
}

#[test]
fn members_of_one_cluster_read_each_other_and_nobody_else_does() {
    let (seed, _) = cluster_seed();
    let (a, b) = (member(&seed, &[]), member(&seed, &[]));
    let sealed = seal(&a, Kind::Call, b"hello");
    assert!(
        !sealed.bytes.windows(5).any(|w| w == b"hello"),
        "the content is not on the wire"
    );
    let opened = b.open(Kind::Call, SUBJECT, None, &sealed.bytes).unwrap();
    assert_eq!(opened.plaintext(), b"hello");
    assert_eq!(opened.id, sealed.id);

    let (other_seed, _) = cluster_seed();
    let outsider = member(&other_seed, &[]);
    let refused = outsider.open(Kind::Call, SUBJECT, None, &sealed.bytes);
    assert_eq!(refused.err(), Some(Refusal::UntrustedIssuer));
    assert_eq!(
        Trust::open_lattice()
            .open(Kind::Call, SUBJECT, None, &sealed.bytes)
            .err(),
        Some(Refusal::CannotOpen)
    );
}

#[test]
fn a_message_is_taken_once_and_only_on_its_subject() {
    let (seed, _) = cluster_seed();
    let (a, b) = (member(&seed, &[]), member(&seed, &[]));
    let sealed = seal(&a, Kind::Call, b"x");
    let elsewhere = b.open(
        Kind::Call,
        "trellis.default.actor.MOTHER",
        None,
        &sealed.bytes,
    );
    assert_eq!(elsewhere.err(), Some(Refusal::WrongSubject));
    assert!(b.open(Kind::Call, SUBJECT, None, &sealed.bytes).is_ok());
    let again = b.open(Kind::Call, SUBJECT, None, &sealed.bytes);
    assert_eq!(again.err(), Some(Refusal::Replayed));
    assert_eq!(b.refusals().total(), 2);
}

#[test]
fn any_changed_byte_makes_a_message_unopenable() {
    let (seed, _) = cluster_seed();
    let (a, b) = (member(&seed, &[]), member(&seed, &[]));
    for kind in [Kind::Call, Kind::Signed] {
        let sealed = seal(&a, kind, b"payload");
        for at in 0..sealed.bytes.len() {
            let mut bytes = sealed.bytes.clone();
            bytes[at] ^= 0x01;
            assert!(
                b.open(kind, SUBJECT, None, &bytes).is_err(),
                "{kind:?}: byte {at} changed and still opened"
            );
        }
    }
}

#[test]
fn a_reply_opens_only_for_its_request() {
    let (seed, _) = cluster_seed();
    let (caller, answerer) = (member(&seed, &[]), member(&seed, &[]));
    let call = seal(&caller, Kind::Call, b"q");
    let id = answerer
        .open(Kind::Call, SUBJECT, None, &call.bytes)
        .unwrap()
        .id
        .unwrap();
    let reply = answerer
        .seal(Kind::Reply, "_INBOX.1", Some(&id), 1, |out| {
            out.push(b'a');
            Ok::<_, ()>(())
        })
        .unwrap();
    let other = seal(&caller, Kind::Call, b"q2").id.unwrap();
    assert_eq!(
        caller
            .open(Kind::Reply, "_INBOX.1", Some(&other), &reply.bytes)
            .err(),
        Some(Refusal::WrongSubject)
    );
    let opened = caller
        .open(Kind::Reply, "_INBOX.1", call.id.as_ref(), &reply.bytes)
        .unwrap();
    assert_eq!(opened.plaintext(), b"a");
    assert_eq!(
        caller
            .open(Kind::Call, "_INBOX.1", None, &reply.bytes)
            .err(),
        Some(Refusal::Malformed),
        "a reply is no call"
    );
}

#[test]
fn a_signed_message_names_its_signer_and_an_unsigned_one_is_no_control() {
    let (seed, _) = cluster_seed();
    let (a, b) = (member(&seed, &[]), member(&seed, &[]));
    let sealed = seal(&a, Kind::Signed, b"{}");
    let opened = b.open(Kind::Signed, SUBJECT, None, &sealed.bytes).unwrap();
    let signer = opened.signer.unwrap();
    assert!(signer.starts_with('N'), "{signer}");
    assert_eq!(signer, a.cluster.as_ref().unwrap().identity.id);
    let call = seal(&a, Kind::Call, b"{}");
    assert_eq!(
        b.open(Kind::Signed, SUBJECT, None, &call.bytes).err(),
        Some(Refusal::Malformed)
    );
}

#[test]
fn a_member_cannot_sign_as_another() {
    let (seed, _) = cluster_seed();
    let (mut a, b) = (member(&seed, &[]), member(&seed, &[]));
    // a holds the cluster seed, so it can seal anything: here a message that
    // names a third member as its signer, with a's credential and signature.
    let third = KeyPair::new_server().public_key();
    a.cluster.as_mut().unwrap().identity.id = third.clone();
    let forged = seal(&a, Kind::Signed, b"{}");
    let (signer, _) = frame::read(&forged.bytes).unwrap().header.signer.unwrap();
    assert_eq!(signer, third);
    assert_eq!(
        b.open(Kind::Signed, SUBJECT, None, &forged.bytes).err(),
        Some(Refusal::BadSignature)
    );
}

/// A stranger's forged control message costs one short decryption, never a
/// signature check: it is refused as unopenable even when its signer and
/// signature are a member's.
#[test]
fn a_stranger_is_refused_before_any_signature_check() {
    let (seed, _) = cluster_seed();
    let (a, b) = (member(&seed, &[]), member(&seed, &[]));
    let sealed = seal(&a, Kind::Signed, b"{}");
    let frame = frame::read(&sealed.bytes).unwrap();
    // Flip a bit of the wrapped content key: the header stays well formed.
    let wraps = frame.header.wraps;
    let at = sealed
        .bytes
        .windows(wraps.len())
        .position(|w| w == wraps)
        .unwrap();
    let mut tampered = sealed.bytes.clone();
    tampered[at + wraps.len() - 1] ^= 1;
    assert_eq!(
        b.open(Kind::Signed, SUBJECT, None, &tampered).err(),
        Some(Refusal::CannotOpen)
    );
    assert!(
        b.cluster
            .as_ref()
            .unwrap()
            .vouched
            .lock()
            .unwrap()
            .is_empty(),
        "no signer was looked at"
    );
}

#[test]
fn hosts_on_two_keys_that_trust_each_other_read_each_other() {
    let ((a_seed, a_key), (b_seed, b_key)) = (cluster_seed(), cluster_seed());
    let on_a = member(&a_seed, std::slice::from_ref(&b_key));
    let on_b = member(&b_seed, std::slice::from_ref(&a_key));
    let only_b = member(&b_seed, &[]);
    let from_a = seal(&on_a, Kind::Signed, b"from a");
    assert_eq!(
        on_b.open(Kind::Signed, SUBJECT, None, &from_a.bytes)
            .unwrap()
            .plaintext(),
        b"from a"
    );
    let from_b = seal(&on_b, Kind::Call, b"from b");
    assert_eq!(
        on_a.open(Kind::Call, SUBJECT, None, &from_b.bytes)
            .unwrap()
            .plaintext(),
        b"from b"
    );
    assert_eq!(
        only_b
            .open(
                Kind::Signed,
                SUBJECT,
                None,
                &seal(&on_a, Kind::Signed, b"x").bytes
            )
            .err(),
        Some(Refusal::UntrustedIssuer)
    );
}

#[test]
fn open_and_trusted_members_do_not_mistake_each_other() {
    let (seed, _) = cluster_seed();
    let trusted = member(&seed, &[]);
    let plain = seal(&Trust::open_lattice(), Kind::Call, b"{\"plain\":1}");
    assert_eq!(plain.bytes, b"{\"plain\":1}");
    assert_eq!(
        trusted.open(Kind::Call, SUBJECT, None, &plain.bytes).err(),
        Some(Refusal::Unsealed)
    );
    let opened = Trust::open_lattice()
        .open(Kind::Call, SUBJECT, None, &plain.bytes)
        .unwrap();
    assert_eq!(opened.plaintext(), b"{\"plain\":1}");
}

#[test]
fn the_signers_a_member_remembers_are_bounded() {
    let (seed, _) = cluster_seed();
    let b = member(&seed, &[]);
    for _ in 0..REMEMBERED_SIGNERS + 10 {
        let cli = member(&seed, &[]);
        let sealed = seal(&cli, Kind::Signed, b"{}");
        assert!(b.open(Kind::Signed, SUBJECT, None, &sealed.bytes).is_ok());
    }
    let remembered = b.cluster.as_ref().unwrap().vouched.lock().unwrap().len();
    assert!(remembered <= REMEMBERED_SIGNERS, "{remembered}");
}
