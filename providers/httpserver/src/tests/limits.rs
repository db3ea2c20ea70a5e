//! The limits against slow and greedy clients, with raw TCP clients that
//! misbehave on purpose: a body dripped in too slowly (`BODY_TIMEOUT_MS`),
//! connections that send nothing or too little (`IDLE_TIMEOUT_MS`), and more
//! connections held open than the server takes (`MAX_CONNECTIONS`).

use super::*;
use std::collections::HashSet;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;
use trellis_test_support::eventually;

/// How much later than its timeout a connection may close: the machine may be busy.
const MARGIN: Duration = Duration::from_secs(3);

/// Binds `ACTOR` on a free port with the extra `values`; returns its address.
fn bind_with(provider: &HttpServerProvider<TestActor>, values: &[(&str, &str)]) -> SocketAddr {
    let mut values = values.to_vec();
    values.push(("PORT", "0"));
    provider
        .bind_actor(ActorBinding::new(ACTOR, &values))
        .unwrap();
    provider.local_addr(ACTOR).unwrap()
}

/// Writes `bytes` one at a time, one every `every`, until done or the peer is gone.
fn drip(
    mut writer: impl AsyncWrite + Unpin + Send + 'static,
    bytes: Vec<u8>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        for byte in bytes {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Reads, in the background, everything the server sends on `reader` until
/// it closes the connection (an end of stream or a reset), and returns it.
/// Panics unless the close comes `timeout` after `since` (the latest moment
/// the server's timer may have started), give or take [`MARGIN`] later.
fn closes_after(
    mut reader: impl AsyncRead + Unpin + Send + 'static,
    since: Instant,
    timeout: Duration,
) -> JoinHandle<String> {
    tokio::spawn(async move {
        let mut received = Vec::new();
        let read_all = async {
            let mut buffer = [0; 1024];
            // A reset instead of an end of stream is a close too: the server
            // may close with bytes of ours still unread.
            while let Ok(n @ 1..) = reader.read(&mut buffer).await {
                received.extend_from_slice(&buffer[..n]);
            }
        };
        let within = (since + timeout + MARGIN).saturating_duration_since(Instant::now());
        tokio::time::timeout(within, read_all)
            .await
            .unwrap_or_else(|_| panic!("not closed within {:?}", timeout + MARGIN));
        let closed_after = since.elapsed();
        assert!(
            closed_after >= timeout,
            "closed after {closed_after:?}, before the timeout of {timeout:?}"
        );
        String::from_utf8_lossy(&received).into_owned()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_dripped_too_slowly_gets_408_and_the_connection_closes() {
    let provider = provider();
    let addr = bind_with(&provider, &[("BODY_TIMEOUT_MS", "400")]);

    let (reader, mut writer) = TcpStream::connect(addr).await.unwrap().into_split();
    let sending_headers = Instant::now();
    writer
        .write_all(b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 100\r\n\r\n")
        .await
        .unwrap();
    let closed = closes_after(reader, sending_headers, Duration::from_millis(400));
    // Each byte comes well within the timeout, the whole body (10 s) does not.
    let dripping = drip(writer, vec![b'x'; 100], Duration::from_millis(100));

    // Meanwhile another client is served, with a body.
    let reply = get_with_body(addr, "on time").await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body, "on time");

    let answer = closed.await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    assert!(
        answer.ends_with("the request body did not arrive within 400 ms (BODY_TIMEOUT_MS)"),
        "{answer}"
    );
    dripping.abort();

    // The server goes on serving.
    assert_eq!(get(addr, "/teapot").await.status.as_u16(), 418);
    provider.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_request_are_closed_after_the_idle_timeout() {
    let provider = provider();
    let idle_timeout = Duration::from_millis(150);
    let addr = bind_with(&provider, &[("IDLE_TIMEOUT_MS", "150")]);

    // A keep-alive connection, idle after its first response.
    let mut kept_alive = TcpStream::connect(addr).await.unwrap();
    let asking = Instant::now();
    kept_alive
        .write_all(b"GET /teapot HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let kept_alive = closes_after(kept_alive, asking, idle_timeout);
    // A connection that never sends a byte.
    let connecting = Instant::now();
    let silent = TcpStream::connect(addr).await.unwrap();
    let silent = closes_after(silent, connecting, idle_timeout);
    // A client whose headers come too slowly: they would take 5 s.
    let connecting = Instant::now();
    let (slow_reader, slow_writer) = TcpStream::connect(addr).await.unwrap().into_split();
    let slow = closes_after(slow_reader, connecting, idle_timeout);
    let mut headers = b"GET /teapot HTTP/1.1\r\nhost: test\r\nx-slow: ".to_vec();
    headers.resize(125, b'y');
    let dripping = drip(slow_writer, headers, Duration::from_millis(40));

    // A request that takes longer than the idle timeout is not cut: it is in flight.
    let reply = get(addr, "/slow").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "slow done");

    let answer = kept_alive.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 418 "), "{answer}");
    assert!(
        !answer.contains("connection: close"),
        "kept alive at first: {answer}"
    );
    assert_eq!(silent.await.unwrap(), "", "closed without a response");
    assert_eq!(slow.await.unwrap(), "", "closed without a response");
    dripping.abort();
    provider.stop();
}

/// How many sockets of this process are connections the server at `addr`
/// accepted: the kernel's TCP tables list every connection to the port, and
/// those the server took are the ones with a descriptor in `/proc/self/fd`
/// (those still waiting in the listen backlog have none).
fn accepted_sockets(addr: SocketAddr) -> usize {
    let ours: HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let local = format!(":{:04X}", addr.port());
    const LISTEN: &str = "0A";
    let mut accepted = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(table) = std::fs::read_to_string(table) else {
            continue;
        };
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        for row in table.lines().skip(1) {
            let fields: Vec<&str> = row.split_whitespace().collect();
            if fields.len() > 9
                && fields[1].ends_with(&local)
                && fields[3] != LISTEN
                && ours.contains(fields[9])
            {
                // A set, by inode: the table is read in pieces while other
                // tests open and close sockets, so a row may come twice.
                accepted.insert(fields[9].to_string());
            }
        }
    }
    accepted.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_connections_wait_until_one_closes() {
    let provider = provider();
    let max = 3;
    let addr = bind_with(&provider, &[("MAX_CONNECTIONS", "3")]);
    let wait = Duration::from_secs(5);

    // A greedy client holds 3 + 4 connections; the kernel completes them all.
    let mut greedy = Vec::new();
    for _ in 0..max + 4 {
        greedy.push(TcpStream::connect(addr).await.unwrap());
    }
    eventually(wait, "the server to take 3 connections", || async {
        (accepted_sockets(addr) == max).then_some(())
    })
    .await;
    // A request now waits in the backlog behind the greedy connections.
    let waiting = tokio::spawn(async move { get(addr, "/teapot").await });
    let watching = Instant::now();
    while watching.elapsed() < Duration::from_millis(300) {
        let accepted = accepted_sockets(addr);
        assert!(accepted <= max, "{accepted} connections accepted");
        assert!(!waiting.is_finished(), "served beyond MAX_CONNECTIONS");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    drop(greedy);
    let reply = tokio::time::timeout(wait, waiting)
        .await
        .expect("served once the greedy connections closed")
        .unwrap();
    assert_eq!(reply.status.as_u16(), 418);
    assert_eq!(get(addr, "/teapot").await.status.as_u16(), 418);
    eventually(wait, "every connection to close", || async {
        (accepted_sockets(addr) == 0).then_some(())
    })
    .await;
    provider.stop();
}
