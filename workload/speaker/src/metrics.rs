//! The speaker's Prometheus metrics, with upstream MetalLB's names (`metallb_layer2_*`,
//! `metallb_speaker_announced`), served as text on `GET /metrics`.
//!
//! The exposition is written here rather than with `prometheus-client`, because that crate
//! appends `_total` to counters and upstream's names (which dashboards use) have no suffix.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Counter: ARP/NDP requests received for an announced address (label `ip`).
pub const REQUESTS_RECEIVED: &str = "metallb_layer2_requests_received";
/// Counter: ARP/NDP answers sent (label `ip`).
pub const RESPONSES_SENT: &str = "metallb_layer2_responses_sent";
/// Counter: gratuitous ARP / unsolicited NA packets sent (label `ip`).
pub const GRATUITOUS_SENT: &str = "metallb_layer2_gratuitous_sent";
/// Counter: frames dropped by the responders (label `reason`).
pub const FRAMES_DROPPED: &str = "metallb_layer2_frames_dropped";
/// Counter: membership packets dropped (label `reason`).
pub const MEMBERLIST_DROPPED: &str = "metallb_speaker_memberlist_packets_dropped";
/// Gauge: 1 per announced (service, ip) (labels `ip`, `node`, `protocol`, `service`).
pub const ANNOUNCED: &str = "metallb_speaker_announced";
/// Gauge: live speakers seen by this one.
pub const MEMBERS: &str = "metallb_speaker_members";

const HELP: &[(&str, &str, &str)] = &[
    (
        REQUESTS_RECEIVED,
        "counter",
        "Number of layer2 requests received for owned IPs",
    ),
    (
        RESPONSES_SENT,
        "counter",
        "Number of layer2 responses sent for owned IPs",
    ),
    (
        GRATUITOUS_SENT,
        "counter",
        "Number of gratuitous layer2 packets sent for owned IPs",
    ),
    (
        FRAMES_DROPPED,
        "counter",
        "Number of ARP/NDP frames not answered, by reason",
    ),
    (
        MEMBERLIST_DROPPED,
        "counter",
        "Number of membership packets dropped, by reason",
    ),
    (
        ANNOUNCED,
        "gauge",
        "Services being announced from this node",
    ),
    (
        MEMBERS,
        "gauge",
        "Live speakers in the membership, this one included",
    ),
];

type Series = BTreeMap<(&'static str, String), f64>;

/// The metric values; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<Series>>);

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    inner.join(",")
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Series) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Adds one to counter `name` with `pairs` as labels.
    pub fn inc(&self, name: &'static str, pairs: &[(&str, &str)]) {
        self.with(|s| *s.entry((name, labels(pairs))).or_default() += 1.0);
    }

    /// Sets gauge `name` with `pairs` as labels.
    pub fn set(&self, name: &'static str, pairs: &[(&str, &str)], value: f64) {
        self.with(|s| s.insert((name, labels(pairs)), value));
    }

    /// Removes every series of gauge `name` (before setting the current ones).
    pub fn clear(&self, name: &'static str) {
        self.with(|s| s.retain(|(n, _), _| *n != name));
    }

    /// The value of one series (for tests and logs).
    pub fn get(&self, name: &'static str, pairs: &[(&str, &str)]) -> f64 {
        self.with(|s| s.get(&(name, labels(pairs))).copied().unwrap_or(0.0))
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let series = self.with(|s| s.clone());
        let mut out = String::new();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((_, labels), value) in series
                .range((*name, String::new())..)
                .take_while(|((n, _), _)| n == name)
            {
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {value}");
                } else {
                    let _ = writeln!(out, "{name}{{{labels}}} {value}");
                }
            }
        }
        out
    }
}

/// Serves `GET /metrics` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, metrics: Metrics) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let response = if path == "/metrics" {
                let body = metrics.render();
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_upstream_names_and_labels() {
        let m = Metrics::default();
        m.inc(REQUESTS_RECEIVED, &[("ip", "198.18.100.1")]);
        m.inc(REQUESTS_RECEIVED, &[("ip", "198.18.100.1")]);
        m.set(MEMBERS, &[], 3.0);
        let text = m.render();
        assert!(
            text.contains("metallb_layer2_requests_received{ip=\"198.18.100.1\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE metallb_layer2_requests_received counter\n"));
        assert!(text.contains("metallb_speaker_members 3\n"));
        m.clear(MEMBERS);
        assert_eq!(m.get(MEMBERS, &[]), 0.0);
    }
}
