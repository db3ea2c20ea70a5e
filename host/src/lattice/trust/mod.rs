//! Who a lattice member believes: every message it sends is sealed, every
//! message it takes is opened here first (see docs/security.md).
//!
//! A member given a cluster seed is in a **trusted** lattice:
//!
//! - calls and replies are encrypted and authenticated (XChaCha20-Poly1305)
//!   under a fresh key per message, wrapped for every trusted issuer with
//!   the key agreed with it ([`keys`]), so that only members of the cluster
//!   can read them or answer them;
//! - control messages (heartbeats, goodbyes, bind and unbind, inventories,
//!   events) are sealed the same way and also signed by the member's own
//!   key, which its cluster key vouches for: one host cannot speak as
//!   another;
//! - a message seen before, or sealed outside the replay window, is refused
//!   ([`replay`]); a reply opens only for the request it answers;
//! - every refusal is counted and logged at a bounded rate ([`refusals`]).
//!
//! A member without a cluster seed is **open**: messages travel as they
//! always did, and anyone who reaches NATS can read and forge them.

mod frame;
mod keys;
mod refusals;
mod replay;

pub use frame::Kind;
pub use keys::ClusterKeys;
pub use refusals::{Refusal, Refusals};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use frame::{Frame, Header, NONCE, SIGNATURE, WRAPPED};
use keys::{credential_valid, MemberIdentity};
use rand::RngCore;
use replay::{ReplayGuard, Stale};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use trellis_claims::nkeys::{self, KeyPair};

use crate::sync::Locked;

/// How many nonces a member remembers against replays.
const REMEMBERED_NONCES: usize = 1 << 20;
/// How many signers' checked keys a member remembers.
const REMEMBERED_SIGNERS: usize = 4096;

/// A cluster key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The cluster seed is missing, unreadable or not a cluster seed.
    #[error("cluster seed: {0}")]
    Seed(String),
    /// A trusted issuer is not a cluster public key.
    #[error("cluster issuer {0}: {1}")]
    Issuer(String, String),
}

/// A message id: the nonce of the message a reply answers.
pub type MessageId = [u8; NONCE];

/// What a member trusts, and what it refused.
pub struct Trust {
    cluster: Option<Cluster>,
    refusals: Refusals,
}

/// A trusted lattice's keys, the member's identity, and its memory.
struct Cluster {
    keys: ClusterKeys,
    /// Each issuer's content-key wrapper, in `keys.trusted` order.
    wrappers: Vec<XChaCha20Poly1305>,
    identity: MemberIdentity,
    replay: Mutex<ReplayGuard>,
    /// Signers whose credential has been checked: their verifying keys.
    vouched: Mutex<HashMap<String, VerifyingKey>>,
}

/// A message as sealed for sending.
pub struct Sealed {
    /// The bytes to publish.
    pub bytes: Vec<u8>,
    /// Its id, to recognise the reply (`None` in an open lattice).
    pub id: Option<MessageId>,
}

/// A message taken in: its plaintext and who vouched for it.
pub struct Opened<'a> {
    plaintext: Cow<'a, [u8]>,
    /// Its id, to seal the reply with (`None` in an open lattice).
    pub id: Option<MessageId>,
    /// The member that signed it (signed messages of a trusted lattice).
    pub signer: Option<String>,
}

impl Opened<'_> {
    /// The message's content.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }
}

impl Trust {
    /// An open lattice: nothing sealed, nothing checked.
    pub fn open_lattice() -> Self {
        Trust {
            cluster: None,
            refusals: Refusals::default(),
        }
    }

    /// A trusted lattice of `keys`, for the member whose own key is `member`
    /// (a host's `N…` key, or a client's `U…` key).
    pub fn cluster(keys: ClusterKeys, member: &KeyPair) -> Result<Self, TrustError> {
        let identity = MemberIdentity::new(member, &keys)?;
        let wrappers = keys
            .trusted
            .iter()
            .map(|k| XChaCha20Poly1305::new(&k.shared.into()))
            .collect();
        Ok(Trust {
            cluster: Some(Cluster {
                keys,
                wrappers,
                identity,
                replay: Mutex::new(ReplayGuard::new(REMEMBERED_NONCES)),
                vouched: Mutex::default(),
            }),
            refusals: Refusals::default(),
        })
    }

    /// Whether messages are sealed and checked.
    pub fn is_trusted(&self) -> bool {
        self.cluster.is_some()
    }

