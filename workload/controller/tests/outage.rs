//! The controller through an outage of the whole control plane (API server and etcd killed as a
//! crash would, then started again on the same data) in the middle of a burst of new Services:
//! it does not exit, no address it gave moves, and the work resumes: every Service of the burst
//! gets an address of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use metallb_api::IPAddressPool;
use metallb_controller::convert::current_ips;
use test_support::{Cluster, wait_for};

/// Services addressed before the outage, and created just before it.
const BEFORE: usize = 100;
const BURST: usize = 200;

/// The controller process, stopped on drop.
struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn create_namespace(client: &kube::Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("cannot create namespace {name}"))?;
    Ok(())
}

/// Creates Services `prefix0..prefix{n-1}`, 16 at a time.
async fn create_services(api: &Api<Service>, prefix: &str, n: usize) -> Result<()> {
    futures::stream::iter(0..n)
        .map(|i| async move {
            let svc: Service = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("{prefix}{i}")},
                "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false,
                         "ports": [{"port": 80}]},
            }))?;
            api.create(&PostParams::default(), &svc).await?;
            Ok::<(), anyhow::Error>(())
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Every Service's addresses, by name.
async fn addresses(api: &Api<Service>) -> Result<BTreeMap<String, Vec<IpAddr>>> {
    Ok(api
        .list(&Default::default())
        .await?
        .items
        .iter()
        .map(|s| (s.metadata.name.clone().unwrap_or_default(), current_ips(s)))
        .collect())
}

/// Waits until `n` Services each have one address, and returns them.
async fn all_addressed(api: &Api<Service>, n: usize) -> Result<BTreeMap<String, Vec<IpAddr>>> {
    wait_for(
        "every Service to have an address",
        Duration::from_secs(120),
        || async {
            let ips = addresses(api).await?;
            Ok((ips.len() == n && ips.values().all(|v| v.len() == 1)).then_some(ips))
        },
    )
    .await
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn a_control_plane_outage_during_a_burst_moves_no_address_and_the_work_resumes() -> Result<()>
{
    let mut cluster = Cluster::start_restartable()?;
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    create_namespace(&client, "metallb").await?;
    create_namespace(&client, "apps").await?;
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), "metallb");
    let pool: IPAddressPool = serde_json::from_value(serde_json::json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "main"}, "spec": {"addresses": ["198.18.216.0/23"]},
    }))?;
    pools
        .patch(
            "main",
            &PatchParams::apply("outage-test").force(),
            &Patch::Apply(&pool),
        )
        .await?;
    let probe_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut controller = Controller(test_support::spawn_tied(
        Command::new(env!("CARGO_BIN_EXE_metallb-controller"))
            .arg("--kubeconfig")
            .arg(cluster.kubeconfig())
            .args(["--namespace", "metallb", "--port", "0"])
            .args(["--health-probe-port", &probe_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?);
    let services: Api<Service> = Api::namespaced(client.clone(), "apps");
    create_services(&services, "before", BEFORE).await?;
    let before = all_addressed(&services, BEFORE).await?;

    // The burst: created at once, then the control plane dies while the controller works.
    create_services(&services, "burst", BURST).await?;
    let (alive_while_down, took) = cluster.restart(|| controller.0.try_wait())?;
    println!(
        "control plane killed and restarted in {} ms during a burst of {BURST} Services",
        took.as_millis()
    );
    if let Ok(Some(status)) = alive_while_down {
        bail!("the controller exited during the outage: {status}");
    }

    let client = cluster.client().await?;
    let services: Api<Service> = Api::namespaced(client.clone(), "apps");
    let after = all_addressed(&services, BEFORE + BURST).await?;
    ensure!(
        controller.0.try_wait()?.is_none(),
        "the controller exited after the outage"
    );
    let moved: Vec<String> = before
        .iter()
        .filter(|(name, ips)| after.get(*name) != Some(*ips))
        .map(|(name, ips)| format!("{name}: {ips:?} -> {:?}", after.get(name)))
        .collect();
    let distinct: BTreeSet<&IpAddr> = after.values().flatten().collect();
    let duplicates = BEFORE + BURST - distinct.len();
    println!(
        "faults: api-outage-during-controller-burst tried=1 held={}{}",
        u8::from(moved.is_empty() && duplicates == 0),
        if moved.is_empty() && duplicates == 0 {
            String::new()
        } else {
            format!(" lost={} moved, {duplicates} duplicates", moved.len())
        }
    );
    ensure!(moved.is_empty(), "addresses moved: {moved:?}");
    ensure!(duplicates == 0, "{duplicates} addresses handed out twice");
    Ok(())
}
