//! How a host finds its lattice: NATS address, credentials, TLS, namespace, timings.

use super::trust::{ClusterKeys, Trust, TrustError};
use std::path::{Path, PathBuf};
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
    /// PEM file of the CA certificates to trust for the server's TLS
    /// certificate (`LATTICE_TLS_CA`), instead of the system's. Given one,
    /// the connection must be TLS, whatever the URL's scheme.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and its private key, both PEM files
    /// (`LATTICE_TLS_CERT`, `LATTICE_TLS_KEY`), for a server that verifies
    /// its clients.
    pub tls_client: Option<ClientCertificate>,
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
            tls_ca: None,
            tls_client: None,
            namespace: "default".into(),
            rpc_timeout: Duration::from_secs(2),
            heartbeat: Duration::from_secs(5),
            retry_connect: false,
            cluster_seed: None,
            cluster_issuers: Vec::new(),
        }
    }
}

/// A TLS client certificate: the certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// PEM file of the certificate (and any intermediates).
    pub cert: PathBuf,
    /// PEM file of its private key.
    pub key: PathBuf,
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

    /// Connection options for a client named `name`: timeouts, TLS, the
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
        options = self.tls_options(options)?;
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

    /// Adds the CA file and the client certificate, each checked first: the
    /// NATS client reads them only while connecting, and would report a
    /// missing file as a failed connection without naming it.
    fn tls_options(
        &self,
        mut options: async_nats::ConnectOptions,
    ) -> Result<async_nats::ConnectOptions, super::LatticeError> {
        if let Some(ca) = &self.tls_ca {
            check_pem(ca, "CA file", "CERTIFICATE")?;
            // A CA file says the server is known to speak TLS: never fall back to plain text.
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some(client) = &self.tls_client {
            check_pem(&client.cert, "client certificate", "CERTIFICATE")?;
            check_pem(&client.key, "client key", "PRIVATE KEY")?;
            options = options.add_client_certificate(client.cert.clone(), client.key.clone());
        }
        Ok(options)
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

/// Checks that `path` can be read and holds a PEM block whose label ends in
/// `label` (`CERTIFICATE`; `PRIVATE KEY` also matches `EC PRIVATE KEY`…).
fn check_pem(path: &Path, what: &str, label: &str) -> Result<(), super::LatticeError> {
    let fail = |message: String| super::LatticeError::Tls {
        what: what.to_string(),
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let holds_block = text.lines().any(|line| {
        line.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|found| found.ends_with(label))
    });
    if holds_block {
        Ok(())
    } else {
        Err(fail(format!("it holds no PEM {label}")))
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
    use super::{split_credentials, ClientCertificate, LatticeConfig, UrlAuth};
    use std::path::PathBuf;

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

    /// The error of connecting with `config`'s TLS files, as a user reads it.
    async fn tls_error(config: LatticeConfig) -> String {
        config
            .connect_options("test")
            .await
            .expect_err("the TLS files are refused")
            .to_string()
    }

    fn with_ca(path: PathBuf) -> LatticeConfig {
        LatticeConfig {
            tls_ca: Some(path),
            ..LatticeConfig::default()
        }
    }

    // A syntactically PEM certificate: the files are only checked for
    // presence and form here; the integration tests use real certificates.
    const PEM_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[tokio::test]
    async fn a_missing_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-ca.pem");
        let err = tls_error(with_ca(missing.clone())).await;
        assert!(
            err.contains(&missing.display().to_string()) && err.contains("TLS CA file"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = tls_error(with_ca(empty)).await;
        assert!(err.contains("holds no PEM CERTIFICATE"), "{err}");
    }

    #[tokio::test]
    async fn readable_tls_files_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, PEM_CERT).unwrap();
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let client = ClientCertificate {
            cert: cert.clone(),
            key,
        };
        let config = LatticeConfig {
            tls_client: Some(client),
            ..with_ca(cert)
        };
        assert!(config.connect_options("test").await.is_ok());
    }

    #[tokio::test]
    async fn a_client_key_that_is_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, PEM_CERT).unwrap();
        let config = LatticeConfig {
            tls_client: Some(ClientCertificate {
                cert: cert.clone(),
                key: cert,
            }),
            ..LatticeConfig::default()
        };
        let err = tls_error(config).await;
        assert!(
            err.contains("TLS client key") && err.contains("holds no PEM PRIVATE KEY"),
            "{err}"
        );
    }
}
