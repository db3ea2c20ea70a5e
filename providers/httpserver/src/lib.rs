//! The `wascc:http_server` capability provider.
//!
//! Every actor bound to it gets an HTTP/1.1 server of its own, and each request
//! becomes a `HandleRequest` call on that actor with a
//! [`trellis_codec::http::Request`]; the actor answers with a
//! [`trellis_codec::http::Response`].
//!
//! # Binding values
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `PORT` | `8080` | the TCP port; `0` picks a free one |
//! | `ADDRESS` | `127.0.0.1` | the address to listen on: this machine only by default; `0.0.0.0` (or `::`) exposes the server on every interface |
//! | `MAX_BODY_BYTES` | 10 MiB | larger request bodies are answered `413 Payload Too Large` |
//! | `BODY_TIMEOUT_MS` | `30000` | a request's whole body must arrive within this many milliseconds of its headers; otherwise it is answered `408 Request Timeout` and the connection closed |
//! | `IDLE_TIMEOUT_MS` | `30000` | a connection is closed (without a response) when the headers of its next request are not complete this many milliseconds after it opened or after its previous response |
//! | `MAX_CONNECTIONS` | `1024` | at most this many connections are open at once; further ones wait, not accepted, until one closes |
//!
//! A port that is taken or a value that does not parse makes the binding fail
//! at once, with the port or the value's name in the message. The timeouts
//! take 1 to 86400000 (one day), `MAX_CONNECTIONS` 1 to 1000000.
//!
//! # Limits
//!
//! The last three values keep slow or greedy clients from holding the
//! process's tasks, memory and file descriptors, which every other provider in
//! the host shares:
//!
//! - `BODY_TIMEOUT_MS` bounds the whole body, not the pause between its bytes:
//!   a client dripping a byte every second is cut too. The actor is called only
//!   once the whole body is in, so no response has begun when the `408` is
//!   sent. With the defaults, a body of the full 10 MiB needs about 350 KB/s;
//!   raise the timeout for large uploads over slow links.
//! - `IDLE_TIMEOUT_MS` closes idle keep-alive connections, connections that
//!   never send a request, and clients that send their headers too slowly.
//!   A request in flight (its body being read, the actor working, its
//!   response being written) is never cut by it.
//! - `MAX_CONNECTIONS` counts connections per server (each binding has its
//!   own). Beyond it the server stops accepting: new connections wait in the
//!   kernel's listen backlog, which costs the process no file descriptor, and
//!   are served in turn as open ones close (the idle timeout frees those a
//!   greedy client holds without using them). When the backlog is full too,
//!   the system drops further connection attempts, and clients retry or give
//!   up. Hitting the limit is logged at warn, at most once every five seconds.
//!
//! # Requests and responses
//!
//! The actor sees the method, the path, the query string without its `?`, the
//! headers with lowercase names (repeated ones joined with `,`) and the body.
//! Its reply's `statusCode`, `status` (the reason phrase: left empty, the
//! standard one for the code is used), `header` and `body` are written back;
//! the server sets `content-length` itself.
//!
//! When the call to the actor fails, the status says why, and the plain-text
//! body says it in one line (`503 Service Unavailable: no instance of actor
//! M… can take the call: no actor M… is running`):
//!
//! | status | when |
//! | --- | --- |
//! | `503 Service Unavailable` | no instance of the actor can take the call: it runs nowhere (not on this host, not in the lattice), no instance of it can be started, or the host is shutting down; a retry later may work |
//! | `504 Gateway Timeout` | the actor did not answer within the host's call timeout |
//! | `500 Internal Server Error` | the actor itself failed (it returned an error or trapped), or any other failure (e.g. the lattice could not carry the call; in a host older than SDK 0.1.1 every failure) |
//!
//! When its reply is not an HTTP response (it does not decode, or has an
//! invalid status code or header) the client gets `500` saying so. Both are
//! logged at warn.
//!
//! # Lifecycle
//!
//! - Each binding of an actor starts a server: binding the same actor on
//!   another port **adds** a server (one actor may serve 8081 and 8082),
//!   binding it again on a port it already serves **replaces** that server
//!   with the new values (the old one lets go of the port first, so a failure
//!   there leaves that port without a server).
//! - Removing an actor closes its listener before `remove_actor` returns (the
//!   port can be bound again straight away) and lets requests in flight finish
//!   for up to five seconds in the background; idle keep-alive connections are
//!   closed.
//! - `stop` does the same for every actor, and waits (at most those five
//!   seconds) for the connections to close.

mod config;
mod convert;
mod server;

