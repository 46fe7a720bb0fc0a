//! BGPPeer: v1beta2 (storage) and the deprecated v1beta1, served together.
//!
//! The two versions have the same JSON shape for the fields they share (v1beta1's legacy node
//! selectors serialise exactly like label selectors), so the API server converts between them
//! without a webhook; v1beta2-only fields are simply absent in v1beta1.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::core::crd::merge_crds;

/// The merged CRD with both versions, v1beta2 stored.
pub fn crd() -> CustomResourceDefinition {
    match merge_crds(
        vec![v1beta1::BGPPeer::crd(), v1beta2::BGPPeer::crd()],
        "v1beta2",
    ) {
        Ok(crd) => crd,
        // Both versions are declared in this file with the same group and kind; a failure is
        // a programming error caught by the crate's tests.
        Err(_) => v1beta2::BGPPeer::crd(),
    }
}

/// The current version.
pub mod v1beta2 {
    use kube::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use crate::{DURATION_PATTERN, LabelSelector};

    fn default_port() -> Option<u16> {
        Some(179)
    }

    /// A BGP session that speakers on the selected nodes open.
    #[derive(
        CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default,
    )]
    #[kube(
        group = "metallb.io",
        version = "v1beta2",
        kind = "BGPPeer",
        plural = "bgppeers",
        namespaced,
        status = "BGPPeerStatus",
        doc = "BGPPeer is a BGP session that MetalLB speakers open to advertise Service addresses.",
        printcolumn = r#"{"name":"Address", "type":"string", "jsonPath":".spec.peerAddress"}"#,
        printcolumn = r#"{"name":"ASN", "type":"string", "jsonPath":".spec.peerASN"}"#,
        printcolumn = r#"{"name":"BFD Profile", "type":"string", "jsonPath":".spec.bfdProfile"}"#,
        printcolumn = r#"{"name":"Multi Hops", "type":"string", "jsonPath":".spec.ebgpMultiHop"}"#
    )]
    #[serde(rename_all = "camelCase", remote = "Self")]
    // The rules of upstream's webhook that need no other object, with its meaning of "unset"
    // (0 or ""). Its webhook lets a create with `disableMP: true` through unchecked (with a
    // deprecation warning), so the rules do too. It blanks `passwordSecret` before checking, so
    // password together with passwordSecret is left to the configuration check. Address fields
    // may be empty (unset); IPv6 text with an embedded IPv4 address (`::ffff:198.18.0.1`) parses
    // in Go but not with CEL's `isIP`, so it is left to the configuration check too.
    #[schemars(extend("x-kubernetes-validations" = [
        {
            "rule": "(has(self.disableMP) && self.disableMP) || ((has(self.peerASN) && self.peerASN != 0) != (has(self.dynamicASN) && self.dynamicASN != ''))",
            "message": "exactly one of peerASN and dynamicASN must be set"
        },
        {
            "rule": "(has(self.disableMP) && self.disableMP) || ((has(self.peerAddress) && self.peerAddress != '') != (has(self.interface) && self.interface != ''))",
            "message": "exactly one of peerAddress and interface must be set"
        },
        {
            "rule": "(has(self.disableMP) && self.disableMP) || !(has(self.ebgpMultiHop) && self.ebgpMultiHop && self.myASN == (has(self.peerASN) ? self.peerASN : 0))",
            "message": "ebgpMultiHop cannot be used with iBGP (peerASN equal to myASN)"
        },
        {
            "rule": "(has(self.disableMP) && self.disableMP) || self.myASN != 0",
            "message": "myASN must not be 0"
        }
    ]))]
    pub struct BGPPeerSpec {
        /// Local AS number.
        #[serde(rename = "myASN")]
        #[schemars(range(min = 0, max = 4294967295_u32))]
        pub my_asn: u32,
        /// Remote AS number.
        #[serde(default, skip_serializing_if = "Option::is_none", rename = "peerASN")]
        #[schemars(range(min = 0, max = 4294967295_u32))]
        pub peer_asn: Option<u32>,
        /// Accept any remote AS equal to (`internal`) or different from (`external`) myASN.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            rename = "dynamicASN"
        )]
        pub dynamic_asn: Option<DynamicAsn>,
        /// Local AS presented on this session instead of myASN.
        #[serde(default, skip_serializing_if = "Option::is_none", rename = "localASN")]
        #[schemars(range(min = 1, max = 4294967295_u32))]
        pub local_asn: Option<u32>,
        /// Address of the peer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == '' || isIP(self) || (self.contains(':') && self.contains('.'))", "message": "peerAddress must be an IP address"}]))]
        #[schemars(length(max = 64))]
        pub peer_address: Option<String>,
        /// Interface for unnumbered BGP.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub interface: Option<String>,
        /// Local address to connect from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == '' || isIP(self) || (self.contains(':') && self.contains('.'))", "message": "sourceAddress must be an IP address"}]))]
        #[schemars(length(max = 64))]
        pub source_address: Option<String>,
        /// TCP port of the peer (default 179).
        #[serde(default = "default_port", skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 1, max = 16384))]
        pub peer_port: Option<u16>,
        /// Hold time, a duration such as `90s`; 0 or at least 3 seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = DURATION_PATTERN))]
        pub hold_time: Option<String>,
        /// Keepalive time, a duration; at most the hold time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = DURATION_PATTERN))]
        pub keepalive_time: Option<String>,
        /// Connect retry time, whole seconds between 1 and 65535.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = DURATION_PATTERN))]
        #[schemars(extend("x-kubernetes-validations" = [
            {"rule": "duration(self).getSeconds() >= 1 && duration(self).getSeconds() <= 65535", "message": "connectTime must be between 1 and 65535 seconds"},
            {"rule": "duration(self).getMilliseconds() % 1000 == 0", "message": "connectTime must be a whole number of seconds"}
        ]))]
        pub connect_time: Option<String>,
        /// BGP router id.
        #[serde(default, skip_serializing_if = "Option::is_none", rename = "routerID")]
        #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == '' || isIP(self) || (self.contains(':') && self.contains('.'))", "message": "routerID must be an IP address"}]))]
        #[schemars(length(max = 64))]
        pub router_id: Option<String>,
        /// Nodes that open this session; empty means every node.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub node_selectors: Vec<LabelSelector>,
        /// TCP MD5 password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub password: Option<String>,
        /// Secret (type kubernetes.io/basic-auth, key `password`) holding the TCP MD5 password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub password_secret: Option<SecretReference>,
        /// BFDProfile name for fast failure detection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bfd_profile: Option<String>,
        /// Graceful restart (RFC 4724); cannot be changed once set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "enableGracefulRestart cannot be changed after creation"}]))]
        pub enable_graceful_restart: Option<bool>,
        /// Allow the eBGP peer to be more than one hop away.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ebgp_multi_hop: Option<bool>,
        /// VRF of the session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vrf: Option<String>,
        /// Deprecated; has no effect.
        #[serde(default, skip_serializing_if = "Option::is_none", rename = "disableMP")]
        #[schemars(extend("default" = false))]
        pub disable_mp: Option<bool>,
        /// Carry both address families on the session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("default" = false))]
        pub dual_stack_address_family: Option<bool>,
    }

    crate::absent_spec_is_default!(BGPPeerSpec);

    /// `internal` or `external`.
    #[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum DynamicAsn {
        /// The peer's AS equals myASN.
        Internal,
        /// The peer's AS differs from myASN.
        External,
    }

    /// A reference to a Secret.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
    pub struct SecretReference {
        /// Secret name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        /// Secret namespace (the MetalLB namespace when empty).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespace: Option<String>,
    }

    /// Empty status (upstream has none either).
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
    pub struct BGPPeerStatus {}
}

