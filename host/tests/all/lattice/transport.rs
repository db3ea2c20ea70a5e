//! Transport security of the lattice, against real `nats-server` processes:
//! TLS with a private CA (and client certificates), and operator mode, where
//! hosts prove who they are with a NATS credentials file.
//!
//! The certificates and the operator's, account's and user's JWTs are made
//! here, by the test, as an operator would make them with their own tools.

use super::{config, health, leave, member, trellis_json};
use crate::support::*;
use pki::Pki;
use rcgen::ExtendedKeyUsagePurpose;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use trellis_host::lattice::{self, ClientCertificate, LatticeConfig};
use trellis_host::Invocation;

/// Two hosts of `config`'s lattice call each other: the second calls the
/// first's echo actor, and the first calls the second's chaos actor, which
/// calls echo back across the lattice.
async fn call_each_other(config: LatticeConfig) {
    let a = member(config.clone(), &["echo_s"], &[]).await;
    let b = member(config, &["chaos_s"], &[]).await;
    b.0.bus()
        .call(Invocation::to_actor(ECHO_KEY, "HealthRequest", health()))
        .await
        .expect("the second host calls the first");
    let mut round_trip = format!("{ECHO_KEY}|HealthRequest|").into_bytes();
    round_trip.extend_from_slice(&health());
    a.0.bus()
        .call(Invocation::to_actor(CHAOS_KEY, "CallActor", round_trip))
        .await
        .expect("the first host calls the second, whose actor calls back");
    leave(&[&a, &b]).await;
}

/// Why a host with `config` could not join.
async fn join_error(config: LatticeConfig) -> String {
    lattice::join(&Arc::new(host()), config)
        .await
        .err()
        .expect("the host is refused")
        .to_string()
}

/// A private certificate authority, and the files it signs, in a folder of
/// the test's own.
mod pki {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };

    /// A CA whose certificate is `ca.pem` in its folder.
    pub struct Pki {
        dir: tempfile::TempDir,
        issuer: Issuer<'static, KeyPair>,
    }

    /// A certificate file and its key file.
    pub struct Issued {
        pub cert: PathBuf,
        pub key: PathBuf,
    }

    impl Pki {
        pub fn new(name: &str) -> Pki {
            let mut params = CertificateParams::new(Vec::new()).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let key = KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
            Pki {
                dir,
                issuer: Issuer::new(params, key),
            }
        }

        /// The PEM file of the CA's certificate.
        pub fn ca_file(&self) -> PathBuf {
            self.dir.path().join("ca.pem")
        }

        /// A certificate for this machine's loopback names, signed by the CA,
        /// for a server's or a client's side of TLS.
        pub fn issue(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> Issued {
            let mut params =
                CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                    .unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            let issued = Issued {
                cert: self.dir.path().join(format!("{name}.pem")),
                key: self.dir.path().join(format!("{name}-key.pem")),
            };
            std::fs::write(&issued.cert, cert.pem()).unwrap();
            std::fs::write(&issued.key, key.serialize_pem()).unwrap();
            issued
        }

        /// The server's certificate, and the `tls` block of a nats-server
        /// configuration serving it; `verify_clients` also demands a client
        /// certificate signed by this CA.
        pub fn server_tls(&self, verify_clients: bool) -> String {
            let server = self.issue("nats-server", ExtendedKeyUsagePurpose::ServerAuth);
            let clients = if verify_clients {
                format!("ca_file: {:?}\nverify: true", self.ca_file())
            } else {
                String::new()
            };
            format!(
                "tls {{\ncert_file: {:?}\nkey_file: {:?}\n{clients}\n}}",
                server.cert, server.key
            )
        }
    }
}

fn tls_config(nats: &NatsServer, ca: Option<&Path>) -> LatticeConfig {
    LatticeConfig {
        host: format!("tls://{}", nats.address()),
        tls_ca: ca.map(Path::to_path_buf),
        ..config(nats, "x")
    }
}

