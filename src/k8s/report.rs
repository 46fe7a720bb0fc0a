//! The reads behind the charm's status: the workloads' readiness, the addresses in use, what
//! the speakers advertise over BGP and what they warn about, and kube-proxy's configuration.
//! Each is one request, all sent at once: the charm's client multiplexes them on one HTTP/2
//! connection (opening a connection per read would cost a TLS handshake each). The lists are
//! served from the API server's watch cache (`resourceVersion=0`, as informers read): what they
//! feed is status, a cached answer is milliseconds old at most, and it costs the API server half
//! as much as a read through to etcd.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::Client;
use kube::api::{Api, GetParams, ListParams};
use serde_json::Value;

use super::{BgpAdvertising, K8sError, Readiness, classify, pod_problem};
use crate::preflight;

/// What the status reports besides readiness, read in one go.
#[derive(Debug)]
pub struct Report {
    /// Every LoadBalancer ingress IP in the cluster.
    pub load_balancer_ips: Vec<IpAddr>,
    /// What the speakers advertise over BGP (when asked for).
    pub bgp: Option<BgpAdvertising>,
    /// What the speakers warn about: duplicate responders, then pool ranges no node can
    /// announce.
    pub warnings: Vec<String>,
    /// kube-proxy's configuration ([`preflight::KUBE_PROXY_CONFIG_MAP`]), or why it could not
    /// be read.
    pub kube_proxy: Result<Option<BTreeMap<String, String>>, K8sError>,
}

/// The reads of a [`Report`] on `namespace`.
pub(super) async fn report(
    client: &Client,
    namespace: &str,
    bgp: bool,
) -> Result<Report, K8sError> {
    let (kp_namespace, kp_name) = preflight::KUBE_PROXY_CONFIG_MAP;
    let advertising = async {
        match bgp {
            true => bgp_advertising(client, namespace).await.map(Some),
            false => Ok(None),
        }
    };
    // All at once: the client multiplexes them on one connection.
    let (read, kube_proxy) = futures::join!(
        futures::future::try_join4(
            load_balancer_ips(client),
            advertising,
            duplicate_responders(client, namespace),
            unreachable_pools(client, namespace),
        ),
        config_map_data(client, kp_namespace, kp_name),
    );
    let (ips, bgp, duplicates, unreachable) = read?;
    Ok(Report {
        load_balancer_ips: ips,
        bgp,
        warnings: [duplicates, unreachable].concat(),
        kube_proxy,
    })
}

impl Readiness {
    /// The ready counts of the controller Deployment and the speaker DaemonSet, as read (None:
    /// absent); no problems yet (see [`pod_problems`]).
    pub fn of(controller: Option<&Value>, speaker: Option<&Value>) -> Self {
        let controller = controller
            .and_then(|d| serde_json::from_value::<Deployment>(d.clone()).ok())
            .map(|d| {
                let wanted = d.spec.and_then(|s| s.replicas).unwrap_or(1);
                let available = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
                (available, wanted)
            })
            .unwrap_or((0, 1));
        let speaker = speaker
            .and_then(|d| serde_json::from_value::<DaemonSet>(d.clone()).ok())
            .and_then(|d| d.status)
            .map(|s| (s.number_ready, s.desired_number_scheduled))
            .unwrap_or((0, 0));
        Self {
            controller,
            speaker,
            problems: Vec::new(),
        }
    }

    /// Whether the pods need to be asked why they are not ready: some wanted pod is not.
    pub(super) fn short(&self) -> bool {
        self.controller.0 < self.controller.1 || self.speaker.0 < self.speaker.1
    }
}

/// Why the MetalLB pods in `namespace` are not running, where Kubernetes says.
pub(super) async fn pod_problems(
    client: &Client,
    namespace: &str,
) -> Result<Vec<String>, K8sError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    Ok(pods
        .list(&ListParams::default().labels("app=metallb").match_any())
        .await
        .map_err(|e| classify("listing the MetalLB pods", e))?
        .items
        .iter()
        .filter_map(pod_problem)
        .collect())
}

