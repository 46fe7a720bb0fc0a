//! The controller binary against the real control plane.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use metallb_api::IPAddressPool;
use test_support::{TestNamespace, cluster, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// The controller process, stopped on drop.
struct Controller(Child);

impl Controller {
    fn start(namespace: &str, probe_port: u16, metrics_port: u16) -> Self {
        let child = test_support::spawn_tied(
            Command::new(env!("CARGO_BIN_EXE_metallb-controller"))
                .arg("--kubeconfig")
                .arg(cluster().kubeconfig())
                .args(["--namespace", namespace, "--log-level", "debug"])
                .args(["--health-probe-port", &probe_port.to_string()])
                .args(["--port", &metrics_port.to_string()])
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

/// The body of a GET, if the port answers.
fn http_body(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// The status line of a probe, if the port answers.
fn probe(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_string)
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

async fn create_service(api: &Api<Service>, name: &str, kind: &str) -> Result<()> {
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80}]},
    }))?;
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
async fn allocates_reuses_survives_restart_and_follows_pool_changes() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps = TestNamespace::create(cluster, "apps").await?;
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    set_pool(&pools, &["198.18.200.0/30"]).await?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let controller = Controller::start(&metallb.name, port, metrics_port);
    wait_for("the controller to be ready", WAIT, || async {
        Ok(probe(port, "/readyz")
            .filter(|status| status.contains("200"))
            .map(|_| ()))
    })
    .await?;
    assert!(probe(port, "/healthz").is_some_and(|s| s.contains("200")));
    create_service(&services, "a", "LoadBalancer").await?;
    wait_ips(&services, "a", &["198.18.200.0"]).await?;
    create_service(&services, "b", "LoadBalancer").await?;
    wait_ips(&services, "b", &["198.18.200.1"]).await?;
    create_service(&services, "plain", "ClusterIP").await?;
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
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
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
    create_service(&services, "c", "LoadBalancer").await?;
    let controller = Controller::start(&metallb.name, 0, 0);
    wait_ips(&services, "c", &["198.18.200.2"]).await?;
    wait_ips(&services, "a", &["198.18.200.0"]).await?;
    wait_ips(&services, "b", &["198.18.200.1"]).await?;

    // A deleted Service's address is reused.
    services.delete("a", &DeleteParams::default()).await?;
    create_service(&services, "d", "LoadBalancer").await?;
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
