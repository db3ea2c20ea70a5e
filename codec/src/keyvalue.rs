//! `wascc:keyvalue`: strings, atomic counters, lists and sets under keys.

use serde::{Deserialize, Serialize};

/// The capability id.
pub const CAPABILITY: &str = "wascc:keyvalue";
/// Operation names, as actors send them.
pub mod op {
    /// [`super::GetRequest`] → [`super::GetResponse`]
    pub const GET: &str = "Get";
    /// [`super::SetRequest`] → [`super::SetResponse`]
    pub const SET: &str = "Set";
    /// [`super::AddRequest`] → [`super::AddResponse`]
    pub const ADD: &str = "Add";
    /// [`super::DelRequest`] → [`super::DelResponse`]
    pub const DEL: &str = "Del";
    /// [`super::KeyRequest`] → [`super::GetResponse`]
    pub const KEY_EXISTS: &str = "KeyExists";
    /// [`super::ListItemRequest`] → [`super::ListResponse`]
    pub const PUSH: &str = "Push";
    /// [`super::ListItemRequest`] → [`super::ListResponse`]
    pub const LIST_ITEM_DELETE: &str = "ListItemDelete";
    /// [`super::KeyRequest`] → [`super::ListResponse`]
    pub const CLEAR: &str = "Clear";
    /// [`super::RangeRequest`] → [`super::ValuesResponse`]
    pub const RANGE: &str = "Range";
    /// [`super::ListItemRequest`] → [`super::ListResponse`]
    pub const SET_ADD: &str = "SetAdd";
    /// [`super::ListItemRequest`] → [`super::ListResponse`]
    pub const SET_REMOVE: &str = "SetRemove";
    /// [`super::KeyRequest`] → [`super::ValuesResponse`]
    pub const SET_QUERY: &str = "SetQuery";
    /// [`super::KeysRequest`] → [`super::ValuesResponse`]
    pub const SET_UNION: &str = "SetUnion";
    /// [`super::KeysRequest`] → [`super::ValuesResponse`]
    pub const SET_INTERSECTION: &str = "SetIntersection";
}

/// `{key}`: Get, KeyExists, Clear, SetQuery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyRequest {
    /// The key.
    pub key: String,
}

/// Get's request has the shape of [`KeyRequest`].
pub type GetRequest = KeyRequest;

/// `{value, exists}`: the answer to Get and KeyExists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetResponse {
    /// The value, empty when the key does not exist.
    pub value: String,
    /// Whether the key exists.
    pub exists: bool,
}

/// `{key, value, expires}`: set a string value, expiring after `expires` seconds (0 = never).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SetRequest {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// Seconds until the key expires; 0 = never.
    pub expires: i32,
}

/// `{value}`: the value that was set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SetResponse {
    /// The value.
    pub value: String,
}

/// `{key, value}`: atomically add `value` to the counter under `key`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddRequest {
    /// The key.
    pub key: String,
    /// The amount to add (may be negative).
    pub value: i32,
}

/// `{value}`: the counter's new value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddResponse {
    /// The new value.
    pub value: i32,
}

/// Del's request has the shape of [`KeyRequest`].
pub type DelRequest = KeyRequest;

/// `{key}`: the key that was deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DelResponse {
    /// The key.
    pub key: String,
}

/// `{key, value}`: Push, ListItemDelete, SetAdd, SetRemove.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListItemRequest {
    /// The list's or set's key.
    pub key: String,
    /// The item.
    pub value: String,
}

/// `{newCount}`: the size of the list or set after the change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListResponse {
    /// The new number of items.
    pub new_count: i32,
}

/// `{key, start, stop}`: the list items from `start` to `stop`, inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RangeRequest {
    /// The list's key.
    pub key: String,
    /// The first index.
    pub start: i32,
    /// The last index (inclusive; negative counts from the end).
    pub stop: i32,
}

/// `{keys}`: SetUnion, SetIntersection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeysRequest {
    /// The sets' keys.
    pub keys: Vec<String>,
}

/// `{values}`: Range, SetQuery, SetUnion, SetIntersection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ValuesResponse {
    /// The items.
    pub values: Vec<String>,
}
