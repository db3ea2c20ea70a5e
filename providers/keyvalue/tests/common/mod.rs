//! Test harness: binding values for a real `redis-server` (from
//! `trellis-test-support`), and typed calls into [`KeyValue`].

#![allow(dead_code)] // each test binary uses part of it

use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use trellis_codec::keyvalue::*;
use trellis_codec::{decode, encode};
use trellis_provider_keyvalue::KeyValue;
use trellis_test_support::RedisServer;

/// The binding values that select `server`.
pub fn redis_values(server: &RedisServer) -> HashMap<String, String> {
    HashMap::from([("URL".to_owned(), server.url())])
}

/// Typed calls into a [`KeyValue`] as one actor; errors are the caller's text.
pub struct Kv<'a> {
    pub kv: &'a KeyValue,
    pub actor: &'a str,
}

impl Kv<'_> {
    pub async fn raw(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.kv
            .call(self.actor, operation, payload)
            .await
            .map_err(|e| e.to_string())
    }

    async fn req<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        operation: &str,
        request: &Req,
    ) -> Result<Resp, String> {
        let reply = self.raw(operation, &encode(request).unwrap()).await?;
        Ok(decode(&reply).unwrap())
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let r: GetResponse = self.req(op::GET, &k(key)).await?;
        assert!(r.exists || r.value.is_empty(), "a missing key has a value");
        Ok(r.exists.then_some(r.value))
    }

    pub async fn set(&self, key: &str, value: &str, expires: i32) -> Result<String, String> {
        let request = SetRequest {
            key: key.into(),
            value: value.into(),
            expires,
        };
        let r: SetResponse = self.req(op::SET, &request).await?;
        Ok(r.value)
    }

    pub async fn add(&self, key: &str, value: i32) -> Result<i32, String> {
        let request = AddRequest {
            key: key.into(),
            value,
        };
        let r: AddResponse = self.req(op::ADD, &request).await?;
        Ok(r.value)
    }

    pub async fn del(&self, key: &str) -> Result<String, String> {
        let r: DelResponse = self.req(op::DEL, &k(key)).await?;
        Ok(r.key)
    }

    pub async fn exists(&self, key: &str) -> Result<bool, String> {
        let r: GetResponse = self.req(op::KEY_EXISTS, &k(key)).await?;
        assert_eq!(r.value, "");
        Ok(r.exists)
    }

    pub async fn push(&self, key: &str, value: &str) -> Result<i32, String> {
        self.count(op::PUSH, &item(key, value)).await
    }

    pub async fn list_item_delete(&self, key: &str, value: &str) -> Result<i32, String> {
        self.count(op::LIST_ITEM_DELETE, &item(key, value)).await
    }

    pub async fn clear(&self, key: &str) -> Result<i32, String> {
        self.count(op::CLEAR, &k(key)).await
    }

    pub async fn range(&self, key: &str, start: i32, stop: i32) -> Result<Vec<String>, String> {
        let request = RangeRequest {
            key: key.into(),
            start,
            stop,
        };
        self.values(op::RANGE, &request).await
    }

    pub async fn set_add(&self, key: &str, value: &str) -> Result<i32, String> {
        self.count(op::SET_ADD, &item(key, value)).await
    }

    pub async fn set_remove(&self, key: &str, value: &str) -> Result<i32, String> {
        self.count(op::SET_REMOVE, &item(key, value)).await
    }

    pub async fn set_query(&self, key: &str) -> Result<Vec<String>, String> {
        self.values(op::SET_QUERY, &k(key)).await
    }

    pub async fn set_union(&self, keys: &[&str]) -> Result<Vec<String>, String> {
        self.values(op::SET_UNION, &ks(keys)).await
    }

    pub async fn set_intersection(&self, keys: &[&str]) -> Result<Vec<String>, String> {
        self.values(op::SET_INTERSECTION, &ks(keys)).await
    }

    async fn count<Req: Serialize>(&self, operation: &str, request: &Req) -> Result<i32, String> {
        let r: ListResponse = self.req(operation, request).await?;
        Ok(r.new_count)
    }

    async fn values<Req: Serialize>(
        &self,
        operation: &str,
        request: &Req,
    ) -> Result<Vec<String>, String> {
        let r: ValuesResponse = self.req(operation, request).await?;
        Ok(r.values)
    }
}

fn k(key: &str) -> KeyRequest {
    KeyRequest { key: key.into() }
}

fn item(key: &str, value: &str) -> ListItemRequest {
    ListItemRequest {
        key: key.into(),
        value: value.into(),
    }
}

fn ks(keys: &[&str]) -> KeysRequest {
    KeysRequest {
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
    }
}

/// Strings for comparing with `values`.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
