//! The in-memory backend: one map per binding, with Redis's semantics.

use crate::command::{list_range, Command, Reply};
use crate::KvError;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How many operations pass between two sweeps of expired keys.
const SWEEP_EVERY: u64 = 1024;

#[derive(Debug, Clone)]
enum Value {
    /// A string; counters are strings holding an integer, as in Redis.
    Str(String),
    /// A list; never empty (an emptied list is removed, as in Redis).
    List(Vec<String>),
    /// A set; never empty.
    Set(BTreeSet<String>),
}

#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<String, Entry>,
    operations: u64,
}

impl Map {
    /// The live entry under `key`; an expired one is removed first.
    fn get_mut(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| !e.live(now)) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn list_mut(&mut self, key: &str, now: Instant) -> Result<Option<&mut Vec<String>>, KvError> {
        match self.get_mut(key, now).map(|e| &mut e.value) {
            None => Ok(None),
            Some(Value::List(list)) => Ok(Some(list)),
            Some(_) => Err(KvError::WrongType),
        }
    }

    fn set_mut(
        &mut self,
        key: &str,
        now: Instant,
    ) -> Result<Option<&mut BTreeSet<String>>, KvError> {
        match self.get_mut(key, now).map(|e| &mut e.value) {
            None => Ok(None),
            Some(Value::Set(set)) => Ok(Some(set)),
            Some(_) => Err(KvError::WrongType),
        }
    }

    /// A copy of the set under `key` (empty when absent).
    fn set_copy(&mut self, key: &str, now: Instant) -> Result<BTreeSet<String>, KvError> {
        Ok(self.set_mut(key, now)?.cloned().unwrap_or_default())
    }

    fn insert(&mut self, key: &str, value: Value) {
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires_at: None,
            },
        );
    }

    fn sweep(&mut self, now: Instant) {
        self.operations = self.operations.wrapping_add(1);
        if self.operations % SWEEP_EVERY == 0 {
            self.entries.retain(|_, e| e.live(now));
        }
    }
}

/// An in-memory store: a map of typed values behind a mutex.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    map: Mutex<Map>,
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Map> {
        // A panic while holding the lock cannot leave a half-written entry
        // behind (every change is one map operation), so keep going.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn execute(&self, command: Command) -> Result<Reply, KvError> {
        let now = Instant::now();
        let mut map = self.lock();
        map.sweep(now);
        match command {
            Command::Get(key) => match map.get_mut(&key, now).map(|e| &e.value) {
                None => Ok(Reply::Value(None)),
                Some(Value::Str(s)) => Ok(Reply::Value(Some(s.clone()))),
                Some(_) => Err(KvError::WrongType),
            },
            Command::Set {
                key,
                value,
                expires,
            } => {
                let expires_at =
                    (expires > 0).then(|| now + Duration::from_secs(u64::from(expires)));
                map.entries.insert(
                    key,
                    Entry {
                        value: Value::Str(value.clone()),
                        expires_at,
                    },
                );
                Ok(Reply::Stored(value))
            }
            Command::Add { key, delta } => {
                let entry = map.get_mut(&key, now);
                let current = match entry.as_ref().map(|e| &e.value) {
                    None => 0,
                    Some(Value::Str(s)) => parse_integer(s)?,
                    Some(_) => return Err(KvError::WrongType),
                };
                let new = current
                    .checked_add(i64::from(delta))
                    .ok_or(KvError::Overflow)?;
                match entry {
                    // INCRBY keeps the key's expiry.
                    Some(e) => e.value = Value::Str(new.to_string()),
                    None => map.insert(&key, Value::Str(new.to_string())),
                }
                Ok(Reply::Counter(new))
            }
            Command::Del(key) => {
                map.entries.remove(&key);
                Ok(Reply::Deleted(key))
            }
            Command::Exists(key) => Ok(Reply::Exists(map.get_mut(&key, now).is_some())),
            Command::Push { key, value } => match map.list_mut(&key, now)? {
                Some(list) => {
                    list.push(value);
                    Ok(Reply::Count(count(list.len())))
                }
                None => {
                    map.insert(&key, Value::List(vec![value]));
                    Ok(Reply::Count(1))
                }
            },
            Command::ListItemDelete { key, value } => {
                let Some(list) = map.list_mut(&key, now)? else {
                    return Ok(Reply::Count(0));
                };
                list.retain(|item| *item != value);
                let len = list.len();
                if len == 0 {
                    map.entries.remove(&key);
                }
                Ok(Reply::Count(count(len)))
            }
            Command::Clear(key) => {
                map.entries.remove(&key);
                Ok(Reply::Count(0))
            }
            Command::Range { key, start, stop } => {
                let values = match map.list_mut(&key, now)? {
                    None => Vec::new(),
                    Some(list) => list_range(list.len(), start, stop)
                        .and_then(|range| list.get(range))
                        .map(<[String]>::to_vec)
                        .unwrap_or_default(),
                };
                Ok(Reply::Values(values))
            }
            Command::SetAdd { key, value } => match map.set_mut(&key, now)? {
                Some(set) => {
                    set.insert(value);
                    Ok(Reply::Count(count(set.len())))
                }
                None => {
                    map.insert(&key, Value::Set(BTreeSet::from([value])));
                    Ok(Reply::Count(1))
                }
            },
            Command::SetRemove { key, value } => {
                let Some(set) = map.set_mut(&key, now)? else {
                    return Ok(Reply::Count(0));
                };
                set.remove(&value);
                let len = set.len();
                if len == 0 {
                    map.entries.remove(&key);
                }
                Ok(Reply::Count(count(len)))
            }
            Command::SetQuery(key) => Ok(Reply::Values(
                map.set_copy(&key, now)?.into_iter().collect(),
            )),
            Command::SetUnion(keys) => {
                let mut union = BTreeSet::new();
                for key in &keys {
                    union.extend(map.set_copy(key, now)?);
                }
                Ok(Reply::Values(union.into_iter().collect()))
            }
            Command::SetIntersection(keys) => {
                let mut sets = Vec::with_capacity(keys.len());
                // Like SINTER, look at every key (a wrong type is an error
                // even after an empty set).
                for key in &keys {
                    sets.push(map.set_copy(key, now)?);
                }
                let mut sets = sets.into_iter();
                let Some(first) = sets.next() else {
                    return Ok(Reply::Values(Vec::new()));
                };
                let intersection = sets.fold(first, |acc, set| &acc & &set);
                Ok(Reply::Values(intersection.into_iter().collect()))
            }
        }
    }
}

/// Parses a counter the way Redis's INCRBY does: a plain decimal `i64`.
fn parse_integer(s: &str) -> Result<i64, KvError> {
    if s.starts_with('+') || s.len() > 20 {
        return Err(KvError::NotAnInteger);
    }
    s.parse().map_err(|_| KvError::NotAnInteger)
}
