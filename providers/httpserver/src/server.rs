//! One actor's HTTP/1.1 server: a listener, its accept loop and one task per connection.
//!
//! Three limits keep a slow or greedy client from holding the process's
//! resources: a request's whole body must arrive within `BODY_TIMEOUT_MS`, a
//! connection waiting for its next request is closed after `IDLE_TIMEOUT_MS`,
//! and at most `MAX_CONNECTIONS` connections are open: the accept loop takes a
//! connection only when it has a free slot for it, so the others wait in the
//! kernel's listen backlog and cost the process no file descriptor.
//!
//! The listener is shared between the accept loop and [`Server::begin_stop`],
//! which takes it out and drops it: the port is free again as soon as
//! `begin_stop` returns, without waiting for any task. The accept loop then
//! asks every connection to shut down gracefully (finish the request in
//! flight, close idle keep-alive connections) and cuts those still open after
//! [`GRACE_PERIOD`].

use crate::config::ServerConfig;
use crate::convert::{
    call_failure_response, from_actor_response, plain_response, to_actor_request, ResponseBody,
};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use trellis_codec::{decode, encode, http};
use trellis_provider_sdk::{CallError, HostHandle, ProviderError};

/// How long connections get to finish their requests once the server stops.
pub const GRACE_PERIOD: Duration = Duration::from_secs(5);

/// The warning that a server hit `MAX_CONNECTIONS` is logged at most this often.
const FULL_WARNING_INTERVAL: Duration = Duration::from_secs(5);

/// Hands an encoded `http::Request` to an actor and returns its encoded reply.
///
/// The provider uses [`HostHandle`]; the crate's tests use a plain function, so the
/// server can be exercised without a host.
pub trait ActorHandler: Clone + Send + Sync + 'static {
    /// Calls `HandleRequest` on `actor`; a failure's kind picks the status code.
    fn handle_request(
        &self,
        actor: &str,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, CallError>> + Send + 'static;
}

impl ActorHandler for HostHandle {
    fn handle_request(
        &self,
        actor: &str,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, CallError>> + Send + 'static {
        self.invoke(actor, http::OP_HANDLE_REQUEST, request)
    }
}

/// A running server. Call [`Server::begin_stop`] to stop it; merely dropping it
/// stops it too, but closes the port later, in the background.
pub struct Server {
    /// The address the listener got (the real port when `PORT` was 0).
    local_addr: SocketAddr,
    listener: Arc<SharedListener>,
    shutdown: watch::Sender<bool>,
    /// Disconnects when the accept loop has finished (all connections closed or cut).
    finished: mpsc::Receiver<()>,
}

