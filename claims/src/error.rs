//! The one error type of the crate.

use crate::time::utc_date;

/// Why a module could not be signed, read or verified.
///
/// Messages are written for the person running the host or the CLI: each
/// says what is wrong and, where there is one, what to do about it. They do
/// not name the module file; the caller prefixes the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// The bytes do not parse as a core WebAssembly module.
    #[error(
        "not a WebAssembly module: the bytes do not parse as a core wasm binary \
         (pass the compiled `.wasm` file, not source or a component)"
    )]
    NotWasm,

    /// The module has no `jwt` custom section.
    #[error(
        "module is not signed: it has no `jwt` custom section; sign it with `trellis claims sign`"
    )]
    NoToken,

    /// The `jwt` section does not hold a well-formed token.
    #[error("the module's `jwt` section does not hold a valid token: {0}; re-sign it with `trellis claims sign`")]
    MalformedToken(String),

    /// The token header names an algorithm other than `Ed25519`.
    #[error("token is signed with algorithm `{0}`, but only `Ed25519` is supported; re-sign it with `trellis claims sign`")]
    UnsupportedAlgorithm(String),

    /// The signature does not verify against the issuer named in the token.
    #[error(
        "token signature does not verify against its issuer {issuer}: the token was altered \
         or signed with a different key"
    )]
    BadSignature {
        /// The issuer's public key, as the token names it.
        issuer: String,
    },

    /// The module's code hash differs from the one in the token.
    #[error(
        "module bytes do not match the signed hash: the module was modified after signing \
         (signed {expected}, actual {actual}); re-sign it with `trellis claims sign`"
    )]
    HashMismatch {
        /// The hash recorded in the token.
        expected: String,
        /// The hash of the module as it is now.
        actual: String,
    },

    /// The token's `exp` time has passed.
    #[error("token expired at {} ({at} seconds since the Unix epoch); re-sign the module with a later expiry", utc_date(*at))]
    Expired {
        /// The expiry, in seconds since the Unix epoch.
        at: u64,
    },

    /// The token's `nbf` time has not come yet.
    #[error("token is not valid until {} ({at} seconds since the Unix epoch); wait, or re-sign the module without a not-before time", utc_date(*at))]
    NotYetValid {
        /// The not-before time, in seconds since the Unix epoch.
        at: u64,
    },

    /// The issuer is valid but not one the host trusts.
    #[error(
        "issuer {0} is not one of the allowed issuers; add it to the host's allowed issuers \
         or sign the module with an allowed account key"
    )]
    IssuerNotAllowed(String),

    /// A key that should identify an actor is not a module (`M…`) nkey.
    #[error("`{0}` is not a module key: an actor's identity must be an nkey whose public key starts with `M` (seed `SM…`)")]
    NotAModuleKey(String),

    /// A key that should identify an issuer is not an account (`A…`) nkey.
    #[error("`{0}` is not an account key: an issuer must be an nkey whose public key starts with `A` (seed `SA…`)")]
    NotAnAccountKey(String),

    /// The nkeys library refused an operation, e.g. signing without a seed.
    #[error("key error: {0}")]
    Key(String),
}
