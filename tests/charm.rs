//! The compiled metallb charm run through `juju-sim` against the real control plane.
//!
//! Scenarios run one at a time: they share the cluster-wide CRDs and the pool's test range.

mod charm_support;

use anyhow::{Result, bail};
use charm_support::{Deployed, SERIAL, WAIT, pool_addresses};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use metallb_api::{ConfigurationState, ServiceL2Status};
use serde_json::json;
use test_support::{cluster, unique_name, wait_for};

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn trusted_deploy_reaches_active_and_config_changes_update_the_pool() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    let message = d.wait_active().await?;
    assert_eq!(message, "16 addresses (198.18.100.0/28), 0 in use");
    let deployment: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
    assert!(deployment.get_opt("controller").await?.is_some());
    let ds: Api<DaemonSet> = Api::namespaced(client.clone(), &d.namespace);
    assert!(ds.get_opt("speaker").await?.is_some());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &d.namespace);
    let key_before = secrets.get("memberlist").await?.data;
    assert_eq!(
        pool_addresses(&client, &d).await?,
        serde_json::json!(["198.18.100.0/28"])
    );

    d.ok(&["config", "iprange=198.18.100.16/28, 2001:db8:100::/120"]);
    assert_eq!(
        pool_addresses(&client, &d).await?,
        serde_json::json!(["198.18.100.16/28", "2001:db8:100::/120"])
    );
    assert_eq!(
        secrets.get("memberlist").await?.data,
        key_before,
        "the memberlist key is kept"
    );
    // The hook's reads went at once over one HTTP/2 connection to the real API server.
    let log = d.ok(&["debug-log"]);
    let counted = log
        .lines()
        .rfind(|l| l.contains("config-changed") && l.contains("Kubernetes API requests"))
        .unwrap_or_default();
    assert!(
        counted.contains("answered over HTTP/2") && !counted.contains(" 0 answered over HTTP/2"),
        "{counted}"
    );

    d.ok(&["config", "iprange=198.18.100.40-198.18.100.30"]);
    let (status, message) = d.status();
    assert_eq!(status, "blocked");
    assert!(
        message.contains("198.18.100.40-198.18.100.30") && message.contains("after"),
        "{message}"
    );
    assert_eq!(
        pool_addresses(&client, &d).await?,
        serde_json::json!(["198.18.100.16/28", "2001:db8:100::/120"]),
        "a rejected value changes nothing"
    );
    d.ok(&["remove"]);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn untrusted_deploy_blocks_until_trusted() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    d.nodes().await?;
    d.deploy(false, &[]);
    let (status, message) = d.status();
    assert_eq!(status, "blocked");
    assert_eq!(
        message,
        "needs access to the cluster: run `juju trust metallb --scope=cluster`"
    );
    d.ok(&["trust"]);
    d.wait_active().await?;
    d.ok(&["remove"]);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn changing_the_namespace_moves_everything_and_remove_leaves_nothing() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let mut d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;
    let old = d.namespace.clone();
    d.namespace = unique_name("moved");
    d.ok(&["config", &format!("namespace={}", d.namespace)]);
    d.wait_active().await?;
    assert!(pool_addresses(&client, &d).await.is_ok());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    wait_for("the old namespace to go away", WAIT, || async {
        Ok(match namespaces.get_opt(&old).await? {
            None => Some(()),
            Some(ns) if ns.metadata.deletion_timestamp.is_some() => Some(()),
            Some(_) => None,
        })
    })
    .await?;

    d.ok(&["remove"]);
    let selector = format!(
        "app.kubernetes.io/managed-by=metallb-charm,charm.metallb.io/instance={}.metallb",
        d.model
    );
    let cluster_roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(client.clone());
    let left = cluster_roles
        .list(&ListParams::default().labels(&selector))
        .await?;
    assert!(
        left.items.is_empty(),
        "cluster roles left: {:?}",
        left.items.len()
    );
    let ns = namespaces.get_opt(&d.namespace).await?;
    assert!(ns.is_none_or(|n| n.metadata.deletion_timestamp.is_some()));
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn actions_report_resources_and_allocations() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;

    let listed = d.action("list-resources", &[]);
    assert_eq!(listed["status"], "completed", "{listed}");
    let resources = listed["results"]["resources"].as_object().unwrap();
    assert!(resources.len() > 20);
    assert!(
        resources.values().all(|r| r["present"] == "true"),
        "{listed}"
    );
    let only = d.action("list-resources", &["kind=DaemonSet"]);
    assert_eq!(only["results"]["count"], "1");

    let synced = d.action("sync-resources", &[]);
    assert_eq!(synced["status"], "completed", "{synced}");
    let scrubbed = d.action("scrub-resources", &["dry-run=true"]);
    assert_eq!(scrubbed["results"]["count"], "0", "{scrubbed}");

    // A LoadBalancer Service holding a pool address, announced by a node (as the controller and
    // speaker will record it).
    let client = cluster().client().await?;
    let apps = test_support::TestNamespace::create(cluster(), "apps").await?;
    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "annotations": {"metallb.io/ip-allocated-from-pool": format!("{}.metallb", d.model)}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))?;
    services.create(&PostParams::default(), &svc).await?;
    services
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"loadBalancer": {"ingress": [{"ip": "198.18.100.5"}]}}})),
        )
        .await?;
    let statuses: Api<ServiceL2Status> = Api::namespaced(client.clone(), &d.namespace);
    let l2: ServiceL2Status = serde_json::from_value(serde_json::json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status", "metadata": {"name": "l2-web"}, "spec": {},
    }))?;
    statuses.create(&PostParams::default(), &l2).await?;
    statuses
        .patch_status(
            "l2-web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"node": "node-7", "serviceName": "web", "serviceNamespace": apps.name}})),
        )
        .await?;
    let allocations = d.action("list-allocations", &[&format!("namespace={}", apps.name)]);
    assert_eq!(allocations["status"], "completed", "{allocations}");
    assert_eq!(allocations["results"]["count"], "1", "{allocations}");
    let row = allocations["results"]["services"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(row["service"], format!("{}/web", apps.name));
    assert_eq!(row["ips"], "198.18.100.5");
    assert_eq!(row["pool"], format!("{}.metallb", d.model));
    assert_eq!(row["node"], "node-7");
    assert_eq!(
        d.wait_active().await?,
        "16 addresses (198.18.100.0/28), 1 in use"
    );
    // A speaker reporting another host on the Service's address: the status says so.
    let message =
        "198.18.100.5 also answered by 02:00:00:00:00:63 on eth0: another host holds the address";
    statuses
        .patch_status(
            "l2-web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"conditions": [{
                "type": "DuplicateResponder", "status": "True", "reason": "AlsoAnswered",
                "message": message, "lastTransitionTime": "2026-11-30T00:00:00Z",
            }]}})),
        )
        .await?;
    assert_eq!(
        d.wait_active().await?,
        "16 addresses (198.18.100.0/28), 1 in use; 198.18.100.5 also answered by 02:00:00:00:00:63 on eth0"
    );
    statuses
        .patch_status(
            "l2-web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"conditions": []}})),
        )
        .await?;
    // Speakers reporting a pool range no node has an interface for: a warning once every
    // speaker reports it.
    let far = "IPAddressPool far: no node has an interface in the network of 198.19.250.0/28";
    let states: Api<ConfigurationState> = Api::namespaced(client.clone(), &d.namespace);
    for (node, status) in [("node-7", "False"), ("node-8", "True")] {
        let name = format!("speaker-{node}");
        let state: ConfigurationState = serde_json::from_value(serde_json::json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
            "metadata": {"name": name, "labels": {"metallb.io/component-type": "speaker", "metallb.io/node-name": node}},
            "spec": {},
        }))?;
        states.create(&PostParams::default(), &state).await?;
        reachability(&states, &name, status, far).await?;
    }
    assert_eq!(
        d.wait_active().await?,
        "16 addresses (198.18.100.0/28), 1 in use"
    );
    reachability(&states, "speaker-node-8", "False", far).await?;
    assert_eq!(
        d.wait_active().await?,
        format!("16 addresses (198.18.100.0/28), 1 in use; {far}")
    );
    for node in ["node-7", "node-8"] {
        states
            .delete(&format!("speaker-{node}"), &Default::default())
            .await?;
    }
    // Other scenarios use the same pool: release the address before moving on.
    services.delete("web", &Default::default()).await?;
    wait_for("the service to be deleted", WAIT, || async {
        Ok(services.get_opt("web").await?.is_none().then_some(()))
    })
    .await?;
    d.ok(&["remove"]);
    Ok(())
}

