//! Moving onto the charm from a running upstream MetalLB, with nothing simulated: upstream
//! v0.16.2's own `metallb-native.yaml` (webhooks included) runs as real pods on three real nodes
//! with upstream's controller and speaker built from the Go module proxy; the user's pool and
//! L2Advertisement go through upstream's webhook; Services get addresses and answer ARP from
//! upstream's speakers. Then the packed charm is deployed over it through `juju-sim` (it refuses
//! to take the installation silently), `adopt` replaces upstream's controller and speakers, and
//! a client polling one Service the whole time measures the traffic gap. Every Service must keep
//! its address.
//!
//! Needs root and what `cargo xtask test` provides: `METALLB_RS_CLUSTER_BIN`,
//! `METALLB_RS_CHARM_FILE`, `METALLB_RS_IMAGES_DIR` (ours and `upstream-*.oci.tar`) and
//! `METALLB_RS_UPSTREAM_SRC`.

mod pods_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::api::Api;
use pods_support::{
    CONTROLLER_REPO, NAMESPACE, NODES, PodLab, SPEAKER_REPO, WAIT, env_path, service,
};
use serde_json::Value;
use test_support::netlab::{self, TrafficProbe};
use test_support::wait_for;

/// Upstream's image references in its manifest, under which its archives are imported.
const UPSTREAM_IMAGES: [(&str, &str, &str); 2] = [
    (
        "upstream-controller.oci.tar",
        "quay.io/metallb/controller",
        "quay.io/metallb/controller:v0.16.2",
    ),
    (
        "upstream-speaker.oci.tar",
        "quay.io/metallb/speaker",
        "quay.io/metallb/speaker:v0.16.2",
    ),
];
/// The user's pool, created through upstream's webhook (on the client's network).
const USERS_POOL: &str = "198.18.100.240/29";
/// The charm's `iprange`: the same range, as the README's how-to says.
const IPRANGE: &str = "iprange=198.18.100.240-198.18.100.247";
/// Services the user has; the first is polled through the switch.
const SERVICES: [&str; 3] = ["web-1", "web-2", "web-3"];

/// Applies `yaml` with `kubectl apply --server-side`.
fn apply(lab: &PodLab, yaml: &str, name: &str) -> Result<()> {
    let file = lab.dir.path().join(name);
    std::fs::write(&file, yaml)?;
    lab.kubectl(&["apply", "--server-side", "-f", &file.display().to_string()])?;
    Ok(())
}

/// Waits until upstream's controller is available and its speaker ready on every node.
async fn wait_upstream_running(lab: &PodLab) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(lab.client.clone(), NAMESPACE);
    let daemonsets: Api<DaemonSet> = Api::namespaced(lab.client.clone(), NAMESPACE);
    wait_for(
        "upstream's controller available and its speakers ready",
        Duration::from_secs(180),
        || async {
            let d = deployments.get("controller").await?;
            let ds = daemonsets.get("speaker").await?;
            let available = d.status.and_then(|s| s.available_replicas) == Some(1);
            let ready = ds.status.map(|s| s.number_ready) == Some(NODES.len() as i32);
            Ok((available && ready).then_some(()))
        },
    )
    .await
}

/// The node whose MAC answers ARP for `ip` from the client (one answer expected).
fn arp_owner(lab: &PodLab, ip: &str) -> Result<String> {
    let replies = netlab::arping(&lab.network, ip)?;
    let owners: Vec<&str> = NODES
        .iter()
        .copied()
        .filter(|node| replies.iter().any(|r| r.contains(&lab.mac_of(node))))
        .collect();
    match owners.as_slice() {
        [one] => Ok(one.to_string()),
        _ => bail!("ARP for {ip} answered by {owners:?}: {replies:?}"),
    }
}

/// The Services' addresses.
async fn addresses(lab: &PodLab) -> Result<BTreeMap<String, String>> {
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(lab.client.clone(), "default");
    let mut out = BTreeMap::new();
    for name in SERVICES {
        let ip = services
            .get(name)
            .await?
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .and_then(|i| i.into_iter().find_map(|i| i.ip))
            .unwrap_or_default();
        out.insert(name.to_string(), ip);
    }
    Ok(out)
}

