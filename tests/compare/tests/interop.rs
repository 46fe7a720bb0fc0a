//! Interoperation with upstream MetalLB (v0.16.2) on a network of namespaces, with our CRDs:
//!
//! - upstream's controller and speakers run unchanged against our CRDs (they start, allocate,
//!   announce, and write their ConfigurationState objects, which have no spec);
//! - upstream's controller with our speakers, and our controller with upstream's speakers (each
//!   side's membership is its own: the wire formats differ): the address the controller gave is
//!   announced by the node the shared election order picks, and traffic reaches it.
//!
//! The configuration is upstream's documented minimum: an IPAddressPool and an L2Advertisement
//! without a spec. Environment: `METALLB_RS_CLUSTER_BIN`, `METALLB_RS_UPSTREAM_BIN` (upstream's
//! `controller` and `speaker`, `cargo xtask upstream build`), `METALLB_RS_OURS_BIN` (our static
//! `metallb-controller` and `metallb-speaker`); `cargo xtask test` sets them. Needs root.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use metallb_compare::controller;
use metallb_compare::implementation::{Implementation, NAMESPACE, Which};
use metallb_compare::speaker::{NODES, lab};
use serde_json::json;
use test_support::netlab;
use test_support::scenario::{self, Scenario};

/// One lab at a time: each is a control plane and five namespaces.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn dir(name: &str) -> Result<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .with_context(|| {
            format!("{name} is not set: run the tests with `cargo xtask test` (it builds upstream's binaries and ours)")
        })
}

fn upstream() -> Result<Implementation> {
    let bin = dir("METALLB_RS_UPSTREAM_BIN")?;
    Ok(Implementation {
        which: Which::Upstream,
        controller: bin.join("controller"),
        speaker: bin.join("speaker"),
    })
}

fn ours() -> Result<Implementation> {
    let bin = dir("METALLB_RS_OURS_BIN")?;
    Ok(Implementation {
        which: Which::Ours,
        controller: bin.join("metallb-controller"),
        speaker: bin.join("metallb-speaker"),
    })
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "metallb.io".into(),
        version: "v1beta1".into(),
        api_version: "metallb.io/v1beta1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Services each test creates: several, so that an election order that differed between the
/// two sides could not match by chance (one in three per Service with three nodes).
const SERVICES: usize = 4;

/// Creates upstream's minimal configuration (an IPAddressPool and an L2Advertisement without a
/// spec) and [`SERVICES`] LoadBalancer Services with endpoints on every node; returns each
/// Service's name and the address the controller gave it.
async fn minimal_configuration_and_services(
    client: &kube::Client,
    lab_endpoints: &[(&str, std::net::Ipv4Addr)],
) -> Result<Vec<(String, String)>> {
    let pools: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &resource("IPAddressPool", "ipaddresspools"),
    );
    let pool: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "first-pool"},
        "spec": {"addresses": [netlab::POOL_V4], "avoidBuggyIPs": true},
    }))?;
    pools.create(&PostParams::default(), &pool).await?;
    let ads: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &resource("L2Advertisement", "l2advertisements"),
    );
    let ad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
        "metadata": {"name": "example"},
    }))?;
    ads.create(&PostParams::default(), &ad)
        .await
        .context("upstream's minimal L2Advertisement (no spec)")?;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let mut addressed = Vec::new();
    for i in 0..SERVICES {
        let name = format!("web{i}");
        let service: Service = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false,
                "ports": [{"port": 80, "protocol": "TCP"}]},
        }))?;
        services.create(&PostParams::default(), &service).await?;
        scenario::endpoints(client, "default", &name, lab_endpoints).await?;
    }
    for i in 0..SERVICES {
        let name = format!("web{i}");
        let ip = test_support::wait_for(
            &format!("the address of Service {name} from the controller"),
            Duration::from_secs(60),
            || {
                let services = services.clone();
                let name = name.clone();
                async move {
                    let svc = services.get(&name).await?;
                    Ok(svc
                        .status
                        .and_then(|s| s.load_balancer)
                        .and_then(|lb| lb.ingress)
                        .and_then(|i| i.into_iter().find_map(|i| i.ip)))
                }
            },
        )
        .await?;
        addressed.push((name, ip));
    }
    Ok(addressed)
}

