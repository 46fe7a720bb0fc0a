//! IPAddressPool (v1beta1): the addresses MetalLB may assign.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::LabelSelector;

fn default_true() -> Option<bool> {
    Some(true)
}

/// A pool of addresses for LoadBalancer Services.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "IPAddressPool",
    plural = "ipaddresspools",
    namespaced,
    status = "IPAddressPoolStatus",
    doc = "IPAddressPool is a pool of IP addresses MetalLB can assign to LoadBalancer Services.",
    printcolumn = r#"{"name":"Auto Assign", "type":"boolean", "jsonPath":".spec.autoAssign"}"#,
    printcolumn = r#"{"name":"Avoid Buggy IPs", "type":"boolean", "jsonPath":".spec.avoidBuggyIPs"}"#,
    printcolumn = r#"{"name":"Addresses", "type":"string", "jsonPath":".spec.addresses"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct IPAddressPoolSpec {
    /// CIDRs (`198.18.0.0/24`, `2001:db8::/120`, `/32` or `/128` for one address) or ranges
    /// (`198.18.0.10-198.18.0.20`). Upstream's webhook refuses an empty list and entries that do
    /// not parse; the CEL rule that does it here needs bounds (10,000 entries of at most 128
    /// characters, where the longest valid entry has 93) to fit the API server's cost budget.
    /// One known difference: IPv6 text with an embedded IPv4 address (`::ffff:198.18.0.1/128`)
    /// parses in Go but not with CEL's `isCIDR`, and is refused here.
    #[schemars(schema_with = "addresses_schema")]
    pub addresses: Vec<String>,
    /// Whether the pool is used for automatic allocation (default true).
    #[serde(default = "default_true", skip_serializing_if = "Option::is_none")]
    pub auto_assign: Option<bool>,
    /// Never hand out IPv4 addresses ending in .0 or .255.
    // Omitted when false, as upstream's `omitempty` does, so that writing a pool does not claim
    // a field it leaves at its default (the schema keeps its `default: false`).
    #[serde(
        default,
        rename = "avoidBuggyIPs",
        skip_serializing_if = "std::ops::Not::not"
    )]
    #[schemars(extend("default" = false))]
    pub avoid_buggy_ips: bool,
    /// Which Services may get addresses from this pool, and its priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_allocation: Option<ServiceAllocation>,
}

/// The schema of `addresses`: a CEL rule per entry.
fn addresses_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "maxItems": 10000,
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "x-kubernetes-validations": [{
                "rule": "isCIDR(self) || (self.split('-').size() == 2 && isIP(self.split('-')[0].trim()) && isIP(self.split('-')[1].trim()) && ip(self.split('-')[0].trim()).family() == ip(self.split('-')[1].trim()).family())",
                "message": "each address must be a CIDR (a.b.c.d/n) or a range of one family (A-B)"
            }]
        }
    })
}

/// Restricts a pool to some namespaces and Services, with a priority.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAllocation {
    /// Lower positive numbers are preferred; 0 or unset comes last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Namespaces whose Services may use the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespaces (by label) whose Services may use the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_selectors: Vec<LabelSelector>,
    /// Services (by label) that may use the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
}

/// Counters written by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPAddressPoolStatus {
    /// IPv4 addresses in use.
    #[serde(rename = "assignedIPv4")]
    pub assigned_ipv4: i64,
    /// IPv6 addresses in use.
    #[serde(rename = "assignedIPv6")]
    pub assigned_ipv6: i64,
    /// IPv4 addresses still free.
    #[serde(rename = "availableIPv4")]
    pub available_ipv4: i64,
    /// IPv6 addresses still free.
    #[serde(rename = "availableIPv6")]
    pub available_ipv6: i64,
}
