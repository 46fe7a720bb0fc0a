//! Proof that the test control plane is a real Kubernetes: controllers, scheduler, KWOK,
//! RBAC, TokenRequest, dual-stack Services and CRDs all do their real work.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Node, Service, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use test_support::{TestNamespace, cluster, create_nodes, unique_name, wait_for};

const WAIT: Duration = Duration::from_secs(60);

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn pod_template(app: &str) -> serde_json::Value {
    serde_json::json!({
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [{"name": "c", "image": "example.invalid/none:1"}],
            "tolerations": [{"operator": "Exists"}],
        },
    })
}

async fn ensure_nodes(client: &kube::Client) -> Result<Vec<String>> {
    let names = ["sim-node-a", "sim-node-b", "sim-node-c"];
    create_nodes(
        client,
        &[
            (names[0], "198.18.10.1"),
            (names[1], "198.18.10.2"),
            (names[2], "198.18.10.3"),
        ],
        &[],
    )
    .await?;
    let nodes: Api<Node> = Api::all(client.clone());
    wait_for("simulated nodes to be Ready", WAIT, || async {
        let list = nodes
            .list(&ListParams::default().labels("type=kwok"))
            .await?;
        let ready = list
            .items
            .iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        Ok((ready >= names.len()).then_some(()))
    })
    .await?;
    Ok(names.iter().map(|s| s.to_string()).collect())
}

#[tokio::test]
async fn a_deployment_on_simulated_nodes_becomes_available() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    ensure_nodes(&client).await?;
    let ns = TestNamespace::create(cluster, "deploy").await?;
    let api: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let deployment: Deployment = from_json(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": pod_template("web")},
    }));
    api.create(&PostParams::default(), &deployment).await?;
    wait_for(
        "deployment web to have 2 available replicas",
        WAIT,
        || async {
            let d = api.get("web").await?;
            let available = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
            Ok((available == 2).then_some(()))
        },
    )
    .await
}

#[tokio::test]
async fn a_daemonset_gets_one_ready_pod_per_node() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    let nodes = ensure_nodes(&client).await?;
    let ns = TestNamespace::create(cluster, "ds").await?;
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ns.name);
    let ds: DaemonSet = from_json(serde_json::json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": pod_template("agent")},
    }));
    api.create(&PostParams::default(), &ds).await?;
    let all_nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .len();
    assert!(all_nodes >= nodes.len());
    wait_for("one ready daemonset pod per node", WAIT, || async {
        let status = api.get("agent").await?.status.unwrap_or_default();
        Ok((status.desired_number_scheduled as usize == all_nodes
            && status.number_ready == status.desired_number_scheduled)
            .then_some(()))
    })
    .await
}

#[tokio::test]
async fn a_service_account_without_rbac_gets_403() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    let ns = TestNamespace::create(cluster, "rbac").await?;
    let sa: ServiceAccount = from_json(serde_json::json!({"metadata": {"name": "nobody"}}));
    Api::<ServiceAccount>::namespaced(client, &ns.name)
        .create(&PostParams::default(), &sa)
        .await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = cluster.mint_kubeconfig(&ns.name, "nobody", dir.path())?;
    let limited = test_support::client_from(&kubeconfig).await?;
    match Api::<Node>::all(limited).list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected 403, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_dual_stack_load_balancer_service_gets_both_cluster_ips() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    let ns = TestNamespace::create(cluster, "svc").await?;
    let api: Api<Service> = Api::namespaced(client, &ns.name);
    let svc: Service = from_json(serde_json::json!({
        "metadata": {"name": "lb"},
        "spec": {
            "type": "LoadBalancer",
            "ipFamilyPolicy": "RequireDualStack",
            "ipFamilies": ["IPv4", "IPv6"],
            "selector": {"app": "x"},
            "ports": [{"port": 80}],
        },
    }));
    let created = api.create(&PostParams::default(), &svc).await?;
    let ips = created.spec.and_then(|s| s.cluster_ips).unwrap_or_default();
    assert_eq!(ips.len(), 2, "{ips:?}");
    assert!(ips[0].parse::<std::net::Ipv4Addr>().is_ok(), "{ips:?}");
    assert!(ips[1].parse::<std::net::Ipv6Addr>().is_ok(), "{ips:?}");
    assert!(
        ips[0].starts_with("198.19."),
        "service range is the test range: {ips:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_crd_can_be_created_and_served() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    let group = format!("{}.example.com", unique_name("g"));
    let crd: CustomResourceDefinition = from_json(serde_json::json!({
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}},
            }}}],
        },
    }));
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &crd).await?;
    let ns = TestNamespace::create(cluster, "crd").await?;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&group, "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns.name, &resource);
    let widget: DynamicObject = from_json(serde_json::json!({
        "apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "w1"}, "spec": {"size": 3},
    }));
    let created = wait_for("the CRD to be served", WAIT, || async {
        match widgets.create(&PostParams::default(), &widget).await {
            Ok(w) => Ok(Some(w)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    assert_eq!(created.data["spec"]["size"], 3);
    let bad: DynamicObject = from_json(serde_json::json!({
        "apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "w2"}, "spec": {"size": 0},
    }));
    match widgets.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 422),
        other => panic!("the schema must refuse size 0, got {other:?}"),
    }
    Ok(())
}
