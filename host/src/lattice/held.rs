//! The holder's half of placement: the bindings this host serves because
//! other hosts (their owners) asked it to.
//!
//! Two owners may declare the same binding: it stays until the last one
//! withdraws, or until every owner has left the lattice. Plain bookkeeping
//! that never talks to NATS; the placement job binds and unbinds what it
//! answers. Time is tokio's, so the rules are tested with the clock paused.

use super::protocol::BindingKey;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// The bindings this host holds for their owners.
pub struct HeldBindings {
    held: HashMap<BindingKey, Held>,
    /// How long a new binding is kept before its owners' absence counts.
    grace: Duration,
}

struct Held {
    owners: BTreeSet<String>,
    since: Instant,
}

impl HeldBindings {
    /// Nothing held yet, in a lattice beating every `heartbeat`: a binding
    /// whose owners all left is removed once it is three beats old.
    pub fn new(heartbeat: Duration) -> Self {
        HeldBindings {
            held: HashMap::new(),
            grace: heartbeat * 3,
        }
    }

    /// Records that `owner` asked for `key`.
    pub fn add_owner(&mut self, key: BindingKey, owner: String) {
        self.held
            .entry(key)
            .or_insert_with(|| Held {
                owners: BTreeSet::new(),
                since: Instant::now(),
            })
            .owners
            .insert(owner);
    }

    /// Forgets `owner` of `key`; true when it was the last owner, and the
    /// binding is to be removed. A binding this host serves for itself, or
    /// for owners that merely adopted it, is not the withdrawing owner's to
    /// remove.
    pub fn remove_owner(&mut self, key: &BindingKey, owner: &str) -> bool {
        let Some(held) = self.held.get_mut(key) else {
            return false;
        };
        if !held.owners.remove(owner) {
            return false;
        }
        let last = held.owners.is_empty();
        if last {
            self.held.remove(key);
        }
        last
    }

    /// The owners of `key`, comma-separated; `None` when this host serves it
    /// for itself.
    pub fn owners_of(&self, key: &BindingKey) -> Option<String> {
        let owners: Vec<&str> = self
            .held
            .get(key)?
            .owners
            .iter()
            .map(String::as_str)
            .collect();
        Some(owners.join(","))
    }

    /// Forgets the owners that are not `alive`, and returns the bindings
    /// left without any (past their grace period): they are to be removed.
    pub fn orphans(&mut self, alive: impl Fn(&str) -> bool) -> Vec<BindingKey> {
        for held in self
            .held
            .values_mut()
            .filter(|h| h.since.elapsed() > self.grace)
        {
            held.owners.retain(|owner| alive(owner));
        }
        let orphans: Vec<BindingKey> = self
            .held
            .iter()
            .filter(|(_, h)| h.owners.is_empty())
            .map(|(key, _)| key.clone())
            .collect();
        self.held.retain(|_, h| !h.owners.is_empty());
        orphans
    }
}

#[cfg(test)]
mod tests {
    use super::HeldBindings;
    use crate::lattice::protocol::{values_digest, BindingKey};
    use std::collections::HashMap;
    use std::time::Duration;
    use tokio::time::advance;

    const BEAT: Duration = Duration::from_millis(100);

    fn key(port: &str) -> BindingKey {
        BindingKey {
            actor: "MECHO".into(),
            capability: "wascc:http_server".into(),
            binding: "default".into(),
            values_digest: values_digest(&HashMap::from([("PORT".into(), port.into())])),
        }
    }

    #[test]
    fn the_last_owners_withdrawal_removes_a_binding_another_owner_keeps_it() {
        let mut held = HeldBindings::new(BEAT);
        held.add_owner(key("1"), "a".into());
        held.add_owner(key("1"), "b".into());
        assert_eq!(held.owners_of(&key("1")).as_deref(), Some("a,b"));

        assert!(!held.remove_owner(&key("1"), "a"), "b still owns it");
        assert_eq!(held.owners_of(&key("1")).as_deref(), Some("b"));
        assert!(held.remove_owner(&key("1"), "b"), "the last owner");
        assert_eq!(held.owners_of(&key("1")), None);
    }

    #[test]
    fn a_host_that_does_not_own_a_binding_cannot_withdraw_it() {
        let mut held = HeldBindings::new(BEAT);
        assert!(!held.remove_owner(&key("1"), "a"), "served for itself");
        held.add_owner(key("1"), "a".into());
        assert!(!held.remove_owner(&key("1"), "stranger"));
        assert!(!held.remove_owner(&key("2"), "a"), "another binding");
        assert_eq!(held.owners_of(&key("1")).as_deref(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn bindings_whose_owners_all_left_go_after_three_beats() {
        let mut held = HeldBindings::new(BEAT);
        held.add_owner(key("1"), "gone".into());
        held.add_owner(key("2"), "gone".into());
        held.add_owner(key("2"), "here".into());
        let alive = |owner: &str| owner == "here";
        advance(Duration::from_millis(300)).await;
        assert!(held.orphans(alive).is_empty(), "within the grace period");

        advance(Duration::from_millis(1)).await;
        assert_eq!(held.orphans(alive), [key("1")]);
        assert_eq!(held.owners_of(&key("1")), None);
        assert_eq!(held.owners_of(&key("2")).as_deref(), Some("here"));
    }
}
