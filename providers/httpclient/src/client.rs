//! Performs one actor's request: URL and header checks, the timeout over the
//! whole exchange, the response size limit, and the conversion to and from
//! the wire types.

use crate::config::ClientConfig;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{Method, Uri};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;
use trellis_codec::http;
use trellis_provider_sdk::ProviderError;

/// An HTTP/1.1 client for `http://` and `https://` URLs, with a pool of
/// keep-alive connections. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client that trusts the system's root certificates for `https://`.
    /// When the system has none, `http://` still works and every `https://`
    /// request fails certificate verification (logged at warn here).
    pub fn new() -> Result<Self, ProviderError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ProviderError::new(format!("cannot set up TLS: {e}")))?;
        let tls = match builder.clone().with_native_roots() {
            Ok(with_roots) => with_roots.with_no_client_auth(),
            Err(e) => {
                tracing::warn!(
                    "no system root certificates ({e}): https:// requests will fail verification"
                );
                builder
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth()
            }
        };
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(HttpClient { client })
    }

    /// Performs `request` (its `path` is the full URL) within `config`'s
    /// limits. A response with any status is a response; only a request that
    /// gets no complete response within the limits is an error.
    pub async fn perform(
        &self,
        request: http::Request,
        config: &ClientConfig,
    ) -> Result<http::Response, ProviderError> {
        let method = parse_method(&request.method)?;
        let uri = parse_url(&request.path, &request.query_string)?;
        let shown = format!("{method} {uri}");
        let outgoing = build_request(method, uri, request.header, request.body)
            .map_err(|e| ProviderError::new(format!("{shown}: {e}")))?;
        match tokio::time::timeout(config.timeout, self.exchange(outgoing, config, &shown)).await {
            Ok(result) => result,
            Err(_) => Err(ProviderError::new(format!(
                "{shown} timed out after {} ms",
                config.timeout_ms()
            ))),
        }
    }

    /// Sends the request and reads the whole response, without a deadline.
    async fn exchange(
        &self,
        outgoing: hyper::Request<Full<Bytes>>,
        config: &ClientConfig,
        shown: &str,
    ) -> Result<http::Response, ProviderError> {
        let response = self.client.request(outgoing).await.map_err(|e| {
            let what = if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            // hyper's own text ("client error (Connect)") says less than its causes.
            let detail = match e.source() {
                Some(cause) => error_chain(cause),
                None => e.to_string(),
            };
            ProviderError::new(format!("{shown}: {what}: {detail}"))
        })?;
        let too_large = || {
            ProviderError::new(format!(
                "{shown}: the response is larger than the limit of {} bytes (MAX_RESPONSE_BYTES)",
                config.max_response_bytes
            ))
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.max_response_bytes as u64) {
            return Err(too_large());
        }
        let status_code = u32::from(response.status().as_u16());
        let status = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| response.status().canonical_reason().map(String::from))
            .unwrap_or_default();
        let header = join_headers(response.headers());
        let body = Limited::new(response.into_body(), config.max_response_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    too_large()
                } else {
                    ProviderError::new(format!(
                        "{shown}: reading the response failed: {}",
                        error_chain(e.as_ref())
                    ))
                }
            })?
            .to_bytes()
            .to_vec();
        Ok(http::Response {
            status_code,
            status,
            header,
            body,
        })
    }
}

/// The method, `GET` when empty.
fn parse_method(text: &str) -> Result<Method, ProviderError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Method::GET);
    }
    Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| ProviderError::new(format!("invalid HTTP method '{text}'")))
}

