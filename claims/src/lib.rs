//! Identity and permissions of Trellis actors, in the waSCC 2020 ("wascap")
//! signed-module format.
//!
//! An actor is a WebAssembly module carrying a signed token in a custom
//! section named `jwt`. The token names the actor (`sub`, a module nkey
//! `M…`), who vouches for it (`iss`, an account nkey `A…`), the SHA-256 of
//! the module's code and the capabilities it may use. Modules signed by waSCC
//! tooling in 2020 verify here, and modules signed here verify there.
//!
//! ```
//! use trellis_claims::{nkeys::KeyPair, SigningRequest};
//!
//! // The smallest valid module: just the preamble.
//! let module = b"\0asm\x01\0\0\0";
//! let issuer = KeyPair::new_account();
//! let actor = KeyPair::new_module();
//! let request = SigningRequest {
//!     name: Some("echo".into()),
//!     caps: vec!["wascc:http_server".into()],
//!     ..Default::default()
//! };
//!
//! let signed = trellis_claims::sign(module, &request, &issuer, &actor)?;
//! let claims = trellis_claims::verify(&signed, trellis_claims::now_secs())?;
//! assert_eq!(claims.subject, actor.public_key());
//! assert!(claims.allows("wascc:http_server"));
//! assert!(!claims.allows("wascc:keyvalue"));
//! # Ok::<(), trellis_claims::ClaimsError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod claims;
mod error;
mod time;
mod token;
mod wasm;

use data_encoding::{BASE32_NOPAD, HEXUPPER};
use nkeys::{KeyPair, KeyPairType};
use sha2::{Digest, Sha256};

pub use crate::claims::{ActorMetadata, Claims};
pub use crate::error::ClaimsError;
pub use crate::time::{now_secs, rfc3339};
/// The nkeys crate this one uses, so callers load keys with the same version.
pub use nkeys;

use crate::wasm::{Sections, JWT_SECTION};

/// What to sign: built by the CLI `trellis claims sign`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningRequest {
    /// Human-friendly name of the actor.
    pub name: Option<String>,
    /// Capability ids the actor may use, e.g. `wascc:http_server`.
    pub caps: Vec<String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Revision number.
    pub rev: Option<i32>,
    /// Human-friendly version string.
    pub ver: Option<String>,
    /// Expiry, in absolute seconds since the Unix epoch.
    pub expires: Option<u64>,
    /// Start of validity, in absolute seconds since the Unix epoch.
    pub not_before: Option<u64>,
}

/// A module's token as found, decoded but not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The decoded payload.
    pub claims: Claims,
    /// The compact token text as stored in the `jwt` section.
    pub raw: String,
}

/// What [`verify_with`] accepts besides a well-signed, unmodified module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The time to check `exp` and `nbf` against, in seconds since the Unix epoch.
    pub now: u64,
    /// Public account keys whose signatures are accepted; `None` accepts any
    /// issuer whose signature verifies.
    pub allowed_issuers: Option<Vec<String>>,
}

impl Policy {
    /// A policy that checks validity at `now` and accepts any issuer.
    pub fn at(now: u64) -> Self {
        Policy {
            now,
            allowed_issuers: None,
        }
    }
}

/// Signs `module` as the actor `subject`, vouched for by `issuer`.
///
/// Any existing `jwt` section is replaced, so re-signing is safe. `issuer`
/// must be an account key with its seed; `subject` a module key (its public
/// half is enough). Returns the signed module bytes.
pub fn sign(
    module: &[u8],
    request: &SigningRequest,
    issuer: &KeyPair,
    subject: &KeyPair,
) -> Result<Vec<u8>, ClaimsError> {
    check_key_kind(issuer, KeyPairType::Account)?;
    check_key_kind(subject, KeyPairType::Module)?;
    if issuer.seed().is_err() {
        return Err(ClaimsError::Key(format!(
            "issuer {} has no seed: signing needs the account seed (`SA…`), not its public key",
            issuer.public_key()
        )));
    }

    let mut signed = Sections::parse(module)?.without_token();
    let hash = sha256_hex(&signed);
    let claims = new_claims(request, &issuer.public_key(), &subject.public_key(), hash);
    let token = token::encode(&claims, issuer)?;
    wasm::append_custom_section(&mut signed, JWT_SECTION, token.as_bytes());
    Ok(signed)
}

/// Decodes the token of `module` without verifying anything.
///
/// For showing what a module claims (`trellis claims inspect`); never use
/// the result to grant anything.
pub fn read(module: &[u8]) -> Result<Token, ClaimsError> {
    let raw = Sections::parse(module)?
        .token()?
        .ok_or(ClaimsError::NoToken)?
        .trim();
    let claims = token::decode(raw)?.claims;
    Ok(Token {
        claims,
        raw: raw.to_string(),
    })
}

/// Fully verifies `module` at time `now_secs`, accepting any issuer.
///
/// See [`verify_with`] for what is checked.
pub fn verify(module: &[u8], now_secs: u64) -> Result<Claims, ClaimsError> {
    verify_with(module, &Policy::at(now_secs))
}

