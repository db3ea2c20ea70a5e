//! Compact JWS encoding of a token: `header.payload.signature`, each part
//! base64url without padding, signed with Ed25519 over `header.payload`.

use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};

use crate::{Claims, ClaimsError};

/// The only algorithm waSCC tokens use.
const ALGORITHM: &str = "Ed25519";

/// The JOSE header; waSCC 2020 wrote `{"typ":"jwt","alg":"Ed25519"}`.
#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(default)]
    typ: Option<String>,
    alg: String,
}

/// A token split into its parts, with nothing verified yet.
pub(crate) struct Decoded<'a> {
    /// Value of the header's `alg`.
    pub(crate) algorithm: String,
    /// The decoded payload.
    pub(crate) claims: Claims,
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signed: &'a str,
    /// The raw signature bytes.
    pub(crate) signature: Vec<u8>,
}

/// Encodes `claims` and signs them with `issuer`.
pub(crate) fn encode(claims: &Claims, issuer: &nkeys::KeyPair) -> Result<String, ClaimsError> {
    let header = Header {
        typ: Some("jwt".into()),
        alg: ALGORITHM.into(),
    };
    let signed = format!("{}.{}", to_base64_json(&header)?, to_base64_json(claims)?);
    let signature = issuer
        .sign(signed.as_bytes())
        .map_err(|e| ClaimsError::Key(format!("cannot sign with the issuer key: {e}")))?;
    Ok(format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature)))
}

/// Splits and decodes `raw` without checking the algorithm or signature.
pub(crate) fn decode(raw: &str) -> Result<Decoded<'_>, ClaimsError> {
    let (signed, signature) = raw
        .rsplit_once('.')
        .ok_or_else(|| malformed("it is not of the form header.payload.signature"))?;
    let (header, payload) = signed
        .split_once('.')
        .ok_or_else(|| malformed("it is not of the form header.payload.signature"))?;
    let header: Header = from_base64_json(header, "header")?;
    Ok(Decoded {
        algorithm: header.alg,
        claims: from_base64_json(payload, "payload")?,
        signed,
        signature: from_base64(signature, "signature")?,
    })
}

/// Whether `algorithm` is the one this crate can verify.
pub(crate) fn is_supported(algorithm: &str) -> bool {
    algorithm == ALGORITHM
}

fn to_base64_json<T: Serialize>(value: &T) -> Result<String, ClaimsError> {
    let json = serde_json::to_vec(value)
        .map_err(|e| ClaimsError::MalformedToken(format!("cannot encode claims: {e}")))?;
    Ok(BASE64URL_NOPAD.encode(&json))
}

fn from_base64_json<T: for<'de> Deserialize<'de>>(
    part: &str,
    what: &str,
) -> Result<T, ClaimsError> {
    let bytes = from_base64(part, what)?;
    serde_json::from_slice(&bytes).map_err(|e| malformed(&format!("its {what} is not valid: {e}")))
}

/// Decodes base64url, tolerating `=` padding that some encoders add.
fn from_base64(part: &str, what: &str) -> Result<Vec<u8>, ClaimsError> {
    BASE64URL_NOPAD
        .decode(part.trim_end_matches('=').as_bytes())
        .map_err(|_| malformed(&format!("its {what} is not base64url")))
}

fn malformed(reason: &str) -> ClaimsError {
    ClaimsError::MalformedToken(reason.to_string())
}
