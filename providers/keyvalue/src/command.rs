//! One decoded request and its reply, independent of the backend.

use crate::KvError;
use trellis_codec::keyvalue::{
    op, AddRequest, AddResponse, DelResponse, GetResponse, KeyRequest, KeysRequest,
    ListItemRequest, ListResponse, RangeRequest, SetRequest, SetResponse, ValuesResponse,
};
use trellis_codec::{decode, encode};

/// Every operation the provider serves, in the order of actor-abi §3.
pub const OPERATIONS: [&str; 14] = [
    op::GET,
    op::SET,
    op::ADD,
    op::DEL,
    op::KEY_EXISTS,
    op::PUSH,
    op::LIST_ITEM_DELETE,
    op::CLEAR,
    op::RANGE,
    op::SET_ADD,
    op::SET_REMOVE,
    op::SET_QUERY,
    op::SET_UNION,
    op::SET_INTERSECTION,
];

/// A decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Get(String),
    Set {
        key: String,
        value: String,
        /// Seconds; 0 = never. Never negative (checked when decoding).
        expires: u32,
    },
    Add {
        key: String,
        delta: i32,
    },
    Del(String),
    Exists(String),
    Push {
        key: String,
        value: String,
    },
    ListItemDelete {
        key: String,
        value: String,
    },
    Clear(String),
    Range {
        key: String,
        start: i32,
        stop: i32,
    },
    SetAdd {
        key: String,
        value: String,
    },
    SetRemove {
        key: String,
        value: String,
    },
    SetQuery(String),
    SetUnion(Vec<String>),
    SetIntersection(Vec<String>),
}

/// What a backend answers, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Get: the value, `None` when the key does not exist.
    Value(Option<String>),
    /// Set: the value that was set.
    Stored(String),
    /// Add: the counter's new value.
    Counter(i64),
    /// Del: the key.
    Deleted(String),
    /// KeyExists.
    Exists(bool),
    /// Push, ListItemDelete, Clear, SetAdd, SetRemove: the new size.
    Count(i64),
    /// Range, SetQuery, SetUnion, SetIntersection.
    Values(Vec<String>),
}

impl Command {
    /// Decodes the payload of `operation`.
    pub(crate) fn decode(operation: &str, payload: &[u8]) -> Result<Command, KvError> {
        let bad = |source| KvError::Decode {
            operation: operation.to_owned(),
            source,
        };
        let item = |payload| -> Result<(String, String), KvError> {
            let r: ListItemRequest = decode(payload).map_err(bad)?;
            Ok((r.key, r.value))
        };
        let key = |payload| -> Result<String, KvError> {
            let r: KeyRequest = decode(payload).map_err(bad)?;
            Ok(r.key)
        };
        let keys = |payload| -> Result<Vec<String>, KvError> {
            let r: KeysRequest = decode(payload).map_err(bad)?;
            Ok(r.keys)
        };
        Ok(match operation {
            op::GET => Command::Get(key(payload)?),
            op::SET => {
                let r: SetRequest = decode(payload).map_err(bad)?;
                let expires =
                    u32::try_from(r.expires).map_err(|_| KvError::NegativeExpiry(r.expires))?;
                Command::Set {
                    key: r.key,
                    value: r.value,
                    expires,
                }
            }
            op::ADD => {
                let r: AddRequest = decode(payload).map_err(bad)?;
                Command::Add {
                    key: r.key,
                    delta: r.value,
                }
            }
            op::DEL => Command::Del(key(payload)?),
            op::KEY_EXISTS => Command::Exists(key(payload)?),
            op::PUSH => {
                let (key, value) = item(payload)?;
                Command::Push { key, value }
            }
            op::LIST_ITEM_DELETE => {
                let (key, value) = item(payload)?;
                Command::ListItemDelete { key, value }
            }
            op::CLEAR => Command::Clear(key(payload)?),
            op::RANGE => {
                let r: RangeRequest = decode(payload).map_err(bad)?;
                Command::Range {
                    key: r.key,
                    start: r.start,
                    stop: r.stop,
                }
            }
            op::SET_ADD => {
                let (key, value) = item(payload)?;
                Command::SetAdd { key, value }
            }
            op::SET_REMOVE => {
                let (key, value) = item(payload)?;
                Command::SetRemove { key, value }
            }
            op::SET_QUERY => Command::SetQuery(key(payload)?),
            op::SET_UNION => Command::SetUnion(keys(payload)?),
            op::SET_INTERSECTION => Command::SetIntersection(keys(payload)?),
            other => return Err(KvError::UnknownOperation(other.to_owned())),
        })
    }
}

