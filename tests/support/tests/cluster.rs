//! Proof that the test control plane is a real Kubernetes: controllers, scheduler, KWOK,
//! RBAC, TokenRequest, dual-stack Services and CRDs all do their real work.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Node, Pod, Service, ServiceAccount};
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

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn a_deployment_on_simulated_nodes_becomes_available() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::create_simulated_nodes(&client, &unique_name("deploy"), 2).await?;
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
#[ignore = "needs the control plane: cargo xtask test"]
async fn a_daemonset_gets_one_ready_pod_per_node() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    // Nodes of its own (other tests add nodes concurrently), selected by a label of its own.
    let group = unique_name("ds");
    let names: Vec<String> = (1..=3).map(|i| format!("{group}-{i}")).collect();
    let ips = ["198.18.11.1", "198.18.11.2", "198.18.11.3"];
    let nodes: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(ips).collect();
    create_nodes(&client, &nodes, &[("ds-group", &group)]).await?;
    test_support::wait_nodes_ready(&client, &names, WAIT).await?;
    let ns = TestNamespace::create(cluster, "ds").await?;
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ns.name);
    let mut template = pod_template("agent");
    template["spec"]["nodeSelector"] = serde_json::json!({"ds-group": group});
    let ds: DaemonSet = from_json(serde_json::json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template},
    }));
    api.create(&PostParams::default(), &ds).await?;
    wait_for("one ready daemonset pod per node", WAIT, || async {
        let status = api.get("agent").await?.status.unwrap_or_default();
        Ok((status.desired_number_scheduled == 3 && status.number_ready == 3).then_some(()))
    })
    .await?;
    let pods = Api::<Pod>::namespaced(client, &ns.name)
        .list(&ListParams::default().labels("app=agent"))
        .await?;
    let mut on: Vec<String> = pods
        .items
        .iter()
        .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()))
        .collect();
    on.sort();
    assert_eq!(on, names, "one pod on each node");
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
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
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            // Authenticated (not 401) as the ServiceAccount, then refused by RBAC.
            let user = format!("system:serviceaccount:{}:nobody", ns.name);
            assert!(status.message.contains(&user), "{status:?}");
        }
        other => panic!("expected 403, got {other:?}"),
    }
    // The kubeconfig minted into the control plane's own state works the same way.
    let minted = cluster.mint_service_account_kubeconfig(&ns.name, "nobody")?;
    assert!(minted.starts_with(cluster.state_dir()));
    let limited = test_support::client_from(&minted).await?;
    match Api::<Node>::all(limited).list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected 403, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn kubectl_is_from_the_same_release_as_the_server() -> Result<()> {
    let cluster = cluster();
    let output = std::process::Command::new(cluster.kubectl_path())
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .args(["version", "-o", "json"])
        .output()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let versions: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let client = versions["clientVersion"]["gitVersion"].as_str();
    let server = versions["serverVersion"]["gitVersion"].as_str();
    assert_eq!(client, server, "{versions}");
    // The Kubernetes minor that k8s-openapi is built for (feature v1_36).
    assert!(
        server.is_some_and(|v| v.starts_with("v1.36.")),
        "{versions}"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn simulated_nodes_become_ready() -> Result<()> {
    let client = cluster().client().await?;
    let names = test_support::create_simulated_nodes(&client, &unique_name("extra"), 2).await?;
    assert_eq!(names.len(), 2);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
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
#[ignore = "needs the control plane: cargo xtask test"]
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

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn the_test_ranges_are_unreachable_from_this_namespace_while_a_cluster_runs() -> Result<()> {
    // The control plane runs in this (the root) namespace: a webhook Service's ClusterIP or a
    // simulated node's address must fail here, not follow the default route off the machine.
    cluster();
    for (family, address) in [
        ("-4", "198.19.0.1"),
        ("-4", "198.18.20.1"),
        ("-6", "2001:db8:5e::1"),
        ("-6", "2001:db8::64:1"),
    ] {
        let out = std::process::Command::new("ip")
            .args([family, "route", "get", address])
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success() || text.starts_with("unreachable"),
            "{address} is routable from the root namespace: {text}"
        );
        assert!(
            text.contains("unreachable") || text.contains("No route to host"),
            "{address}: {text}"
        );
    }
    Ok(())
}
