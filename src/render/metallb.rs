//! The `metallb.io` objects: the CRDs (generated from `metallb_api`'s types), and the pool,
//! advertisements and BGP peers of this instance, built as `metallb_api` values so that a
//! renamed field fails to compile.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceConversion;
use metallb_api::{
    BGPAdvertisement, BGPAdvertisementSpec, BGPPeer, BGPPeerSpec, IPAddressPool, IPAddressPoolSpec,
    L2Advertisement, L2AdvertisementSpec,
};

use super::{Desired, RenderInput, shared_labels};
use crate::config::Password;
use metallb_api::bgp_peer::v1beta2::SecretReference;

/// Every CRD of `metallb.io`, shared by every instance (no instance label). Read as built
/// into the binary (generating them costs ~10 ms of every hook); generated if that fails.
pub fn crds() -> Vec<Desired> {
    metallb_api::crds_prebuilt()
        .unwrap_or_else(|_| metallb_api::crds())
        .into_iter()
        .map(|mut crd| {
            crd.metadata.labels = Some(shared_labels());
            // Stated, so that applying over upstream's CRDs (whose BGPPeer conversion calls
            // upstream's webhook Service) takes the conversion over: versions convert by
            // renaming, as ours are the same schema.
            crd.spec.conversion = Some(CustomResourceConversion {
                strategy: "None".to_string(),
                webhook: None,
            });
            Desired::from_object(&crd)
        })
        .collect()
}

/// The IPAddressPool of this instance: the `iprange` addresses, assigned automatically.
pub fn pool(input: &RenderInput) -> Desired {
    Desired::from_object(&IPAddressPool {
        metadata: input.namespaced(&input.pool_name(), &[]),
        spec: IPAddressPoolSpec {
            addresses: input.addresses.clone(),
            auto_assign: Some(true),
            ..IPAddressPoolSpec::default()
        },
        status: None,
    })
}

/// The L2Advertisement of the pool, on `l2-interfaces` (every interface when empty).
pub fn l2_advertisement(input: &RenderInput) -> Desired {
    Desired::from_object(&L2Advertisement {
        metadata: input.namespaced(&input.pool_name(), &[]),
        spec: L2AdvertisementSpec {
            ip_address_pools: vec![input.pool_name()],
            interfaces: input.l2_interfaces.clone(),
            ..L2AdvertisementSpec::default()
        },
        status: None,
    })
}

/// A BGPPeer per router and one BGPAdvertisement for the pool, when BGP is on.
pub fn bgp(input: &RenderInput) -> Vec<Desired> {
    let Some(bgp) = &input.bgp else {
        return Vec::new();
    };
    let mut out: Vec<Desired> = bgp
        .peers
        .iter()
        .enumerate()
        .flat_map(|(i, peer)| {
            let name = format!("{}-peer-{i}", input.pool_name());
            let password = peer
                .password
                .as_ref()
                .map(|password| password_secret(input, &format!("{name}-password"), password));
            let peer = Desired::from_object(&BGPPeer {
                metadata: input.namespaced(&name, &[]),
                spec: BGPPeerSpec {
                    my_asn: bgp.asn,
                    peer_asn: Some(peer.asn),
                    peer_address: Some(peer.address.to_string()),
                    peer_port: peer.port,
                    password_secret: password.as_ref().map(|secret| SecretReference {
                        name: Some(secret.name.clone()),
                        namespace: Some(input.namespace.clone()),
                    }),
                    ..BGPPeerSpec::default()
                },
                status: None,
            });
            // The Secret first: a speaker that sees the peer finds its password.
            password.into_iter().chain([peer])
        })
        .collect();
    out.push(Desired::from_object(&BGPAdvertisement {
        metadata: input.namespaced(&input.pool_name(), &[]),
        spec: BGPAdvertisementSpec {
            ip_address_pools: vec![input.pool_name()],
            aggregation_length: Some(i32::from(bgp.aggregation_length)),
            aggregation_length_v6: None,
            communities: bgp.communities.clone(),
            local_pref: bgp.local_pref,
            ..BGPAdvertisementSpec::default()
        },
        status: None,
    }));
    out
}

/// The Secret holding a BGP session's TCP MD5 password, in the form MetalLB reads
/// (`kubernetes.io/basic-auth`, key `password`).
fn password_secret(input: &RenderInput, name: &str, password: &Password) -> Desired {
    Desired::from_object(&Secret {
        metadata: input.namespaced(name, &[]),
        type_: Some("kubernetes.io/basic-auth".to_string()),
        data: Some(BTreeMap::from([(
            "password".to_string(),
            ByteString(password.expose().as_bytes().to_vec()),
        )])),
        ..Secret::default()
    })
}
