//! The small HTTP/1.1 server behind the probe and metrics endpoints of both workloads (the
//! speaker's metrics listen on the host network). Hardened against misbehaving clients:
//!
//! * **connection cap**: at most [`Limits::max_connections`] connections are handled at once;
//!   the next ones wait in the kernel's listen backlog (not accepted, so they cost the process
//!   nothing) until a slot frees up;
//! * **read and write timeouts**: a client has [`Limits::request_timeout`] to send its request
//!   head (slowloris) and [`Limits::write_timeout`] to take the response, then it is dropped;
//! * **accept errors** (EMFILE, ENFILE, ENOBUFS, ...) pause the loop, 10 ms doubling to 1 s,
//!   instead of spinning on a listener that stays readable.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The first pause after a failed `accept`.
const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(10);

/// The longest pause after failed `accept`s in a row.
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// What one client may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections handled at once.
    pub max_connections: usize,
    /// Time to receive the whole request head.
    pub request_timeout: Duration,
    /// Time for the client to take the whole response.
    pub write_timeout: Duration,
    /// The longest request head read (the request line is all that is used).
    pub max_request_bytes: usize,
}

impl Default for Limits {
    /// 32 connections, 5 s to send the request, 10 s to read the response, 8 KiB heads: far
    /// more than Prometheus and the kubelet need.
    fn default() -> Self {
        Self {
            max_connections: 32,
            request_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            max_request_bytes: 8 * 1024,
        }
    }
}

/// Counters of a server (for tests and diagnostics); cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Stats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    open: AtomicUsize,
    peak: AtomicUsize,
    served: AtomicUsize,
    accept_errors: AtomicUsize,
}

impl Stats {
    /// Connections being handled now.
    pub fn open(&self) -> usize {
        self.0.open.load(Ordering::Relaxed)
    }

    /// The most connections handled at once.
    pub fn peak(&self) -> usize {
        self.0.peak.load(Ordering::Relaxed)
    }

    /// Connections handled to the end (answered, timed out or failed).
    pub fn served(&self) -> usize {
        self.0.served.load(Ordering::Relaxed)
    }

    /// Failed `accept` calls.
    pub fn accept_errors(&self) -> usize {
        self.0.accept_errors.load(Ordering::Relaxed)
    }
}

/// Counts one connection as open until dropped.
struct Open(Stats);

impl Open {
    fn new(stats: &Stats) -> Self {
        let now = stats.0.open.fetch_add(1, Ordering::Relaxed) + 1;
        stats.0.peak.fetch_max(now, Ordering::Relaxed);
        Self(stats.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.0.open.fetch_sub(1, Ordering::Relaxed);
        self.0.0.served.fetch_add(1, Ordering::Relaxed);
    }
}

/// Where connections come from: a TCP listener, or a fake in tests.
pub trait Acceptor: Send + 'static {
    /// A connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Acceptor for TcpListener {
    type Stream = TcpStream;

    async fn accept(&mut self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }
}

/// Serves connections from `acceptor` until the process ends: `respond` turns a request line
/// (`GET /metrics HTTP/1.1`) into the whole response.
pub async fn serve<A, F>(mut acceptor: A, limits: Limits, stats: Stats, respond: F)
where
    A: Acceptor,
    F: Fn(&str) -> String + Send + Sync + 'static,
{
    let respond = Arc::new(respond);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut pause = ACCEPT_PAUSE_MIN;
    loop {
        // A slot first: beyond the cap, connections wait in the kernel's backlog.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match acceptor.accept().await {
            Ok(stream) => {
                pause = ACCEPT_PAUSE_MIN;
                let open = Open::new(&stats);
                let respond = respond.clone();
                tokio::spawn(async move {
                    answer(stream, &limits, &*respond).await;
                    drop(open);
                    drop(slot);
                });
            }
            Err(err) => {
                stats.0.accept_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("accept failed (pausing {pause:?}): {err}");
                drop(slot);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(ACCEPT_PAUSE_MAX);
            }
        }
    }
}

/// Reads one request head within the limits and writes the response; gives up silently on a
/// slow, broken or oversized request.
async fn answer<S, F>(mut stream: S, limits: &Limits, respond: &F)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn(&str) -> String + ?Sized,
{
    let mut head = Vec::with_capacity(512);
    let read = read_head(&mut stream, &mut head, limits.max_request_bytes);
    match tokio::time::timeout(limits.request_timeout, read).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) | Err(_) => return,
    }
    let text = String::from_utf8_lossy(&head);
    let response = respond(text.lines().next().unwrap_or(""));
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(limits.write_timeout, write).await;
}

