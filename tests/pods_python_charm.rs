//! Moving from the Python `metallb` charm the way Juju users will try: `juju refresh` to this
//! charm. The Python charm (the unmodified test peer, run through `juju-sim` with a virtualenv of
//! its requirements) installs its MetalLB v0.13.10 manifests on three real nodes, with upstream
//! v0.13.5's controller and speaker (built from the Go module proxy) standing in for v0.13.10's
//! images, and writes its pool through upstream's webhook. Services get addresses and answer ARP.
//! Then, while a client polls one Service: `juju-sim refresh` to the packed charm (it refuses to
//! take the installation silently), `adopt` (which converts the Python charm's pool into the
//! charm's), and every Service keeps its address.
//!
//! Needs root and what `cargo xtask test` provides: `METALLB_RS_CLUSTER_BIN`,
//! `METALLB_RS_CHARM_FILE`, `METALLB_RS_IMAGES_DIR`, `METALLB_RS_PYTHON_CHARM` (the peer) and
//! `METALLB_RS_PYTHON_VENV`.

mod pods_support;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use pods_support::{
    NAMESPACE, NODES, PodLab, Switch, WAIT, addresses, arp_owner, env_path, finish_switch,
    legacy_endpoints, service,
};
use test_support::netlab::{self, TrafficProbe};
use test_support::scenario;
use test_support::wait_for;

/// The images the Python charm's manifests name (its default `image-registry` in place of
/// `quay.io`), under which upstream v0.13.5's archives are imported.
const PYTHON_CHARM_IMAGES: [(&str, &str, &str); 2] = [
    (
        "upstream-controller.oci.tar",
        "rocks.canonical.com:443/cdk/metallb/controller",
        "rocks.canonical.com:443/cdk/metallb/controller:v0.13.10",
    ),
    (
        "upstream-speaker.oci.tar",
        "rocks.canonical.com:443/cdk/metallb/speaker",
        "rocks.canonical.com:443/cdk/metallb/speaker:v0.13.10",
    ),
];
/// The iprange the user gave the Python charm (kept by the refresh: the option has the same
/// name in both charms).
const IPRANGE: &str = "iprange=198.18.100.240-198.18.100.247";
/// Services the user has; the first is polled through the switch.
const SERVICES: [&str; 3] = ["web-1", "web-2", "web-3"];

/// Copies the peer (read-only where it is kept) into `to` and gives it the `dispatch` script
/// charmcraft would generate, running its code with the virtualenv `venv`.
fn python_charm(to: &Path) -> Result<()> {
    let peer = env_path("METALLB_RS_PYTHON_CHARM");
    let venv = env_path("METALLB_RS_PYTHON_VENV");
    ensure!(
        peer.join("src/charm.py").is_file(),
        "the Python metallb charm (test peer) was not found: `cargo xtask test` printed where it looked"
    );
    let out = std::process::Command::new("cp")
        .arg("-r")
        .arg(&peer)
        .arg(to)
        .output()
        .context("cannot run cp")?;
    ensure!(
        out.status.success(),
        "cannot copy {}: {}",
        peer.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let dispatch = to.join("dispatch");
    std::fs::write(
        &dispatch,
        format!(
            "#!/bin/sh\nJUJU_DISPATCH_PATH=\"${{JUJU_DISPATCH_PATH:-$0}}\" PYTHONPATH=lib:venv \
             exec {}/bin/python3 ./src/charm.py\n",
            venv.display()
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn pools(lab: &PodLab) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", "v1beta1", "IPAddressPool"),
        "ipaddresspools",
    );
    Api::namespaced_with(lab.client.clone(), NAMESPACE, &resource)
}

/// The IPAddressPools' names.
async fn pool_names(lab: &PodLab) -> Result<Vec<String>> {
    Ok(pools(lab)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect())
}

async fn scenario(lab: &PodLab) -> Result<()> {
    lab.import_images(
        &env_path("METALLB_RS_IMAGES_DIR").join("upstream-v0.13.5"),
        &PYTHON_CHARM_IMAGES,
    )?;

    // The Python charm, deployed as its users did.
    let old_charm = lab.dir.path().join("python-charm");
    python_charm(&old_charm)?;
    let started = Instant::now();
    lab.deploy(&old_charm.display().to_string(), &["--config", IPRANGE])?;
    let message = lab.wait_status("active").await?;
    println!(
        "the Python charm active ({message}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let old_pools = pool_names(lab).await?;
    let [old_pool] = old_pools.as_slice() else {
        bail!("the Python charm wrote pools {old_pools:?}, not one");
    };
    for name in SERVICES {
        service(lab, name).await?;
        legacy_endpoints(lab, name).await?;
    }
    let before = addresses(lab, &SERVICES).await?;
    println!("addresses from upstream v0.13's controller: {before:?}");
    let polled = before[SERVICES[0]].clone();
    let old_owner = wait_for("upstream's speaker to answer ARP", WAIT, || async {
        arp_owner(lab, &polled).map(Some)
    })
    .await?;
    println!("{polled} announced by upstream v0.13's speaker on {old_owner}");

    // `juju refresh` to this charm: it finds an installation it did not create and waits for
    // the operator.
    let probe = TrafficProbe::start(&lab.network, polled.parse()?);
    let switch_started = Instant::now();
    lab.refresh_to_charm()?;
    lab.expect_adopt_asked("refreshed from the Python charm")?;
    let results = lab.adopt()?;
    ensure!(
        results.contains(&format!(
            "IPAddressPool/{NAMESPACE}/{old_pool} (converted into"
        )),
        "adopt did not convert the Python charm's pool {old_pool}: {results}"
    );
    let pods = lab.wait_workloads(scenario::IMAGE_TAG, NODES.len()).await?;
    println!(
        "adopted: our {} pods ready {:.1} s after the refresh",
        pods.len(),
        switch_started.elapsed().as_secs_f64()
    );
    let now = pool_names(lab).await?;
    ensure!(
        !now.contains(old_pool) && now.len() == 1,
        "after adopt the pools are {now:?}: the Python charm's {old_pool} should have become the charm's"
    );
    finish_switch(
        lab,
        probe,
        &Switch {
            polled: SERVICES[0],
            before: &before,
            started: switch_started,
            what: "refresh from the Python charm, adopt, its pods replaced by ours",
            old_owner: &old_owner,
        },
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn refreshing_from_the_python_charm_moves_no_address() {
    assert!(
        netlab::available(),
        "this test needs root and iproute2 (run it with `cargo xtask test`)"
    );
    let lab = match PodLab::start("pc", &[]).await {
        Ok(lab) => lab,
        Err(err) => panic!("cannot start the lab: {err:#}"),
    };
    let timeout = Duration::from_secs(600);
    match tokio::time::timeout(timeout, scenario(&lab)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => panic!("{err:#}\n\n{}", lab.diagnostics()),
        Err(_) => panic!("no result in {timeout:?}\n\n{}", lab.diagnostics()),
    }
}
