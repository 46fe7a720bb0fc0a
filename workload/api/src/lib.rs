//! # metallb-api
//!
//! The `metallb.io` custom resources, compatible with upstream MetalLB manifests: the same
//! group, kinds, versions and field names. The CRDs are generated from these types, with the
//! per-object rules a schema can express (CEL `x-kubernetes-validations`, ranges, formats,
//! defaults), so the API server refuses a bad object at `kubectl apply` time without a webhook.
//! Cross-object rules (overlapping pools, unknown names) are checked by the controller.
//!
//! [`convert`] reads these objects (and Services, Nodes, EndpointSlices) as the inputs of
//! `metallb_core`, the one reading the controller, the speaker and the charm share.
//!
//! `crds/metallb.io.yaml` is the committed output of [`crds_yaml`]; `cargo xtask crds` rewrites it
//! and a test fails when it is stale.

/// Makes a spec type optional in objects: upstream MetalLB's CRDs require no `spec` on most kinds
/// (its documented minimal `L2Advertisement` has none, and its speakers write `ConfigurationState`
/// objects without one), so a missing or `null` spec reads as the spec's default.
///
/// The spec struct derives its serde code with `#[serde(remote = "Self")]`, which turns the
/// derived `serialize`/`deserialize` into inherent functions; this macro implements the serde
/// traits on top of them. A missing field of the object reaches the spec's `Deserialize` as
/// `none` (serde asks a missing field for an `Option`), which becomes the default.
macro_rules! absent_spec_is_default {
    ($spec:ty) => {
        impl ::serde::Serialize for $spec {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                <$spec>::serialize(self, serializer)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $spec {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                /// The spec as written, when there is one.
                struct Present($spec);
                impl<'de> ::serde::Deserialize<'de> for Present {
                    fn deserialize<D: ::serde::Deserializer<'de>>(
                        deserializer: D,
                    ) -> Result<Self, D::Error> {
                        <$spec>::deserialize(deserializer).map(Present)
                    }
                }
                let present: Option<Present> = ::serde::Deserialize::deserialize(deserializer)?;
                Ok(present.map_or_else(<$spec>::default, |p| p.0))
            }
        }
    };
}
pub(crate) use absent_spec_is_default;

pub mod annotations;
pub mod bfd_profile;
pub mod bgp_advertisement;
pub mod bgp_peer;
pub mod community;
pub mod configuration_state;
pub mod convert;
pub mod deploy;
pub mod ip_address_pool;
pub mod l2_advertisement;
pub mod service_status;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use bfd_profile::{BFDProfile, BFDProfileSpec};
pub use bgp_advertisement::{BGPAdvertisement, BGPAdvertisementSpec};
pub use bgp_peer::v1beta2::{BGPPeer, BGPPeerSpec};
pub use community::{Community, CommunityAlias, CommunitySpec};
pub use configuration_state::{ConfigurationState, ConfigurationStateStatus};
pub use ip_address_pool::{
    IPAddressPool, IPAddressPoolSpec, IPAddressPoolStatus, ServiceAllocation,
};
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
pub use l2_advertisement::{L2Advertisement, L2AdvertisementSpec, PreferredNodeSelector};
pub use service_status::{DUPLICATE_RESPONDER, ServiceBGPStatus, ServiceL2Status};

/// The API group of every MetalLB kind.
pub const GROUP: &str = "metallb.io";

/// Every CRD of the group, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        spec_not_required(BFDProfile::crd()),
        spec_not_required(BGPAdvertisement::crd()),
        spec_not_required(bgp_peer::crd()),
        spec_not_required(Community::crd()),
        spec_not_required(ConfigurationState::crd()),
        IPAddressPool::crd(),
        spec_not_required(L2Advertisement::crd()),
        spec_not_required(ServiceBGPStatus::crd()),
        spec_not_required(ServiceL2Status::crd()),
    ]
}

/// [`crds`] as built into the binary (from the committed `crds/metallb.io.yaml`, which a test
/// keeps equal to [`crds`]): no schema generation at run time, for programs that start often.
pub fn crds_prebuilt() -> Result<Vec<CustomResourceDefinition>, serde_json::Error> {
    serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/crds.json")))
}

