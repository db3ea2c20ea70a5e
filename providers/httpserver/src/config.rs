//! The binding values an actor's HTTP server is configured with.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use trellis_provider_sdk::ProviderError;

/// The port served when the binding gives no `PORT`.
pub const DEFAULT_PORT: u16 = 8080;
/// The address served when the binding gives no `ADDRESS`: this machine only.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1";
/// The largest request body accepted when the binding gives no `MAX_BODY_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// How long a request's whole body may take to arrive when the binding gives
/// no `BODY_TIMEOUT_MS`.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may wait for its next request's headers when the
/// binding gives no `IDLE_TIMEOUT_MS`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many connections one server keeps open when the binding gives no
/// `MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The longest timeout accepted: one day. Far longer ones are mistakes, and
/// deadlines that far away could not be represented on every clock.
const MAX_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;
/// The most connections a server may be allowed: more than a process can
/// usually open anyway.
const MAX_MAX_CONNECTIONS: usize = 1_000_000;

/// Where and how one actor's server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// An IP address or a host name (`127.0.0.1`, `0.0.0.0`, `::`, `localhost`).
    pub address: String,
    /// The TCP port; 0 asks the system for a free one.
    pub port: u16,
    /// Requests with a larger body are answered `413 Payload Too Large`.
    pub max_body_bytes: usize,
    /// Requests whose whole body has not arrived this long after their
    /// headers are answered `408 Request Timeout`, and their connection closed.
    pub body_timeout: Duration,
    /// A connection is closed when the headers of its next request are not
    /// complete this long after it opened or after its previous response.
    pub idle_timeout: Duration,
    /// At most this many connections are open at once; further ones wait in
    /// the listen backlog until one closes.
    pub max_connections: usize,
}

impl ServerConfig {
    /// Reads `PORT`, `ADDRESS`, `MAX_BODY_BYTES`, `BODY_TIMEOUT_MS`,
    /// `IDLE_TIMEOUT_MS` and `MAX_CONNECTIONS` from a binding's values; other
    /// values (the actor's claims among them) are ignored.
    pub fn from_values(values: &HashMap<String, String>) -> Result<Self, ProviderError> {
        let address = match values.get("ADDRESS").map(|a| a.trim()) {
            None => DEFAULT_ADDRESS.to_string(),
            Some("") => {
                return Err(ProviderError::new(
                    "ADDRESS is empty: give an IP address such as 127.0.0.1 or 0.0.0.0",
                ))
            }
            Some(text) => text.to_string(),
        };
        let timeout = |key, default: Duration| {
            number(
                values,
                key,
                default.as_millis() as u64,
                1..=MAX_TIMEOUT_MS,
                "a whole number of milliseconds from 1 to 86400000 (one day)",
            )
            .map(Duration::from_millis)
        };
        Ok(ServerConfig {
            address,
            port: number(
                values,
                "PORT",
                DEFAULT_PORT,
                ..,
                "a TCP port number (0-65535)",
            )?,
            max_body_bytes: number(
                values,
                "MAX_BODY_BYTES",
                DEFAULT_MAX_BODY_BYTES,
                ..,
                "a number of bytes",
            )?,
            body_timeout: timeout("BODY_TIMEOUT_MS", DEFAULT_BODY_TIMEOUT)?,
            idle_timeout: timeout("IDLE_TIMEOUT_MS", DEFAULT_IDLE_TIMEOUT)?,
            max_connections: number(
                values,
                "MAX_CONNECTIONS",
                DEFAULT_MAX_CONNECTIONS,
                1..=MAX_MAX_CONNECTIONS,
                "a whole number of connections from 1 to 1000000",
            )?,
        })
    }

    /// `address:port`, with brackets around an IPv6 address.
    pub fn display_address(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

/// The number under `key` (surrounding blanks ignored), `default` when it is
/// absent; an error says the key and what was `expected` when the text is no
/// number of type `T` or lies outside `range`.
fn number<T>(
    values: &HashMap<String, String>,
    key: &str,
    default: T,
    range: impl std::ops::RangeBounds<T>,
    expected: &str,
) -> Result<T, ProviderError>
where
    T: FromStr + PartialOrd,
{
    let Some(text) = values.get(key).map(|v| v.trim()) else {
        return Ok(default);
    };
    text.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ProviderError::new(format!("{key} must be {expected}, not '{text}'")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_provider_sdk::ActorBinding;

    #[test]
    fn defaults() {
        let config = ServerConfig::from_values(
            &ActorBinding::new("MACTOR", &[("__wascc_name", "x")]).values,
        )
        .unwrap();
        assert_eq!(
            config,
            ServerConfig {
                address: "127.0.0.1".into(),
                port: 8080,
                max_body_bytes: 10 * 1024 * 1024,
                body_timeout: Duration::from_secs(30),
                idle_timeout: Duration::from_secs(30),
                max_connections: 1024,
            }
        );
        assert_eq!(config.display_address(), "127.0.0.1:8080");
    }

    #[test]
    fn explicit_values() {
        let config = ServerConfig::from_values(
            &ActorBinding::new(
                "MACTOR",
                &[
                    ("PORT", " 9000 "),
                    ("ADDRESS", "::"),
                    ("MAX_BODY_BYTES", "12"),
                    ("BODY_TIMEOUT_MS", "250"),
                    ("IDLE_TIMEOUT_MS", " 86400000"),
                    ("MAX_CONNECTIONS", "1"),
                ],
            )
            .values,
        )
        .unwrap();
        assert_eq!(config.port, 9000);
        assert_eq!(config.max_body_bytes, 12);
        assert_eq!(config.body_timeout, Duration::from_millis(250));
        assert_eq!(config.idle_timeout, Duration::from_secs(24 * 60 * 60));
        assert_eq!(config.max_connections, 1);
        assert_eq!(config.display_address(), "[::]:9000");
    }

    #[test]
    fn bad_values_are_named() {
        let e =
            ServerConfig::from_values(&ActorBinding::new("MACTOR", &[("PORT", "80800")]).values)
                .unwrap_err();
        assert!(e.message().contains("'80800'"), "{e}");
        let e = ServerConfig::from_values(
            &ActorBinding::new("MACTOR", &[("MAX_BODY_BYTES", "-1")]).values,
        )
        .unwrap_err();
        assert!(e.message().contains("MAX_BODY_BYTES"), "{e}");
        let e = ServerConfig::from_values(&ActorBinding::new("MACTOR", &[("ADDRESS", " ")]).values)
            .unwrap_err();
        assert!(e.message().contains("ADDRESS"), "{e}");
    }

    #[test]
    fn limits_must_be_positive_and_bounded() {
        for (key, bad) in [
            ("BODY_TIMEOUT_MS", "0"),
            ("BODY_TIMEOUT_MS", "1.5"),
            ("IDLE_TIMEOUT_MS", "86400001"),
            ("IDLE_TIMEOUT_MS", "soon"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS", "1000001"),
            ("MAX_CONNECTIONS", "-3"),
        ] {
            let e = ServerConfig::from_values(&ActorBinding::new("MACTOR", &[(key, bad)]).values)
                .unwrap_err();
            let expected = if key == "MAX_CONNECTIONS" {
                "number of connections from 1 to 1000000"
            } else {
                "number of milliseconds from 1 to 86400000"
            };
            assert!(e.message().starts_with(key), "{e}");
            assert!(e.message().contains(expected), "{e}");
            assert!(e.message().contains(&format!("'{bad}'")), "{e}");
        }
    }
}
