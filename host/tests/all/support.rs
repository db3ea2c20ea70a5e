//! What the host's test modules share beyond `trellis-test-support` (free
//! ports, `eventually`, server guards, artifact paths, re-exported here): the
//! test actors' keys, a host with small limits, manifests, HTTP requests and
//! `trellis` processes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trellis_host::{Host, HostBuilder, HostConfig, Invocation, InvocationError};
use trellis_manifest::Manifest;
pub use trellis_test_support::{
    actor, eventually, free_port, library, workspace_root, NatsServer, Process, RedisServer,
};

pub const ECHO_KEY: &str = "MABDHSD55WXG7HMUURJCTYQBD7KYIV2HAYK5YBBVQDLZBPHE4FQRTOVD";
pub const CHAOS_KEY: &str = "MBLGHQTYCS46DAKIJP47FOMR6ZJ67AOAFN6TJQCHSTC3EVY4GKPIOBQ3";
pub const KVCOUNTER_KEY: &str = "MAEHJ4CVKCCHQ3ZXNSLMDPK6UTZYJMLPPOAQ5TRSJXBCPCKBVI5UEBHI";

pub fn http_server_library() -> PathBuf {
    library("trellis_provider_httpserver")
}

pub fn chaos_library() -> PathBuf {
    library("fixture_chaos")
}

/// Limits for tests: small pools, so parallel tests share the machine.
pub fn test_config() -> HostConfig {
    HostConfig {
        max_total_instances: 64,
        max_instances_per_actor: 16,
        call_timeout: Duration::from_secs(5),
        memory_limit: 32 << 20,
        ..HostConfig::default()
    }
}

pub fn host() -> Host {
    HostBuilder::new()
        .config(test_config())
        .build()
        .expect("host builds")
}

/// Has the chaos actor call a capability; `call` is
/// `capability|binding|operation|payload`, the reply is what the provider gave.
pub async fn chaos_calls(
    host: &Host,
    call: impl Into<Vec<u8>>,
) -> Result<Vec<u8>, InvocationError> {
    host.bus()
        .call(Invocation::to_actor(
            CHAOS_KEY,
            "CallCapability",
            call.into(),
        ))
        .await
}

/// Parses a manifest written by a test, resolving paths against `dir`.
pub fn manifest(text: &str, dir: &Path) -> Result<Manifest, trellis_manifest::ManifestError> {
    let source = dir.join("test.yaml");
    std::fs::write(&source, text).expect("write manifest");
    Manifest::load(&source)
}

/// The manifest of the echo demo on `port`.
pub fn echo_manifest(port: u16) -> String {
    format!(
        "actors:\n  - {}\ncapabilities:\n  - path: {}\nbindings:\n  - actor: {ECHO_KEY}\n    capability: wascc:http_server\n    values: {{PORT: \"{port}\"}}\n",
        actor("echo_s").display(),
        http_server_library().display()
    )
}

/// A real HTTP response, read off the socket.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// Sends one HTTP/1.1 request to 127.0.0.1:`port` with hyper.
pub async fn http(method: &str, port: u16, path: &str, body: &str) -> Result<HttpReply, String> {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header("x-test", "yes")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(HttpReply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The `trellis` binary cargo built for these tests.
pub fn trellis() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trellis"));
    command
        .env("RUST_LOG", "info")
        .env_remove("RUST_BACKTRACE")
        // Compiled code stays under target/, not in the user's cache folder.
        .env(
            "TRELLIS_CODE_CACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("code-cache"),
        );
    command
}

/// A `trellis up` process, killed if the test ends early.
pub struct Running {
    process: Process,
    log: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `trellis up ARGS`.
    pub fn start(args: &[&str]) -> Running {
        Running::spawn(trellis().arg("up").args(args))
    }

    /// Starts `command`, collecting what it prints (stdout and stderr).
    pub fn spawn(command: &mut Command) -> Running {
        let mut process = Process::spawn(
            command
                .stderr(Stdio::piped())
                .stdout(Stdio::piped())
                .env("NO_COLOR", "1"),
            "the trellis binary",
        );
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = process.take_stdout().expect("piped stdout");
        let stderr = process.take_stderr().expect("piped stderr");
        collect_lines(stdout, Arc::clone(&log));
        collect_lines(stderr, Arc::clone(&log));
        Running { process, log }
    }

    /// Kills the process at once (SIGKILL): no goodbye, no cleanup.
    #[cfg_attr(not(feature = "lattice"), allow(dead_code))] // the lattice tests use it
    pub fn kill(mut self) {
        self.process.kill();
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn wait_for_log(&self, needle: &str) {
        let start = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no `{needle}` in:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.process.signal("TERM");
        match self.process.wait_for_exit(Duration::from_secs(20)) {
            Some(status) => status,
            None => panic!("trellis did not stop:\n{}", self.log()),
        }
    }
}

fn collect_lines(stream: impl std::io::Read + Send + 'static, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
}