/// Drops `spec` from the required fields of every version, as upstream's CRDs have it for every
/// kind but IPAddressPool (the Rust types read a missing spec as the default, see
/// `absent_spec_is_default`).
fn spec_not_required(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let schema = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut());
        if let Some(schema) = schema
            && let Some(required) = schema.required.as_mut()
        {
            required.retain(|field| field != "spec");
            if required.is_empty() {
                schema.required = None;
            }
        }
    }
    crd
}

/// Every CRD as one multi-document YAML text (what `crds/metallb.io.yaml` holds).
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out =
        String::from("# Generated by `cargo xtask crds` from workload/api: do not edit.\n");
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}

/// What Go's `time.ParseDuration` accepts (`90s`, `1m30s`, `0`, `1.5h`): upstream decodes these
/// fields as durations and refuses an object whose field does not parse.
pub(crate) const DURATION_PATTERN: &str =
    r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_crds_are_up_to_date() {
        let committed = include_str!("../crds/metallb.io.yaml");
        let generated = crds_yaml().unwrap();
        assert!(
            committed == generated,
            "workload/api/crds/metallb.io.yaml is stale: run `cargo xtask crds`"
        );
    }

    #[test]
    fn the_prebuilt_crds_are_the_generated_ones() {
        assert_eq!(crds_prebuilt().unwrap(), crds());
    }

    #[test]
    fn a_missing_or_null_spec_reads_as_the_default() {
        let minimal: L2Advertisement = serde_json::from_value(serde_json::json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
            "metadata": {"name": "empty", "namespace": "metallb-system"}}))
        .unwrap();
        assert_eq!(minimal.spec, L2AdvertisementSpec::default());
        let null: BGPPeer = serde_json::from_value(serde_json::json!({
            "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "p"}, "spec": null}))
        .unwrap();
        assert_eq!(null.spec, BGPPeerSpec::default());
        let state: ConfigurationState = serde_json::from_value(serde_json::json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
            "metadata": {"name": "speaker-a"}, "status": {"result": "Valid"}}))
        .unwrap();
        assert_eq!(
            state.status.and_then(|s| s.result),
            Some(configuration_state::ConfigResult::Valid)
        );
        // A spec that is present still has to be right.
        let bad = serde_json::from_value::<L2Advertisement>(serde_json::json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
            "metadata": {"name": "x"}, "spec": {"interfaces": "eth0"}}));
        assert!(bad.is_err());
    }

    #[test]
    fn specs_round_trip_and_keep_every_field() {
        let ad: BGPAdvertisement = serde_json::from_value(serde_json::json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
            "metadata": {"name": "a"},
            "spec": {"asPathPrepend": 3, "communities": ["65000:1", "alias"], "localPref": 50}}))
        .unwrap();
        assert_eq!(ad.spec.as_path_prepend, Some(3));
        assert_eq!(
            ad.spec.aggregation_length,
            Some(32),
            "serde defaults still apply"
        );
        let back = serde_json::to_value(&ad).unwrap();
        assert_eq!(back["spec"]["asPathPrepend"], 3);
        assert_eq!(back["spec"]["communities"][1], "alias");
        let community: Community = serde_json::from_value(serde_json::json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "Community",
            "metadata": {"name": "c"}, "spec": {"communities": [{"value": "1:2"}]}}))
        .unwrap();
        assert_eq!(community.spec.communities[0].name, "");
        let empty = serde_json::to_value(L2Advertisement::new("x", Default::default())).unwrap();
        assert_eq!(empty["spec"], serde_json::json!({}));
    }

    #[test]
    fn every_kind_is_namespaced_in_the_group_with_a_status_subresource() {
        for crd in crds() {
            assert_eq!(crd.spec.group, GROUP);
            assert_eq!(crd.spec.scope, "Namespaced");
            for version in &crd.spec.versions {
                let status = version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref());
                assert!(
                    status.is_some(),
                    "{} {} has no status subresource",
                    crd.spec.names.kind,
                    version.name
                );
            }
            assert_eq!(
                crd.spec.versions.iter().filter(|v| v.storage).count(),
                1,
                "{} must have exactly one storage version",
                crd.spec.names.kind
            );
        }
    }
}
