//! The `wascc:http_client` capability provider: actors perform outgoing HTTP
//! requests.
//!
//! # Operations
//!
//! `PerformRequest` takes a [`trellis_codec::http::Request`] whose `path`
//! holds the **full URL** (`http://host:port/path?query`) and answers with a
//! [`trellis_codec::http::Response`]:
//!
//! - `method`: any HTTP method, case-insensitive; empty means `GET`.
//! - `queryString`: when not empty, appended to the URL (after `&` when the
//!   URL already has a query).
//! - `header`: sent as given (one value per name). `content-length` and
//!   `transfer-encoding` are ignored: the length of `body` is sent. `host` is
//!   taken from the URL unless given.
//! - The response carries `statusCode`, `status` (the server's reason phrase,
//!   or the standard one), `header` with lowercase names (repeated headers
//!   joined with `,`) and the whole `body`.
//!
//! Every status is a response: a `404` or `500` from the server comes back
//! as such, not as an error.
//!
//! `http://` and `https://` URLs are supported, over HTTP/1.1, with
//! keep-alive connections pooled per host. `https://` verifies servers
//! against the system's root certificates (rustls with ring); on a machine
//! without any, `https://` requests fail verification and a warning is
//! logged at start. Redirects are not followed (a `3xx` is returned to the
//! actor). No proxy is used.
//!
//! # Binding values
//!
//! Read per actor when it is bound; an actor that calls without a binding
//! gets the defaults. Binding an actor again replaces its values; removing
//! it returns it to the defaults.
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `TIMEOUT_MS` | `10000` | the whole request (connect, send, read the full response) must finish within this many milliseconds; must be positive |
//! | `MAX_RESPONSE_BYTES` | 10 MiB (`10485760`) | a response body larger than this fails the request |
//!
//! A value that does not parse makes the binding fail, naming the key and
//! the value.
//!
//! # Failures
//!
//! Returned to the actor as errors, never panics; each names the method and
//! the URL: a payload that is not a request, an invalid URL (no scheme or
//! host, a scheme other than http/https), an invalid method or header, a
//! connection that cannot be made (refused, unknown host, TLS failure), a
//! request that times out (`… timed out after N ms`), a response larger than
//! the limit (checked against `content-length` first, then while reading),
//! and a connection that breaks mid-response. Failed requests are logged at
//! debug level with the actor's key.

mod client;
mod config;

pub use client::{parse_url, HttpClient};
pub use config::{ClientConfig, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS};

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use trellis_codec::http::{Request, HTTP_CLIENT, OP_PERFORM_REQUEST};
use trellis_codec::{decode, encode};
use trellis_provider_sdk::{ActorBinding, Call, Descriptor, HostHandle, Provider, ProviderError};

/// The root module the host loads. Private: the items `export_provider!`
/// makes have no docs of their own, and the host finds them by symbol.
mod entry {
    trellis_provider_sdk::export_provider!(super::new_provider);
}

/// Creates the provider for the host.
fn new_provider(_host: HostHandle) -> Result<HttpClientProvider, ProviderError> {
    HttpClientProvider::new()
}

/// The provider: one shared [`HttpClient`], and each bound actor's limits.
#[derive(Debug)]
pub struct HttpClientProvider {
    client: HttpClient,
    configs: Mutex<HashMap<String, ClientConfig>>,
}

impl HttpClientProvider {
    /// A provider with no actors bound yet.
    pub fn new() -> Result<Self, ProviderError> {
        Ok(HttpClientProvider {
            client: HttpClient::new()?,
            configs: Mutex::new(HashMap::new()),
        })
    }

    fn configs(&self) -> MutexGuard<'_, HashMap<String, ClientConfig>> {
        self.configs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The limits `actor`'s requests run with: its binding's, or the defaults.
    pub fn config_for(&self, actor: &str) -> ClientConfig {
        self.configs().get(actor).copied().unwrap_or_default()
    }

    /// Performs one `PerformRequest` for `actor`: decodes the request, runs it
    /// within the actor's limits and encodes the response.
    pub async fn perform(&self, actor: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let request: Request = decode(payload)?;
        let config = self.config_for(actor);
        match self.client.perform(request, &config).await {
            Ok(response) => {
                tracing::debug!(
                    actor = %actor,
                    status = response.status_code,
                    bytes = response.body.len(),
                    "HTTP request done"
                );
                Ok(encode(&response)?)
            }
            Err(e) => {
                tracing::debug!(actor = %actor, "HTTP request failed: {e}");
                Err(e)
            }
        }
    }
}

impl Provider for HttpClientProvider {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(HTTP_CLIENT, "HTTP Client", env!("CARGO_PKG_VERSION"))
            .with_operations([OP_PERFORM_REQUEST])
    }

    fn bind_actor(&self, binding: ActorBinding) -> Result<(), ProviderError> {
        let config = ClientConfig::from_values(&binding.values)?;
        tracing::debug!(
            actor = %binding.actor,
            timeout_ms = config.timeout_ms() as u64,
            max_response_bytes = config.max_response_bytes,
            "HTTP client bound"
        );
        self.configs().insert(binding.actor, config);
        Ok(())
    }

    fn remove_actor(&self, actor: &str) -> Result<(), ProviderError> {
        self.configs().remove(actor);
        Ok(())
    }

    async fn handle_call(&self, call: Call) -> Result<Vec<u8>, ProviderError> {
        match call.operation.as_str() {
            OP_PERFORM_REQUEST => self.perform(&call.actor, &call.payload).await,
            other => Err(ProviderError::unknown_operation(other)),
        }
    }

    fn stop(&self) {
        self.configs().clear();
    }
}

#[cfg(test)]
mod tests;