/// Fully verifies `module` under `policy` and returns its claims.
///
/// Checks, in order: a token is present and well-formed, its algorithm is
/// Ed25519, the issuer is an account key whose signature verifies, the
/// subject is a module key, the module's code hash matches the signed one,
/// `exp` and `nbf` hold at `policy.now`, and the issuer is allowed.
pub fn verify_with(module: &[u8], policy: &Policy) -> Result<Claims, ClaimsError> {
    let sections = Sections::parse(module)?;
    let raw = sections.token()?.ok_or(ClaimsError::NoToken)?.trim();
    let decoded = token::decode(raw)?;
    if !token::is_supported(&decoded.algorithm) {
        return Err(ClaimsError::UnsupportedAlgorithm(decoded.algorithm));
    }
    let claims = decoded.claims;
    check_signature(&claims.issuer, decoded.signed, &decoded.signature)?;
    public_key_of_kind(&claims.subject, KeyPairType::Module)?;
    check_hash(&claims, &sections.without_token())?;
    check_validity(&claims, policy.now)?;
    check_issuer_allowed(&claims.issuer, policy)?;
    Ok(claims)
}

/// Uppercase hex SHA-256 of `module` without its `jwt` section: the hash a
/// token signs. The same before and after signing.
pub fn code_hash(module: &[u8]) -> Result<String, ClaimsError> {
    Ok(sha256_hex(&Sections::parse(module)?.without_token()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    HEXUPPER.encode(&Sha256::digest(bytes))
}

fn new_claims(request: &SigningRequest, issuer: &str, subject: &str, hash: String) -> Claims {
    let issued_at = now_secs();
    Claims {
        id: new_token_id(subject, &hash),
        issued_at,
        issuer: issuer.to_string(),
        subject: subject.to_string(),
        expires: request.expires,
        not_before: request.not_before,
        metadata: ActorMetadata {
            name: request.name.clone(),
            hash,
            tags: request.tags.clone(),
            caps: request.caps.clone(),
            rev: request.rev,
            ver: request.ver.clone(),
            provider: false,
        },
    }
}

/// A unique token id. A throwaway nkey supplies OS randomness without a
/// direct dependency on `rand`; the clock and subject make collisions across
/// machines even less likely.
fn new_token_id(subject: &str, hash: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    let mut digest = Sha256::new();
    digest.update(KeyPair::new_user().public_key());
    digest.update(nanos.to_le_bytes());
    digest.update(subject);
    digest.update(hash);
    // 15 bytes encode to 24 base32 characters with no padding.
    BASE32_NOPAD.encode(&digest.finalize()[..15])
}

/// Refuses a key pair that is not of the `expected` kind.
fn check_key_kind(key: &KeyPair, expected: KeyPairType) -> Result<(), ClaimsError> {
    public_key_of_kind(&key.public_key(), expected).map(|_| ())
}

/// Parses `public_key` as an nkey of the `expected` kind (account or module).
fn public_key_of_kind(public_key: &str, expected: KeyPairType) -> Result<KeyPair, ClaimsError> {
    let wrong_kind = || match expected {
        KeyPairType::Account => ClaimsError::NotAnAccountKey(public_key.to_string()),
        _ => ClaimsError::NotAModuleKey(public_key.to_string()),
    };
    let key = KeyPair::from_public_key(public_key).map_err(|_| wrong_kind())?;
    // nkeys maps unknown prefixes to a default kind, so check the text too.
    let prefix = if expected == KeyPairType::Account {
        'A'
    } else {
        'M'
    };
    if key.key_pair_type() != expected || !public_key.starts_with(prefix) {
        return Err(wrong_kind());
    }
    Ok(key)
}

fn check_signature(issuer: &str, signed: &str, signature: &[u8]) -> Result<(), ClaimsError> {
    public_key_of_kind(issuer, KeyPairType::Account)?
        .verify(signed.as_bytes(), signature)
        .map_err(|_| ClaimsError::BadSignature {
            issuer: issuer.to_string(),
        })
}

fn check_hash(claims: &Claims, code: &[u8]) -> Result<(), ClaimsError> {
    let actual = sha256_hex(code);
    // Hex case carries no meaning; 2020 tools wrote uppercase, be lenient.
    if claims.metadata.hash.eq_ignore_ascii_case(&actual) {
        return Ok(());
    }
    Err(ClaimsError::HashMismatch {
        expected: claims.metadata.hash.clone(),
        actual,
    })
}

/// Checks `exp` and `nbf` as RFC 7519 reads them: a token is expired from
/// the `exp` second on, and valid from the `nbf` second on.
fn check_validity(claims: &Claims, now: u64) -> Result<(), ClaimsError> {
    if let Some(at) = claims.expires.filter(|&exp| now >= exp) {
        return Err(ClaimsError::Expired { at });
    }
    if let Some(at) = claims.not_before.filter(|&nbf| now < nbf) {
        return Err(ClaimsError::NotYetValid { at });
    }
    Ok(())
}

fn check_issuer_allowed(issuer: &str, policy: &Policy) -> Result<(), ClaimsError> {
    match &policy.allowed_issuers {
        Some(allowed) if !allowed.iter().any(|key| key == issuer) => {
            Err(ClaimsError::IssuerNotAllowed(issuer.to_string()))
        }
        _ => Ok(()),
    }
}
