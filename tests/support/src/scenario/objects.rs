//! The Kubernetes objects of Layer 2 scenarios: metallb.io configuration, selectorless
//! LoadBalancer Services with a given status, and their EndpointSlices.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::fmt::Debug;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::discovery::ApiResource;
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

const MANAGER: &str = "netlab";

/// Applies `object` (server-side apply, forced) in `namespace`: a typed value of any namespaced
/// kind, such as `metallb_api::IPAddressPool` or `metallb_api::BGPPeer` (a renamed field then
/// fails to compile).
pub async fn apply<K>(client: &Client, namespace: &str, object: &K) -> Result<()>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let name = object
        .meta()
        .name
        .clone()
        .context("the object has no name")?;
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    Api::<K>::namespaced(client.clone(), namespace)
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(object),
        )
        .await
        .with_context(|| format!("cannot apply {kind} {name}"))?;
    Ok(())
}

/// Applies a `metallb.io/v1beta1` object (`kind` with `plural`) named `name` with `spec`, for
/// specs the typed `metallb_api` values cannot carry (upstream comparisons); prefer [`apply`].
pub async fn apply_metallb(
    client: &Client,
    namespace: &str,
    kind: &str,
    plural: &str,
    name: &str,
    spec: serde_json::Value,
) -> Result<()> {
    let resource = ApiResource {
        group: "metallb.io".into(),
        version: "v1beta1".into(),
        api_version: "metallb.io/v1beta1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let body = json!({
        "apiVersion": "metallb.io/v1beta1", "kind": kind,
        "metadata": {"name": name, "namespace": namespace}, "spec": spec,
    });
    api.patch(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .with_context(|| format!("cannot apply {plural}/{name}"))?;
    Ok(())
}

/// A selectorless LoadBalancer Service on port 80 whose status carries `ips` (as if a
/// controller had assigned them); `local` sets `externalTrafficPolicy: Local`.
pub async fn lb_service(
    client: &Client,
    namespace: &str,
    name: &str,
    ips: &[&str],
    local: bool,
) -> Result<()> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let families: Vec<&str> = ips
        .iter()
        .map(|ip| if ip.contains(':') { "IPv6" } else { "IPv4" })
        .collect();
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "type": "LoadBalancer",
            "ipFamilyPolicy": if ips.len() > 1 { "PreferDualStack" } else { "SingleStack" },
            "ipFamilies": families,
            "externalTrafficPolicy": if local { "Local" } else { "Cluster" },
            "allocateLoadBalancerNodePorts": false,
            "ports": [{"port": 80, "protocol": "TCP"}],
        }
    }))?;
    services
        .patch(
            name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&service),
        )
        .await
        .with_context(|| format!("cannot apply Service {name}"))?;
    let ingress: Vec<serde_json::Value> = ips
        .iter()
        .map(|ip| json!({"ip": ip, "ipMode": "VIP"}))
        .collect();
    let status = json!({"status": {"loadBalancer": {"ingress": ingress}}});
    services
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("cannot set the status of Service {name}"))?;
    Ok(())
}

/// Replaces the endpoints of Service `service` with one ready endpoint per (node, address).
pub async fn endpoints(
    client: &Client,
    namespace: &str,
    service: &str,
    nodes: &[(&str, std::net::Ipv4Addr)],
) -> Result<()> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let endpoints: Vec<serde_json::Value> = nodes
        .iter()
        .map(|(node, ip)| {
            json!({"addresses": [ip.to_string()], "conditions": {"ready": true, "serving": true}, "nodeName": node})
        })
        .collect();
    let name = format!("{service}-1");
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"port": 80, "protocol": "TCP"}],
    }))?;
    slices
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&slice),
        )
        .await
        .with_context(|| format!("cannot apply EndpointSlice {name}"))?;
    Ok(())
}
