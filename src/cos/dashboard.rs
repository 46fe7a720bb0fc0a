//! The `grafana_dashboard` provider side: the dashboard shipped in `monitoring/dashboard.json`,
//! XZ-compressed and base64-encoded as the interface carries templates, in the application
//! databag's `dashboards` document.

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Databag, Topology};

/// The dashboard shipped with the charm (Grafana JSON model; its queries use the
/// `${prometheusds}` datasource variable COS provides).
pub const DASHBOARD: &str = include_str!("../../monitoring/dashboard.json");

/// The application databag: `dashboards`, a JSON document with one template keyed by the
/// content's hash. The `uuid` changes only with the content, so an unchanged dashboard
/// rewrites nothing.
pub fn app_data(topology: &Topology) -> Databag {
    let digest = hex(&Sha256::digest(DASHBOARD.as_bytes()));
    let document = json!({
        "templates": {
            format!("file:metallb-{}", &digest[..16]): {
                "charm": topology.charm_name,
                "content": compress(DASHBOARD),
                "juju_topology": {
                    "model": topology.model,
                    "model_uuid": topology.model_uuid,
                    "application": topology.application,
                    "unit": topology.unit,
                },
                "inject_dropdowns": true,
                "dashboard_alt_uid": &digest[..40],
            }
        },
        "uuid": &digest[..32],
    });
    Databag::from([("dashboards".to_string(), document.to_string())])
}

/// XZ-compresses `text` and encodes it in base64 (the interface's `content` encoding).
pub fn compress(text: &str) -> String {
    let mut out = Vec::new();
    // Writing into memory: the only errors lzma-rs reports are the writer's, and a Vec's
    // writer does not fail.
    if lzma_rs::xz_compress(&mut Cursor::new(text.as_bytes()), &mut out).is_err() {
        out.clear();
    }
    STANDARD.encode(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn topology() -> Topology {
        Topology {
            model: "lab".into(),
            model_uuid: "u".into(),
            application: "metallb".into(),
            unit: "metallb/0".into(),
            charm_name: "metallb".into(),
        }
    }

    fn decompress(content: &str) -> String {
        let bytes = STANDARD.decode(content).unwrap();
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut Cursor::new(bytes), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_template_decompresses_to_the_shipped_dashboard() {
        let data = app_data(&topology());
        let document: Value = serde_json::from_str(&data["dashboards"]).unwrap();
        let templates = document["templates"].as_object().unwrap();
        assert_eq!(templates.len(), 1);
        let (key, template) = templates.iter().next().unwrap();
        assert!(key.starts_with("file:metallb-"), "{key}");
        assert_eq!(template["charm"], "metallb");
        assert_eq!(template["juju_topology"]["unit"], "metallb/0");
        assert_eq!(decompress(template["content"].as_str().unwrap()), DASHBOARD);
        assert_eq!(app_data(&topology()), data, "same content, same databag");
    }

    /// Every panel queries the COS Prometheus datasource and the dashboard covers what the
    /// interface promises (pools, allocations, announcements, BGP, BFD, API requests).
    #[test]
    fn panels_use_the_cos_datasource_and_cover_the_workloads() {
        let dashboard: Value = serde_json::from_str(DASHBOARD).unwrap();
        let panels = dashboard["panels"].as_array().unwrap();
        let mut metrics = BTreeSet::new();
        for panel in panels {
            assert_eq!(
                panel["datasource"]["uid"], "${prometheusds}",
                "{}",
                panel["title"]
            );
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if word.starts_with("metallb_") || word == "rest_client_requests_total" {
                        metrics.insert(word.to_string());
                    }
                }
            }
        }
        for wanted in [
            "metallb_allocator_addresses_in_use_total",
            "metallb_allocator_addresses_total",
            "metallb_speaker_announced",
            "metallb_bgp_session_up",
            "metallb_bfd_session_up",
            "rest_client_requests_total",
        ] {
            assert!(
                metrics.contains(wanted),
                "{wanted} not charted: {metrics:?}"
            );
        }
    }
}
