//! Test harness: a real `redis-server` on a free loopback port, killed on
//! drop, and typed calls into [`KeyValue`].

#![allow(dead_code)] // each test binary uses part of it

use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use trellis_codec::keyvalue::*;
use trellis_codec::{decode, encode};
use trellis_provider_keyvalue::KeyValue;

/// How long a redis-server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(10);

/// A `redis-server` child process on 127.0.0.1, killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    paused: bool,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn start() -> RedisServer {
        // A port found free can be taken before redis binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut server = RedisServer {
                port,
                child: None,
                paused: false,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// A server that is not running yet, on a port that is free now.
    pub fn stopped() -> RedisServer {
        RedisServer {
            port: free_port(),
            child: None,
            paused: false,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The binding values that select this server.
    pub fn values(&self) -> HashMap<String, String> {
        HashMap::from([("URL".to_owned(), self.url())])
    }

    /// Starts the server (again) on its port; panics if it does not come up.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        // Right after a kill the port may still be held for a moment.
        let deadline = Instant::now() + STARTUP;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!("could not restart redis-server on port {}: {e}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--dir", &std::env::temp_dir().to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                if e.kind() == ErrorKind::NotFound {
                    panic!(
                        "redis-server is not installed (not found on PATH): the Redis backend \
                         tests need it; install it with `apt-get install -y redis-server`"
                    )
                }
                panic!("cannot run redis-server: {e}")
            });
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("redis-server exited at start with {status}"));
            }
            if ping(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no PONG within {STARTUP:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.paused {
                signal(&child, "CONT");
                self.paused = false;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&mut self) {
        if let Some(child) = &self.child {
            signal(child, "STOP");
            self.paused = true;
        }
    }

    /// Undoes [`RedisServer::pause`].
    pub fn resume(&mut self) {
        if let Some(child) = &self.child {
            signal(child, "CONT");
            self.paused = false;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// Whether a Redis answers PING on `port`.
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

/// Polls `check` until it returns `Some`, failing the test after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
