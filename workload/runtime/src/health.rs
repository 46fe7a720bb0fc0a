//! Health probes: `GET /healthz` answers 200 while the process runs; `GET /readyz` answers 200
//! once the workload marks itself ready (the controller: caches synced and the first allocation
//! pass run; the speaker: caches synced and its peers joined), 503 before. Served by
//! [`crate::http`] (timeouts, connection cap, paced accept errors).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;

use crate::http::{Limits, Stats};

/// Readiness shared between the workload's loop and the probe server.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the workload ready.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the workload is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The response line for a request line.
pub fn respond(request_line: &str, ready: bool) -> &'static str {
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    match (path, ready) {
        ("/healthz", _) | ("/readyz", true) => {
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
        }
        ("/readyz", false) => {
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot ready"
        }
        _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    }
}

/// Serves the probes on `listener` until the process ends.
pub async fn serve(listener: TcpListener, readiness: Readiness) {
    crate::http::serve(listener, Limits::default(), Stats::default(), move |line| {
        respond(line, readiness.is_ready()).to_string()
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::respond;

    #[test]
    fn probe_answers() {
        assert!(respond("GET /healthz HTTP/1.1", false).starts_with("HTTP/1.1 200"));
        assert!(respond("GET /readyz HTTP/1.1", false).starts_with("HTTP/1.1 503"));
        assert!(respond("GET /readyz HTTP/1.1", true).starts_with("HTTP/1.1 200"));
        assert!(respond("GET /metrics HTTP/1.1", true).starts_with("HTTP/1.1 404"));
        assert!(respond("", true).starts_with("HTTP/1.1 404"));
    }
}
