//! One policy for poisoned locks.
//!
//! A lock is poisoned when a thread panicked while holding it. In this host
//! that can only be a bug of ours (provider panics are caught at the ABI
//! boundary, guest traps never unwind), so it is never ignored: the first
//! time a lock is found poisoned an error naming it goes to the log, and the
//! guard is taken anyway. The data behind every lock here is a registry
//! (maps and lists updated by whole inserts and removes), so it stays
//! consistent, and a host that keeps serving is better than one that
//! pretends an update happened when it did not.
//!
//! Every `Mutex` and `RwLock` in the host is taken through [`Locked`]:
//!
//! ```ignore
//! use crate::sync::Locked;
//! let bindings = self.bindings.locked("host bindings");
//! ```

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Takes a lock whatever its poison state, reporting a poisoned one.
pub(crate) trait Locked<T> {
    /// The mutex's guard; `what` names the lock in the report.
    fn locked(&self, what: &'static str) -> MutexGuard<'_, T>;
}

/// Takes a read or write lock whatever its poison state, reporting a poisoned one.
pub(crate) trait RwLocked<T> {
    /// A read guard; `what` names the lock in the report.
    fn read_locked(&self, what: &'static str) -> RwLockReadGuard<'_, T>;
    /// A write guard; `what` names the lock in the report.
    fn write_locked(&self, what: &'static str) -> RwLockWriteGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self, what: &'static str) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|poisoned| {
            report(what);
            // Reported once: the next taker finds the lock healthy.
            self.clear_poison();
            poisoned.into_inner()
        })
    }
}

impl<T> RwLocked<T> for RwLock<T> {
    fn read_locked(&self, what: &'static str) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|poisoned| {
            report(what);
            self.clear_poison();
            poisoned.into_inner()
        })
    }

    fn write_locked(&self, what: &'static str) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(|poisoned| {
            report(what);
            self.clear_poison();
            poisoned.into_inner()
        })
    }
}

fn report(what: &'static str) {
    tracing::error!(
        lock = what,
        "a thread panicked while holding this lock (a bug in the host: please report it); \
         carrying on with its data"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn poison<T: Send + Sync + 'static>(lock: Arc<T>, hold: impl Fn(&T) + Send + 'static) {
        let held = Arc::clone(&lock);
        let outcome = std::thread::spawn(move || {
            hold(&held);
        })
        .join();
        assert!(outcome.is_err(), "the holder was meant to panic");
    }

    #[test]
    fn a_poisoned_mutex_still_gives_its_data() {
        let lock = Arc::new(Mutex::new(vec![1]));
        poison(Arc::clone(&lock), |m| {
            let _guard = m.lock();
            panic!("bug while holding the lock");
        });
        assert!(lock.is_poisoned());
        lock.locked("test list").push(2);
        assert!(!lock.is_poisoned(), "reported once, then healthy");
        assert_eq!(*lock.locked("test list"), vec![1, 2]);
    }

    #[test]
    fn a_poisoned_rwlock_still_gives_its_data() {
        let lock = Arc::new(RwLock::new(1));
        poison(Arc::clone(&lock), |l| {
            let _guard = l.write();
            panic!("bug while holding the lock");
        });
        *lock.write_locked("test value") += 1;
        assert!(!lock.is_poisoned(), "reported once, then healthy");
        assert_eq!(*lock.read_locked("test value"), 2);
    }
}
