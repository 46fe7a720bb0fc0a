//! BGPAdvertisement (v1beta1): announce pools to BGP peers.

use kube::{CustomResource, KubeSchema};
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
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
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
    printcolumn = r#"{"name":"Node Selectors", "type":"string", "jsonPath":".spec.nodeSelectors", "priority":10}"#,
    validation = kube::core::Rule::new(
        "!has(self.spec.serviceSelectors) || size(self.spec.serviceSelectors) == 0 || ((!has(self.spec.aggregationLength) || self.spec.aggregationLength == 32) && (!has(self.spec.aggregationLengthV6) || self.spec.aggregationLengthV6 == 128))"
    ).message("serviceSelectors can only be used with the default aggregation lengths (32 and 128)")
)]
#[serde(rename_all = "camelCase")]
pub struct BGPAdvertisementSpec {
    /// Prefix length each IPv4 address is advertised with (1 to 32, default 32).
    #[serde(
        default = "default_aggregation_v4",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 32))]
    pub aggregation_length: Option<i32>,
    /// Prefix length each IPv6 address is advertised with (1 to 128, default 128).
    #[serde(
        default = "default_aggregation_v6",
        skip_serializing_if = "Option::is_none",
        rename = "aggregationLengthV6"
    )]
    #[schemars(range(min = 1, max = 128))]
    pub aggregation_length_v6: Option<i32>,
    /// LOCAL_PREF, sent on iBGP sessions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4294967295_u32))]
    pub local_pref: Option<u32>,
    /// Communities: `A:B`, `large:A:B:C`, or the name of a Community alias.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1, max = 64)), length(max = 64))]
    #[x_kube(validation = kube::core::Rule::new("self.all(c, self.exists_one(d, d == c))").message("duplicate community"))]
    pub communities: Vec<String>,
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

/// Empty status (upstream has none either).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct BGPAdvertisementStatus {}
