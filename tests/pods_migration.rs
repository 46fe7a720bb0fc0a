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

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::api::Api;
use pods_support::{
    NAMESPACE, NODES, PodLab, Switch, WAIT, addresses, apply, arp_owner, env_path, finish_switch,
    service,
};
use test_support::netlab::{self, TrafficProbe};
use test_support::scenario;
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

async fn scenario(lab: &PodLab) -> Result<()> {
    lab.import_images(
        &env_path("METALLB_RS_IMAGES_DIR").join("upstream-v0.16.2"),
        &UPSTREAM_IMAGES,
    )?;

    // Upstream installed as its documentation says, running for real.
    let started = Instant::now();
    apply(
        lab,
        &test_support::upstream::manifest("metallb-native.yaml")?,
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
    let before = addresses(lab, &SERVICES).await?;
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
    lab.deploy_charm(&[IPRANGE])?;
    lab.expect_adopt_asked("deployed over a running upstream install")?;
    lab.adopt()?;
    let pods = lab.wait_workloads(scenario::IMAGE_TAG, NODES.len()).await?;
    let (status, message) = lab.status()?;
    println!(
        "adopted: our {} pods ready {:.1} s after the deploy; the charm says {status}: {message}",
        pods.len(),
        switch_started.elapsed().as_secs_f64()
    );
    // The README's last step: the old pool goes once the charm's covers its range.
    lab.kubectl(&["delete", "-n", NAMESPACE, "ipaddresspool", "users-pool"])?;
    finish_switch(
        lab,
        probe,
        &Switch {
            polled: SERVICES[0],
            before: &before,
            started: switch_started,
            what: "deploy, adopt, upstream's pods replaced by ours",
            old_owner: &upstream_owner,
        },
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the control plane: cargo xtask test"]
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