/// An absolute `http://` or `https://` URL; a non-empty `query` is appended
/// to the URL's own query string, if it has one.
pub fn parse_url(url: &str, query: &str) -> Result<Uri, ProviderError> {
    let invalid = |why: String| ProviderError::new(format!("invalid URL '{url}': {why}"));
    let query = query.trim_start_matches('?');
    let text = if query.is_empty() {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&{query}")
    } else {
        format!("{url}?{query}")
    };
    if text.trim().is_empty() {
        return Err(invalid(
            "no URL given: put the full URL, e.g. http://example.com/path, in `path`".into(),
        ));
    }
    let uri: Uri = text.trim().parse().map_err(|e| invalid(format!("{e}")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => {
            return Err(invalid(format!(
                "scheme '{other}' is not supported (use http or https)"
            )))
        }
        None => {
            return Err(invalid(
                "give a full URL with scheme and host, e.g. http://example.com/path".into(),
            ))
        }
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(uri),
        _ => Err(invalid("the URL has no host".into())),
    }
}

/// The outgoing request. `content-length` and `transfer-encoding` from the
/// actor are dropped: the body's real length is sent.
fn build_request(
    method: Method,
    uri: Uri,
    header: HashMap<String, String>,
    body: Vec<u8>,
) -> Result<hyper::Request<Full<Bytes>>, String> {
    let mut request = hyper::Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    for (name, value) in header {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("invalid header name '{name}'"))?;
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("invalid value for header '{name}'"))?;
        headers.insert(name, value);
    }
    Ok(request)
}

/// Header names (lowercase, as hyper gives them) and values; repeated headers
/// are joined with `,`.
fn join_headers(headers: &hyper::HeaderMap) -> HashMap<String, String> {
    let mut joined: HashMap<String, String> = HashMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        joined
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    joined
}

/// An error and its sources, `outer: inner: innermost`, without repeats.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_supported_scheme_and_a_host() {
        let uri = parse_url("http://127.0.0.1:8080/a/b", "").unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:8080/a/b");
        assert_eq!(
            parse_url("https://example.com/x", "q=1")
                .unwrap()
                .to_string(),
            "https://example.com/x?q=1"
        );
        assert_eq!(
            parse_url("http://example.com/x?a=1", "?b=2")
                .unwrap()
                .to_string(),
            "http://example.com/x?a=1&b=2"
        );
        for (bad, why) in [
            ("", "full URL"),
            ("/just/a/path", "full URL"),
            ("ftp://example.com/file", "scheme 'ftp'"),
            ("http://exa mple.com/", "invalid URL"),
            ("not a url at all", "invalid URL"),
        ] {
            let e = parse_url(bad, "").unwrap_err();
            assert!(e.message().contains(&format!("'{bad}'")), "{e}");
            assert!(e.message().contains(why), "{e}");
        }
    }

    #[test]
    fn methods_default_to_get_and_must_be_tokens() {
        assert_eq!(parse_method("").unwrap(), Method::GET);
        assert_eq!(parse_method("post").unwrap(), Method::POST);
        assert_eq!(parse_method("PATCH").unwrap(), Method::PATCH);
        let e = parse_method("GE T").unwrap_err();
        assert!(e.message().contains("'GE T'"), "{e}");
    }

    #[test]
    fn bad_headers_are_errors_and_lengths_are_recomputed() {
        let uri = parse_url("http://example.com/", "").unwrap();
        let header = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
        let e =
            build_request(Method::GET, uri.clone(), header("bad name", "x"), vec![]).unwrap_err();
        assert!(e.contains("'bad name'"), "{e}");
        let e = build_request(
            Method::GET,
            uri.clone(),
            header("x-a", "line\nbreak"),
            vec![],
        )
        .unwrap_err();
        assert!(e.contains("x-a"), "{e}");
        let request = build_request(
            Method::POST,
            uri,
            header("Content-Length", "99"),
            b"hi".to_vec(),
        )
        .unwrap();
        assert!(request.headers().get(CONTENT_LENGTH).is_none());
    }

    #[test]
    fn repeated_headers_are_joined() {
        let mut headers = hyper::HeaderMap::new();
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        headers.append("x-one", HeaderValue::from_static("1"));
        let joined = join_headers(&headers);
        assert_eq!(joined["x-multi"], "a,b");
        assert_eq!(joined["x-one"], "1");
    }
}