/// Checks that every Service's address is announced by the node the shared election order
/// picks: HTTP from the client reaches that node's server, only its MAC answers ARP, and the
/// Service's ServiceL2Status names it.
async fn announced_as_elected(lab: &Scenario, addressed: &[(String, String)]) -> Result<()> {
    let statuses: Api<DynamicObject> = Api::namespaced_with(
        lab.client.clone(),
        NAMESPACE,
        &resource("ServiceL2Status", "servicel2statuses"),
    );
    for (name, ip) in addressed {
        let winner = scenario::expected_winner(ip, &NODES, &NODES);
        netlab::first_reply_from(
            &lab.network,
            ip.parse()?,
            &winner,
            Instant::now(),
            Duration::from_secs(60),
        )
        .with_context(|| {
            format!(
                "traffic to {ip} ({name}) should reach {winner}, the node the shared election picks"
            )
        })?;
        let macs = netlab::arping(&lab.network, ip)?;
        let expected = lab.mac_of(&winner).to_lowercase();
        if macs.is_empty() || macs.iter().any(|m| *m != expected) {
            bail!(
                "ARP for {ip} ({name}) answered by {macs:?}, expected only {winner} ({expected})"
            );
        }
        let named = test_support::wait_for(
            &format!("the ServiceL2Status of {name}"),
            Duration::from_secs(30),
            || {
                let statuses = statuses.clone();
                let name = name.clone();
                async move {
                    let list = statuses.list(&ListParams::default()).await?;
                    Ok(list.items.into_iter().find_map(|s| {
                        (s.data["status"]["serviceName"] == name.as_str())
                            .then(|| s.data["status"]["node"].as_str().map(String::from))
                            .flatten()
                    }))
                }
            },
        )
        .await?;
        if named != winner {
            bail!("the ServiceL2Status of {name} names {named}, the announcing node is {winner}");
        }
    }
    Ok(())
}

/// Waits until the ConfigurationState objects of the controller and of every speaker say
/// `Valid` (upstream writes them without a spec: our CRD must take that).
async fn states_valid(client: &kube::Client) -> Result<()> {
    let states: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &resource("ConfigurationState", "configurationstates"),
    );
    let mut wanted = vec!["controller".to_string()];
    wanted.extend(NODES.iter().map(|n| format!("speaker-{n}")));
    let waited = test_support::wait_for(
        "Valid ConfigurationStates of the controller and every speaker",
        Duration::from_secs(30),
        || {
            let states = states.clone();
            let wanted = wanted.clone();
            async move {
                let list = states.list(&ListParams::default()).await?;
                let valid = wanted
                    .iter()
                    .filter(|w| {
                        list.items.iter().any(|s| {
                            s.metadata.name.as_deref() == Some(w.as_str())
                                && s.data["status"]["result"] == "Valid"
                        })
                    })
                    .count();
                Ok((valid == wanted.len()).then_some(()))
            }
        },
    )
    .await;
    if let Err(err) = waited {
        let now: Vec<String> = states
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|s| {
                format!(
                    "{}: {}",
                    s.metadata.name.as_deref().unwrap_or("?"),
                    s.data["status"]
                )
            })
            .collect();
        bail!("{err:#}; the ConfigurationStates now: {}", now.join("; "));
    }
    Ok(())
}

/// Runs `controller_impl`'s controller and `speaker_impl`'s speakers together (the speakers
/// form their own membership) and checks allocation, the elected announcer, traffic and the
/// status objects of both sides.
async fn together(
    controller_impl: Implementation,
    speaker_impl: Implementation,
    tag: &str,
) -> Result<()> {
    if !netlab::available() {
        bail!("the interoperation tests need root and iproute2");
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let prefix = format!("mli{tag}{}", std::process::id() % 10_000);
    let lab = lab(&speaker_impl, &prefix).await?;
    let log = lab
        .speakers
        .log_path("controller")
        .with_file_name(format!("controller-{tag}.log"));
    let log_file = std::fs::File::create(&log)?;
    let mut controller_process = controller::start(
        &controller_impl,
        &lab.client,
        &lab.cluster.local_kubeconfig,
        controller::free_port()?,
        Stdio::from(log_file),
    )
    .await?;
    let result = async {
        let endpoints = lab.endpoints_on(&NODES);
        let addressed = minimal_configuration_and_services(&lab.client, &endpoints).await?;
        announced_as_elected(&lab, &addressed).await?;
        states_valid(&lab.client).await
    }
    .await;
    let _ = controller_process.kill();
    let _ = controller_process.wait();
    if let Err(err) = result {
        bail!(
            "{} controller, {} speakers: {err:#}\n--- controller log ---\n{}\n{}",
            controller_impl.name(),
            speaker_impl.name(),
            std::fs::read_to_string(&log).unwrap_or_default(),
            lab.speakers.diagnostics(&lab.network)
        );
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn upstream_controller_and_speakers_run_on_our_crds() -> Result<()> {
    together(upstream()?, upstream()?, "uu").await
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn upstream_controller_with_our_speakers() -> Result<()> {
    together(upstream()?, ours()?, "uo").await
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn our_controller_with_upstream_speakers() -> Result<()> {
    together(ours()?, upstream()?, "ou").await
}
