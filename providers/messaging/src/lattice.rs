//! The lattice's subjects, which an actor may not reach through this
//! provider unless its binding opts in.
//!
//! The lattice's own traffic (invocations of actors and providers, host
//! control, inventories, heartbeats, events) lives under
//! `trellis.<namespace>.…`, and the provider's default server is the one the
//! lattice uses. Left open, an actor granted `wascc:messaging` could invoke
//! any actor as if it were a host, answer for a provider, or read every
//! invocation. So, by default, a binding may neither publish nor request on a
//! subject whose first token is `trellis`, nor subscribe to a subject that
//! could match one (first token `trellis`, `*` or `>`). A binding with
//! `ALLOW_LATTICE_SUBJECTS=true` lifts this, for operators who knowingly
//! bridge into the lattice.

use crate::config::{ALLOW_LATTICE_SUBJECTS_KEY, SUBSCRIPTION_KEY};
use crate::MessagingError;

/// The first token of every subject the lattice uses.
pub const LATTICE_ROOT: &str = "trellis";

/// The text of `subject` before its first `.` (all of it when it has none).
fn first_token(subject: &str) -> &str {
    subject.split('.').next().unwrap_or(subject)
}

/// Whether a message sent to `subject` could reach a lattice subscriber.
/// Wildcards in a published subject are literal, so only the root counts.
pub(crate) fn publish_touches_lattice(subject: &str) -> bool {
    first_token(subject) == LATTICE_ROOT
}

/// Whether a subscription to `subject` could receive lattice messages: its
/// first token is the root or a wildcard that matches the root.
pub(crate) fn subscription_touches_lattice(subject: &str) -> bool {
    matches!(first_token(subject), LATTICE_ROOT | "*" | ">")
}

/// What a binding is allowed to do with the lattice's subjects: the one
/// decision [`Config`](crate::config::Config) carries to bind and call time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LatticeGuard {
    /// `ALLOW_LATTICE_SUBJECTS=true`: nothing is refused.
    pub(crate) allowed: bool,
}

impl LatticeGuard {
    /// Refuses `subscription` for `actor` when it could receive lattice
    /// messages; the refusal is logged.
    pub(crate) fn check_subscription(
        self,
        actor: &str,
        subscription: &str,
    ) -> Result<(), MessagingError> {
        if self.allowed || !subscription_touches_lattice(subscription) {
            return Ok(());
        }
        tracing::warn!(
            actor,
            subject = subscription,
            "{SUBSCRIPTION_KEY} refused: it could receive the lattice's subjects \
             (set {ALLOW_LATTICE_SUBJECTS_KEY}=true on the binding to allow it)"
        );
        Err(MessagingError::LatticeSubscription(subscription.to_owned()))
    }

    /// Refuses `subject` (used as `role`: "subject" or "reply subject") of a
    /// publication or request by `actor` when it is a lattice subject; the
    /// refusal is logged.
    pub(crate) fn check_send(
        self,
        actor: &str,
        role: &'static str,
        subject: &str,
    ) -> Result<(), MessagingError> {
        if self.allowed || !publish_touches_lattice(subject) {
            return Ok(());
        }
        tracing::warn!(
            actor,
            subject,
            "{role} refused: it is reserved for the lattice \
             (set {ALLOW_LATTICE_SUBJECTS_KEY}=true on the binding to allow it)"
        );
        Err(MessagingError::LatticeSubject {
            role,
            subject: subject.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_touches_the_lattice_only_under_its_root() {
        for subject in ["trellis", "trellis.default.actor.MABC", "trellis.>"] {
            assert!(publish_touches_lattice(subject), "{subject}");
        }
        for subject in [
            "trellisx.foo",
            "trellisfoo",
            "Trellis.default",
            "orders.trellis",
            "_INBOX.abc",
            "*.default.heartbeat",
            ">",
            "",
        ] {
            assert!(!publish_touches_lattice(subject), "{subject}");
        }
    }

    #[test]
    fn subscriptions_touch_the_lattice_under_its_root_or_a_leading_wildcard() {
        for subject in [
            "trellis",
            "trellis.>",
            "trellis.*.heartbeat",
            ">",
            "*",
            "*.default.heartbeat",
            "*.>",
        ] {
            assert!(subscription_touches_lattice(subject), "{subject}");
        }
        for subject in [
            "trellisx.foo",
            "orders.>",
            "orders.*",
            "a.trellis.>",
            "_INBOX.>",
        ] {
            assert!(!subscription_touches_lattice(subject), "{subject}");
        }
    }

    #[test]
    fn the_guard_refuses_unless_allowed() {
        let closed = LatticeGuard { allowed: false };
        let open = LatticeGuard { allowed: true };
        assert_eq!(
            closed
                .check_send("MA", "subject", "trellis.default.actor.MB")
                .unwrap_err()
                .to_string(),
            "subject trellis.default.actor.MB is reserved for the lattice; \
             set ALLOW_LATTICE_SUBJECTS=true on the binding to allow it"
        );
        assert_eq!(
            closed
                .check_subscription("MA", ">")
                .unwrap_err()
                .to_string(),
            "SUBSCRIPTION > could receive the lattice's subjects (trellis.…); \
             set ALLOW_LATTICE_SUBJECTS=true on the binding to allow it"
        );
        assert_eq!(closed.check_send("MA", "subject", "orders.new"), Ok(()));
        assert_eq!(closed.check_subscription("MA", "orders.>"), Ok(()));
        assert_eq!(
            open.check_send("MA", "subject", "trellis.default.x"),
            Ok(())
        );
        assert_eq!(open.check_subscription("MA", "trellis.>"), Ok(()));
    }
}