impl Server {
    /// Binds the listener at once (so a taken port is reported to the caller)
    /// and spawns the accept loop on the current tokio runtime.
    pub fn start<H: ActorHandler>(
        actor: &str,
        config: &ServerConfig,
        handler: H,
    ) -> Result<Server, ProviderError> {
        let shown = config.display_address();
        let std_listener = std::net::TcpListener::bind((config.address.as_str(), config.port))
            .map_err(|e| {
                let hint = match e.kind() {
                    io::ErrorKind::AddrInUse => {
                        format!(" (port {} is already in use)", config.port)
                    }
                    io::ErrorKind::PermissionDenied => {
                        format!(" (port {} needs privileges)", config.port)
                    }
                    _ => String::new(),
                };
                ProviderError::new(format!(
                    "cannot serve HTTP for actor {actor} on {shown}: {e}{hint}"
                ))
            })?;
        let local_addr = std_listener
            .local_addr()
            .map_err(|e| ProviderError::new(format!("cannot read the address of {shown}: {e}")))?;
        let listener = std_listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(std_listener))
            .map_err(|e| ProviderError::new(format!("cannot serve HTTP on {local_addr}: {e}")))?;
        let listener = Arc::new(SharedListener(Mutex::new(Some(listener))));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (finished_tx, finished) = mpsc::channel();
        let site = Arc::new(Site {
            actor: actor.to_string(),
            handler,
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
        });
        tokio::spawn(accept_loop(
            Arc::clone(&listener),
            site,
            Limits::new(config),
            shutdown_rx,
            local_addr,
            finished_tx,
        ));
        tracing::info!(actor = %actor, address = %local_addr, "HTTP server started");
        Ok(Server {
            local_addr,
            listener,
            shutdown,
            finished,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Closes the listener (the port is free when this returns) and asks the
    /// connections to finish; they get [`GRACE_PERIOD`] in the background.
    pub fn begin_stop(&self) {
        self.listener.close();
        self.shutdown.send_replace(true);
    }

    /// Waits until the connections are closed or `deadline` passes; true if closed.
    /// Call [`Server::begin_stop`] first.
    pub fn wait_finished(&self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        matches!(
            self.finished.recv_timeout(left),
            Err(mpsc::RecvTimeoutError::Disconnected) | Ok(())
        )
    }
}

/// The listener, which [`Server::begin_stop`] may take away from the accept loop.
struct SharedListener(Mutex<Option<TcpListener>>);

impl SharedListener {
    /// The next connection, or `None` once the listener is closed.
    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<(TcpStream, SocketAddr)>>> {
        let listener = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match listener.as_ref() {
            None => Poll::Ready(None),
            Some(listener) => listener.poll_accept(cx).map(Some),
        }
    }

    /// Drops the listener: its socket is closed and the port released.
    fn close(&self) {
        let listener = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(listener);
    }
}

/// What every request of one server needs; shared, so a request costs no copy of it.
struct Site<H> {
    actor: String,
    handler: H,
    max_body_bytes: usize,
    body_timeout: Duration,
}

/// What bounds one server's connections: their count and how long they may idle.
struct Limits {
    /// Hyper's settings for each connection, the idle timeout among them.
    builder: http1::Builder,
    /// One permit per connection that may be open; a connection holds its
    /// permit until it closes.
    slots: Arc<Semaphore>,
    /// Says (not too often) that every slot was taken.
    full: FullWarning,
}

impl Limits {
    fn new(config: &ServerConfig) -> Self {
        let mut builder = http1::Builder::new();
        // Hyper's header timer runs whenever a connection waits for a request
        // head: from the accept, and again from the end of each response. That
        // makes it the idle timeout, and it also cuts clients that send their
        // headers too slowly. It closes the connection without a response.
        builder
            .keep_alive(true)
            .timer(TokioTimer::new())
            .header_read_timeout(config.idle_timeout);
        Limits {
            builder,
            slots: Arc::new(Semaphore::new(config.max_connections)),
            full: FullWarning::new(config.max_connections),
        }
    }

    /// Waits for a free slot (warning when there is none), then for a
    /// connection; `None` once the listener is closed.
    async fn next_connection(
        &mut self,
        listener: &SharedListener,
        actor: &str,
        local_addr: SocketAddr,
    ) -> Option<(io::Result<(TcpStream, SocketAddr)>, OwnedSemaphorePermit)> {
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                self.full.hit(actor, local_addr, Instant::now());
                // Never closed, so this cannot fail; if it did, stop serving.
                Arc::clone(&self.slots).acquire_owned().await.ok()?
            }
        };
        let accepted = poll_fn(|cx| listener.poll_accept(cx)).await?;
        Some((accepted, slot))
    }
}

/// Logs that a server's connection slots were all taken, at most once per
/// [`FULL_WARNING_INTERVAL`] however often it happens, with how often it did.
struct FullWarning {
    max_connections: usize,
    last_logged: Option<Instant>,
    hits_since: u64,
}

impl FullWarning {
    fn new(max_connections: usize) -> Self {
        FullWarning {
            max_connections,
            last_logged: None,
            hits_since: 0,
        }
    }

    fn hit(&mut self, actor: &str, local_addr: SocketAddr, now: Instant) {
        if let Some(hits) = self.due(now) {
            tracing::warn!(
                actor = %actor,
                address = %local_addr,
                hits,
                "{} connections are open (MAX_CONNECTIONS): new connections wait in the listen backlog until one closes",
                self.max_connections
            );
        }
    }

    /// Counts a hit at `now`; when a line is due, the hits it reports (this
    /// one and those not logged since the last line).
    fn due(&mut self, now: Instant) -> Option<u64> {
        self.hits_since += 1;
        let recent = self
            .last_logged
            .is_some_and(|last| now.saturating_duration_since(last) < FULL_WARNING_INTERVAL);
        if recent {
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.hits_since))
    }
}

async fn accept_loop<H: ActorHandler>(
    listener: Arc<SharedListener>,
    site: Arc<Site<H>>,
    mut limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    local_addr: SocketAddr,
    // Dropped when this function returns (or its task is dropped): that is the signal.
    _finished: mpsc::Sender<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = limits.next_connection(&listener, &site.actor, local_addr) => match accepted {
                None => break,
                Some((Ok((stream, peer)), slot)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(
                        limits.builder.clone(),
                        stream,
                        peer,
                        Arc::clone(&site),
                        shutdown.clone(),
                        slot,
                    ));
                }
                Some((Err(e), _slot)) => {
                    // Out of file descriptors and the like: do not spin.
                    tracing::warn!(actor = %site.actor, address = %local_addr, "cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = stopping(&mut shutdown) => break,
        }
    }
    listener.close();
    let open_connections = connections.len();
    let drained = tokio::time::timeout(GRACE_PERIOD, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            actor = %site.actor,
            address = %local_addr,
            "cutting {} connection(s) still open {GRACE_PERIOD:?} after the server stopped",
            connections.len()
        );
        connections.shutdown().await;
    }
    tracing::info!(actor = %site.actor, address = %local_addr, open_connections, "HTTP server stopped");
}

