//! The Namespace of the workloads, labelled so that Pod Security admits the speaker (host
//! network, `NET_RAW`).

use k8s_openapi::api::core::v1::Namespace;

use super::{Desired, RenderInput};

/// The Pod Security labels of a namespace that admits privileged pods.
const PRIVILEGED: [(&str, &str); 3] = [
    ("pod-security.kubernetes.io/enforce", "privileged"),
    ("pod-security.kubernetes.io/audit", "privileged"),
    ("pod-security.kubernetes.io/warn", "privileged"),
];

/// The MetalLB Namespace.
pub fn namespace(input: &RenderInput) -> Desired {
    Desired::from_object(&Namespace {
        metadata: input.metadata(None, &input.namespace, &PRIVILEGED),
        ..Namespace::default()
    })
}
