//! The speaker's Prometheus metrics, with upstream MetalLB's names (`metallb_layer2_*`,
//! `metallb_speaker_announced`, `metallb_bgp_*`, `metallb_bfd_*`). Each module that records a
//! metric owns its family (name, type, help) next to its code; this module only gathers them,
//! and the registry refuses (in debug builds) a name no family declares. The registry and its
//! exposition are `metallb_runtime::metrics`.

use std::sync::LazyLock;

use metallb_runtime::kube_client::REST_CLIENT_REQUESTS;
use metallb_runtime::metrics::{Family, Metrics};

use crate::adapters::{bfd, bgp, membership, responder};
use crate::effects;

static FAMILIES: LazyLock<Vec<Family>> = LazyLock::new(|| {
    [
        &[REST_CLIENT_REQUESTS][..],
        responder::FAMILIES,
        membership::FAMILIES,
        effects::FAMILIES,
        bgp::FAMILIES,
        bfd::FAMILIES,
    ]
    .concat()
});

/// Every family the speaker renders.
pub fn families() -> &'static [Family] {
    &FAMILIES
}

/// The speaker's metrics, empty.
pub fn speaker_metrics() -> Metrics {
    Metrics::new(families())
}

#[cfg(test)]
mod tests {
    use super::*;
    use metallb_runtime::metrics::monitored_names;

    /// What the charm's alerts and dashboard ask of the speaker, it renders: a renamed metric
    /// fails here, not silently in a dashboard.
    #[test]
    fn the_monitoring_queries_only_metrics_the_speaker_declares() {
        let declared: std::collections::BTreeSet<&str> = families().iter().map(|f| f.0).collect();
        let speaker_prefixes = [
            "metallb_speaker_",
            "metallb_bgp_",
            "metallb_bfd_",
            "metallb_layer2_",
        ];
        let asked: Vec<String> = monitored_names()
            .into_iter()
            .filter(|n| speaker_prefixes.iter().any(|p| n.starts_with(p)))
            .collect();
        assert!(asked.len() >= 5, "{asked:?}");
        for name in asked {
            assert!(
                declared.contains(name.as_str()),
                "{name} is not a speaker metric"
            );
        }
    }

    #[test]
    fn every_family_is_rendered_once() {
        let names: std::collections::BTreeSet<&str> = families().iter().map(|f| f.0).collect();
        assert_eq!(names.len(), families().len(), "a family is declared twice");
        assert!(names.contains("metallb_layer2_requests_received"));
        assert!(names.contains("metallb_bfd_session_up"));
        let rendered = speaker_metrics().render();
        for name in names {
            assert!(rendered.contains(&format!("# TYPE {name} ")), "{name}");
        }
    }
}
