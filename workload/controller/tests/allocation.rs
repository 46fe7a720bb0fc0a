//! The controller binary against the real control plane.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use metallb_api::IPAddressPool;
use test_support::netlab::{http_get_any, http_get_path};
use test_support::{TestNamespace, cluster, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// The controller process, stopped on drop.
struct Controller(Child);

impl Controller {
    /// A controller for `namespace`'s pools that handles Services of class `class` only (tests
    /// share one control plane, and each test's controller must leave the others' Services be).
    fn start(namespace: &str, class: &str, probe_port: u16, metrics_port: u16) -> Self {
        let child = test_support::spawn_tied(
            Command::new(env!("CARGO_BIN_EXE_metallb-controller"))
                .arg("--kubeconfig")
                .arg(cluster().kubeconfig())
                .args(["--namespace", namespace, "--log-level", "debug"])
                .args(["--health-probe-port", &probe_port.to_string()])
                .args(["--port", &metrics_port.to_string()])
                .args(["--lb-class", class])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
        )
        .unwrap();
        Self(child)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The body of a GET of `path` on the controller's port, if it answers 200.
fn http_body(port: u16, path: &str) -> Option<String> {
    http_get_path(([127, 0, 0, 1], port).into(), path, Duration::from_secs(2)).ok()
}

/// The status line of a probe, if the port answers.
fn probe(port: u16, path: &str) -> Option<String> {
    http_get_any(([127, 0, 0, 1], port).into(), path, Duration::from_secs(2))
        .ok()
        .map(|(status, _)| status)
}

async fn set_pool(api: &Api<IPAddressPool>, addresses: &[&str]) -> Result<()> {
    let pool: IPAddressPool = serde_json::from_value(serde_json::json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "pool"}, "spec": {"addresses": addresses},
    }))?;
    api.patch(
        "pool",
        &PatchParams::apply("controller-test").force(),
        &Patch::Apply(&pool),
    )
    .await?;
    Ok(())
}

async fn create_service(api: &Api<Service>, name: &str, kind: &str, class: &str) -> Result<()> {
    let mut spec =
        serde_json::json!({"type": kind, "selector": {"app": name}, "ports": [{"port": 80}]});
    if kind == "LoadBalancer" {
        spec["loadBalancerClass"] = serde_json::json!(class);
    }
    let svc: Service =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "spec": spec}))?;
    api.create(&PostParams::default(), &svc).await?;
    Ok(())
}

