//! Refusing replays: a message is taken once, and only while it is fresh.
//!
//! Every sealed message carries a random nonce and the time it was sealed.
//! A receiver remembers the nonces of the last [`WINDOW`] and refuses one
//! seen again; a message sealed longer ago than that (or that far in the
//! future) is refused by its time. So a captured message cannot be sent
//! again, now or later. The memory is bounded: under a flood the oldest
//! nonces are forgotten and the window shrinks to what is remembered.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

/// How far a message's time may be from the receiver's clock. Hosts' clocks
/// must agree within it (NTP keeps them far closer).
pub const WINDOW: Duration = Duration::from_secs(30);

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Its nonce was seen before.
    Replayed,
    /// Its time lies outside the window.
    OutOfWindow,
}

/// The nonces seen within the window.
pub struct ReplayGuard {
    window_ms: u64,
    capacity: usize,
    seen: HashSet<u128>,
    /// Arrival order, to forget the oldest first.
    order: VecDeque<(u64, u128)>,
    /// Messages sealed before this are refused: the window, or the time of
    /// the newest nonce forgotten for room.
    floor_ms: u64,
}

impl ReplayGuard {
    /// Remembers at most `capacity` nonces.
    pub fn new(capacity: usize) -> Self {
        ReplayGuard {
            window_ms: WINDOW.as_millis() as u64,
            capacity,
            seen: HashSet::new(),
            order: VecDeque::new(),
            floor_ms: 0,
        }
    }

    /// Takes the message with `nonce` sealed at `sent_at_ms`, heard at `now_ms`.
    pub fn admit(&mut self, nonce: &[u8], sent_at_ms: u64, now_ms: u64) -> Result<(), Stale> {
        let oldest = now_ms.saturating_sub(self.window_ms).max(self.floor_ms);
        if sent_at_ms < oldest || sent_at_ms > now_ms + self.window_ms {
            return Err(Stale::OutOfWindow);
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&nonce[..16]);
        let id = u128::from_le_bytes(id);
        if !self.seen.insert(id) {
            return Err(Stale::Replayed);
        }
        self.order.push_back((sent_at_ms, id));
        self.forget(now_ms);
        Ok(())
    }

    /// Forgets nonces older than the window, and the oldest beyond capacity.
    fn forget(&mut self, now_ms: u64) {
        let oldest = now_ms.saturating_sub(self.window_ms);
        while let Some(&(sent, id)) = self.order.front() {
            let full = self.order.len() > self.capacity;
            if sent >= oldest && !full {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&id);
            if full {
                self.floor_ms = self.floor_ms.max(sent + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    fn nonce(n: u8) -> [u8; 24] {
        [n; 24]
    }

    #[test]
    fn a_message_is_taken_once() {
        let mut guard = ReplayGuard::new(100);
        assert_eq!(guard.admit(&nonce(1), NOW, NOW), Ok(()));
        assert_eq!(guard.admit(&nonce(1), NOW, NOW + 5), Err(Stale::Replayed));
        assert_eq!(guard.admit(&nonce(2), NOW, NOW + 5), Ok(()));
    }

    #[test]
    fn a_message_outside_the_window_is_refused_by_its_time() {
        let mut guard = ReplayGuard::new(100);
        let window = WINDOW.as_millis() as u64;
        assert_eq!(
            guard.admit(&nonce(1), NOW - window - 1, NOW),
            Err(Stale::OutOfWindow)
        );
        assert_eq!(
            guard.admit(&nonce(2), NOW + window + 1, NOW),
            Err(Stale::OutOfWindow)
        );
        assert_eq!(guard.admit(&nonce(3), NOW - window + 10, NOW), Ok(()));
        // Forgotten once it leaves the window, and then refused by its time.
        assert_eq!(
            guard.admit(&nonce(3), NOW - window + 10, NOW + 20),
            Err(Stale::OutOfWindow)
        );
    }

    #[test]
    fn a_flood_shrinks_the_window_instead_of_the_memory() {
        let mut guard = ReplayGuard::new(3);
        for n in 0..5u8 {
            assert_eq!(guard.admit(&nonce(n), NOW + n as u64, NOW + 10), Ok(()));
        }
        assert!(guard.seen.len() <= 3);
        // The forgotten nonces cannot come back: their time is now too old.
        assert_eq!(
            guard.admit(&nonce(0), NOW, NOW + 10),
            Err(Stale::OutOfWindow)
        );
        assert_eq!(
            guard.admit(&nonce(4), NOW + 4, NOW + 10),
            Err(Stale::Replayed)
        );
    }
}
