//! The one render input tests start from; each test overrides what it is about.

use super::RenderInput;

/// Instance `lab/metallb` in `metallb-system`, one IPv4 pool, no selector, Layer 2 only.
pub(crate) fn input() -> RenderInput {
    RenderInput {
        model: "lab".into(),
        app: "metallb".into(),
        namespace: "metallb-system".into(),
        addresses: vec!["198.18.0.240/28".into()],
        node_selector: Default::default(),
        l2_interfaces: vec![],
        bgp: None,
        controller_image: "reg/controller:1".into(),
        speaker_image: "reg/speaker:1".into(),
        log_level: "info".into(),
        workloads: Default::default(),
    }
}