/// Waits until the Service has exactly `expected` as its ingress IPs.
async fn wait_ips(api: &Api<Service>, name: &str, expected: &[&str]) -> Result<()> {
    wait_for(&format!("{name} to have {expected:?}"), WAIT, || async {
        let svc = api.get(name).await?;
        let ips: Vec<String> = metallb_controller::convert::current_ips(&svc)
            .iter()
            .map(ToString::to_string)
            .collect();
        Ok((ips == expected).then_some(()))
    })
    .await
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn allocates_reuses_survives_restart_and_follows_pool_changes() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps = TestNamespace::create(cluster, "apps").await?;
    let class = format!("metallb.test/{}", apps.name);
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    set_pool(&pools, &["198.18.200.0/30"]).await?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let controller = Controller::start(&metallb.name, &class, port, metrics_port);
    wait_for("the controller to be ready", WAIT, || async {
        Ok(probe(port, "/readyz")
            .filter(|status| status.contains("200"))
            .map(|_| ()))
    })
    .await?;
    assert!(probe(port, "/healthz").is_some_and(|s| s.contains("200")));
    create_service(&services, "a", "LoadBalancer", &class).await?;
    wait_ips(&services, "a", &["198.18.200.0"]).await?;
    create_service(&services, "b", "LoadBalancer", &class).await?;
    wait_ips(&services, "b", &["198.18.200.1"]).await?;
    create_service(&services, "plain", "ClusterIP", &class).await?;
    let a = services.get("a").await?;
    let pool = a
        .metadata
        .annotations
        .unwrap_or_default()
        .get("metallb.io/ip-allocated-from-pool")
        .cloned();
    assert_eq!(pool.as_deref(), Some("pool"));

    wait_for("pool status counters", WAIT, || async {
        let status = pools.get("pool").await?.status;
        Ok(status
            .filter(|s| s.assigned_ipv4 == 2 && s.available_ipv4 == 2)
            .map(|_| ()))
    })
    .await?;

    // Metrics with upstream names, per pool.
    wait_for("allocator metrics", WAIT, || async {
        Ok(http_body(metrics_port, "/metrics")
            .filter(|m| m.contains("metallb_allocator_addresses_in_use_total{pool=\"pool\"} 2\n"))
            .map(|_| ()))
    })
    .await?;
    // Its own API requests, counted as client-go counts them upstream.
    let exposition = http_body(metrics_port, "/metrics").unwrap_or_default();
    assert!(
        test_support::sum_metric(&exposition, "rest_client_requests_total") >= 3.0
            && exposition.contains("rest_client_requests_total{code=\"200\",method=\"PATCH\"}"),
        "API requests counted by method and code: {exposition}"
    );
    // The memberlist Secret, created once with a 16-byte key.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &metallb.name);
    let secret = wait_for("the memberlist Secret", WAIT, || async {
        Ok(secrets.get_opt("memberlist").await?)
    })
    .await?;
    let key = secret
        .data
        .unwrap_or_default()
        .remove("secretkey")
        .map(|k| k.0);
    assert_eq!(
        key.map(|k| k.len()),
        Some(22),
        "a 22-character unpadded base64 key"
    );
    // Events: IPAllocated for a, AllocationFailed for a request outside every pool.
    let events: Api<Event> = Api::namespaced(client.clone(), &apps.name);
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "outside", "annotations": {"metallb.io/loadBalancerIPs": "198.18.201.1"}},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": class, "ports": [{"port": 80}]},
    }))?;
    services.create(&PostParams::default(), &svc).await?;
    for (service, reason) in [("a", "IPAllocated"), ("outside", "AllocationFailed")] {
        wait_for(&format!("a {reason} event for {service}"), WAIT, || async {
            let list = events.list(&Default::default()).await?;
            Ok(list
                .items
                .iter()
                .any(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(service)
                })
                .then_some(()))
        })
        .await?;
    }
    services.delete("outside", &Default::default()).await?;

    // A restart keeps every address; a Service created meanwhile gets a free one.
    drop(controller);
    create_service(&services, "c", "LoadBalancer", &class).await?;
    let controller = Controller::start(&metallb.name, &class, 0, 0);
    wait_ips(&services, "c", &["198.18.200.2"]).await?;
    wait_ips(&services, "a", &["198.18.200.0"]).await?;
    wait_ips(&services, "b", &["198.18.200.1"]).await?;

    // A deleted Service's address is reused.
    services.delete("a", &DeleteParams::default()).await?;
    create_service(&services, "d", "LoadBalancer", &class).await?;
    wait_ips(&services, "d", &["198.18.200.0"]).await?;
    assert!(metallb_controller::convert::current_ips(&services.get("plain").await?).is_empty());

    // Moving the pool re-allocates everything from the new range.
    set_pool(&pools, &["198.18.201.0/30"]).await?;
    wait_ips(&services, "b", &["198.18.201.0"]).await?;
    wait_ips(&services, "c", &["198.18.201.1"]).await?;
    wait_ips(&services, "d", &["198.18.201.2"]).await?;
    drop(controller);
    Ok(())
}

/// The controller's ConfigurationState: (result, errorSummary).
async fn config_state(client: &kube::Client, ns: &str) -> Result<Option<(String, String)>> {
    let api: Api<metallb_api::ConfigurationState> = Api::namespaced(client.clone(), ns);
    Ok(api
        .get_opt("controller")
        .await?
        .and_then(|c| c.status)
        .map(|s| {
            (
                serde_json::to_value(s.result)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                s.error_summary.unwrap_or_default(),
            )
        }))
}

async fn wait_config(client: &kube::Client, ns: &str, result: &str, contains: &str) -> Result<()> {
    wait_for(
        &format!("ConfigurationState {result} ({contains:?})"),
        WAIT,
        || async {
            Ok(config_state(client, ns)
                .await?
                .filter(|(r, e)| r == result && e.contains(contains))
                .map(|_| ()))
        },
    )
    .await
}

async fn apply_pool(api: &Api<IPAddressPool>, name: &str, addresses: &[&str]) -> Result<()> {
    let pool: IPAddressPool = serde_json::from_value(serde_json::json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": name}, "spec": {"addresses": addresses},
    }))?;
    api.patch(
        name,
        &PatchParams::apply("controller-test").force(),
        &Patch::Apply(&pool),
    )
    .await?;
    Ok(())
}

