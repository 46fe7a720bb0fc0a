//! `cargo xtask bench controller --services N`: creates N LoadBalancer Services at once against
//! a real control plane with the release controller running, and prints the time until all have
//! an address, per-Service latency (p50/p99), the writes the controller made, its CPU time per
//! Service and its peak RSS. `BENCH_CONTROLLER_BIN` selects the controller binary
//! (`cargo xtask bench controller` passes the static build that ships in the image).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use metallb_api::IPAddressPool;
use test_support::{TestNamespace, cluster};

fn proc_field(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The controller's API request count, from its metrics endpoint (once it answers).
async fn wait_for_requests(port: u16) -> Result<f64> {
    test_support::wait_for(
        "the controller's metrics",
        Duration::from_secs(30),
        || async move {
            let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let metrics =
                test_support::netlab::http_get_path(target, "/metrics", Duration::from_secs(2))
                    .ok();
            Ok(metrics.map(|text| test_support::sum_metric(&text, "rest_client_requests_total")))
        },
    )
    .await
}

#[tokio::main]
async fn main() -> Result<()> {
    let n: usize = std::env::var("BENCH_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let cluster = cluster();
    println!(
        "control plane ready in {:.1}s",
        cluster.startup.as_secs_f64()
    );
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps = TestNamespace::create(cluster, "bench").await?;
    let pool: IPAddressPool = serde_json::from_value(serde_json::json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "bench"}, "spec": {"addresses": ["198.18.0.0/16"]},
    }))?;
    Api::<IPAddressPool>::namespaced(client.clone(), &metallb.name)
        .create(&PostParams::default(), &pool)
        .await?;
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut controller = test_support::spawn_tied(
        Command::new(
            std::env::var_os("BENCH_CONTROLLER_BIN")
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_metallb-controller").into()),
        )
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .args([
            "--namespace",
            &metallb.name,
            "--log-level",
            "warn",
            "--health-probe-port",
            "0",
            "--port",
            &metrics_port.to_string(),
        ])
        .stdout(Stdio::null()),
    )
    .context("cannot start the controller")?;
    let pid = controller.id();

    let services: Api<Service> = Api::namespaced(client.clone(), &apps.name);
    let watch_api = services.clone();
    let watch = tokio::spawn(async move {
        let mut assigned: HashMap<String, Instant> = HashMap::new();
        let mut updates = 0usize;
        let stream = watcher(watch_api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Ok(Some(event)) = stream.try_next().await {
            if let watcher::Event::Apply(svc) = event {
                updates += 1;
                let has_ip = metallb_controller::convert::current_ips(&svc).len() == 1;
                let name = svc.metadata.name.clone().unwrap_or_default();
                if has_ip {
                    assigned.entry(name).or_insert_with(Instant::now);
                }
                if assigned.len() == n {
                    break;
                }
            }
        }
        (assigned, updates)
    });

    // The controller's own requests (its metrics) before the burst: watches, pool status.
    let requests_before = wait_for_requests(metrics_port).await?;
    let ticks_before = cpu_ticks(pid).unwrap_or(0);
    let start = Instant::now();
    let created: Vec<(String, Instant)> = futures::stream::iter(0..n)
        .map(|i| {
            let services = services.clone();
            async move {
                let name = format!("svc-{i}");
                let svc: Service = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": name},
                    "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "selector": {"app": "x"}, "ports": [{"port": 80}]},
                }))?;
                services.create(&PostParams::default(), &svc).await?;
                Ok::<_, anyhow::Error>((name, Instant::now()))
            }
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    let creating = start.elapsed();
    let (assigned, updates) = match tokio::time::timeout(Duration::from_secs(600), watch).await {
        Ok(joined) => joined?,
        Err(_) => bail!("not every service got an address within 600 s"),
    };
    let total = start.elapsed();
    let ticks = cpu_ticks(pid).unwrap_or(0).saturating_sub(ticks_before);
    let peak_kib = proc_field(pid, "status", "VmHWM:").unwrap_or(0);
    let anon_kib = proc_field(pid, "status", "RssAnon:").unwrap_or(0);
    let file_kib = proc_field(pid, "status", "RssFile:").unwrap_or(0);
    let requests = wait_for_requests(metrics_port).await? - requests_before;
    let _ = controller.kill();
    let _ = controller.wait();

    let mut latencies: Vec<f64> = created
        .iter()
        .filter_map(|(name, at)| {
            assigned
                .get(name)
                .map(|done| done.saturating_duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let ticks_per_second = 100.0;
    println!("services: {n}");
    println!(
        "created all in {:.2} s; all had an address after {:.2} s",
        creating.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "per-service latency (created -> address): p50 {:.1} ms, p99 {:.1} ms",
        pct(0.5),
        pct(0.99)
    );
    println!(
        "service updates observed (creation included): {updates} ({:.2} per service)",
        updates as f64 / n as f64
    );
    println!(
        "controller API requests during the burst: {requests} ({:.2} per service)",
        requests / n as f64
    );
    println!(
        "controller CPU: {:.2} s total, {:.3} ms per service; peak RSS {:.1} MiB",
        ticks as f64 / ticks_per_second,
        ticks as f64 / ticks_per_second * 1e3 / n as f64,
        peak_kib as f64 / 1024.0
    );
    println!(
        "controller RSS after the burst: {:.1} MiB anonymous (heap, caches) + {:.1} MiB file-backed (its code)",
        anon_kib as f64 / 1024.0,
        file_kib as f64 / 1024.0
    );
    Ok(())
}