/// Sets the `layer2PoolsReachable` condition of the ConfigurationState `name` (`message` when
/// `False`).
async fn reachability(
    states: &Api<ConfigurationState>,
    name: &str,
    status: &str,
    message: &str,
) -> Result<()> {
    let (reason, message) = match status {
        "False" => ("NoInterfaceInPoolNetwork", message),
        _ => ("InterfaceInEveryPoolNetwork", ""),
    };
    states
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"status": {"result": "Valid", "conditions": [{
                    "type": "layer2PoolsReachable", "status": status, "reason": reason,
                    "message": message, "lastTransitionTime": "2026-11-30T00:00:00Z",
                }]}}),
            ),
        )
        .await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn bad_node_selector_blocks_without_touching_the_cluster() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &["--config", "node-selector=no-equals-sign"]);
    let (status, message) = d.status();
    assert_eq!(status, "blocked");
    assert!(message.contains("no-equals-sign"), "{message}");
    let namespaces: Api<Namespace> = Api::all(client);
    if namespaces.get_opt(&d.namespace).await?.is_some() {
        bail!("nothing may be created while the config is invalid");
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn the_packed_charm_file_deploys_and_reaches_active() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let _serial = SERIAL.lock().await;
    let d = Deployed::packed();
    let charm = d.dir.path().join("charm");
    for file in [
        "dispatch",
        "metadata.yaml",
        "config.yaml",
        "actions.yaml",
        "manifest.yaml",
        "README.md",
        "icon.svg",
    ] {
        assert!(charm.join(file).is_file(), "{file} missing from the .charm");
    }
    let mode = std::fs::metadata(charm.join("dispatch"))?
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "dispatch is executable");
    let manifest: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(charm.join("manifest.yaml"))?)?;
    assert!(manifest["charmcraft-version"].is_string());
    assert_eq!(manifest["bases"][0]["name"], "ubuntu");
    assert_eq!(manifest["bases"][0]["architectures"][0], "amd64");
    // The static binary asks for no dynamic loader (no PT_INTERP program header).
    let elf = std::fs::read(charm.join("dispatch"))?;
    assert_eq!(&elf[..4], b"\x7fELF");
    let at = |o: usize, n: usize| {
        elf[o..o + n]
            .iter()
            .rev()
            .fold(0usize, |v, b| v << 8 | usize::from(*b))
    };
    let (phoff, phentsize, phnum) = (at(0x20, 8), at(0x36, 2), at(0x38, 2));
    let interp = (0..phnum).any(|i| at(phoff + i * phentsize, 4) == 3);
    assert!(!interp, "dispatch is dynamically linked");

    d.nodes().await?;
    d.deploy(true, &[]);
    let message = d.wait_active().await?;
    assert_eq!(message, "16 addresses (198.18.100.0/28), 0 in use");
    d.ok(&["remove"]);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn bgp_options_render_peers_and_an_advertisement_and_are_pruned_when_off() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(
        true,
        &[
            "--config",
            "bgp-asn=64512",
            "--config",
            "bgp-peers=198.18.0.3:64513, [2001:db8::3]:64513:1179",
            "--config",
            "bgp-communities=65000:100",
        ],
    );
    let message = d.wait_active().await?;
    assert_eq!(
        message,
        "16 addresses (198.18.100.0/28), 0 in use; BGP to 2 routers: 0 Services advertised by 0 nodes"
    );
    // What the speakers write when they advertise a Service reaches the status.
    let statuses: Api<metallb_api::ServiceBGPStatus> =
        Api::namespaced(client.clone(), &d.namespace);
    for node in ["node-a", "node-b"] {
        let object: metallb_api::ServiceBGPStatus = serde_json::from_value(json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "ServiceBGPStatus",
            "metadata": {"name": format!("web-{node}")},
            "spec": {},
        }))?;
        statuses.create(&PostParams::default(), &object).await?;
        statuses
            .patch_status(
                &format!("web-{node}"),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"node": node, "serviceName": "web",
                    "serviceNamespace": "default", "peers": ["router"]}})),
            )
            .await?;
    }
    d.ok(&["update-status"]);
    let (status, message) = d.status();
    assert_eq!(status, "active");
    assert_eq!(
        message,
        "16 addresses (198.18.100.0/28), 0 in use; BGP to 2 routers: 1 Service advertised by 2 nodes"
    );
    let peers = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", "v1beta2", "BGPPeer"),
        "bgppeers",
    );
    let ads = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", "v1beta1", "BGPAdvertisement"),
        "bgpadvertisements",
    );
    let peers: Api<DynamicObject> = Api::namespaced_with(client.clone(), &d.namespace, &peers);
    let ads: Api<DynamicObject> = Api::namespaced_with(client.clone(), &d.namespace, &ads);
    let listed = peers.list(&ListParams::default()).await?;
    let mut addresses: Vec<String> = listed
        .items
        .iter()
        .map(|p| {
            p.data["spec"]["peerAddress"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["198.18.0.3", "2001:db8::3"]);
    let ad = ads.get(&format!("{}.metallb", d.model)).await?;
    assert_eq!(ad.data["spec"]["communities"][0], "65000:100");

    // A bad entry blocks with a message naming it, and changes nothing.
    d.ok(&["config", "bgp-peers=198.18.0.3:64513, 10.0.0.1"]);
    let (status, message) = d.status();
    assert_eq!(status, "blocked");
    assert!(
        message.contains("bgp-peers") && message.contains("10.0.0.1"),
        "{message}"
    );
    assert_eq!(peers.list(&ListParams::default()).await?.items.len(), 2);

    // BGP off: the objects go.
    d.ok(&["config", "bgp-asn=0", "bgp-peers="]);
    d.wait_active().await?;
    assert!(peers.list(&ListParams::default()).await?.items.is_empty());
    assert!(ads.list(&ListParams::default()).await?.items.is_empty());
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn kube_proxy_in_ipvs_mode_without_strict_arp_blocks_with_the_fix() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    // kubeadm's ConfigMap, as `kubectl edit configmap -n kube-system kube-proxy` leaves it.
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let kube_proxy = |strict: bool| -> Result<ConfigMap> {
        Ok(serde_json::from_value(json!({
            "metadata": {"name": "kube-proxy"},
            "data": {"config.conf": format!(
                "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n\
                 mode: ipvs\nipvs:\n  strictARP: {strict}\n"
            )},
        }))?)
    };
    let apply = PatchParams::apply("metallb-rs-test").force();
    maps.patch("kube-proxy", &apply, &Patch::Apply(kube_proxy(false)?))
        .await?;
    let result = async {
        d.deploy(true, &[]);
        let (status, message) = d.status();
        if status != "blocked"
            || !message.contains("strictARP: true")
            || !message.contains("proxy-extra-config")
        {
            bail!("with IPVS and no strictARP the charm says {status}: {message}");
        }
        // What is applied stays applied: blocked names a fix, it takes nothing away.
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
        if deployments.get_opt("controller").await?.is_none() {
            bail!("blocked by kube-proxy's configuration, the charm did not apply its objects");
        }
        maps.patch("kube-proxy", &apply, &Patch::Apply(kube_proxy(true)?))
            .await?;
        d.wait_active().await?;
        d.ok(&["remove"]);
        Ok(())
    }
    .await;
    maps.delete("kube-proxy", &DeleteParams::default()).await?;
    result
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn the_exclude_list_is_created_once_and_keeps_the_operators_edits() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &d.namespace);
    let list = |map: ConfigMap| {
        map.data
            .and_then(|d| d.get("excludel2.yaml").cloned())
            .unwrap_or_default()
    };
    let created = list(maps.get("metallb-excludel2").await?);
    if !created.contains("\"^docker.*\"") || !created.starts_with("announcedInterfacesToExclude:") {
        bail!("the exclude list is not upstream's default: {created}");
    }
    // The operator's edit survives the charm's next reconcile.
    let edited = "announcedInterfacesToExclude: [\"^eth9$\"]\n";
    maps.patch(
        "metallb-excludel2",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"excludel2.yaml": edited}})),
    )
    .await?;
    d.ok(&["config", "log-level=debug"]);
    d.wait_active().await?;
    let now = list(maps.get("metallb-excludel2").await?);
    if now != edited {
        bail!("the charm overwrote the operator's exclude list: {now}");
    }
    d.ok(&["remove"]);
    if maps.get_opt("metallb-excludel2").await?.is_some() {
        bail!("the exclude list outlived the application");
    }
    Ok(())
}