async fn pool_annotation(api: &Api<Service>, name: &str) -> Result<Option<String>> {
    Ok(api
        .get(name)
        .await?
        .metadata
        .annotations
        .unwrap_or_default()
        .get("metallb.io/ip-allocated-from-pool")
        .cloned())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn invalid_configurations_keep_the_previous_pools_and_pools_change_under_live_services()
-> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps = TestNamespace::create(cluster, "apps").await?;
    let class = format!("metallb.test/{}", apps.name);
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    apply_pool(&pools, "first", &["198.18.210.0/29"]).await?;
    let _controller = Controller::start(&metallb.name, &class, 0, 0);
    for (i, name) in ["s0", "s1", "s2", "s3"].iter().enumerate() {
        create_service(&services, name, "LoadBalancer", &class).await?;
        wait_ips(&services, name, &[&format!("198.18.210.{i}")]).await?;
    }
    wait_config(&client, &metallb.name, "Valid", "").await?;

    // Overlapping pools: Invalid, the previous pools stay in force.
    apply_pool(&pools, "overlap", &["198.18.210.4/30"]).await?;
    wait_config(&client, &metallb.name, "Invalid", "overlaps").await?;
    create_service(&services, "s4", "LoadBalancer", &class).await?;
    wait_ips(&services, "s4", &["198.18.210.4"]).await?;
    assert_eq!(
        pool_annotation(&services, "s4").await?.as_deref(),
        Some("first")
    );
    pools.delete("overlap", &DeleteParams::default()).await?;
    wait_config(&client, &metallb.name, "Valid", "").await?;

    // An advertisement naming an unknown pool: Invalid until it is fixed.
    let ads: Api<metallb_api::L2Advertisement> = Api::namespaced(client.clone(), &metallb.name);
    let ad: metallb_api::L2Advertisement = serde_json::from_value(serde_json::json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
        "metadata": {"name": "bad"}, "spec": {"ipAddressPools": ["nope"]},
    }))?;
    ads.create(&PostParams::default(), &ad).await?;
    wait_config(
        &client,
        &metallb.name,
        "Invalid",
        "unknown IPAddressPool nope",
    )
    .await?;
    ads.delete("bad", &DeleteParams::default()).await?;
    wait_config(&client, &metallb.name, "Valid", "").await?;

    // Split into two pools covering the same addresses, the way users change pools under live
    // Services: the new pools first (overlapping: the old configuration stays in force), then
    // the old one goes. Every Service keeps its address; the annotation names the new pool.
    apply_pool(&pools, "low", &["198.18.210.0/30"]).await?;
    apply_pool(&pools, "high", &["198.18.210.4/30"]).await?;
    wait_config(&client, &metallb.name, "Invalid", "overlaps").await?;
    pools.delete("first", &DeleteParams::default()).await?;
    wait_config(&client, &metallb.name, "Valid", "").await?;
    for (i, name) in ["s0", "s1", "s2", "s3", "s4"].iter().enumerate() {
        wait_ips(&services, name, &[&format!("198.18.210.{i}")]).await?;
    }
    wait_for("s4 to be annotated with pool high", WAIT, || async {
        Ok((pool_annotation(&services, "s4").await?.as_deref() == Some("high")).then_some(()))
    })
    .await?;

    // Renamed (same range), the same way: addresses kept.
    apply_pool(&pools, "renamed", &["198.18.210.0/30"]).await?;
    wait_config(&client, &metallb.name, "Invalid", "overlaps").await?;
    pools.delete("low", &DeleteParams::default()).await?;
    wait_config(&client, &metallb.name, "Valid", "").await?;
    for (i, name) in ["s0", "s1", "s2", "s3"].iter().enumerate() {
        wait_ips(&services, name, &[&format!("198.18.210.{i}")]).await?;
    }
    wait_for("s0 to be annotated with pool renamed", WAIT, || async {
        Ok((pool_annotation(&services, "s0").await?.as_deref() == Some("renamed")).then_some(()))
    })
    .await?;

    // Shrunk: the Service outside the new range moves to a free address.
    apply_pool(&pools, "high", &["198.18.210.6/31"]).await?;
    wait_ips(&services, "s4", &["198.18.210.6"]).await?;

    // Deleted: its Services lose their addresses.
    pools.delete("high", &DeleteParams::default()).await?;
    wait_ips(&services, "s4", &[]).await?;
    wait_ips(&services, "s0", &["198.18.210.0"]).await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn a_restart_with_a_thousand_services_keeps_every_address() -> Result<()> {
    const N: usize = 1000;
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps = TestNamespace::create(cluster, "apps").await?;
    let class = format!("metallb.test/{}", apps.name);
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    apply_pool(&pools, "big", &["198.18.212.0/22"]).await?;
    let controller = Controller::start(&metallb.name, &class, 0, 0);
    futures::stream::iter(0..N)
        .map(|i| {
            let services = services.clone();
            let class = class.clone();
            async move {
                let svc: Service = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("s{i}")},
                    "spec": {"type": "LoadBalancer", "loadBalancerClass": class, "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80}]},
                }))?;
                services.create(&PostParams::default(), &svc).await?;
                Ok::<(), anyhow::Error>(())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let snapshot = || async {
        let list = services.list(&Default::default()).await?;
        let ips: std::collections::BTreeMap<String, Vec<std::net::IpAddr>> = list
            .items
            .iter()
            .map(|s| {
                (
                    s.metadata.name.clone().unwrap_or_default(),
                    metallb_controller::convert::current_ips(s),
                )
            })
            .collect();
        Ok::<_, anyhow::Error>(ips)
    };
    let before = wait_for(
        "every Service to have an address",
        Duration::from_secs(120),
        || async {
            let ips = snapshot().await?;
            Ok((ips.len() == N && ips.values().all(|v| v.len() == 1)).then_some(ips))
        },
    )
    .await?;
    let distinct: std::collections::BTreeSet<_> = before.values().flatten().collect();
    assert_eq!(distinct.len(), N, "an address was handed out twice");

    drop(controller);
    // A Service created while the controller is down must not take anyone's address.
    create_service(&services, "late", "LoadBalancer", &class).await?;
    let _controller = Controller::start(&metallb.name, &class, 0, 0);
    wait_for(
        "the late Service to get an address",
        Duration::from_secs(120),
        || async {
            Ok(
                (!metallb_controller::convert::current_ips(&services.get("late").await?)
                    .is_empty())
                .then_some(()),
            )
        },
    )
    .await?;
    let mut after = snapshot().await?;
    let late = after.remove("late").unwrap_or_default();
    assert_eq!(after, before, "a restart moved addresses");
    assert!(
        !distinct.contains(&late[0]),
        "the late Service got a held address"
    );
    Ok(())
}

