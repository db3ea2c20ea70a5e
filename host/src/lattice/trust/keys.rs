//! The keys of a trusted lattice: the cluster key a host is given, the
//! issuers it accepts, the symmetric key it shares with each issuer's
//! hosts, and the member's own identity vouched for by its cluster key.
//!
//! Sealing keys are agreed, not shared: a host holding cluster seed `a`
//! and trusting issuer `B` derives `X25519(a, B)` (the ed25519 keys read as
//! their Montgomery form), which equals what a host holding `b` derives
//! from `A`. So hosts on key A and hosts on key B that trust each other's
//! public key read each other's calls without ever sharing a seed, which is
//! what lets a lattice rotate its key with no downtime.

use super::TrustError;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use std::path::Path;
use trellis_claims::nkeys::{self, KeyPair, KeyPairType};

/// What the credential signature covers, before the member's public key.
const CREDENTIAL_CONTEXT: &[u8] = b"trellis lattice member credential v1\0";

/// A key shared with the hosts of one trusted issuer.
pub struct IssuerKey {
    /// The issuer's public key, raw.
    pub issuer: [u8; 32],
    /// The issuer as `C…`, for messages.
    pub name: String,
    /// Verifies credentials the issuer signed.
    pub verifying: VerifyingKey,
    /// The symmetric key between this host's cluster key and this issuer.
    pub shared: [u8; 32],
    /// Names `shared` in a frame without revealing it.
    pub key_id: [u8; 8],
}

/// The cluster keys of one member: its own, and those it trusts.
pub struct ClusterKeys {
    /// The member's cluster key (it vouches for the member, and seals).
    pub own: SigningKey,
    /// Its public key, raw.
    pub own_public: [u8; 32],
    /// Its public key as `C…`.
    pub own_name: String,
    /// Every issuer this member accepts, its own first.
    pub trusted: Vec<IssuerKey>,
}

impl ClusterKeys {
    /// The keys of a member holding `seed` (an `SC…` seed, or a file
    /// holding one) and also trusting `issuers` (`C…` keys), in `namespace`.
    pub fn new(seed: &str, issuers: &[String], namespace: &str) -> Result<Self, TrustError> {
        let seed = read_seed(seed)?;
        let (prefix, raw) = nkeys::decode_seed(&seed)
            .map_err(|e| TrustError::Seed(format!("not an nkey seed: {e}")))?;
        let pair = KeyPair::from_seed(&seed).map_err(|e| TrustError::Seed(e.to_string()))?;
        if pair.key_pair_type() != KeyPairType::Cluster {
            return Err(TrustError::Seed(format!(
                "the seed is a {:?} key (prefix byte {prefix}); a cluster seed starts with SC (make one with `trellis keys gen cluster`)",
                pair.key_pair_type()
            )));
        }
        let own = SigningKey::from_bytes(&raw);
        let own_public = own.verifying_key().to_bytes();
        let own_name = pair.public_key();
        let mut names = vec![own_name.clone()];
        for issuer in issuers.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
            if !names.iter().any(|n| n == issuer) {
                names.push(issuer.to_string());
            }
        }
        let trusted = names
            .iter()
            .map(|name| issuer_key(&own, &own_public, name, namespace))
            .collect::<Result<_, _>>()?;
        Ok(ClusterKeys {
            own,
            own_public,
            own_name,
            trusted,
        })
    }

    /// The trusted issuer whose raw public key is `raw`.
    pub fn issuer(&self, raw: &[u8]) -> Option<&IssuerKey> {
        self.trusted.iter().find(|k| k.issuer == raw)
    }

    /// The credential signature vouching for a member's public key.
    pub fn vouch(&self, member: &[u8; 32]) -> [u8; 64] {
        self.own.sign(&credential_message(member)).to_bytes()
    }
}

/// Checks that `issuer` vouched for `member` with `credential`.
pub fn credential_valid(issuer: &VerifyingKey, member: &[u8; 32], credential: &[u8]) -> bool {
    let Ok(signature) = Signature::from_slice(credential) else {
        return false;
    };
    issuer
        .verify(&credential_message(member), &signature)
        .is_ok()
}

fn credential_message(member: &[u8; 32]) -> Vec<u8> {
    [CREDENTIAL_CONTEXT, member].concat()
}

/// A seed given inline (`SC…`), or a file holding one — such as what
/// `trellis keys gen cluster` prints, saved as it is.
fn read_seed(seed: &str) -> Result<String, TrustError> {
    let seed = seed.trim();
    if nkeys::decode_seed(seed).is_ok() {
        return Ok(seed.to_string());
    }
    let text = std::fs::read_to_string(Path::new(seed))
        .map_err(|e| TrustError::Seed(format!("cannot read the cluster seed file {seed}: {e}")))?;
    text.split_whitespace()
        .find(|word| word.starts_with("SC"))
        .map(str::to_string)
        .ok_or_else(|| {
            TrustError::Seed(format!(
                "the file {seed} holds no cluster seed (a word starting with SC)"
            ))
        })
}

