//! How a host finds its lattice: NATS address, credentials, namespace, timings.

use std::path::PathBuf;
use std::time::Duration;

/// Connection settings of a lattice member. Every field has a default that
/// makes the first host on a laptop a lattice of one.
#[derive(Debug, Clone)]
pub struct LatticeConfig {
    /// The NATS server, as `LATTICE_HOST` gives it: `host`, `host:port` or a
    /// URL (`nats://user:pass@host:4222`, `nats://token@host`, `tls://…`).
    pub host: String,
    /// A NATS credentials file (`LATTICE_CREDS_FILE`).
    pub creds_file: Option<PathBuf>,
    /// Hosts in different namespaces share a NATS server without seeing each other.
    pub namespace: String,
    /// Longest a call through the lattice may take.
    pub rpc_timeout: Duration,
    /// How often a host advertises its inventory; a host silent for two
    /// beats is dropped from every view.
    pub heartbeat: Duration,
    /// Keep trying to reach NATS at start instead of failing.
    pub retry_connect: bool,
}

impl Default for LatticeConfig {
    fn default() -> Self {
        LatticeConfig {
            host: "127.0.0.1".into(),
            creds_file: None,
            namespace: "default".into(),
            rpc_timeout: Duration::from_secs(2),
            heartbeat: Duration::from_secs(5),
            retry_connect: false,
        }
    }
}

impl LatticeConfig {
    /// The NATS URL `host` stands for: an empty host means the loopback
    /// leafcar, a missing port means 4222, a URL is taken as it is.
    pub fn url(&self) -> String {
        let host = self.host.trim();
        if host.contains("://") {
            return host.to_string();
        }
        let host = if host.is_empty() { "127.0.0.1" } else { host };
        // `host:port` or `[v6]:port` carry a port; a bare v6 address has colons but no port.
        let has_port = if host.starts_with('[') {
            host.contains("]:")
        } else {
            host.matches(':').count() == 1
        };
        if has_port {
            format!("nats://{host}")
        } else {
            format!("nats://{host}:4222")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LatticeConfig;

    fn url(host: &str) -> String {
        LatticeConfig {
            host: host.into(),
            ..LatticeConfig::default()
        }
        .url()
    }

    #[test]
    fn lattice_host_forms() {
        assert_eq!(url(""), "nats://127.0.0.1:4222");
        assert_eq!(url("nats.local"), "nats://nats.local:4222");
        assert_eq!(url("10.0.0.5:4333"), "nats://10.0.0.5:4333");
        assert_eq!(url("[::1]:4333"), "nats://[::1]:4333");
        assert_eq!(url("tls://u:p@h:4443"), "tls://u:p@h:4443");
    }
}
