//! Community (v1beta1): named BGP community aliases.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Named aliases for BGP communities, usable in BGPAdvertisements.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "Community",
    plural = "communities",
    namespaced,
    status = "CommunityStatus",
    doc = "Community holds named aliases for BGP communities."
)]
pub struct CommunitySpec {
    /// The aliases.
    #[serde(default)]
    pub communities: Vec<CommunityAlias>,
}

/// One alias.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct CommunityAlias {
    /// Alias name.
    pub name: String,
    /// `A:B` (16-bit numbers) or `large:A:B:C` (32-bit numbers).
    #[schemars(regex(
        pattern = r"^([0-9]{1,5}:[0-9]{1,5}|large:[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10})$"
    ))]
    pub value: String,
}

/// Empty status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct CommunityStatus {}