/// The sum of metric `name` on the controller's metrics port (0 while it does not answer).
fn metric(port: u16, name: &str) -> f64 {
    http_body(port, "/metrics")
        .map(|text| test_support::sum_metric(&text, name))
        .unwrap_or(0.0)
}

/// Whether an event with `reason` regards the object named `name` in `namespace`.
async fn has_event(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    reason: &str,
) -> Result<bool> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    Ok(events
        .list(&Default::default())
        .await?
        .items
        .iter()
        .any(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
        }))
}

/// The ingress addresses of every Service in `api`, by name.
async fn addresses(api: &Api<Service>) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
    Ok(api
        .list(&Default::default())
        .await?
        .items
        .iter()
        .map(|s| {
            (
                s.metadata.name.clone().unwrap_or_default(),
                metallb_controller::convert::current_ips(s)
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            )
        })
        .collect())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn a_restart_with_an_invalid_configuration_changes_no_address_until_it_is_fixed() -> Result<()>
{
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps = TestNamespace::create(cluster, "apps").await?;
    let class = format!("metallb.test/{}", apps.name);
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    apply_pool(&pools, "pool", &["198.18.202.0/29"]).await?;

    // A previous run: four Services hold addresses.
    let controller = Controller::start(&metallb.name, &class, 0, 0);
    for (i, name) in ["s0", "s1", "s2", "bad"].iter().enumerate() {
        create_service(&services, name, "LoadBalancer", &class).await?;
        wait_ips(&services, name, &[&format!("198.18.202.{i}")]).await?;
    }
    drop(controller);

    // While it is down: an L2Advertisement names a missing pool, one Service's request stops
    // parsing, and a new Service waits for an address.
    let ads: Api<metallb_api::L2Advertisement> = Api::namespaced(client.clone(), &metallb.name);
    let ad: metallb_api::L2Advertisement = serde_json::from_value(serde_json::json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
        "metadata": {"name": "broken"}, "spec": {"ipAddressPools": ["missing"]},
    }))?;
    ads.create(&PostParams::default(), &ad).await?;
    services
        .patch(
            "bad",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": {"annotations": {"metallb.io/loadBalancerIPs": "not-an-ip"}}
            })),
        )
        .await?;
    create_service(&services, "pending", "LoadBalancer", &class).await?;
    let before = addresses(&services).await?;

    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _controller = Controller::start(&metallb.name, &class, 0, metrics_port);
    wait_config(
        &client,
        &metallb.name,
        "Invalid",
        "unknown IPAddressPool missing",
    )
    .await?;
    let summary = config_state(&client, &metallb.name)
        .await?
        .unwrap_or_default()
        .1;
    assert!(summary.contains("no Service is changed"), "{summary}");
    for regarding in ["controller", "broken"] {
        wait_for(
            &format!("a ConfigurationError event about {regarding}"),
            WAIT,
            || async {
                Ok(
                    has_event(&client, &metallb.name, regarding, "ConfigurationError")
                        .await?
                        .then_some(()),
                )
            },
        )
        .await?;
    }
    // Several passes, each triggered by a change of a Service: nothing is written.
    let passes = metric(metrics_port, "metallb_controller_passes_total");
    for round in 0..3 {
        for name in ["s0", "s1", "bad", "pending"] {
            services
                .patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(
                        serde_json::json!({"metadata": {"labels": {"round": round.to_string()}}}),
                    ),
                )
                .await?;
        }
        wait_for("a pass over the changes", WAIT, || async {
            Ok((metric(metrics_port, "metallb_controller_passes_total")
                >= passes + 1.0 + f64::from(round))
            .then_some(()))
        })
        .await?;
    }
    assert_eq!(
        metric(metrics_port, "metallb_k8s_client_config_loaded_bool"),
        0.0
    );
    assert_eq!(
        metric(metrics_port, "metallb_k8s_client_config_stale_bool"),
        1.0
    );
    assert_eq!(addresses(&services).await?, before, "an address changed");
    assert_eq!(before["pending"], Vec::<String>::new());

    // Fixed: the pending Service gets the lowest free address, every other keeps its own (the
    // Service whose request does not parse too, with a warning).
    ads.delete("broken", &DeleteParams::default()).await?;
    wait_config(&client, &metallb.name, "Valid", "").await?;
    wait_ips(&services, "pending", &["198.18.202.4"]).await?;
    let mut after = addresses(&services).await?;
    after.remove("pending");
    let mut expected = before.clone();
    expected.remove("pending");
    assert_eq!(after, expected, "a held address changed");
    wait_for("a LoadBalancerFailed event for bad", WAIT, || async {
        Ok(has_event(&client, &apps.name, "bad", "LoadBalancerFailed")
            .await?
            .then_some(()))
    })
    .await?;
    assert_eq!(
        metric(metrics_port, "metallb_k8s_client_config_loaded_bool"),
        1.0
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn an_address_held_by_a_service_of_another_class_is_never_handed_out() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps = TestNamespace::create(cluster, "apps").await?;
    let class = format!("metallb.test/{}", apps.name);
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    apply_pool(&pools, "pool", &["198.18.203.0/31"]).await?;
    // Another controller's Service holds the pool's first address.
    create_service(
        &services,
        "theirs",
        "LoadBalancer",
        &format!("{class}-other"),
    )
    .await?;
    services
        .patch_status(
            "theirs",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "status": {"loadBalancer": {"ingress": [{"ip": "198.18.203.0"}]}}
            })),
        )
        .await?;
    let _controller = Controller::start(&metallb.name, &class, 0, 0);
    create_service(&services, "a", "LoadBalancer", &class).await?;
    wait_ips(&services, "a", &["198.18.203.1"]).await?;
    create_service(&services, "b", "LoadBalancer", &class).await?;
    wait_for("an AllocationFailed event for b", WAIT, || async {
        Ok(has_event(&client, &apps.name, "b", "AllocationFailed")
            .await?
            .then_some(()))
    })
    .await?;
    assert!(addresses(&services).await?["b"].is_empty());
    // The other controller lets it go: b gets it.
    services.delete("theirs", &DeleteParams::default()).await?;
    wait_ips(&services, "b", &["198.18.203.0"]).await?;
    Ok(())
}
