//! The errors of calls and bindings, in the words the caller sees.

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
