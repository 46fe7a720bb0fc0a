//! Community (v1beta1): named BGP community aliases.

use kube::CustomResource;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Named aliases for BGP communities, usable in BGPAdvertisements.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "Community",
    plural = "communities",
    namespaced,
    status = "CommunityStatus",
    doc = "Community holds named aliases for BGP communities."
)]
#[serde(remote = "Self")]
pub struct CommunitySpec {
    /// The aliases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<CommunityAlias>,
}

crate::absent_spec_is_default!(CommunitySpec);

/// One alias. Upstream's CRD requires neither field; its webhook refuses an alias whose value
/// is missing or not a community, and so do we (CEL and a pattern); an empty name is accepted.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = kube::core::Rule::new("has(self.value)").message("value is required: A:B or large:A:B:C"))]
pub struct CommunityAlias {
    /// Alias name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `A:B` (16-bit numbers) or `large:A:B:C` (32-bit numbers).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^([0-9]+:[0-9]+|large:[0-9]+:[0-9]+:[0-9]+)$"))]
    pub value: String,
}

/// Empty status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct CommunityStatus {}
