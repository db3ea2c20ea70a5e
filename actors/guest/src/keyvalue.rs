//! Key-value storage: `wascc:keyvalue`.
//!
//! The free functions use the binding `default`; [`KeyValue::on`] names another.
//!
//! ```no_run
//! use trellis_actor::keyvalue;
//!
//! # fn f() -> Result<(), trellis_actor::Error> {
//! keyvalue::set("greeting", "hello", 0)?;
//! assert_eq!(keyvalue::get("greeting")?.as_deref(), Some("hello"));
//! let visits = keyvalue::add("visits", 1)?;
//! keyvalue::KeyValue::on("sessions").del("abc")?;
//! # let _ = visits; Ok(()) }
//! ```

use crate::codec::keyvalue::{
    AddRequest, AddResponse, DelResponse, GetResponse, KeyRequest, KeysRequest, ListItemRequest,
    ListResponse, RangeRequest, SetRequest, SetResponse, ValuesResponse,
};
use crate::{Error, DEFAULT_BINDING};

pub use trellis_codec::keyvalue::{op, CAPABILITY};

/// A key-value store reached through one binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyValue<'a> {
    binding: &'a str,
}

impl Default for KeyValue<'static> {
    fn default() -> Self {
        KeyValue {
            binding: DEFAULT_BINDING,
        }
    }
}

fn key(key: &str) -> KeyRequest {
    KeyRequest {
        key: key.to_owned(),
    }
}