/// The `data` of ConfigMap `namespace/name` (from the API server's cache), or None when there
/// is none.
async fn config_map_data(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, K8sError> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match maps.get_with(name, &GetParams::any()).await {
        Ok(map) => Ok(Some(map.data.unwrap_or_default())),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(e) => Err(classify(
            &format!("reading ConfigMap {namespace}/{name}"),
            e,
        )),
    }
}

/// Every LoadBalancer ingress IP in the cluster.
async fn load_balancer_ips(client: &Client) -> Result<Vec<IpAddr>, K8sError> {
    let services: Api<Service> = Api::all(client.clone());
    let list = services
        .list(&ListParams::default().match_any())
        .await
        .map_err(|e| classify("listing services", e))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|s| s.status?.load_balancer?.ingress)
        .flatten()
        .filter_map(|i| i.ip?.parse().ok())
        .collect())
}

/// What the speakers advertise over BGP, from the ServiceBGPStatus objects in `namespace`:
/// how many Services, by how many nodes.
async fn bgp_advertising(client: &Client, namespace: &str) -> Result<BgpAdvertising, K8sError> {
    use metallb_api::ServiceBGPStatus;
    let statuses: Api<ServiceBGPStatus> = Api::namespaced(client.clone(), namespace);
    let list = statuses
        .list(&ListParams::default().match_any())
        .await
        .map_err(|e| classify("listing servicebgpstatuses", e))?;
    let mut services = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    for status in list.items.into_iter().filter_map(|s| s.status) {
        services.insert((status.service_namespace, status.service_name));
        nodes.extend(status.node);
    }
    Ok(BgpAdvertising {
        services: services.len(),
        nodes: nodes.len(),
    })
}

/// What the speakers report about duplicate responders, from the `DuplicateResponder`
/// conditions of the ServiceL2Status objects in `namespace`: the first sentence of each
/// ("198.18.100.10 also answered by 02:00:00:00:00:0c on eth0"), sorted, without repeats.
async fn duplicate_responders(client: &Client, namespace: &str) -> Result<Vec<String>, K8sError> {
    use metallb_api::{DUPLICATE_RESPONDER, ServiceL2Status};
    let statuses: Api<ServiceL2Status> = Api::namespaced(client.clone(), namespace);
    let list = statuses
        .list(&ListParams::default().match_any())
        .await
        .map_err(|e| classify("listing servicel2statuses", e))?;
    let found: BTreeSet<String> = list
        .items
        .into_iter()
        .filter_map(|s| s.status)
        .flat_map(|s| s.conditions)
        .filter(|c| c.type_ == DUPLICATE_RESPONDER && c.status == "True")
        .filter_map(|c| c.message.split(": ").next().map(str::to_string))
        .collect();
    Ok(found.into_iter().collect())
}

/// Pool ranges no node can announce in Layer 2, as every speaker reports them in the
/// `layer2PoolsReachable` condition of its ConfigurationState (see
/// [`preflight::unreachable_pools`]).
async fn unreachable_pools(client: &Client, namespace: &str) -> Result<Vec<String>, K8sError> {
    use metallb_api::ConfigurationState;
    use metallb_api::configuration_state::LAYER2_POOLS_REACHABLE;
    let states: Api<ConfigurationState> = Api::namespaced(client.clone(), namespace);
    let list = states
        .list(
            &ListParams::default()
                .labels("metallb.io/component-type=speaker")
                .match_any(),
        )
        .await
        .map_err(|e| classify("listing configurationstates", e))?;
    let reports: Vec<Vec<String>> = list
        .items
        .into_iter()
        .filter_map(|s| s.status)
        .flat_map(|s| s.conditions)
        .filter(|c| c.type_ == LAYER2_POOLS_REACHABLE)
        .map(|c| match c.status.as_str() {
            "False" => c.message.lines().map(str::to_string).collect(),
            _ => Vec::new(),
        })
        .collect();
    Ok(preflight::unreachable_pools(&reports))
}
