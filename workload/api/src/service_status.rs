//! ServiceL2Status and ServiceBGPStatus (v1beta1): which node announces a Service, written by
//! the speakers.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Empty spec of the status-only kinds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct EmptySpec {}

/// Which node announces a Service with Layer 2.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "ServiceL2Status",
    plural = "servicel2statuses",
    namespaced,
    status = "L2Status",
    doc = "ServiceL2Status tells which node announces a Service with Layer 2.",
    printcolumn = r#"{"name":"Allocated Node", "type":"string", "jsonPath":".status.node"}"#,
    printcolumn = r#"{"name":"Service Name", "type":"string", "jsonPath":".status.serviceName"}"#,
    printcolumn = r#"{"name":"Service Namespace", "type":"string", "jsonPath":".status.serviceNamespace"}"#
)]
#[serde(remote = "Self")]
pub struct ServiceL2StatusSpec {}

crate::absent_spec_is_default!(ServiceL2StatusSpec);

/// Status of a ServiceL2Status.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct L2Status {
    /// The announcing node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("Value is immutable"))]
    pub node: Option<String>,
    /// The Service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("Value is immutable"))]
    pub service_name: Option<String>,
    /// The Service namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("Value is immutable"))]
    pub service_namespace: Option<String>,
    /// Interfaces announced on, when the advertisement restricts them (empty means all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceInfo>,
    /// metallb-rs: conditions of the announcement, e.g. `DuplicateResponder` when another
    /// hardware address answers for the Service's address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
}

/// The condition type a speaker sets when another hardware address answers for an address it
/// announces.
pub const DUPLICATE_RESPONDER: &str = "DuplicateResponder";

/// An interface name (not required in upstream's CRD).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct InterfaceInfo {
    /// Interface name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// Which node advertises a Service with BGP, to which peers.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "ServiceBGPStatus",
    plural = "servicebgpstatuses",
    namespaced,
    status = "BGPStatus",
    doc = "ServiceBGPStatus tells which node advertises a Service with BGP, and to which peers.",
    printcolumn = r#"{"name":"Node", "type":"string", "jsonPath":".status.node"}"#,
    printcolumn = r#"{"name":"Service Name", "type":"string", "jsonPath":".status.serviceName"}"#,
    printcolumn = r#"{"name":"Service Namespace", "type":"string", "jsonPath":".status.serviceNamespace"}"#
)]
#[serde(remote = "Self")]
pub struct ServiceBGPStatusSpec {}

crate::absent_spec_is_default!(ServiceBGPStatusSpec);

/// Status of a ServiceBGPStatus.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BGPStatus {
    /// The advertising node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("Value is immutable"))]
    pub node: Option<String>,
    /// The Service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("Value is immutable"))]
    pub service_name: Option<String>,
    /// The Service namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("Value is immutable"))]
    pub service_namespace: Option<String>,
    /// BGPPeer names the Service is advertised to from this node, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
}
