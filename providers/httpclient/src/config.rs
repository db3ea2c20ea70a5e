//! The binding values an actor's outgoing requests are limited by.

use std::collections::HashMap;
use std::time::Duration;
use trellis_provider_sdk::ProviderError;

/// How long a request may take, in milliseconds, when the binding gives no `TIMEOUT_MS`.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// The largest response body accepted when the binding gives no `MAX_RESPONSE_BYTES`.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// The limits on one actor's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// The whole request (connecting, sending, reading the full response)
    /// must finish within this.
    pub timeout: Duration,
    /// A response whose body is larger fails.
    pub max_response_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl ClientConfig {
    /// Reads `TIMEOUT_MS` and `MAX_RESPONSE_BYTES` from a binding's values;
    /// other values (the actor's claims among them) are ignored.
    pub fn from_values(values: &HashMap<String, String>) -> Result<Self, ProviderError> {
        let mut config = ClientConfig::default();
        if let Some(text) = values.get("TIMEOUT_MS").map(|t| t.trim()) {
            match text.parse::<u64>() {
                Ok(ms) if ms > 0 => config.timeout = Duration::from_millis(ms),
                _ => {
                    return Err(ProviderError::new(format!(
                        "TIMEOUT_MS must be a positive number of milliseconds, not '{text}'"
                    )))
                }
            }
        }
        if let Some(text) = values.get("MAX_RESPONSE_BYTES").map(|m| m.trim()) {
            config.max_response_bytes = text.parse().map_err(|_| {
                ProviderError::new(format!(
                    "MAX_RESPONSE_BYTES must be a number of bytes, not '{text}'"
                ))
            })?;
        }
        Ok(config)
    }

    /// The timeout in whole milliseconds, for messages.
    pub fn timeout_ms(&self) -> u128 {
        self.timeout.as_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_provider_sdk::ActorBinding;

    #[test]
    fn defaults() {
        let config = ClientConfig::from_values(
            &ActorBinding::new("MACTOR", &[("__wascc_name", "x")]).values,
        )
        .unwrap();
        assert_eq!(config, ClientConfig::default());
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.max_response_bytes, 10 * 1024 * 1024);
    }

    #[test]
    fn explicit_values() {
        let config = ClientConfig::from_values(
            &ActorBinding::new(
                "MACTOR",
                &[("TIMEOUT_MS", " 250 "), ("MAX_RESPONSE_BYTES", "0")],
            )
            .values,
        )
        .unwrap();
        assert_eq!(config.timeout, Duration::from_millis(250));
        assert_eq!(config.timeout_ms(), 250);
        assert_eq!(config.max_response_bytes, 0);
    }

    #[test]
    fn bad_values_are_named() {
        for bad in ["0", "-5", "soon", ""] {
            let e = ClientConfig::from_values(
                &ActorBinding::new("MACTOR", &[("TIMEOUT_MS", bad)]).values,
            )
            .unwrap_err();
            assert!(e.message().contains("TIMEOUT_MS"), "{e}");
            assert!(e.message().contains(&format!("'{bad}'")), "{e}");
        }
        let e = ClientConfig::from_values(
            &ActorBinding::new("MACTOR", &[("MAX_RESPONSE_BYTES", "1MB")]).values,
        )
        .unwrap_err();
        assert!(e.message().contains("MAX_RESPONSE_BYTES"), "{e}");
        assert!(e.message().contains("'1MB'"), "{e}");
    }
}