pub use config::{
    ServerConfig, DEFAULT_ADDRESS, DEFAULT_BODY_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_PORT,
};
pub use server::{ActorHandler, GRACE_PERIOD};

use server::Server;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;
use trellis_codec::http::{HTTP_SERVER, OP_HANDLE_REQUEST};
use trellis_provider_sdk::{ActorBinding, Call, Descriptor, HostHandle, Provider, ProviderError};

/// The root module the host loads. Private: the items `export_provider!`
/// makes have no docs of their own, and the host finds them by symbol.
mod entry {
    trellis_provider_sdk::export_provider!(super::new_provider);
}

/// Creates the provider for the host.
fn new_provider(host: HostHandle) -> Result<HttpServerProvider, ProviderError> {
    Ok(HttpServerProvider::new(host))
}

/// The provider: one HTTP server per binding of an actor. An actor may be
/// bound several times on different ports (the lattice demo binds one actor
/// on 8081 and 8082): each binding adds a server.
pub struct HttpServerProvider<H = HostHandle> {
    handler: H,
    servers: Mutex<HashMap<String, Vec<Server>>>,
}

impl HttpServerProvider<HostHandle> {
    /// A provider that hands requests to actors through `host`.
    pub fn new(host: HostHandle) -> Self {
        Self::with_handler(host)
    }
}

impl<H: ActorHandler> HttpServerProvider<H> {
    /// A provider that hands requests to `handler` (the host, or a stand-in in tests).
    pub fn with_handler(handler: H) -> Self {
        HttpServerProvider {
            handler,
            servers: Mutex::new(HashMap::new()),
        }
    }

    fn servers(&self) -> MutexGuard<'_, HashMap<String, Vec<Server>>> {
        self.servers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The address of `actor`'s first server, if it has one.
    pub fn local_addr(&self, actor: &str) -> Option<SocketAddr> {
        self.local_addrs(actor).first().copied()
    }

    /// The addresses of all of `actor`'s servers.
    pub fn local_addrs(&self, actor: &str) -> Vec<SocketAddr> {
        self.servers()
            .get(actor)
            .map(|servers| servers.iter().map(Server::local_addr).collect())
            .unwrap_or_default()
    }

    /// Starts a server for the binding; one on the same port is replaced.
    fn bind(&self, binding: ActorBinding) -> Result<(), ProviderError> {
        let config = ServerConfig::from_values(&binding.values)?;
        let actor = binding.actor;
        let mut servers = self.servers();
        let actor_servers = servers.entry(actor.clone()).or_default();
        let same_port = actor_servers
            .iter()
            .position(|old| config.port != 0 && old.local_addr().port() == config.port);
        if let Some(at) = same_port {
            // The old server must let go of the port before the new one can take it.
            let old = actor_servers.remove(at);
            tracing::info!(actor = %actor, "rebinding: stopping the HTTP server on {}", old.local_addr());
            old.begin_stop();
        }
        let server = Server::start(&actor, &config, self.handler.clone()).map_err(|e| {
            if same_port.is_some() {
                ProviderError::new(format!(
                    "{e}; the actor's previous server on that port was stopped"
                ))
            } else {
                e
            }
        })?;
        actor_servers.push(server);
        Ok(())
    }

    fn remove(&self, actor: &str) {
        match self.servers().remove(actor) {
            Some(servers) => servers.iter().for_each(Server::begin_stop),
            None => tracing::debug!(actor = %actor, "no HTTP server to stop"),
        }
    }

    fn stop_all(&self) {
        let servers: Vec<Server> = self
            .servers()
            .drain()
            .flat_map(|(_, servers)| servers)
            .collect();
        for server in &servers {
            server.begin_stop();
        }
        let deadline = Instant::now() + GRACE_PERIOD + std::time::Duration::from_secs(1);
        for server in &servers {
            if !server.wait_finished(deadline) {
                tracing::warn!(
                    "the HTTP server on {} did not finish in time",
                    server.local_addr()
                );
            }
        }
    }
}

impl<H: ActorHandler> Provider for HttpServerProvider<H> {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(HTTP_SERVER, "HTTP Server", env!("CARGO_PKG_VERSION"))
            .with_operations([OP_HANDLE_REQUEST])
    }

    fn bind_actor(&self, binding: ActorBinding) -> Result<(), ProviderError> {
        self.bind(binding)
    }

    fn remove_actor(&self, actor: &str) -> Result<(), ProviderError> {
        self.remove(actor);
        Ok(())
    }

    async fn handle_call(&self, call: Call) -> Result<Vec<u8>, ProviderError> {
        // Actors never call an HTTP server: it calls them.
        Err(ProviderError::unknown_operation(&call.operation))
    }

    fn stop(&self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests;