/// What the server answers a client that speaks plain text to it: sends
/// `CONNECT` and `PING` and reads until the server closes the connection.
fn plain_text_exchange(nats: &NatsServer) -> String {
    let mut stream = TcpStream::connect(nats.address()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut info = [0u8; 4096];
    let read = stream.read(&mut info).unwrap();
    let info = String::from_utf8_lossy(&info[..read]).to_string();
    assert!(info.contains("\"tls_required\":true"), "{info}");
    stream
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    let mut answer = Vec::new();
    // Ends at the server's close (a reset, if it left bytes unread); a
    // timeout would mean it kept the client.
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server kept a plain-text client: {e}"),
    }
    String::from_utf8_lossy(&answer).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_private_ca_carries_calls_and_refuses_the_unverified() {
    let pki = Pki::new("trellis test CA");
    let nats = NatsServer::with_config(&pki.server_tls(false));
    call_each_other(tls_config(&nats, Some(&pki.ca_file()))).await;

    // Without the CA file the server's certificate is unknown.
    let err = join_error(tls_config(&nats, None)).await;
    assert!(
        err.contains("cannot connect to NATS") && err.contains("certificate"),
        "{err}"
    );
    // Another CA's file does not vouch for this server either.
    let stranger = Pki::new("another CA");
    let err = join_error(tls_config(&nats, Some(&stranger.ca_file()))).await;
    assert!(err.contains("certificate"), "{err}");

    // A client speaking plain text gets no answer but a closed connection.
    let answer = plain_text_exchange(&nats);
    assert!(!answer.contains("PONG"), "{answer}");
    // (The readiness probes of the test's server guard end without a
    // handshake too: this is the plain-text client's own rejection.)
    assert!(
        nats.log()
            .contains("TLS handshake error: tls: first record does not look like a TLS handshake"),
        "{}",
        nats.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ca_file_demands_tls_and_must_be_readable() {
    let pki = Pki::new("trellis test CA");
    // A server without TLS: given a CA file, the host does not fall back
    // to plain text, even for a nats:// address.
    let plain = NatsServer::start();
    let err = join_error(LatticeConfig {
        tls_ca: Some(pki.ca_file()),
        ..config(&plain, "x")
    })
    .await;
    assert!(err.contains("cannot connect to NATS"), "{err}");

    let missing = pki.ca_file().with_file_name("no-such-ca.pem");
    let err = join_error(tls_config(&plain, Some(&missing))).await;
    assert!(
        err.contains("TLS CA file") && err.contains(&missing.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_verifies_clients_admits_hosts_with_a_certificate_of_its_ca() {
    let pki = Pki::new("trellis test CA");
    let nats = NatsServer::with_config(&pki.server_tls(true));
    let client = pki.issue("host", ExtendedKeyUsagePurpose::ClientAuth);
    let with_certificate = LatticeConfig {
        tls_client: Some(ClientCertificate {
            cert: client.cert,
            key: client.key,
        }),
        ..tls_config(&nats, Some(&pki.ca_file()))
    };
    call_each_other(with_certificate).await;

    let err = join_error(tls_config(&nats, Some(&pki.ca_file()))).await;
    assert!(
        err.contains("cannot connect to NATS") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn trellis_lattice_hosts_reaches_a_tls_lattice_with_the_ca_flag() {
    let pki = Pki::new("trellis test CA");
    let nats = NatsServer::with_config(&pki.server_tls(false));
    let member_host = member(tls_config(&nats, Some(&pki.ca_file())), &["echo_s"], &[]).await;
    let tls_args = |ca: &Path| {
        let tls_url = format!("tls://{}", nats.address());
        let ca = ca.display().to_string();
        [
            "lattice",
            "hosts",
            "--json",
            "--lattice-namespace",
            "x",
            "--lattice-host",
            tls_url.as_str(),
            "--lattice-tls-ca",
            ca.as_str(),
        ]
        .map(String::from)
        .to_vec()
    };
    let hosts = trellis_json(&tls_args(&pki.ca_file()));
    let hosts = hosts.as_array().expect("a list of hosts");
    assert!(
        hosts.iter().any(|h| h["host"] == member_host.1.host_id()),
        "{hosts:#?}"
    );

    let missing = pki.ca_file().with_file_name("missing.pem");
    let out = trellis().args(tls_args(&missing)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(&missing.display().to_string()),
        "{stderr}"
    );
    leave(&[&member_host]).await;
}

/// NATS operator mode, its keys and JWTs made here: an operator signs an
/// account, the account signs users, and a user proves itself with a
/// credentials file (its JWT and its seed).
mod operator {
    use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
    use nkeys::KeyPair;
    use serde_json::{json, Value};
    use sha2::{Digest, Sha512_256};
    use std::time::{SystemTime, UNIX_EPOCH};
    use trellis_host::lattice::LatticeConfig;
    use trellis_test_support::NatsServer;

    /// A JWT of NATS's v2 format: `claims` (with `nats`, the claims of the
    /// kind) about `subject`, signed by `issuer`.
    fn nats_jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
        let issued_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({
            "jti": "",
            "iat": issued_at,
            "iss": issuer.public_key(),
            "name": name,
            "sub": subject,
            "nats": nats,
        });
        // The id is the hash of the claims without it, as NATS's own tools make it.
        claims["jti"] = BASE32_NOPAD
            .encode(&Sha512_256::digest(claims.to_string()))
            .into();
        let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let payload = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
        let signed = format!("{header}.{payload}");
        let signature = issuer.sign(signed.as_bytes()).unwrap();
        format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
    }

    /// An operator and the one account it vouches for.
    pub struct Operator {
        jwt: String,
        account: KeyPair,
        account_jwt: String,
    }

    impl Operator {
        pub fn new(name: &str) -> Operator {
            let operator = KeyPair::new_operator();
            let jwt = nats_jwt(
                &operator,
                &operator.public_key(),
                name,
                json!({"type": "operator", "version": 2}),
            );
            let account = KeyPair::new_account();
            // -1: no limit; an account without limits admits no connection.
            let limits = json!({
                "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                "wildcards": true, "conn": -1, "leaf": -1,
            });
            let account_jwt = nats_jwt(
                &operator,
                &account.public_key(),
                "lattice",
                json!({
                    "limits": limits,
                    "default_permissions": {"pub": {}, "sub": {}},
                    "type": "account",
                    "version": 2,
                }),
            );
            Operator {
                jwt,
                account,
                account_jwt,
            }
        }

        /// A nats-server trusting this operator, its account known to the
        /// server from the start (the memory resolver).
        pub fn server(&self) -> NatsServer {
            NatsServer::with_config(&format!(
                "operator: \"{}\"\nresolver: MEMORY\nresolver_preload: {{ \"{}\": \"{}\" }}",
                self.jwt,
                self.account.public_key(),
                self.account_jwt
            ))
        }

        /// The credentials file of a new user of the account, allowed to
        /// publish and subscribe only on `subjects`.
        pub fn user_creds(&self, name: &str, subjects: &[&str]) -> String {
            let user = KeyPair::new_user();
            let allowed = json!({ "allow": subjects });
            // Signed by the account's own key, so no `issuer_account`.
            let jwt = nats_jwt(
                &self.account,
                &user.public_key(),
                name,
                json!({
                    "pub": allowed,
                    "sub": allowed,
                    "subs": -1, "data": -1, "payload": -1,
                    "type": "user",
                    "version": 2,
                }),
            );
            let seed = user.seed().unwrap();
            format!(
                "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
                 -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
            )
        }
    }

    /// `config` with the credentials file `path`, holding `creds`.
    pub fn with_creds(config: LatticeConfig, path: &std::path::Path, creds: &str) -> LatticeConfig {
        std::fs::write(path, creds).unwrap();
        LatticeConfig {
            creds_file: Some(path.to_path_buf()),
            ..config
        }
    }
}

/// What a host of namespace `x` needs, as docs/security.md recommends.
const LATTICE_SUBJECTS: &[&str] = &["trellis.x.>", "_INBOX.>"];

#[tokio::test(flavor = "multi_thread")]
async fn operator_mode_admits_hosts_with_creds_of_its_account_only() {
    let trusted = operator::Operator::new("trellis test operator");
    let nats = trusted.server();
    let dir = tempfile::tempdir().unwrap();
    let host_creds = trusted.user_creds("host", LATTICE_SUBJECTS);
    let creds_config = operator::with_creds(
        config(&nats, "x"),
        &dir.path().join("host.creds"),
        &host_creds,
    );
    call_each_other(creds_config).await;

    let err = join_error(config(&nats, "x")).await;
    assert!(
        err.contains("cannot connect to NATS") && err.contains("authorization violation"),
        "no credentials: {err}"
    );

    // A user of an account of another operator, unknown to this server.
    let stranger = operator::Operator::new("another operator");
    let foreign = operator::with_creds(
        config(&nats, "x"),
        &dir.path().join("foreign.creds"),
        &stranger.user_creds("host", LATTICE_SUBJECTS),
    );
    let err = join_error(foreign).await;
    assert!(
        err.contains("cannot connect to NATS") && err.contains("authorization violation"),
        "foreign credentials: {err}"
    );

    let missing = LatticeConfig {
        creds_file: Some(dir.path().join("missing.creds")),
        ..config(&nats, "x")
    };
    let err = join_error(missing).await;
    assert!(
        err.contains("cannot read the NATS credentials file") && err.contains("missing.creds"),
        "{err}"
    );
}
