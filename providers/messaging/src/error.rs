//! The errors of calls and bindings, in the words the caller sees.

use crate::config::{ALLOW_LATTICE_SUBJECTS_KEY, SUBSCRIPTION_KEY};
use crate::lattice::LATTICE_ROOT;
use trellis_codec::messaging::CAPABILITY;
use trellis_codec::CodecError;
use trellis_provider_sdk::ProviderError;

/// Why a messaging call or binding failed. The text is what the caller sees.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessagingError {
    /// The calling actor has no binding to this provider.
    #[error("actor {0} is not bound to {CAPABILITY}")]
    NotBound(String),
    /// The operation is not one of [`OPERATIONS`](crate::OPERATIONS).
    #[error("unknown operation '{0}'")]
    UnknownOperation(String),
    /// The payload is not the operation's request.
    #[error("{operation}: {source}")]
    Decode {
        /// The operation.
        operation: String,
        /// What the decoder found.
        source: CodecError,
    },
    /// The reply could not be encoded.
    #[error("cannot encode the reply: {0}")]
    Encode(CodecError),
    /// A binding value is unusable.
    #[error("{0}")]
    BadBinding(String),
    /// A publication or request to a subject of the lattice, by a binding
    /// that does not allow it.
    #[error(
        "{role} {subject} is reserved for the lattice; \
         set {ALLOW_LATTICE_SUBJECTS_KEY}=true on the binding to allow it"
    )]
    LatticeSubject {
        /// How the call used the subject: `subject` or `reply subject`.
        role: &'static str,
        /// The subject.
        subject: String,
    },
    /// A subscription that could receive the lattice's messages, by a
    /// binding that does not allow it.
    #[error(
        "{SUBSCRIPTION_KEY} {0} could receive the lattice's subjects ({LATTICE_ROOT}.…); \
         set {ALLOW_LATTICE_SUBJECTS_KEY}=true on the binding to allow it"
    )]
    LatticeSubscription(String),
    /// The server could not be reached.
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect {
        /// The URL, password masked.
        url: String,
        /// What failed.
        message: String,
    },
    /// The subscription could not be made.
    #[error("cannot subscribe to '{subject}' on NATS at {url}: {message}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The URL, password masked.
        url: String,
        /// What failed.
        message: String,
    },
    /// Publishing failed.
    #[error("cannot publish on '{subject}': {message}")]
    Publish {
        /// The subject.
        subject: String,
        /// What failed.
        message: String,
    },
    /// `Request` with a negative timeout.
    #[error(
        "Request: timeout must be 0 (the default, 2000 ms) or a number of milliseconds, not {0}"
    )]
    BadTimeout(i64),
    /// Nobody subscribes to the request's subject.
    #[error("Request to '{0}': no responders are listening")]
    NoResponders(String),
    /// No reply came in time.
    #[error("Request to '{subject}' got no reply within {millis} ms")]
    Timeout {
        /// The subject.
        subject: String,
        /// The timeout.
        millis: u128,
    },
    /// The request failed otherwise.
    #[error("Request to '{subject}' failed: {message}")]
    Request {
        /// The subject.
        subject: String,
        /// What failed.
        message: String,
    },
}

impl From<MessagingError> for ProviderError {
    fn from(e: MessagingError) -> Self {
        ProviderError::new(e.to_string())
    }
}