/// `juju run metallb/0 explain service=NS/NAME [format=json]`: the reasons, in both forms.
#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn explain_says_why_a_service_has_or_lacks_an_address() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;
    let pool = format!("{}.metallb", d.model);
    let apps = test_support::TestNamespace::create(cluster(), "apps").await?;
    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    // One Service holding an address of the charm's pool (as the controller records it), one
    // asking for an address outside every pool, and one that is not a LoadBalancer.
    let held: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "annotations": {"metallb.io/ip-allocated-from-pool": pool}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))?;
    services.create(&PostParams::default(), &held).await?;
    services
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"loadBalancer": {"ingress": [{"ip": "198.18.100.5"}]}}}),
            ),
        )
        .await?;
    let stray: Service = serde_json::from_value(json!({
        "metadata": {"name": "stray", "annotations": {"metallb.io/loadBalancerIPs": "198.18.200.9"}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "stray"}, "ports": [{"port": 80}]},
    }))?;
    services.create(&PostParams::default(), &stray).await?;
    let plain: Service = serde_json::from_value(json!({
        "metadata": {"name": "plain"}, "spec": {"selector": {"app": "plain"}, "ports": [{"port": 80}]},
    }))?;
    services.create(&PostParams::default(), &plain).await?;
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(client.clone(), &apps.name);
    let event: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "stray.explain-test"},
        "involvedObject": {"kind": "Service", "name": "stray", "namespace": apps.name, "apiVersion": "v1"},
        "reason": "ExplainTest", "type": "Warning", "message": "recorded by the test",
        "source": {"component": "explain-test"},
    }))?;
    events.create(&PostParams::default(), &event).await?;
    // The controller records events.k8s.io/v1 Events: they show too, with their controller.
    let new_events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), &apps.name);
    let recorded: k8s_openapi::api::events::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "stray.controller-test"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Service", "name": "stray", "namespace": apps.name, "apiVersion": "v1"},
        "reason": "AllocationFailed", "type": "Warning", "action": "Allocate",
        "note": "Failed to allocate IP for \"stray\": 198.18.200.9 is not allowed in config",
        "reportingController": "metallb-controller", "reportingInstance": "controller-0",
    }))?;
    new_events.create(&PostParams::default(), &recorded).await?;

    let text = d.action("explain", &[&format!("service={}/web", apps.name)]);
    assert_eq!(text["status"], "completed", "{text}");
    let out = text["results"]["explanation"].as_str().unwrap_or_default();
    println!("{out}");
    for expected in [
        format!(
            "Service {}/web: has 198.18.100.5 from pool {pool}",
            apps.name
        ),
        "holds 198.18.100.5".to_string(),
        format!("Speakers (Ready pods): {0}-n1, {0}-n2", d.model),
        "Nobody announces: no endpoint of the Service is serving".to_string(),
    ] {
        assert!(out.contains(&expected), "{expected:?} missing from:\n{out}");
    }
    assert_eq!(
        text["results"]["summary"],
        format!("has 198.18.100.5 from pool {pool}")
    );

    let json_run = d.action(
        "explain",
        &[&format!("service={}/stray", apps.name), "format=json"],
    );
    assert_eq!(json_run["status"], "completed", "{json_run}");
    let doc: serde_json::Value = serde_json::from_str(
        json_run["results"]["explanation"]
            .as_str()
            .unwrap_or_default(),
    )?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    let summary = doc["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("the requested 198.18.200.9 is in no IPAddressPool"),
        "{summary}"
    );
    assert_eq!(doc["requestedIps"], json!(["198.18.200.9"]));
    assert_eq!(doc["pools"][0]["name"], pool);
    assert_eq!(doc["pools"][0]["reasons"][0]["code"], "requestedOutside");
    assert_eq!(
        doc["pools"][0]["reasons"][0]["message"],
        "the requested 198.18.200.9 is outside this pool (198.18.100.0/28)"
    );
    assert_eq!(doc["pools"][0]["inUse"], 1, "web holds one address");
    let reasons: Vec<&str> = doc["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"ExplainTest"), "{doc}");
    let stray_text = d.action("explain", &[&format!("service={}/stray", apps.name)]);
    let out = stray_text["results"]["explanation"]
        .as_str()
        .unwrap_or_default();
    println!("{out}");
    assert!(
        out.contains("the requested 198.18.200.9 is outside this pool (198.18.100.0/28)")
            && out.contains("recorded by the test")
            && out.contains("AllocationFailed  metallb-controller"),
        "{out}"
    );

    // Bad input fails the action, naming the item.
    let failure = |param: String| -> Result<String> {
        let run = d.sim(&["run", "explain", "--format", "json", &param]);
        if run.status.success() {
            bail!("explain {param} succeeded");
        }
        let out: serde_json::Value = serde_json::from_slice(&run.stdout)?;
        let unit = &out[format!("{}/0", d.app)];
        assert_eq!(unit["status"], "failed", "{out}");
        Ok(unit["message"].as_str().unwrap_or_default().to_string())
    };
    let message = failure("service=web".into())?;
    assert!(
        message.contains("\"web\" is not NAMESPACE/NAME"),
        "{message}"
    );
    let message = failure(format!("service={}/missing", apps.name))?;
    assert_eq!(message, format!("Service {}/missing not found", apps.name));
    let message = failure(format!("service={}/plain", apps.name))?;
    assert!(
        message.contains(&format!(
            "{}/plain is of type ClusterIP, not LoadBalancer",
            apps.name
        )),
        "{message}"
    );

    // Other scenarios use the same pool: release the address before moving on.
    services.delete("web", &Default::default()).await?;
    wait_for("the service to be deleted", WAIT, || async {
        Ok(services.get_opt("web").await?.is_none().then_some(()))
    })
    .await?;
    d.ok(&["remove"]);
    Ok(())
}

