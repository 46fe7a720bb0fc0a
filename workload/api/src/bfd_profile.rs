//! BFDProfile (v1beta1): BFD timers for BGP sessions.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// BFD session settings referenced by BGPPeers.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "BFDProfile",
    plural = "bfdprofiles",
    namespaced,
    status = "BFDProfileStatus",
    doc = "BFDProfile holds BFD settings for BGP sessions.",
    printcolumn = r#"{"name":"Passive Mode", "type":"boolean", "jsonPath":".spec.passiveMode"}"#,
    printcolumn = r#"{"name":"Transmit Interval", "type":"integer", "jsonPath":".spec.transmitInterval"}"#,
    printcolumn = r#"{"name":"Receive Interval", "type":"integer", "jsonPath":".spec.receiveInterval"}"#,
    printcolumn = r#"{"name":"Multiplier", "type":"integer", "jsonPath":".spec.detectMultiplier"}"#
)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct BFDProfileSpec {
    /// Minimum receive interval in milliseconds (10 to 60000, default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub receive_interval: Option<u32>,
    /// Minimum transmit interval in milliseconds (10 to 60000, default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub transmit_interval: Option<u32>,
    /// Detection multiplier (2 to 255, default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 255))]
    pub detect_multiplier: Option<u32>,
    /// Echo interval in milliseconds (10 to 60000, default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub echo_interval: Option<u32>,
    /// Echo mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_mode: Option<bool>,
    /// Wait for the peer to start the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_mode: Option<bool>,
    /// Minimum incoming TTL for multi-hop sessions (1 to 254).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 254))]
    pub minimum_ttl: Option<u32>,
}

crate::absent_spec_is_default!(BFDProfileSpec);

/// Empty status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct BFDProfileStatus {}
