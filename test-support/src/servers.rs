//! Real servers the tests talk to: `nats-server` and `redis-server`, each on
//! a free loopback port, ready when returned, killed when dropped.

use crate::{free_port, Process};
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(10);
/// How many free ports a start tries: a port found free may be taken before
/// the server binds it.
const PORT_TRIES: usize = 5;

/// A `nats-server` on 127.0.0.1, killed when dropped.
pub type NatsServer = Server<Nats>;

/// A `redis-server` on 127.0.0.1 that saves nothing to disk, killed when dropped.
pub type RedisServer = Server<Redis>;

/// What differs between the kinds of [`Server`].
pub trait ServerKind {
    /// The program, found on `PATH`.
    const PROGRAM: &'static str;
    /// The scheme of the URLs clients connect with.
    const SCHEME: &'static str;
    /// Whether the server behind `stream` answers like itself.
    fn ready(stream: &mut TcpStream) -> bool;
}

/// The [`ServerKind`] of `nats-server`.
pub struct Nats;

impl ServerKind for Nats {
    const PROGRAM: &'static str = "nats-server";
    const SCHEME: &'static str = "nats";

    /// NATS servers greet every client with `INFO {…}`.
    fn ready(stream: &mut TcpStream) -> bool {
        let mut greeting = [0u8; 4];
        stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO"
    }
}

/// The [`ServerKind`] of `redis-server`.
pub struct Redis;

impl ServerKind for Redis {
    const PROGRAM: &'static str = "redis-server";
    const SCHEME: &'static str = "redis";

    /// Redis answers `PING` with `+PONG`.
    fn ready(stream: &mut TcpStream) -> bool {
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

/// A server process of kind `K` on a loopback port, restartable on the same
/// port, killed when dropped. Use it as [`NatsServer`] or [`RedisServer`].
pub struct Server<K: ServerKind> {
    port: u16,
    args: Vec<String>,
    process: Option<Process>,
    paused: bool,
    /// Holds a configuration file the arguments name, if any.
    _config_dir: Option<tempfile::TempDir>,
    /// Where the process's standard output and error go, across restarts.
    log: tempfile::NamedTempFile,
    kind: PhantomData<K>,
}

impl NatsServer {
    /// Starts a server on a free port and waits until it greets clients.
    pub fn start() -> NatsServer {
        NatsServer::with_config("")
    }

    /// Starts a server with `config` (nats-server configuration lines, e.g. a
    /// `leafnodes` or `http` block) after its `listen` line.
    pub fn with_config(config: &str) -> NatsServer {
        let dir = tempfile::tempdir().expect("a temporary folder for nats.conf");
        let file = dir.path().join("nats.conf");
        let mut server = Server::start_with(|port| {
            std::fs::write(&file, format!("listen: 127.0.0.1:{port}\n{config}\n"))
                .expect("nats.conf is written");
            vec!["-c".to_owned(), file.display().to_string()]
        });
        server._config_dir = Some(dir);
        server
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    pub fn start() -> RedisServer {
        Server::start_with(redis_args)
    }

    /// A server that does not run yet, on a port that is free now: start it
    /// with [`Server::restart`].
    pub fn stopped() -> RedisServer {
        Server::new(free_port(), redis_args)
    }
}

fn redis_args(port: u16) -> Vec<String> {
    let dir = std::env::temp_dir().to_string_lossy().into_owned();
    let port = port.to_string();
    [
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir,
    ]
    .map(str::to_owned)
    .to_vec()
}

impl<K: ServerKind> Server<K> {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `<scheme>://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", K::SCHEME, self.port)
    }

    /// The server's process id; panics while it is killed.
    pub fn id(&self) -> u32 {
        self.process
            .as_ref()
            .map(Process::id)
            .unwrap_or_else(|| panic!("{} is not running", K::PROGRAM))
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            if self.paused {
                // A stopped process only dies once it runs again.
                process.signal("CONT");
                self.paused = false;
            }
            process.kill();
        }
    }

    /// Kills the server if it runs and starts it (again) on its port, with
    /// the same arguments.
    pub fn restart(&mut self) {
        self.kill();
        // Right after a kill the port may still be held for a moment.
        let deadline = Instant::now() + STARTUP;
        loop {
            match self.launch() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!(
                    "could not restart {} on port {}: {e}",
                    K::PROGRAM,
                    self.port
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&mut self) {
        if let Some(process) = &self.process {
            process.signal("STOP");
            self.paused = true;
        }
    }

    /// Undoes [`Server::pause`].
    pub fn resume(&mut self) {
        if let Some(process) = &self.process {
            process.signal("CONT");
            self.paused = false;
        }
    }

    fn new(port: u16, mut args_for: impl FnMut(u16) -> Vec<String>) -> Server<K> {
        Server {
            port,
            args: args_for(port),
            process: None,
            paused: false,
            _config_dir: None,
            log: tempfile::NamedTempFile::new().expect("a temporary file for the server's log"),
            kind: PhantomData,
        }
    }

    /// Starts a server on a free port with `args_for(port)`, trying a few ports.
    fn start_with(mut args_for: impl FnMut(u16) -> Vec<String>) -> Server<K> {
        let mut last_error = String::new();
        for _ in 0..PORT_TRIES {
            let mut server = Server::new(free_port(), &mut args_for);
            match server.launch() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start {}: {last_error}", K::PROGRAM);
    }

    /// What the server wrote to its standard output and error so far, over
    /// all its runs.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The server's output as a file both streams can write to.
    fn log_sink(&self) -> Stdio {
        self.log
            .as_file()
            .try_clone()
            .map(Stdio::from)
            .expect("the server's log file can be shared")
    }

    /// Runs the program and waits until it is ready.
    fn launch(&mut self) -> Result<(), String> {
        let program = K::PROGRAM;
        let mut process = Process::spawn(
            Command::new(program)
                .args(&self.args)
                .stdout(self.log_sink())
                .stderr(self.log_sink()),
            &format!(
                "{program} (the tests start real servers: install it with \
                 `scripts/setup --with-servers`, or `apt-get install {program}`)"
            ),
        );
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = process.exited() {
                // Its last words say why: a configuration it rejects, a port in use.
                return Err(format!(
                    "{program} exited at start with {status}; its output:\n{}",
                    self.log()
                ));
            }
            if self.answers() {
                self.process = Some(process);
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{program} did not answer on port {} within {STARTUP:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        K::ready(&mut stream)
    }
}

impl<K: ServerKind> Drop for Server<K> {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(port: u16) -> bool {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    }

    #[test]
    fn nats_server_runs_until_dropped() {
        let nats = NatsServer::start();
        let port = nats.port();
        assert_eq!(nats.url(), format!("nats://127.0.0.1:{port}"));
        assert!(accepts(port));
        drop(nats);
        assert!(!accepts(port));
    }

    #[test]
    #[should_panic(expected = "unknown field \"no_such_option\"")]
    fn a_rejected_configuration_is_reported_with_the_servers_words() {
        NatsServer::with_config("no_such_option: 1");
    }

    #[test]
    fn the_servers_output_is_kept() {
        let nats = NatsServer::start();
        assert!(nats.log().contains("Server is ready"), "{}", nats.log());
    }

    #[test]
    fn redis_server_restarts_on_its_port() {
        let mut redis = RedisServer::stopped();
        assert!(!accepts(redis.port()));
        redis.restart();
        assert!(accepts(redis.port()));
        redis.pause();
        redis.kill();
        assert!(!accepts(redis.port()));
    }
}