/// A related Prometheus and Grafana get the scrape jobs and the dashboard; a BGP password comes
/// from a user secret once it is granted, follows its updates, and never shows.
#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn cos_relations_and_a_bgp_password_from_a_juju_secret() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;

    d.ok(&["integrate", "metrics-endpoint", "prometheus"]);
    let data: serde_json::Value =
        serde_json::from_str(&d.ok(&["relation-data", "metrics-endpoint", "--format", "json"]))?;
    let jobs: serde_json::Value = serde_json::from_str(
        data["application-data"]["scrape_jobs"]
            .as_str()
            .unwrap_or_default(),
    )?;
    let speaker_targets: Vec<&str> = jobs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|job| job["job_name"] == "metallb-speaker")
        .flat_map(|job| job["static_configs"].as_array().into_iter().flatten())
        .filter_map(|config| config["targets"][0].as_str())
        .collect();
    assert_eq!(
        speaker_targets,
        ["198.18.20.1:7472", "198.18.20.2:7472"],
        "a target per node the node-selector picks: {jobs}"
    );
    assert!(
        data["application-data"]["alert_rules"]
            .as_str()
            .is_some_and(|rules| rules.contains("MetalLBSpeakerMissing"))
    );
    assert_eq!(
        data["units"]["metallb/0"]["prometheus_scrape_unit_name"],
        "metallb/0"
    );
    d.ok(&["integrate", "grafana-dashboard", "grafana"]);
    let data: serde_json::Value =
        serde_json::from_str(&d.ok(&["relation-data", "grafana-dashboard", "--format", "json"]))?;
    assert!(
        data["application-data"]["dashboards"]
            .as_str()
            .is_some_and(|d| d.contains("templates"))
    );

    let uri = d.ok(&["add-secret", "router-a", "password=md5-s3cret"]);
    let uri = uri.trim();
    assert!(uri.starts_with("secret:"), "{uri}");
    let peers = format!("bgp-peers=198.18.0.3:64513 password={uri}");
    d.ok(&["config", "bgp-asn=64512", &peers]);
    let (status, message) = d.status();
    assert_eq!(status, "blocked");
    assert!(
        message.contains(&format!("juju grant-secret {uri} metallb")),
        "{message}"
    );
    let peer_api = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", "v1beta2", "BGPPeer"),
        "bgppeers",
    );
    let peer_api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &d.namespace, &peer_api);
    assert!(
        peer_api
            .list(&ListParams::default())
            .await?
            .items
            .is_empty(),
        "no peer without its password"
    );

    d.ok(&["grant-secret", "router-a", "metallb"]);
    let message = d.wait_active().await?;
    assert!(message.contains("BGP to 1 router"), "{message}");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &d.namespace);
    let name = format!("{}.metallb-peer-0-password", d.model);
    let password = |secret: Secret| {
        secret
            .data
            .and_then(|data| data.get("password").cloned())
            .map(|bytes| String::from_utf8_lossy(&bytes.0).into_owned())
    };
    assert_eq!(
        password(secrets.get(&name).await?).as_deref(),
        Some("md5-s3cret")
    );
    let peer = peer_api.get(&format!("{}.metallb-peer-0", d.model)).await?;
    assert_eq!(peer.data["spec"]["passwordSecret"]["name"], name.as_str());

    // A new revision reaches the cluster on the secret-changed it fires.
    d.ok(&["update-secret", "router-a", "password=md5-rotated"]);
    assert_eq!(
        password(secrets.get(&name).await?).as_deref(),
        Some("md5-rotated")
    );
    for shown in [
        d.ok(&["debug-log"]),
        d.ok(&["status", "--format", "json"]),
        d.ok(&["config"]),
        d.ok(&["secrets", "--format", "json"]),
        std::fs::read_to_string(d.dir.path().join("state").join("state.json"))?,
    ] {
        assert!(
            !shown.contains("md5-s3cret") && !shown.contains("md5-rotated"),
            "a password shows: {shown}"
        );
    }
    d.ok(&["remove-relation", "metrics-endpoint"]);
    d.ok(&["remove"]);
    Ok(())
}
