//! A Service's endpoints and traffic policy as both announcing protocols (and `explain`) read
//! them: which endpoints serve, on which nodes, and whether traffic must stay on those nodes.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label EndpointSlices carry with their Service's name.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Endpoints of a Service: (some endpoint can serve, nodes hosting a serving endpoint). An
/// endpoint serves when its `serving` condition says so, else its `ready` one; both default to
/// true when absent.
pub fn serving<S: Borrow<EndpointSlice>>(
    service: &Service,
    slices: &[S],
) -> (bool, BTreeSet<String>) {
    let mut any = false;
    let mut nodes = BTreeSet::new();
    let namespace = service.metadata.namespace.as_deref();
    let name = service.metadata.name.as_deref();
    for slice in slices.iter().map(Borrow::borrow) {
        let labels = slice.metadata.labels.as_ref();
        if slice.metadata.namespace.as_deref() != namespace
            || labels
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .map(String::as_str)
                != name
        {
            continue;
        }
        for endpoint in slice.endpoints.iter().flatten() {
            let conditions = endpoint.conditions.as_ref();
            if conditions
                .and_then(|c| c.serving.or(c.ready))
                .unwrap_or(true)
            {
                any = true;
                nodes.extend(endpoint.node_name.clone());
            }
        }
    }
    (any, nodes)
}

/// Whether the Service's `externalTrafficPolicy` is `Local`: only nodes with a serving endpoint
/// may attract its traffic.
pub fn local_traffic(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.external_traffic_policy.as_deref())
        == Some("Local")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn serving_endpoints_are_those_of_the_service_serving_or_ready() {
        let service: Service =
            serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "apps"}}))
                .unwrap();
        let slice =
            |namespace: &str, service: &str, endpoints: serde_json::Value| -> EndpointSlice {
                serde_json::from_value(json!({
                    "metadata": {"name": format!("{service}-x"), "namespace": namespace,
                                 "labels": {"kubernetes.io/service-name": service}},
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                }))
                .unwrap()
            };
        let slices = [
            slice(
                "apps",
                "web",
                json!([
                    {"addresses": ["10.1.0.1"], "nodeName": "n1"},
                    {"addresses": ["10.1.0.2"], "nodeName": "n2", "conditions": {"ready": false}},
                    {"addresses": ["10.1.0.3"], "nodeName": "n3",
                     "conditions": {"ready": false, "serving": true}},
                    {"addresses": ["10.1.0.4"], "conditions": {"serving": true}},
                ]),
            ),
            slice(
                "other",
                "web",
                json!([{"addresses": ["10.1.0.5"], "nodeName": "n5"}]),
            ),
            slice(
                "apps",
                "db",
                json!([{"addresses": ["10.1.0.6"], "nodeName": "n6"}]),
            ),
        ];
        let (any, nodes) = serving(&service, &slices);
        assert!(any);
        assert_eq!(nodes.into_iter().collect::<Vec<_>>(), ["n1", "n3"]);
        let (any, nodes) = serving(&service, &slices[1..]);
        assert!(!any && nodes.is_empty());
        let not_serving = [slice(
            "apps",
            "web",
            json!([{"addresses": ["10.1.0.2"], "nodeName": "n2", "conditions": {"serving": false, "ready": true}}]),
        )];
        assert!(!serving(&service, &not_serving).0);
    }

    #[test]
    fn local_traffic_is_the_local_policy() {
        let service = |policy: &str| -> Service {
            serde_json::from_value(json!({"spec": {"externalTrafficPolicy": policy}})).unwrap()
        };
        assert!(local_traffic(&service("Local")));
        assert!(!local_traffic(&service("Cluster")));
        assert!(!local_traffic(&Service::default()));
    }
}
