//! Counting what the lattice refused, and saying so without flooding the log.
//!
//! An attacker can send a message per microsecond; a log line each would
//! be a second attack. Every refusal is counted; a warning names the
//! latest one at most once per [`QUIET`], with how many came since.

use crate::sync::Locked;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least time between two refusal warnings.
pub const QUIET: Duration = Duration::from_secs(5);

/// Why a lattice message was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a sealed message, in a trusted lattice.
    Unsealed,
    /// Cut short or malformed.
    Malformed,
    /// Sealed by a cluster key this member does not trust.
    UntrustedIssuer,
    /// The signer's credential or signature does not hold, or a control
    /// message is not signed.
    BadSignature,
    /// It does not open with any key this member holds (or was altered).
    CannotOpen,
    /// Its nonce was seen before.
    Replayed,
    /// Sealed too long ago, or in the future.
    OutOfWindow,
    /// Sealed for another subject or reply subject.
    WrongSubject,
    /// Signed by a member that is not who the message says it is from, or
    /// that may not ask for it.
    WrongSender,
    /// A call from an actor its host does not vouch for, or without the
    /// capability it calls; a bind of an actor no host advertises with the
    /// capability.
    NotEntitled,
}

impl Refusal {
    /// What a log line says.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Unsealed => "not sealed with the cluster's keys",
            Refusal::Malformed => "malformed",
            Refusal::UntrustedIssuer => "sealed by an untrusted cluster key",
            Refusal::BadSignature => "signature or credential does not hold",
            Refusal::CannotOpen => "does not open with the cluster's keys",
            Refusal::Replayed => "replayed",
            Refusal::OutOfWindow => "too old or from the future",
            Refusal::WrongSubject => "sealed for another subject",
            Refusal::WrongSender => "signed by someone other than its sender",
            Refusal::NotEntitled => "the actor is not entitled to it",
        }
    }
}

/// How many messages were refused, and when it was last said.
#[derive(Default)]
pub struct Refusals {
    total: AtomicU64,
    said: Mutex<Said>,
}

#[derive(Default)]
struct Said {
    at: Option<Instant>,
    /// Refusals since the last warning.
    unsaid: u64,
}

impl Refusals {
    /// Counts one refusal of a message on `subject`, and warns when the
    /// last warning is old enough.
    pub fn refuse(&self, why: Refusal, subject: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut said = self.said.locked("lattice refusals");
        said.unsaid += 1;
        if said.at.is_some_and(|at| at.elapsed() < QUIET) {
            return;
        }
        let count = std::mem::take(&mut said.unsaid);
        said.at = Some(Instant::now());
        drop(said);
        tracing::warn!(
            refused = count,
            total = self.total(),
            subject,
            "lattice message refused: {} ({count} refused since the last warning)",
            why.describe()
        );
    }

    /// Every refusal so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_counts_but_a_flood_says_it_once() {
        let refusals = Refusals::default();
        for _ in 0..1000 {
            refusals.refuse(Refusal::Replayed, "trellis.default.actor.M");
        }
        assert_eq!(refusals.total(), 1000);
        let said = refusals.said.locked("test");
        assert_eq!(said.unsaid, 999, "one warning, the rest wait for the next");
    }
}
