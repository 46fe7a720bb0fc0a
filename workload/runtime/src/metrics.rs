//! Prometheus text exposition shared by the controller and the speaker: metric families with
//! upstream MetalLB's names, served on `GET /metrics`.
//!
//! The exposition is written here rather than with `prometheus-client`, because that crate
//! appends `_total` to counters and upstream's names (which dashboards use) must stay as they
//! are (some gauges even end in `_total`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;

use crate::http::{Limits, Stats};

/// A metric family: name, type (`counter` or `gauge`) and help text.
pub type Family = (&'static str, &'static str, &'static str);

type Series = BTreeMap<(&'static str, String), f64>;

/// The metric values of a fixed set of families; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Metrics {
    families: &'static [Family],
    series: Arc<Mutex<Series>>,
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    inner.join(",")
}

impl Metrics {
    /// Metrics of `families` (only those are rendered).
    pub fn new(families: &'static [Family]) -> Self {
        Metrics {
            families,
            series: Arc::default(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Series) -> R) -> R {
        f(&mut self.series.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether a family named `name` is declared (only those are rendered). Recording a name
    /// that is not is a bug that would go unseen in production: debug builds panic on it.
    fn check(&self, name: &str) {
        debug_assert!(
            self.families.iter().any(|(family, _, _)| *family == name),
            "metric {name} has no declared family: it would never be rendered"
        );
    }

    /// Adds one to counter `name` with `pairs` as labels.
    pub fn inc(&self, name: &'static str, pairs: &[(&str, &str)]) {
        self.check(name);
        self.with(|s| *s.entry((name, labels(pairs))).or_default() += 1.0);
    }

    /// Sets gauge `name` with `pairs` as labels.
    pub fn set(&self, name: &'static str, pairs: &[(&str, &str)], value: f64) {
        self.check(name);
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
        for (name, kind, help) in self.families {
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

/// The response to a request line: the exposition for `GET /metrics`, else 404.
pub fn respond(request_line: &str, metrics: &Metrics) -> String {
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    if path == "/metrics" {
        let body = metrics.render();
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
    }
}

/// Serves `GET /metrics` on `listener` until the process ends, through [`crate::http`]
/// (timeouts, connection cap, paced accept errors).
pub async fn serve(listener: TcpListener, metrics: Metrics) {
    crate::http::serve(listener, Limits::default(), Stats::default(), move |line| {
        respond(line, &metrics)
    })
    .await;
}

/// The `metallb_*` metric names that the charm's alert rules and dashboard (`monitoring/` at the
/// repository root, read at compile time) query, for the workloads' tests that check each name
/// is a family they declare. `metallb_component`, the scrape jobs' label, is left out.
pub fn monitored_names() -> BTreeSet<String> {
    let text = [
        include_str!("../../../monitoring/alert_rules.yaml"),
        include_str!("../../../monitoring/dashboard.json"),
    ]
    .concat();
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("metallb_") && *w != "metallb_component")
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILIES: &[Family] = &[
        ("metallb_layer2_requests_received", "counter", "Requests"),
        ("metallb_speaker_members", "gauge", "Members"),
    ];

    #[test]
    fn counters_render_with_upstream_names_and_labels() {
        let m = Metrics::new(FAMILIES);
        m.inc(
            "metallb_layer2_requests_received",
            &[("ip", "198.18.100.1")],
        );
        m.inc(
            "metallb_layer2_requests_received",
            &[("ip", "198.18.100.1")],
        );
        m.set("metallb_speaker_members", &[], 3.0);
        let text = m.render();
        assert!(
            text.contains("metallb_layer2_requests_received{ip=\"198.18.100.1\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE metallb_layer2_requests_received counter\n"));
        assert!(text.contains("metallb_speaker_members 3\n"));
        m.clear("metallb_speaker_members");
        assert_eq!(m.get("metallb_speaker_members", &[]), 0.0);
    }

    #[test]
    fn monitored_names_hold_the_queried_metrics_but_not_the_scrape_label() {
        let names = monitored_names();
        assert!(names.contains("metallb_bgp_session_up"), "{names:?}");
        assert!(!names.contains("metallb_component"), "{names:?}");
    }
}
