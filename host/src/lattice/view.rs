//! Which hosts a member currently sees, from their heartbeats.
//!
//! The view is plain bookkeeping: it never talks to NATS. Membership feeds
//! it what arrives and acts on what it answers ([`Seen`], expired hosts).
//! Time is tokio's, so the rules are tested with the clock paused.

use super::protocol::Inventory;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The other hosts of the lattice, as last heard from.
pub struct View {
    peers: HashMap<String, (Inventory, Instant)>,
    silence: Duration,
}

/// What a heartbeat changed in the view.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// A host not seen before (or seen again after it was dropped).
    New,
    /// A host already in the view.
    Known,
    /// A host said goodbye.
    Left,
}

impl View {
    /// An empty view of a lattice beating every `heartbeat`: a host silent
    /// for two and a half beats (two missed, with half a beat of slack for
    /// delivery) is dropped.
    pub fn new(heartbeat: Duration) -> Self {
        View {
            peers: HashMap::new(),
            silence: heartbeat * 2 + heartbeat / 2,
        }
    }

    /// Records `inventory`, heard just now; a goodbye drops its host at once.
    pub fn record(&mut self, inventory: Inventory) -> Seen {
        if inventory.leaving {
            return match self.peers.remove(&inventory.host) {
                Some(_) => Seen::Left,
                None => Seen::Known,
            };
        }
        let host = inventory.host.clone();
        match self.peers.insert(host, (inventory, Instant::now())) {
            Some(_) => Seen::Known,
            None => Seen::New,
        }
    }

    /// Drops hosts silent for too long, returning their ids.
    pub fn expire(&mut self) -> Vec<String> {
        let gone: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, (_, heard))| heard.elapsed() > self.silence)
            .map(|(host, _)| host.clone())
            .collect();
        for host in &gone {
            self.peers.remove(host);
        }
        gone
    }

    /// Whether `host` advertises `actor` with `capability` in its claims;
    /// `None` when `host` is not in the view.
    pub fn vouches(&self, host: &str, actor: &str, capability: &str) -> Option<bool> {
        let (inventory, _) = self.peers.get(host)?;
        Some(
            inventory
                .actors
                .iter()
                .any(|a| a.id == actor && a.caps.iter().any(|c| c == capability)),
        )
    }

    /// The inventories of every host in the view.
    pub fn inventories(&self) -> Vec<Inventory> {
        self.peers
            .values()
            .map(|(inventory, _)| inventory.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{Seen, View};
    use crate::lattice::protocol::Inventory;
    use std::time::Duration;
    use tokio::time::advance;

    const BEAT: Duration = Duration::from_millis(100);

    fn beat_of(host: &str) -> Inventory {
        Inventory {
            host: host.into(),
            ..Inventory::default()
        }
    }

    fn hosts(view: &View) -> Vec<String> {
        let mut hosts: Vec<String> = view.inventories().into_iter().map(|i| i.host).collect();
        hosts.sort();
        hosts
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_is_dropped_after_two_and_a_half_silent_beats() {
        let mut view = View::new(BEAT);
        assert_eq!(view.record(beat_of("a")), Seen::New);
        assert_eq!(view.record(beat_of("b")), Seen::New);
        advance(Duration::from_millis(200)).await;
        assert_eq!(view.record(beat_of("b")), Seen::Known);

        advance(Duration::from_millis(50)).await; // a: 250 ms, exactly the limit
        assert!(view.expire().is_empty());
        assert_eq!(hosts(&view), ["a", "b"]);

        advance(Duration::from_millis(1)).await; // a: 251 ms, b: 51 ms
        assert_eq!(view.expire(), ["a"]);
        assert_eq!(hosts(&view), ["b"]);

        advance(Duration::from_millis(200)).await; // b: 251 ms
        assert_eq!(view.expire(), ["b"]);
        assert!(view.inventories().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_host_that_beats_again_is_new() {
        let mut view = View::new(BEAT);
        view.record(beat_of("a"));
        advance(Duration::from_millis(300)).await;
        assert_eq!(view.expire(), ["a"]);
        assert_eq!(view.record(beat_of("a")), Seen::New);
    }

    #[tokio::test(start_paused = true)]
    async fn a_goodbye_drops_a_host_at_once() {
        let mut view = View::new(BEAT);
        view.record(beat_of("a"));
        view.record(beat_of("b"));
        let goodbye = Inventory {
            leaving: true,
            ..beat_of("a")
        };
        assert_eq!(view.record(goodbye.clone()), Seen::Left);
        assert_eq!(hosts(&view), ["b"]);
        // A second goodbye (or one from a host never seen) changes nothing.
        assert_eq!(view.record(goodbye), Seen::Known);
        assert_eq!(hosts(&view), ["b"]);
    }
}