async fn scenario(lab: &PodLab) -> Result<()> {
    let images = env_path("METALLB_RS_IMAGES_DIR");
    for (archive, repository, reference) in UPSTREAM_IMAGES {
        lab.nodes
            .import(&images.join(archive), repository, Some(reference))
            .with_context(|| format!("cannot import {archive} (run `cargo xtask test`)"))?;
    }

    // Upstream installed as its documentation says, running for real.
    let started = Instant::now();
    apply(
        lab,
        &test_support::upstream_manifest("metallb-native.yaml")?,
        "metallb-native.yaml",
    )?;
    wait_upstream_running(lab).await?;
    println!(
        "upstream v0.16.2 running (controller + {} speakers) in {:.1} s",
        NODES.len(),
        started.elapsed().as_secs_f64()
    );
    // The user's configuration, through upstream's webhook (served by its controller pod).
    let config = format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: users-pool\n  \
         namespace: {NAMESPACE}\nspec:\n  addresses: [{USERS_POOL}]\n---\n\
         apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata:\n  name: users-l2\n  \
         namespace: {NAMESPACE}\n"
    );
    wait_for(
        "upstream's webhook to admit the user's pool",
        WAIT,
        || async { apply(lab, &config, "users.yaml").map(Some) },
    )
    .await?;
    for name in SERVICES {
        service(lab, name).await?;
    }
    let before = addresses(lab).await?;
    println!("addresses from upstream's controller: {before:?}");
    let polled = before[SERVICES[0]].clone();
    let upstream_owner = wait_for("upstream's speaker to answer ARP", WAIT, || async {
        arp_owner(lab, &polled).map(Some)
    })
    .await?;
    let body = netlab::curl(&lab.network, &polled)?;
    ensure!(
        body == upstream_owner,
        "curl {polled} answered {body:?}, not {upstream_owner}"
    );
    println!("{polled} announced by upstream's speaker on {upstream_owner}");

    // The charm over it: blocked, nothing touched, until the operator adopts.
    let probe = TrafficProbe::start(&lab.network, polled.parse()?);
    let switch_started = Instant::now();
    let kubeconfig = lab.kubeconfig.display().to_string();
    let controller = format!("controller-image={CONTROLLER_REPO}:{}", netlab::IMAGE_TAG);
    let speaker = format!("speaker-image={SPEAKER_REPO}:{}", netlab::IMAGE_TAG);
    lab.sim(&[
        "deploy",
        &lab.charm(),
        "--trust",
        "--kubeconfig",
        &kubeconfig,
        "--resource",
        &controller,
        "--resource",
        &speaker,
        "--config",
        IPRANGE,
    ])?;
    let (status, message) = lab.status()?;
    ensure!(
        status == "blocked" && message.contains("adopt"),
        "deployed over a running upstream install, the charm says {status}: {message}"
    );
    println!("deployed over upstream: {status}: {message}");
    let adopted: Value = serde_json::from_str(&lab.sim(&["run", "adopt", "--format", "json"])?)?;
    println!("adopt: {}", adopted["metallb/0"]["results"]);
    let pods = lab.wait_workloads(netlab::IMAGE_TAG, NODES.len()).await?;
    let (status, message) = lab.status()?;
    println!(
        "adopted: our {} pods ready {:.1} s after the deploy; the charm says {status}: {message}",
        pods.len(),
        switch_started.elapsed().as_secs_f64()
    );
    let ours = lab.announcer(SERVICES[0], None).await?;
    let owner = wait_for("our speaker to answer ARP", WAIT, || async {
        Ok(arp_owner(lab, &polled).ok().filter(|o| *o == ours))
    })
    .await?;
    // Let the client see our speaker's announcement for a while before stopping it.
    wait_for("the client to be served after the switch", WAIT, || async {
        Ok(netlab::curl(&lab.network, &polled)
            .ok()
            .filter(|b| *b == owner))
    })
    .await?;
    // The README's last step: the old pool goes once the charm's covers its range.
    lab.kubectl(&["delete", "-n", NAMESPACE, "ipaddresspool", "users-pool"])?;
    let message = lab.wait_status("active").await?;
    println!("old pool deleted; the charm says active: {message}");
    let new = service(lab, "web-new").await?;
    println!("a new Service got {new} from the charm's pool");
    let report = probe.stop()?;
    println!(
        "traffic during the switch (deploy, adopt, upstream's pods replaced by ours, {:.1} s): \
         {} requests answered, {} failed, longest gap {} ms (began {:.1} s in), served by {:?}",
        switch_started.elapsed().as_secs_f64(),
        report.answered,
        report.failed,
        report.longest_gap.as_millis(),
        report.gap_started_after.as_secs_f64(),
        report.served_by
    );
    println!(
        "bench: migration-gap-ms={} failed-requests={}",
        report.longest_gap.as_millis(),
        report.failed
    );
    ensure!(report.answered > 0, "the client was never answered");
    let after = addresses(lab).await?;
    ensure!(
        after == before,
        "addresses moved: before {before:?}, after {after:?}"
    );
    println!(
        "every Service kept its address; {polled} now announced by our speaker on {owner} \
         (upstream's was {upstream_owner})"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_a_running_upstream_install_moves_no_address() {
    assert!(
        netlab::available(),
        "this test needs root and iproute2 (run it with `cargo xtask test`)"
    );
    let lab = match PodLab::start("um", &[]).await {
        Ok(lab) => lab,
        Err(err) => panic!("cannot start the lab: {err:#}"),
    };
    if let Err(err) = scenario(&lab).await {
        panic!("{err:#}\n\n{}", lab.diagnostics());
    }
}
