//! How a host finds its lattice: NATS address, credentials, namespace, timings.

use super::trust::{ClusterKeys, Trust, TrustError};
use std::path::PathBuf;
use std::time::Duration;
use trellis_claims::nkeys::KeyPair;

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
    /// The cluster seed (`SC…`, or a file holding one) that makes this a
    /// trusted lattice; `None`: an open one (`LATTICE_CLUSTER_SEED`).
    pub cluster_seed: Option<String>,
    /// Cluster public keys (`C…`) trusted besides the seed's own, for
    /// rotating the cluster key without downtime (`LATTICE_CLUSTER_ISSUERS`).
    pub cluster_issuers: Vec<String>,
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
            cluster_seed: None,
            cluster_issuers: Vec::new(),
        }
    }
}

/// Credentials given inside the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UrlAuth {
    UserPassword(String, String),
    Token(String),
}

impl LatticeConfig {
    /// The NATS server to connect to, credentials removed (they are passed
    /// separately, and must not reach a log line).
    pub fn server_url(&self) -> String {
        split_credentials(&self.url()).0
    }

    /// Connection options for a client named `name`: timeouts, the
    /// credentials file, and user/password or token given in the URL.
    pub async fn connect_options(
        &self,
        name: &str,
    ) -> Result<async_nats::ConnectOptions, super::LatticeError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(3))
            .request_timeout(Some(self.rpc_timeout));
        if self.retry_connect {
            options = options.retry_on_initial_connect();
        }
        options = match split_credentials(&self.url()).1 {
            Some(UrlAuth::UserPassword(user, password)) => {
                options.user_and_password(user, password)
            }
            Some(UrlAuth::Token(token)) => options.token(token),
            None => options,
        };
        match &self.creds_file {
            Some(path) => {
                options
                    .credentials_file(path)
                    .await
                    .map_err(|e| super::LatticeError::Credentials {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })
            }
            None => Ok(options),
        }
    }

    /// What a member whose own key is `member` trusts: the cluster keys
    /// when a seed is given, else nothing (an open lattice).
    pub fn trust(&self, member: &KeyPair) -> Result<Trust, super::LatticeError> {
        let Some(seed) = &self.cluster_seed else {
            if !self.cluster_issuers.is_empty() {
                return Err(TrustError::Seed(
                    "cluster issuers are given but no cluster seed (--lattice-cluster-seed)".into(),
                )
                .into());
            }
            return Ok(Trust::open_lattice());
        };
        let keys = ClusterKeys::new(seed, &self.cluster_issuers, &self.namespace)?;
        Ok(Trust::cluster(keys, member)?)
    }

    /// The NATS URL `host` stands for: an empty host means the loopback
    /// leafcar, a missing port means 4222, a URL is taken as it is.
    fn url(&self) -> String {
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

/// `nats://user:pass@host:4222` → (`nats://host:4222`, user and password);
/// `nats://token@host` → (`nats://host`, token).
fn split_credentials(url: &str) -> (String, Option<UrlAuth>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let Some((userinfo, address)) = rest.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let auth = match userinfo.split_once(':') {
        Some((user, password)) => UrlAuth::UserPassword(user.into(), password.into()),
        None => UrlAuth::Token(userinfo.into()),
    };
    (format!("{scheme}://{address}"), Some(auth))
}

#[cfg(test)]
mod tests {
    use super::{split_credentials, LatticeConfig, UrlAuth};

    #[test]
    fn credentials_leave_the_url() {
        let (url, auth) = split_credentials("nats://u:p@h:4222");
        assert_eq!(url, "nats://h:4222");
        assert_eq!(auth, Some(UrlAuth::UserPassword("u".into(), "p".into())));
        let (url, auth) = split_credentials("tls://s3cret@h");
        assert_eq!(url, "tls://h");
        assert_eq!(auth, Some(UrlAuth::Token("s3cret".into())));
        assert_eq!(split_credentials("nats://h:1").1, None);
    }

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
