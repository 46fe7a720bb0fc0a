//! Small servers in namespaces: an HTTP server answering one body, and a loopback tunnel into
//! a namespace.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::namespace::{enter, in_netns};

/// Stops a background server when dropped.
pub struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How often a polling accept loop looks at its stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

fn accept_loop(listener: TcpListener, stop: Arc<AtomicBool>, mut handle: impl FnMut(TcpStream)) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                handle(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(_) => return,
        }
    }
}

/// Serves HTTP on port `port` of every address of namespace `ns` (also the LoadBalancer
/// addresses accepted locally), answering every request with `body`.
pub fn serve_http(ns: &str, port: u16, body: &str) -> Result<StopOnDrop> {
    let listener = in_netns(ns, move || TcpListener::bind(("::", port)))?
        .with_context(|| format!("cannot listen on port {port} in {ns}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let body = body.to_string();
    let flag = stop.clone();
    std::thread::spawn(move || {
        accept_loop(listener, flag, |mut stream| {
            let body = body.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            });
        })
    });
    Ok(StopOnDrop(stop))
}

/// A loopback tunnel: connections to the returned `127.0.0.1` address (in this process's
/// namespace) are forwarded to `target` inside namespace `ns`.
pub fn forward(ns: &str, target: SocketAddr) -> Result<(SocketAddr, StopOnDrop)> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on loopback")?;
    let local = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let ns = ns.to_string();
    std::thread::spawn(move || {
        accept_loop(listener, flag, |inbound| {
            let ns = ns.clone();
            std::thread::spawn(move || {
                if enter(&ns).is_err() {
                    return;
                }
                let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_secs(5))
                else {
                    return;
                };
                pipe(inbound, outbound);
            });
        })
    });
    Ok((local, StopOnDrop(stop)))
}

fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(mut a2), Ok(mut b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let (mut a, mut b) = (a, b);
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a2);
    let _ = a2.shutdown(std::net::Shutdown::Write);
    let _ = upstream.join();
}
