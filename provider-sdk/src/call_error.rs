//! Why a provider's call into the host failed: a [`CallErrorKind`] to act on
//! (an HTTP server answers 503, 504 or 500 by it) and a message to show.
//!
//! The ABI carries a failure as text ([`crate::ffi::FfiCallResult`]), and its
//! types cannot change without breaking every provider built before (see
//! [`crate::ffi`]). So a host puts the kind in front of the text, for
//! providers whose root module records SDK 0.1.1 or later
//! ([`crate::ffi::reads_failure_kinds`]); older providers get the plain
//! message, and this SDK reads a plain message from an older host as
//! [`CallErrorKind::Other`].

use crate::ProviderError;
use abi_stable::std_types::RString;

/// What kind of failure a call into the host met.
///
/// More kinds may come in later SDK versions: match with a `_` arm. A kind
/// this SDK does not know (sent by a newer host) reads as [`CallErrorKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallErrorKind {
    /// No instance can take the call: no such actor on this host or in the
    /// lattice, no instance of it can be started (the host's instance pool is
    /// exhausted), or the host is shutting down. Trying later may work.
    Unavailable,
    /// The call did not finish within the host's call timeout.
    Timeout,
    /// The actor itself failed: it returned an error or trapped.
    ActorFailed,
    /// Anything else, e.g. the lattice could not carry the call; also every
    /// failure reported by a host that predates failure kinds.
    Other,
}

impl CallErrorKind {
    /// The kind's name on the wire (the lattice's reply envelope):
    /// `unavailable`, `timeout`, `actor_failed` or `other`.
    pub fn name(self) -> &'static str {
        match self {
            CallErrorKind::Unavailable => "unavailable",
            CallErrorKind::Timeout => "timeout",
            CallErrorKind::ActorFailed => "actor_failed",
            CallErrorKind::Other => "other",
        }
    }

    /// The kind named `name`; a name this SDK does not know is [`CallErrorKind::Other`].
    pub fn from_name(name: &str) -> CallErrorKind {
        [
            CallErrorKind::Unavailable,
            CallErrorKind::Timeout,
            CallErrorKind::ActorFailed,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
        .unwrap_or(CallErrorKind::Other)
    }
}

/// Starts and ends the kind in an error text that carries one: the text
/// `\u{1}timeout\u{1}call to … timed out …`. No host message starts with it.
const KIND_MARK: char = '\u{1}';

/// A failed call from a provider into the host ([`crate::HostHandle::invoke`]).
///
/// It displays as the host's message (`no actor M… is running`, `call to
/// actor M… timed out after 5000 ms`, …); `?` turns it into a
/// [`ProviderError`] with that message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    kind: CallErrorKind,
    message: String,
}

impl CallError {
    /// A failure of `kind` described by `message`.
    pub fn new(kind: CallErrorKind, message: impl Into<String>) -> Self {
        CallError {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure it was.
    pub fn kind(&self) -> CallErrorKind {
        self.kind
    }

    /// The host's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error text that carries this error across the ABI, kind first,
    /// for a provider that [`reads_failure_kinds`](crate::ffi::reads_failure_kinds).
    pub fn into_ffi_text(self) -> RString {
        RString::from(format!(
            "{KIND_MARK}{}{KIND_MARK}{}",
            self.kind.name(),
            self.message
        ))
    }

    /// Reads an error text from the host: with a kind in front (a host of
    /// SDK 0.1.1 or later), or a plain message (an older host), whose kind
    /// is [`CallErrorKind::Other`].
    pub fn from_ffi_text(text: RString) -> CallError {
        let tagged = text
            .strip_prefix(KIND_MARK)
            .and_then(|rest| rest.split_once(KIND_MARK));
        match tagged {
            Some((kind, message)) => CallError::new(CallErrorKind::from_name(kind), message),
            None => CallError::new(CallErrorKind::Other, text.into_string()),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

impl From<CallError> for ProviderError {
    fn from(e: CallError) -> Self {
        ProviderError::new(e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [CallErrorKind; 4] = [
        CallErrorKind::Unavailable,
        CallErrorKind::Timeout,
        CallErrorKind::ActorFailed,
        CallErrorKind::Other,
    ];

    #[test]
    fn every_kind_crosses_the_abi_and_the_wire_unchanged() {
        for kind in KINDS {
            let sent = CallError::new(kind, "call to actor M timed out");
            assert_eq!(CallError::from_ffi_text(sent.clone().into_ffi_text()), sent);
            assert_eq!(CallErrorKind::from_name(kind.name()), kind);
        }
    }

    #[test]
    fn a_kind_from_a_newer_host_reads_as_other() {
        let text = RString::from("\u{1}overloaded\u{1}try later");
        assert_eq!(
            CallError::from_ffi_text(text),
            CallError::new(CallErrorKind::Other, "try later")
        );
        assert_eq!(CallErrorKind::from_name("overloaded"), CallErrorKind::Other);
    }

    #[test]
    fn a_plain_message_from_an_older_host_reads_as_other() {
        let text = RString::from("no actor M is running");
        let error = CallError::from_ffi_text(text);
        assert_eq!(
            error,
            CallError::new(CallErrorKind::Other, "no actor M is running")
        );
        assert_eq!(
            ProviderError::from(error).message(),
            "no actor M is running"
        );
    }
}