/// Reads until the end of the request head, the end of the stream or `max` bytes.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    head: &mut Vec<u8>,
    max: usize,
) -> io::Result<()> {
    let mut chunk = [0u8; 1024];
    loop {
        let complete =
            head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n");
        if complete || head.len() >= max {
            return Ok(());
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

    async fn start(limits: Limits) -> (std::net::SocketAddr, Stats) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stats = Stats::default();
        tokio::spawn(serve(listener, limits, stats.clone(), |_| OK.to_string()));
        (address, stats)
    }

    /// A complete GET; the whole response.
    async fn get(address: std::net::SocketAddr) -> io::Result<String> {
        let mut stream = TcpStream::connect(address).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok(response)
    }

    /// A client that sends half a request line and nothing more.
    async fn slow(address: std::net::SocketAddr) -> TcpStream {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /hea").await.unwrap();
        stream
    }

    /// Waits (up to 10 s) for `condition`.
    async fn until(what: &str, condition: impl Fn() -> bool) {
        let result = tokio::time::timeout(Duration::from_secs(10), async {
            while !condition() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(result.is_ok(), "timed out waiting for {what}");
    }

    #[tokio::test]
    async fn a_slow_client_does_not_block_others_and_is_dropped_after_the_timeout() {
        let limits = Limits {
            max_connections: 2,
            request_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let (address, stats) = start(limits).await;
        let mut first = slow(address).await;
        until("the slow client to be accepted", || stats.open() == 1).await;
        // Below the cap, a slow client costs others nothing.
        let response = tokio::time::timeout(Duration::from_secs(10), get(address)).await;
        assert!(matches!(response, Ok(Ok(r)) if r.starts_with("HTTP/1.1 200")));
        // At the cap, the next client waits only until the slow ones time out.
        let mut second = slow(address).await;
        let response = tokio::time::timeout(Duration::from_secs(10), get(address)).await;
        assert!(matches!(response, Ok(Ok(r)) if r.starts_with("HTTP/1.1 200")));
        // Both slow clients were dropped, unanswered.
        for stream in [&mut first, &mut second] {
            let mut rest = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest));
            assert!(matches!(read.await, Ok(Ok(0))), "closed without an answer");
        }
        assert!(stats.peak() <= 2, "peak {}", stats.peak());
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_in_the_backlog_and_are_all_served() {
        const CLIENTS: usize = 64;
        let limits = Limits {
            max_connections: 4,
            request_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let (address, stats) = start(limits).await;
        let mut idle = Vec::new();
        for _ in 0..CLIENTS {
            idle.push(TcpStream::connect(address).await.unwrap());
        }
        until("the cap to fill", || stats.open() == 4).await;
        // Every client sends its request: the accepted ones are answered, which frees slots
        // for the ones waiting in the backlog.
        let clients = idle.into_iter().map(|mut stream| async move {
            stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await?;
            Ok::<_, io::Error>(response)
        });
        let responses =
            tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(clients))
                .await
                .unwrap();
        let answered = responses
            .iter()
            .filter(|r| matches!(r, Ok(r) if r.starts_with("HTTP/1.1 200")))
            .count();
        assert_eq!(answered, CLIENTS);
        assert_eq!(stats.peak(), 4, "never more than the cap at once");
        until("every connection to close", || stats.served() == CLIENTS).await;
    }

    /// Accepts nothing: every call fails as `accept` does when the process is out of files.
    struct OutOfFiles {
        calls: Arc<AtomicUsize>,
        spinning: Arc<AtomicBool>,
    }

    impl Acceptor for OutOfFiles {
        type Stream = tokio::io::DuplexStream;

        async fn accept(&mut self) -> io::Result<Self::Stream> {
            if self.calls.fetch_add(1, Ordering::Relaxed) > 1000 {
                // A loop without a pause would get here at once: stop it instead of hanging.
                self.spinning.store(true, Ordering::Relaxed);
                std::future::pending::<()>().await;
            }
            Err(io::Error::from_raw_os_error(libc::EMFILE))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn accept_errors_pause_instead_of_spinning() {
        let calls = Arc::new(AtomicUsize::new(0));
        let spinning = Arc::new(AtomicBool::new(false));
        let stats = Stats::default();
        tokio::spawn(serve(
            OutOfFiles {
                calls: calls.clone(),
                spinning: spinning.clone(),
            },
            Limits::default(),
            stats.clone(),
            |_| OK.to_string(),
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let first_second = calls.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let later = calls.load(Ordering::Relaxed) - first_second;
        assert!(
            !spinning.load(Ordering::Relaxed),
            "accept was retried without a pause"
        );
        assert!(
            (2..=10).contains(&first_second),
            "{first_second} accepts in the first second"
        );
        assert!(later <= 11, "{later} accepts in 10 s at the longest pause");
        assert_eq!(stats.accept_errors(), calls.load(Ordering::Relaxed));
    }
}