fn item(key: &str, value: &str) -> ListItemRequest {
    ListItemRequest {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

fn keys(keys: &[&str]) -> KeysRequest {
    KeysRequest {
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
    }
}

impl<'a> KeyValue<'a> {
    /// The store bound under `binding`.
    pub const fn on(binding: &'a str) -> Self {
        KeyValue { binding }
    }

    fn call<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        request: &Req,
    ) -> Result<Resp, Error> {
        crate::call(self.binding, CAPABILITY, operation, request)
    }

    /// `Get`: the string under `key`, `None` when it does not exist.
    pub fn get(&self, k: &str) -> Result<Option<String>, Error> {
        let r: GetResponse = self.call(op::GET, &key(k))?;
        Ok(r.exists.then_some(r.value))
    }

    /// `Set`: stores `value` under `key`, expiring after `expires` seconds (0 = never).
    pub fn set(&self, key: &str, value: &str, expires: i32) -> Result<(), Error> {
        let request = SetRequest {
            key: key.to_owned(),
            value: value.to_owned(),
            expires,
        };
        self.call::<_, SetResponse>(op::SET, &request).map(drop)
    }

    /// `Add`: atomically adds `value` to the counter under `key`; returns the new value.
    pub fn add(&self, key: &str, value: i32) -> Result<i32, Error> {
        let request = AddRequest {
            key: key.to_owned(),
            value,
        };
        let r: AddResponse = self.call(op::ADD, &request)?;
        Ok(r.value)
    }

    /// `Del`: deletes `key`.
    pub fn del(&self, k: &str) -> Result<(), Error> {
        self.call::<_, DelResponse>(op::DEL, &key(k)).map(drop)
    }

    /// `KeyExists`: whether `key` exists.
    pub fn exists(&self, k: &str) -> Result<bool, Error> {
        let r: GetResponse = self.call(op::KEY_EXISTS, &key(k))?;
        Ok(r.exists)
    }

    /// `Push`: appends `value` to the list under `key`; returns the list's new length.
    pub fn push(&self, key: &str, value: &str) -> Result<i32, Error> {
        let r: ListResponse = self.call(op::PUSH, &item(key, value))?;
        Ok(r.new_count)
    }

    /// `ListItemDelete`: removes `value` from the list under `key`; returns the new length.
    pub fn list_item_delete(&self, key: &str, value: &str) -> Result<i32, Error> {
        let r: ListResponse = self.call(op::LIST_ITEM_DELETE, &item(key, value))?;
        Ok(r.new_count)
    }

    /// `Clear`: empties the list under `key`; returns the new length.
    pub fn clear(&self, k: &str) -> Result<i32, Error> {
        let r: ListResponse = self.call(op::CLEAR, &key(k))?;
        Ok(r.new_count)
    }

    /// `Range`: the list items from `start` to `stop` inclusive (negative counts from the end).
    pub fn range(&self, key: &str, start: i32, stop: i32) -> Result<Vec<String>, Error> {
        let request = RangeRequest {
            key: key.to_owned(),
            start,
            stop,
        };
        let r: ValuesResponse = self.call(op::RANGE, &request)?;
        Ok(r.values)
    }

    /// `SetAdd`: adds `value` to the set under `key`; returns the set's new size.
    pub fn set_add(&self, key: &str, value: &str) -> Result<i32, Error> {
        let r: ListResponse = self.call(op::SET_ADD, &item(key, value))?;
        Ok(r.new_count)
    }

    /// `SetRemove`: removes `value` from the set under `key`; returns the set's new size.
    pub fn set_remove(&self, key: &str, value: &str) -> Result<i32, Error> {
        let r: ListResponse = self.call(op::SET_REMOVE, &item(key, value))?;
        Ok(r.new_count)
    }

    /// `SetQuery`: the members of the set under `key`.
    pub fn set_query(&self, k: &str) -> Result<Vec<String>, Error> {
        let r: ValuesResponse = self.call(op::SET_QUERY, &key(k))?;
        Ok(r.values)
    }

    /// `SetUnion`: the union of the sets under `keys`.
    pub fn set_union(&self, k: &[&str]) -> Result<Vec<String>, Error> {
        let r: ValuesResponse = self.call(op::SET_UNION, &keys(k))?;
        Ok(r.values)
    }

    /// `SetIntersection`: the intersection of the sets under `keys`.
    pub fn set_intersection(&self, k: &[&str]) -> Result<Vec<String>, Error> {
        let r: ValuesResponse = self.call(op::SET_INTERSECTION, &keys(k))?;
        Ok(r.values)
    }
}

/// [`KeyValue::get`] on the default binding.
pub fn get(key: &str) -> Result<Option<String>, Error> {
    KeyValue::default().get(key)
}

/// [`KeyValue::set`] on the default binding.
pub fn set(key: &str, value: &str, expires: i32) -> Result<(), Error> {
    KeyValue::default().set(key, value, expires)
}

/// [`KeyValue::add`] on the default binding.
pub fn add(key: &str, value: i32) -> Result<i32, Error> {
    KeyValue::default().add(key, value)
}

/// [`KeyValue::del`] on the default binding.
pub fn del(key: &str) -> Result<(), Error> {
    KeyValue::default().del(key)
}

/// [`KeyValue::exists`] on the default binding.
pub fn exists(key: &str) -> Result<bool, Error> {
    KeyValue::default().exists(key)
}

/// [`KeyValue::push`] on the default binding.
pub fn push(key: &str, value: &str) -> Result<i32, Error> {
    KeyValue::default().push(key, value)
}

/// [`KeyValue::list_item_delete`] on the default binding.
pub fn list_item_delete(key: &str, value: &str) -> Result<i32, Error> {
    KeyValue::default().list_item_delete(key, value)
}

/// [`KeyValue::clear`] on the default binding.
pub fn clear(key: &str) -> Result<i32, Error> {
    KeyValue::default().clear(key)
}

/// [`KeyValue::range`] on the default binding.
pub fn range(key: &str, start: i32, stop: i32) -> Result<Vec<String>, Error> {
    KeyValue::default().range(key, start, stop)
}

/// [`KeyValue::set_add`] on the default binding.
pub fn set_add(key: &str, value: &str) -> Result<i32, Error> {
    KeyValue::default().set_add(key, value)
}

/// [`KeyValue::set_remove`] on the default binding.
pub fn set_remove(key: &str, value: &str) -> Result<i32, Error> {
    KeyValue::default().set_remove(key, value)
}

/// [`KeyValue::set_query`] on the default binding.
pub fn set_query(key: &str) -> Result<Vec<String>, Error> {
    KeyValue::default().set_query(key)
}

/// [`KeyValue::set_union`] on the default binding.
pub fn set_union(keys: &[&str]) -> Result<Vec<String>, Error> {
    KeyValue::default().set_union(keys)
}

/// [`KeyValue::set_intersection`] on the default binding.
pub fn set_intersection(keys: &[&str]) -> Result<Vec<String>, Error> {
    KeyValue::default().set_intersection(keys)
}
