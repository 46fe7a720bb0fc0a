//! Reads what the `explain` action needs from the API ([`crate::explain::Inputs`]): one get and
//! one list per kind, every call from here like every other API call of the charm.

use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Resource;
use kube::api::{Api, ListParams};
use metallb_api::{BGPAdvertisement, BGPPeer, IPAddressPool, L2Advertisement, ServiceL2Status};
use serde::de::DeserializeOwned;

use super::Cluster;
use crate::explain::{ExplainError, Inputs, SPEAKER_SELECTOR};

/// Lists `api` with `params`; a kind the API does not serve (its CRD is absent) is empty.
async fn list<K>(api: Api<K>, params: ListParams, what: &str) -> Result<Vec<K>, ExplainError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.list(&params).await {
        Ok(list) => Ok(list.items),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
        Err(e) => Err(ExplainError::Api(format!("listing {what}: {e}"))),
    }
}

impl Cluster {
    /// Everything about Service `namespace/name` and the MetalLB of `metallb_namespace`.
    pub fn explain_inputs(
        &self,
        metallb_namespace: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Inputs, ExplainError> {
        let client = self.client.clone();
        self.block_on(async move {
            let services: Api<Service> = Api::namespaced(client.clone(), namespace);
            let service = services
                .get_opt(name)
                .await
                .map_err(|e| ExplainError::Api(format!("reading Service {namespace}/{name}: {e}")))?
                .ok_or_else(|| ExplainError::NotFound(format!("{namespace}/{name}")))?;
            let all = ListParams::default();
            let speakers = SPEAKER_SELECTOR
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            Ok(Inputs {
                metallb_namespace: metallb_namespace.to_string(),
                services: list(Api::<Service>::all(client.clone()), all.clone(), "Services")
                    .await?,
                namespaces: list(
                    Api::<Namespace>::all(client.clone()),
                    all.clone(),
                    "Namespaces",
                )
                .await?,
                pools: list(
                    Api::<IPAddressPool>::namespaced(client.clone(), metallb_namespace),
                    all.clone(),
                    "IPAddressPools",
                )
                .await?,
                l2_advertisements: list(
                    Api::<L2Advertisement>::namespaced(client.clone(), metallb_namespace),
                    all.clone(),
                    "L2Advertisements",
                )
                .await?,
                bgp_advertisements: list(
                    Api::<BGPAdvertisement>::namespaced(client.clone(), metallb_namespace),
                    all.clone(),
                    "BGPAdvertisements",
                )
                .await?,
                bgp_peers: list(
                    Api::<BGPPeer>::namespaced(client.clone(), metallb_namespace),
                    all.clone(),
                    "BGPPeers",
                )
                .await?,
                nodes: list(Api::<Node>::all(client.clone()), all.clone(), "Nodes").await?,
                pods: list(
                    Api::<Pod>::namespaced(client.clone(), metallb_namespace),
                    ListParams::default().labels(&speakers),
                    "speaker pods",
                )
                .await?,
                endpoint_slices: list(
                    Api::<EndpointSlice>::namespaced(client.clone(), namespace),
                    ListParams::default().labels(&format!("kubernetes.io/service-name={name}")),
                    "EndpointSlices",
                )
                .await?,
                l2_statuses: list(
                    Api::<ServiceL2Status>::namespaced(client.clone(), metallb_namespace),
                    all.clone(),
                    "ServiceL2Statuses",
                )
                .await?,
                events: list(
                    Api::<Event>::namespaced(client.clone(), namespace),
                    ListParams::default().fields(&format!(
                        "involvedObject.kind=Service,involvedObject.name={name}"
                    )),
                    "events",
                )
                .await?,
                service,
            })
        })
    }
}
