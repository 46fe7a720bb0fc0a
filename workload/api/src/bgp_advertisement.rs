//! BGPAdvertisement (v1beta1): announce pools to BGP peers.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::LabelSelector;

fn default_aggregation_v4() -> Option<i32> {
    Some(32)
}
fn default_aggregation_v6() -> Option<i32> {
    Some(128)
}

/// Advertises the addresses of the selected pools to BGP peers.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "BGPAdvertisement",
    plural = "bgpadvertisements",
    namespaced,
    status = "BGPAdvertisementStatus",
    doc = "BGPAdvertisement advertises the addresses of IPAddressPools to BGP peers.",
    printcolumn = r#"{"name":"IPAddressPools", "type":"string", "jsonPath":".spec.ipAddressPools"}"#,
    printcolumn = r#"{"name":"IPAddressPool Selectors", "type":"string", "jsonPath":".spec.ipAddressPoolSelectors"}"#,
    printcolumn = r#"{"name":"Peers", "type":"string", "jsonPath":".spec.peers"}"#,
    printcolumn = r#"{"name":"Node Selectors", "type":"string", "jsonPath":".spec.nodeSelectors", "priority":10}"#
)]
#[serde(rename_all = "camelCase", remote = "Self")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.serviceSelectors) || size(self.serviceSelectors) == 0 || ((!has(self.aggregationLength) || self.aggregationLength == 32) && (!has(self.aggregationLengthV6) || self.aggregationLengthV6 == 128))",
    "message": "serviceSelectors can only be used with the default aggregation lengths (32 and 128)"
}]))]
pub struct BGPAdvertisementSpec {
    /// Prefix length each IPv4 address is advertised with (1 to 32, default 32).
    #[serde(
        default = "default_aggregation_v4",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 32))]
    pub aggregation_length: Option<i32>,
    /// Prefix length each IPv6 address is advertised with (at most 128, default 128). Upstream
    /// sets no minimum (a length shorter than a pool's prefix is refused against the pools).
    #[serde(
        default = "default_aggregation_v6",
        skip_serializing_if = "Option::is_none",
        rename = "aggregationLengthV6"
    )]
    #[schemars(range(max = 128))]
    pub aggregation_length_v6: Option<i32>,
    /// LOCAL_PREF, sent on iBGP sessions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4294967295_u32))]
    pub local_pref: Option<u32>,
    /// Communities: `A:B`, `large:A:B:C`, or the name of a Community alias (no `:`). As
    /// upstream's webhook, an entry with a `:` must be a community; duplicates are refused by the
    /// configuration check, not here (a CEL rule over the list would need a size limit upstream
    /// does not have).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^([^:]*|[0-9]+:[0-9]+|large:[0-9]+:[0-9]+:[0-9]+)$")))]
    pub communities: Vec<String>,
    /// How many times to prepend the local AS to the AS path (1 to 10). Upstream supports it in
    /// its frr-k8s mode only; accepted here so that such objects apply and are not pruned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub as_path_prepend: Option<u8>,
    /// Pools by name; with no names and no selectors, every pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pools: Vec<String>,
    /// Pools by label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    /// Nodes that advertise; empty means every node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    /// BGPPeer names to advertise to; empty means every peer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
    /// Only Services matching one of these selectors are advertised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
}

crate::absent_spec_is_default!(BGPAdvertisementSpec);

/// Empty status (upstream has none either).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct BGPAdvertisementStatus {}
