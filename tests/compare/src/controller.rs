//! The controller workload: N LoadBalancer Services created at once (32 requests in flight) on a
//! fresh control plane with one pool, the controller already running; measured until every
//! Service has an address.

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};

use crate::implementation::{
    Implementation, NAMESPACE, Which, controller_pod, cpu_ticks, metrics_token, status_kib,
};
use crate::plane::Plane;

/// What one controller run measured.
#[derive(Clone, Debug)]
pub struct ControllerRun {
    /// From the last create answered to every Service addressed.
    pub settle: Duration,
    /// From the first create to every Service addressed.
    pub total: Duration,
    /// Controller CPU (user + system) during the burst, per Service.
    pub cpu_per_service: Duration,
    /// The controller's peak resident memory (VmHWM), bytes.
    pub peak_rss: u64,
    /// The controller's API requests during the burst (its `rest_client_requests_total`), per
    /// Service.
    pub requests_per_service: f64,
}

fn has_address(svc: &Service) -> bool {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .is_some_and(|ingress| ingress.iter().any(|i| i.ip.is_some()))
}

/// Starts `implementation`'s controller against the control plane of `client` (reached with
/// `kubeconfig`), metrics on `metrics_port`, its log to `log`. For upstream's, first creates
/// the Pod object it looks up for owner references.
pub async fn start(
    implementation: &Implementation,
    client: &kube::Client,
    kubeconfig: &Path,
    metrics_port: u16,
    log: impl Into<Stdio>,
) -> Result<std::process::Child> {
    if implementation.which == Which::Upstream {
        crate::implementation::wait_default_account(client, NAMESPACE).await?;
        let pod: Pod = serde_json::from_value(controller_pod())?;
        Api::<Pod>::namespaced(client.clone(), NAMESPACE)
            .create(&PostParams::default(), &pod)
            .await
            .context("cannot create the controller's Pod object")?;
    }
    let mut cmd = implementation.controller_command(kubeconfig, metrics_port, free_port()?);
    cmd.stdout(Stdio::null()).stderr(log);
    test_support::spawn_tied(&mut cmd)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs the workload with `implementation`'s controller on a fresh control plane from
/// `cluster_bin`.
pub async fn run(
    implementation: &Implementation,
    cluster_bin: &Path,
    services: usize,
) -> Result<ControllerRun> {
    let plane = Plane::start(cluster_bin)?;
    let client = plane.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    for name in [NAMESPACE, "bench"] {
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("cannot create namespace {name}"))?;
    }
    let pool = serde_json::json!({"addresses": ["198.18.0.0/16"]});
    test_support::scenario::apply_metallb(
        &client,
        NAMESPACE,
        "IPAddressPool",
        "ipaddresspools",
        "bench",
        pool,
    )
    .await?;
    let token = match implementation.which {
        Which::Upstream => Some(metrics_token(cluster_bin, plane.kubeconfig())?),
        Which::Ours => None,
    };
    let metrics_port = free_port()?;
    let mut controller = start(
        implementation,
        &client,
        plane.kubeconfig(),
        metrics_port,
        Stdio::null(),
    )
    .await?;
    let pid = controller.id();
    let requests = |what: &'static str| {
        let token = token.clone();
        let implementation = implementation.clone();
        async move {
            test_support::wait_for(what, Duration::from_secs(60), || {
                let text = implementation.controller_metrics(metrics_port, token.as_deref());
                async move {
                    Ok(text.ok().and_then(|t| {
                        t.contains("rest_client_requests_total")
                            .then(|| test_support::sum_metric(&t, "rest_client_requests_total"))
                    }))
                }
            })
            .await
        }
    };
    let before = requests("the controller's metrics").await?;
    // The controller is up when the pool has been read: wait until its status is written.
    test_support::wait_for("the pool's status", Duration::from_secs(60), || {
        let pools: Api<metallb_api::IPAddressPool> = Api::namespaced(client.clone(), NAMESPACE);
        async move { Ok(pools.get("bench").await?.status.map(|_| ())) }
    })
    .await?;
    let before = before.max(requests("the controller's metrics").await?);

    let api: Api<Service> = Api::namespaced(client.clone(), "bench");
    let watch_api = api.clone();
    let watch = tokio::spawn(async move {
        let mut addressed = HashSet::new();
        let stream = watcher(watch_api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Ok(Some(event)) = stream.try_next().await {
            if let watcher::Event::Apply(svc) = event
                && has_address(&svc)
            {
                addressed.insert(svc.metadata.name.clone().unwrap_or_default());
                if addressed.len() == services {
                    return Instant::now();
                }
            }
        }
        Instant::now()
    });
    let ticks_before = cpu_ticks(pid).unwrap_or(0);
    let start = Instant::now();
    let last_create = futures::stream::iter(0..services)
        .map(|i| {
            let api = api.clone();
            async move {
                let svc: Service = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("svc-{i}")},
                    "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false,
                        "selector": {"app": "x"}, "ports": [{"port": 80}]},
                }))?;
                api.create(&PostParams::default(), &svc).await?;
                Ok::<_, anyhow::Error>(Instant::now())
            }
        })
        .buffer_unordered(32)
        .try_fold(start, |latest, at| async move { Ok(latest.max(at)) })
        .await?;
    let done = match tokio::time::timeout(Duration::from_secs(900), watch).await {
        Ok(done) => done?,
        Err(_) => bail!(
            "{}: not every Service had an address within 900 s",
            implementation.name()
        ),
    };
    let ticks = cpu_ticks(pid).unwrap_or(0).saturating_sub(ticks_before);
    let peak = status_kib(pid, "VmHWM:").unwrap_or(0) * 1024;
    let after = requests("the controller's metrics").await?;
    let _ = controller.kill();
    let _ = controller.wait();
    drop(plane);
    Ok(ControllerRun {
        settle: done.saturating_duration_since(last_create),
        total: done.saturating_duration_since(start),
        cpu_per_service: Duration::from_millis(ticks * 10) / services as u32,
        peak_rss: peak,
        requests_per_service: (after - before) / services as f64,
    })
}
