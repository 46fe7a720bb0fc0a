//! ConfigurationState (v1beta1): whether a component's configuration is valid.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One object per component (`controller`, `speaker-<node>`), status only.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "ConfigurationState",
    plural = "configurationstates",
    namespaced,
    status = "ConfigurationStateStatus",
    doc = "ConfigurationState reports whether a MetalLB component accepted the configuration.",
    printcolumn = r#"{"name":"Result", "type":"string", "jsonPath":".status.result"}"#,
    printcolumn = r#"{"name":"Errors", "type":"string", "jsonPath":".status.errorSummary"}"#
)]
#[serde(remote = "Self")]
pub struct ConfigurationStateSpec {}

crate::absent_spec_is_default!(ConfigurationStateSpec);

/// The condition type a speaker adds to its ConfigurationState (our extension): `False` with
/// reason [`NO_INTERFACE_IN_POOL_NETWORK`] when some pool range has no eligible node with an
/// interface in its network, one line per pool (`IPAddressPool NAME: ...`) in the message.
pub const LAYER2_POOLS_REACHABLE: &str = "layer2PoolsReachable";

/// The reason of a `False` [`LAYER2_POOLS_REACHABLE`] condition.
pub const NO_INTERFACE_IN_POOL_NETWORK: &str = "NoInterfaceInPoolNetwork";

/// The result and the conditions behind it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationStateStatus {
    /// `Valid`, `Invalid` or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ConfigResult>,
    /// Messages of the failing conditions, one per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_summary: Option<String>,
    /// `configReconcilerValid` (speaker), `poolReconcilerValid` (controller).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The overall result.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConfigResult {
    /// Every condition is true.
    Valid,
    /// A condition failed with a configuration error.
    Invalid,
    /// Nothing reported yet.
    Unknown,
}
