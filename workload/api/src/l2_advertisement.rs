//! L2Advertisement (v1beta1): announce pools with ARP/NDP.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{DURATION_PATTERN, LabelSelector};

/// Announces addresses of the selected pools on the local network (ARP for IPv4, NDP for IPv6).
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "L2Advertisement",
    plural = "l2advertisements",
    namespaced,
    status = "L2AdvertisementStatus",
    doc = "L2Advertisement announces the addresses of IPAddressPools with ARP/NDP.",
    printcolumn = r#"{"name":"IPAddressPools", "type":"string", "jsonPath":".spec.ipAddressPools"}"#,
    printcolumn = r#"{"name":"IPAddressPool Selectors", "type":"string", "jsonPath":".spec.ipAddressPoolSelectors"}"#,
    printcolumn = r#"{"name":"Interfaces", "type":"string", "jsonPath":".spec.interfaces"}"#,
    printcolumn = r#"{"name":"Node Selectors", "type":"string", "jsonPath":".spec.nodeSelectors", "priority":10}"#
)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct L2AdvertisementSpec {
    /// Pools by name; with no names and no selectors, every pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pools: Vec<String>,
    /// Pools by label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    /// Nodes allowed to announce; empty means every node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    /// Interfaces to announce from; empty means every interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    /// Only Services matching one of these selectors use this advertisement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
    /// Soft preferences for the announcing node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_node_selectors: Vec<PreferredNodeSelector>,
    /// metallb-rs: also announce each address gratuitously (ARP, or unsolicited NDP) every this
    /// long, a duration such as `30s` (whole seconds; `0s` or absent: only after a change, or
    /// the speaker's `--gratuitous-arp-interval`). Upstream's schema prunes the field, so an
    /// object that sets it still applies there.
    #[serde(
        default,
        rename = "gratuitousARPInterval",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub gratuitous_arp_interval: Option<String>,
}

crate::absent_spec_is_default!(L2AdvertisementSpec);

/// A weighted node preference for the Layer 2 election.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct PreferredNodeSelector {
    /// Weight, 1 to 100.
    #[schemars(range(min = 1, max = 100))]
    pub weight: i32,
    /// Nodes this weight applies to.
    pub preference: LabelSelector,
}

/// Empty status (upstream has none either).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct L2AdvertisementStatus {}