    /// The cluster key this member holds (`C…`), in a trusted lattice.
    pub fn cluster_key(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.keys.own_name.as_str())
    }

    /// What was refused so far.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Counts and logs a refusal decided outside this module (a call from
    /// an actor without the capability, a bind from a non-owner).
    pub fn refuse(&self, why: Refusal, subject: &str) {
        self.refusals.refuse(why, subject);
    }

    /// Seals a message of `kind` for `subject`: `write` appends its content
    /// (about `capacity` bytes) to the buffer, which is then encrypted in
    /// place. `in_reply_to` names the request a reply answers.
    pub fn seal<E>(
        &self,
        kind: Kind,
        subject: &str,
        in_reply_to: Option<&MessageId>,
        capacity: usize,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Sealed, E> {
        let Some(cluster) = &self.cluster else {
            let mut bytes = Vec::with_capacity(capacity);
            write(&mut bytes)?;
            return Ok(Sealed { bytes, id: None });
        };
        cluster.seal(kind, subject, in_reply_to, capacity, write)
    }

    /// Takes in a message of `kind` that arrived on `subject`; a reply must
    /// answer `in_reply_to`. A refused message is counted and logged here.
    pub fn open<'a>(
        &self,
        kind: Kind,
        subject: &str,
        in_reply_to: Option<&MessageId>,
        payload: &'a [u8],
    ) -> Result<Opened<'a>, Refusal> {
        let outcome = match &self.cluster {
            Some(cluster) => cluster.open(kind, subject, in_reply_to, payload),
            // An open member cannot read a trusted lattice's messages;
            // counting them tells its operator that it sits on one.
            None if frame::is_sealed(payload) => Err(Refusal::CannotOpen),
            None => Ok(Opened {
                plaintext: Cow::Borrowed(payload),
                id: None,
                signer: None,
            }),
        };
        if let Err(why) = outcome {
            self.refusals.refuse(why, subject);
        }
        outcome
    }
}