impl Reply {
    /// Encodes the reply in the shape actor-abi §3 gives for its operation.
    pub(crate) fn encode(self) -> Result<Vec<u8>, KvError> {
        let bytes = match self {
            Reply::Value(value) => encode(&GetResponse {
                exists: value.is_some(),
                value: value.unwrap_or_default(),
            }),
            Reply::Stored(value) => encode(&SetResponse { value }),
            Reply::Counter(value) => encode(&AddResponse {
                value: i32::try_from(value).map_err(|_| KvError::TooLarge {
                    what: "counter",
                    value,
                })?,
            }),
            Reply::Deleted(key) => encode(&DelResponse { key }),
            Reply::Exists(exists) => encode(&GetResponse {
                value: String::new(),
                exists,
            }),
            Reply::Count(count) => encode(&ListResponse {
                new_count: i32::try_from(count).map_err(|_| KvError::TooLarge {
                    what: "item count",
                    value: count,
                })?,
            }),
            Reply::Values(values) => encode(&ValuesResponse { values }),
        };
        bytes.map_err(KvError::Encode)
    }
}

/// Redis `LRANGE` index arithmetic: the half-open range of `len` items that
/// `start..=stop` selects (negative indices count from the end), or `None`.
pub(crate) fn list_range(len: usize, start: i32, stop: i32) -> Option<std::ops::Range<usize>> {
    let len = i64::try_from(len).ok()?;
    let (mut start, mut stop) = (i64::from(start), i64::from(stop));
    if start < 0 {
        start += len;
    }
    if stop < 0 {
        stop += len;
    }
    start = start.max(0);
    stop = stop.min(len - 1);
    if start > stop || start >= len {
        return None;
    }
    Some(usize::try_from(start).ok()?..usize::try_from(stop + 1).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_range_follows_lrange() {
        let r = |len, start, stop| list_range(len, start, stop);
        assert_eq!(r(5, 0, -1), Some(0..5));
        assert_eq!(r(5, 0, 0), Some(0..1));
        assert_eq!(r(5, 1, 3), Some(1..4));
        assert_eq!(r(5, -2, -1), Some(3..5));
        assert_eq!(r(5, -100, 100), Some(0..5));
        assert_eq!(r(5, 3, 1), None);
        assert_eq!(r(5, 5, 10), None);
        assert_eq!(r(5, -1, -2), None);
        assert_eq!(r(0, 0, -1), None);
        assert_eq!(r(3, i32::MIN, i32::MAX), Some(0..3));
    }

    #[test]
    fn negative_expiry_is_refused() {
        let payload = encode(&SetRequest {
            key: "k".into(),
            value: "v".into(),
            expires: -1,
        })
        .unwrap();
        assert_eq!(
            Command::decode(op::SET, &payload),
            Err(KvError::NegativeExpiry(-1))
        );
    }

    #[test]
    fn undecodable_payload_names_the_operation() {
        let e = Command::decode(op::GET, &[0xc1]).unwrap_err();
        assert!(e.to_string().starts_with("Get: "), "{e}");
    }

    #[test]
    fn counters_outside_i32_are_errors() {
        assert!(Reply::Counter(i64::from(i32::MAX)).encode().is_ok());
        let e = Reply::Counter(i64::from(i32::MAX) + 1)
            .encode()
            .unwrap_err();
        assert!(e.to_string().contains("32-bit"), "{e}");
    }
}
