//! The binding values an actor's HTTP server is configured with.

use std::collections::HashMap;
use trellis_provider_sdk::ProviderError;

/// The port served when the binding gives no `PORT`.
pub const DEFAULT_PORT: u16 = 8080;
/// The address served when the binding gives no `ADDRESS`: this machine only.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1";
/// The largest request body accepted when the binding gives no `MAX_BODY_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Where and how one actor's server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// An IP address or a host name (`127.0.0.1`, `0.0.0.0`, `::`, `localhost`).
    pub address: String,
    /// The TCP port; 0 asks the system for a free one.
    pub port: u16,
    /// Requests with a larger body are answered `413 Payload Too Large`.
    pub max_body_bytes: usize,
}

impl ServerConfig {
    /// Reads `PORT`, `ADDRESS` and `MAX_BODY_BYTES` from a binding's values;
    /// other values (the actor's claims among them) are ignored.
    pub fn from_values(values: &HashMap<String, String>) -> Result<Self, ProviderError> {
        let port = match values.get("PORT").map(|p| p.trim()) {
            None => DEFAULT_PORT,
            Some(text) => text.parse().map_err(|_| {
                ProviderError::new(format!(
                    "PORT must be a TCP port number (0-65535), not '{text}'"
                ))
            })?,
        };
        let address = match values.get("ADDRESS").map(|a| a.trim()) {
            None => DEFAULT_ADDRESS.to_string(),
            Some("") => {
                return Err(ProviderError::new(
                    "ADDRESS is empty: give an IP address such as 127.0.0.1 or 0.0.0.0",
                ))
            }
            Some(text) => text.to_string(),
        };
        let max_body_bytes = match values.get("MAX_BODY_BYTES").map(|m| m.trim()) {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(text) => text.parse().map_err(|_| {
                ProviderError::new(format!(
                    "MAX_BODY_BYTES must be a number of bytes, not '{text}'"
                ))
            })?,
        };
        Ok(ServerConfig {
            address,
            port,
            max_body_bytes,
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
                ],
            )
            .values,
        )
        .unwrap();
        assert_eq!(config.port, 9000);
        assert_eq!(config.max_body_bytes, 12);
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
}