impl Cluster {
    fn seal<E>(
        &self,
        kind: Kind,
        subject: &str,
        in_reply_to: Option<&MessageId>,
        capacity: usize,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Sealed, E> {
        let mut rng = rand::rng();
        let mut nonce = [0u8; NONCE];
        rng.fill_bytes(&mut nonce);
        let mut content_key = [0u8; 32];
        rng.fill_bytes(&mut content_key);
        let xnonce = XNonce::from_slice(&nonce);
        let mut wraps = Vec::with_capacity(self.wrappers.len() * (8 + WRAPPED));
        for (issuer, wrapper) in self.keys.trusted.iter().zip(&self.wrappers) {
            let mut wrapped = content_key;
            // Cannot fail: the buffer is a fixed 32 bytes.
            let Ok(tag) = wrapper.encrypt_in_place_detached(xnonce, &[], &mut wrapped) else {
                continue;
            };
            wraps.extend_from_slice(&issuer.key_id);
            wraps.extend_from_slice(&wrapped);
            wraps.extend_from_slice(&tag);
        }
        let signed = kind == Kind::Signed;
        let header = Header {
            kind,
            sent_at_ms: now_ms(),
            nonce,
            in_reply_to: in_reply_to.copied().unwrap_or([0; NONCE]),
            subject,
            issuer: self.keys.own_public,
            wraps: &wraps,
            signer: signed.then_some((self.identity.id.as_str(), &self.identity.credential[..])),
        };
        let mut bytes = Vec::with_capacity(200 + wraps.len() + subject.len() + capacity);
        header.write(&mut bytes);
        let header_len = bytes.len();
        write(&mut bytes)?;
        let (aad, body) = bytes.split_at_mut(header_len);
        let cipher = XChaCha20Poly1305::new(&content_key.into());
        // Fails only past 256 GiB of plaintext.
        if let Ok(tag) = cipher.encrypt_in_place_detached(xnonce, aad, body) {
            bytes.extend_from_slice(&tag);
        }
        if signed {
            let signature = self.identity.signing.sign(&bytes);
            bytes.extend_from_slice(&signature.to_bytes());
        }
        Ok(Sealed {
            bytes,
            id: Some(nonce),
        })
    }

    fn open<'a>(
        &self,
        kind: Kind,
        subject: &str,
        in_reply_to: Option<&MessageId>,
        payload: &'a [u8],
    ) -> Result<Opened<'a>, Refusal> {
        if !frame::is_sealed(payload) {
            return Err(Refusal::Unsealed);
        }
        let frame = frame::read(payload).ok_or(Refusal::Malformed)?;
        let header = &frame.header;
        if header.kind != kind {
            return Err(Refusal::Malformed);
        }
        if header.subject != subject || in_reply_to.is_some_and(|id| *id != header.in_reply_to) {
            return Err(Refusal::WrongSubject);
        }
        let at = self
            .keys
            .trusted
            .iter()
            .position(|k| k.issuer == header.issuer)
            .ok_or(Refusal::UntrustedIssuer)?;
        // Decrypting first turns a stranger away at the cost of one short
        // AEAD; only members' messages are worth a signature check.
        let plaintext = self.decrypt(&frame, payload, at)?;
        let signer = match kind {
            Kind::Signed => Some(self.check_signature(&frame, payload, at)?),
            Kind::Call | Kind::Reply => None,
        };
        if kind != Kind::Reply {
            // Only what is authentic is remembered: forged nonces cannot
            // crowd out real ones.
            let admitted = self.replay.locked("replay guard").admit(
                &header.nonce,
                header.sent_at_ms,
                now_ms(),
            );
            admitted.map_err(|stale| match stale {
                Stale::Replayed => Refusal::Replayed,
                Stale::OutOfWindow => Refusal::OutOfWindow,
            })?;
        }
        Ok(Opened {
            plaintext: Cow::Owned(plaintext),
            id: Some(header.nonce),
            signer,
        })
    }

    /// Checks that the issuer at `at` vouched for the signer, and that the
    /// signer signed the message; returns the signer's id.
    fn check_signature(&self, frame: &Frame, payload: &[u8], at: usize) -> Result<String, Refusal> {
        let (signer, credential) = frame.header.signer.ok_or(Refusal::BadSignature)?;
        let verifying = self.vouched_key(signer, credential, at)?;
        let signature = frame
            .signature
            .and_then(|s| Signature::from_slice(s).ok())
            .ok_or(Refusal::BadSignature)?;
        verifying
            .verify(&payload[..payload.len() - SIGNATURE], &signature)
            .map_err(|_| Refusal::BadSignature)?;
        Ok(signer.to_string())
    }

    /// The signer's key, once its credential from the issuer at `at` holds.
    fn vouched_key(
        &self,
        signer: &str,
        credential: &[u8],
        at: usize,
    ) -> Result<VerifyingKey, Refusal> {
        if let Some(key) = self.vouched.locked("vouched signers").get(signer) {
            return Ok(*key);
        }
        let (_, raw) = nkeys::from_public_key(signer).map_err(|_| Refusal::BadSignature)?;
        if !credential_valid(&self.keys.trusted[at].verifying, &raw, credential) {
            return Err(Refusal::BadSignature);
        }
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| Refusal::BadSignature)?;
        let mut vouched = self.vouched.locked("vouched signers");
        // Every CLI run signs with a key of its own: forgetting them all
        // now and then keeps the memory bounded, at one credential check
        // per signer after each forgetting.
        if vouched.len() >= REMEMBERED_SIGNERS {
            vouched.clear();
        }
        vouched.insert(signer.to_string(), key);
        Ok(key)
    }

    /// Unwraps the content key with the key shared with the issuer at
    /// `at`, and decrypts the content.
    fn decrypt(&self, frame: &Frame, payload: &[u8], at: usize) -> Result<Vec<u8>, Refusal> {
        let issuer = &self.keys.trusted[at];
        let wrapped = frame
            .header
            .wrap_for(&issuer.key_id)
            .ok_or(Refusal::CannotOpen)?;
        let nonce = XNonce::from_slice(&frame.header.nonce);
        let mut content_key = [0u8; 32];
        content_key.copy_from_slice(&wrapped[..32]);
        self.wrappers[at]
            .decrypt_in_place_detached(nonce, &[], &mut content_key, wrapped[32..].into())
            .map_err(|_| Refusal::CannotOpen)?;
        let sealed = &payload[frame.ciphertext.clone()];
        let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
        let mut plaintext = ciphertext.to_vec();
        XChaCha20Poly1305::new(&content_key.into())
            .decrypt_in_place_detached(nonce, frame.header_bytes, &mut plaintext, tag.into())
            .map_err(|_| Refusal::CannotOpen)?;
        Ok(plaintext)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