/// The deprecated version, still served so that older manifests apply.
pub mod v1beta1 {
    use kube::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use std::collections::BTreeMap;

    /// A BGP session (deprecated version: use v1beta2).
    #[derive(
        CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema,
    )]
    #[kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "BGPPeer",
        plural = "bgppeers",
        namespaced,
        status = "BGPPeerStatus",
        deprecated = "v1beta1 is deprecated, please use v1beta2",
        doc = "BGPPeer is a BGP session that MetalLB speakers open (deprecated version, use v1beta2).",
        printcolumn = r#"{"name":"Address", "type":"string", "jsonPath":".spec.peerAddress"}"#,
        printcolumn = r#"{"name":"ASN", "type":"string", "jsonPath":".spec.peerASN"}"#,
        printcolumn = r#"{"name":"BFD Profile", "type":"string", "jsonPath":".spec.bfdProfile"}"#,
        printcolumn = r#"{"name":"Multi Hops", "type":"string", "jsonPath":".spec.ebgpMultiHop"}"#
    )]
    #[serde(rename_all = "camelCase", remote = "Self")]
    pub struct BGPPeerSpec {
        /// Local AS number.
        #[serde(rename = "myASN")]
        pub my_asn: u32,
        /// Remote AS number.
        #[serde(rename = "peerASN")]
        pub peer_asn: u32,
        /// Address of the peer.
        pub peer_address: String,
        /// Local address to connect from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source_address: Option<String>,
        /// TCP port of the peer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 16384))]
        pub peer_port: Option<u16>,
        /// Hold time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hold_time: Option<String>,
        /// Keepalive time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub keepalive_time: Option<String>,
        /// BGP router id.
        #[serde(default, skip_serializing_if = "Option::is_none", rename = "routerID")]
        pub router_id: Option<String>,
        /// Nodes that open this session.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub node_selectors: Vec<NodeSelector>,
        /// TCP MD5 password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub password: Option<String>,
        /// BFDProfile name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bfd_profile: Option<String>,
        /// Multi-hop eBGP.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ebgp_multi_hop: Option<bool>,
    }

    crate::absent_spec_is_default!(BGPPeerSpec);

    /// v1beta1's own node selector: a label selector whose expressions need at least one value
    /// (it serialises like a label selector, so the API server converts it to v1beta2 as is).
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct NodeSelector {
        /// Labels a node must have.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub match_labels: Option<BTreeMap<String, String>>,
        /// Expressions a node must match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub match_expressions: Option<Vec<SelectorRequirement>>,
    }

    /// One expression of a [`NodeSelector`].
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
    pub struct SelectorRequirement {
        /// Label key.
        pub key: String,
        /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
        pub operator: String,
        /// Values (at least one).
        #[schemars(length(min = 1))]
        pub values: Vec<String>,
    }

    /// Empty status.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
    pub struct BGPPeerStatus {}
}