/// The key shared between `own` and the issuer `name`.
fn issuer_key(
    own: &SigningKey,
    own_public: &[u8; 32],
    name: &str,
    namespace: &str,
) -> Result<IssuerKey, TrustError> {
    let bad = |why: String| TrustError::Issuer(name.to_string(), why);
    let (prefix, raw) = nkeys::from_public_key(name).map_err(|e| bad(e.to_string()))?;
    let pair = KeyPair::from_public_key(name).map_err(|e| bad(e.to_string()))?;
    if pair.key_pair_type() != KeyPairType::Cluster {
        return Err(bad(format!(
            "a {:?} key (prefix byte {prefix}); cluster keys start with C",
            pair.key_pair_type()
        )));
    }
    let verifying = VerifyingKey::from_bytes(&raw).map_err(|e| bad(e.to_string()))?;
    let agreed = verifying.to_montgomery().mul_clamped(own.to_scalar_bytes());
    if agreed.to_bytes() == [0; 32] {
        return Err(bad("a key of low order".into()));
    }
    // Both sides name the pair in one order, and the namespace, so that a
    // key agreed for one namespace opens nothing of another.
    let (first, second) = if own_public <= &raw {
        (own_public, &raw)
    } else {
        (&raw, own_public)
    };
    let info = [namespace.as_bytes(), b"\0", first, second].concat();
    let mut shared = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"trellis lattice seal v1"), agreed.as_bytes())
        .expand(&info, &mut shared)
        .map_err(|e| bad(e.to_string()))?;
    let digest = Sha256::new_with_prefix(b"trellis key id\0")
        .chain_update(shared)
        .finalize();
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&digest[..8]);
    Ok(IssuerKey {
        issuer: raw,
        name: name.to_string(),
        verifying,
        shared,
        key_id,
    })
}

/// A member's own identity: a key of its own, vouched for by its cluster key.
pub struct MemberIdentity {
    /// Signs what the member says in the control plane.
    pub signing: SigningKey,
    /// Its public key as the lattice names it (`N…` for a host, `U…` for a client).
    pub id: String,
    /// The cluster key's signature over the public key.
    pub credential: [u8; 64],
}

impl MemberIdentity {
    /// The identity of `pair`, vouched for by `keys`.
    pub fn new(pair: &KeyPair, keys: &ClusterKeys) -> Result<Self, TrustError> {
        let seed = pair.seed().map_err(|e| TrustError::Seed(e.to_string()))?;
        let (_, raw) = nkeys::decode_seed(&seed).map_err(|e| TrustError::Seed(e.to_string()))?;
        let signing = SigningKey::from_bytes(&raw);
        let credential = keys.vouch(&signing.verifying_key().to_bytes());
        Ok(MemberIdentity {
            signing,
            id: pair.public_key(),
            credential,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> (String, String) {
        let pair = KeyPair::new_cluster();
        (pair.seed().unwrap(), pair.public_key())
    }

    #[test]
    fn two_cluster_keys_agree_on_one_shared_key_per_namespace() {
        let ((a_seed, a), (b_seed, b)) = (seed(), seed());
        let on_a = ClusterKeys::new(&a_seed, std::slice::from_ref(&b), "prod").unwrap();
        let on_b = ClusterKeys::new(&b_seed, std::slice::from_ref(&a), "prod").unwrap();
        let a_to_b = on_a.issuer(&on_b.own_public).unwrap();
        let b_to_a = on_b.issuer(&on_a.own_public).unwrap();
        assert_eq!(a_to_b.shared, b_to_a.shared);
        assert_eq!(a_to_b.key_id, b_to_a.key_id);
        assert_ne!(on_a.trusted[0].shared, a_to_b.shared, "A with A differs");
        let elsewhere = ClusterKeys::new(&a_seed, &[b], "dev").unwrap();
        assert_ne!(elsewhere.trusted[1].shared, a_to_b.shared);
    }

    #[test]
    fn a_seed_reads_inline_or_from_what_keys_gen_prints() {
        let (seed, public) = seed();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.nk");
        std::fs::write(&file, format!("Public Key: {public}\nSeed:       {seed}\n")).unwrap();
        let from_file = ClusterKeys::new(file.to_str().unwrap(), &[], "default").unwrap();
        assert_eq!(from_file.own_name, public);
        assert_eq!(
            ClusterKeys::new(&seed, &[], "default").unwrap().own_name,
            public
        );
    }

    #[test]
    fn wrong_keys_are_refused_with_a_reason() {
        let account = KeyPair::new_account().seed().unwrap();
        let e = ClusterKeys::new(&account, &[], "default").err().unwrap();
        assert!(e.to_string().contains("starts with SC"), "{e}");
        let (seed, _) = seed();
        let e = ClusterKeys::new(&seed, &[KeyPair::new_server().public_key()], "default")
            .err()
            .unwrap();
        assert!(e.to_string().contains("cluster keys start with C"), "{e}");
        let e = ClusterKeys::new("/no/such/file", &[], "default")
            .err()
            .unwrap();
        assert!(e.to_string().contains("/no/such/file"), "{e}");
    }

    #[test]
    fn a_credential_holds_only_for_the_member_it_names() {
        let (seed, _) = seed();
        let keys = ClusterKeys::new(&seed, &[], "default").unwrap();
        let member = MemberIdentity::new(&KeyPair::new_server(), &keys).unwrap();
        let public = member.signing.verifying_key().to_bytes();
        assert!(credential_valid(
            &keys.trusted[0].verifying,
            &public,
            &member.credential
        ));
        let other = KeyPair::new_server();
        let other = MemberIdentity::new(&other, &keys).unwrap();
        let other_public = other.signing.verifying_key().to_bytes();
        assert!(!credential_valid(
            &keys.trusted[0].verifying,
            &other_public,
            &member.credential
        ));
    }
}
