//! Which hosts a member currently sees, from their heartbeats.

use super::protocol::Inventory;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The other hosts of the lattice, as last heard from.
#[derive(Default)]
pub struct View {
    peers: HashMap<String, (Inventory, Instant)>,
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
    /// Records `inventory`, heard just now.
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

    /// Drops hosts silent for longer than `silence`, returning their ids.
    pub fn expire(&mut self, silence: Duration) -> Vec<String> {
        let gone: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, (_, heard))| heard.elapsed() > silence)
            .map(|(host, _)| host.clone())
            .collect();
        for host in &gone {
            self.peers.remove(host);
        }
        gone
    }

    /// Whether `host` is in the view.
    pub fn contains(&self, host: &str) -> bool {
        self.peers.contains_key(host)
    }

    /// The inventories of every host in the view.
    pub fn inventories(&self) -> Vec<Inventory> {
        self.peers
            .values()
            .map(|(inventory, _)| inventory.clone())
            .collect()
    }
}