async fn serve_connection<H: ActorHandler>(
    builder: http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    site: Arc<Site<H>>,
    mut shutdown: watch::Receiver<bool>,
    // Held while the connection is open: dropping it lets the next one in.
    _slot: OwnedSemaphorePermit,
) {
    let service = service_fn(move |request| {
        let site = Arc::clone(&site);
        async move { Ok::<_, Infallible>(handle(&site, request).await) }
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopping(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "HTTP connection ended with an error: {e}");
    }
}

/// Answers one request by calling the actor.
async fn handle<H: ActorHandler>(
    site: &Site<H>,
    request: hyper::Request<Incoming>,
) -> hyper::Response<ResponseBody> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let response = respond(site, &parts, body).await;
    tracing::debug!(
        actor = %site.actor,
        method = %parts.method,
        path = parts.uri.path(),
        status = response.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "HTTP request"
    );
    response
}

async fn respond<H: ActorHandler>(
    site: &Site<H>,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> hyper::Response<ResponseBody> {
    let body = match read_body(site, parts, body).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let request = to_actor_request(parts, body.into());
    let payload = match encode(&request) {
        Ok(payload) => payload,
        Err(e) => {
            tracing::warn!(actor = %site.actor, "cannot encode an HTTP request: {e}");
            return plain_response(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
        }
    };
    let reply = match site.handler.handle_request(&site.actor, payload).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(actor = %site.actor, method = %parts.method, path = parts.uri.path(), kind = ?e.kind(), "actor failed to handle an HTTP request: {e}");
            return call_failure_response(&site.actor, &e);
        }
    };
    let converted = decode::<http::Response>(&reply)
        .map_err(|e| format!("the actor's reply is not an HTTP response: {e}"))
        .and_then(|reply| {
            from_actor_response(reply)
                .map_err(|e| format!("the actor's HTTP response is invalid: {e}"))
        });
    converted.unwrap_or_else(|message| {
        tracing::warn!(actor = %site.actor, method = %parts.method, path = parts.uri.path(), "{message}");
        plain_response(StatusCode::INTERNAL_SERVER_ERROR, &message)
    })
}

/// The whole request body, or the response refusing it: `413` when it is
/// (or says it is) larger than `MAX_BODY_BYTES`, `408` when it has not all
/// arrived within `BODY_TIMEOUT_MS`, `400` when it cannot be read.
async fn read_body<H>(
    site: &Site<H>,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> Result<Bytes, hyper::Response<ResponseBody>> {
    let too_large = || {
        plain_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "request body larger than {} bytes (MAX_BODY_BYTES)",
                site.max_body_bytes
            ),
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > site.max_body_bytes as u64) {
        return Err(too_large());
    }
    let whole_body = Limited::new(body, site.max_body_bytes).collect();
    match tokio::time::timeout(site.body_timeout, whole_body).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(plain_response(
            StatusCode::BAD_REQUEST,
            &format!("cannot read the request body: {e}"),
        )),
        Err(_elapsed) => Err(body_timed_out(site.body_timeout)),
    }
}

/// `408 Request Timeout`, closing the connection: the rest of the body may
/// still be on its way, so the connection cannot carry another request.
/// Nothing of the response has been sent yet, as the actor is only called
/// with the whole body.
fn body_timed_out(body_timeout: Duration) -> hyper::Response<ResponseBody> {
    let mut response = plain_response(
        StatusCode::REQUEST_TIMEOUT,
        &format!(
            "the request body did not arrive within {} ms (BODY_TIMEOUT_MS)",
            body_timeout.as_millis()
        ),
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Resolves once the server is asked to stop (or its [`Server`] is dropped).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // Either the flag is set or the sender is gone: both mean stop.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_warning_is_logged_at_most_once_per_interval() {
        let mut warning = FullWarning::new(3);
        let start = Instant::now();
        assert_eq!(warning.due(start), Some(1));
        for ms in [1, 10, 4_000, 4_999] {
            assert_eq!(warning.due(start + Duration::from_millis(ms)), None);
        }
        // The hits not logged are counted in the next line.
        assert_eq!(warning.due(start + FULL_WARNING_INTERVAL), Some(5));
        assert_eq!(
            warning.due(start + FULL_WARNING_INTERVAL + Duration::from_secs(1)),
            None
        );
        assert_eq!(warning.due(start + 3 * FULL_WARNING_INTERVAL), Some(2));
    }
}
