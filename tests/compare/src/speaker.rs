//! The speaker workloads on a network of namespaces (three nodes, a client, the control plane;
//! `test_support::netlab`): Layer 2 failover after kill -9 and SIGTERM of the announcing
//! speaker, the speakers' memory at rest and with 1,000 announced Services, and BGP (upstream
//! in its native mode) from a Service's address to the route in FRR.
//!
//! Both implementations' speakers take the same flags (`--node-name`, `--namespace`,
//! `--kubeconfig`, `--ml-bindaddr`, `--ml-labels`, `--ml-secret-key-path`, `--pod-name`); each
//! finds its peers from the speaker Pods matching the labels, which exist as Pod objects on the
//! simulated nodes with the host network (KWOK gives them the node's address).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use test_support::netlab::{self, Frr};
use test_support::scenario::{self, Scenario};

use crate::implementation::{
    Implementation, NAMESPACE, SPEAKER_LABELS, find_process, speaker_pod, status_kib,
};

/// The nodes of every lab.
pub const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const SERVICE: &str = "198.18.100.10";
const WAIT: Duration = Duration::from_secs(60);

/// Starts a lab with `implementation`'s speakers, their Pod objects, and speakers restarted
/// with their pod names so that they find each other.
pub async fn lab(implementation: &Implementation, prefix: &str) -> Result<Scenario> {
    let mut lab = Scenario::start(prefix, &NODES, &implementation.speaker, &[]).await?;
    let pods: Api<Pod> = Api::namespaced(lab.client.clone(), NAMESPACE);
    crate::implementation::wait_default_account(&lab.client, NAMESPACE).await?;
    let (key, value) = SPEAKER_LABELS
        .split_once('=')
        .context("speaker labels are key=value")?;
    for node in NODES {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": speaker_pod(node), "namespace": NAMESPACE, "labels": {key: value}},
            "spec": {"nodeName": node, "hostNetwork": true,
                "containers": [{"name": "speaker", "image": "localhost/none"}],
                "tolerations": [{"operator": "Exists"}]},
        });
        pods.patch(
            &speaker_pod(node),
            &PatchParams::apply("compare").force(),
            &Patch::Apply(&pod),
        )
        .await
        .with_context(|| format!("cannot create the speaker pod of {node}"))?;
    }
    test_support::wait_for("the speaker pods' addresses", WAIT, || {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels(SPEAKER_LABELS))
                .await?;
            let with_ip = list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some())
                .count();
            Ok((with_ip == NODES.len()).then_some(()))
        }
    })
    .await?;
    for node in NODES {
        // Stopped first: a new speaker binds the same ports as the one it replaces.
        lab.speakers.kill(node)?;
        let flags = implementation.speaker_flags(node);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        lab.speakers.start_with(&lab.network, node, &flags)?;
    }
    Ok(lab)
}

/// How a trial stops the announcer.
#[derive(Clone, Copy)]
pub enum Stop {
    /// kill -9.
    Kill,
    /// SIGTERM (a graceful stop).
    Terminate,
}

async fn trial(
    implementation: &Implementation,
    lab: &mut Scenario,
    stop: Stop,
) -> Result<Duration> {
    let ip: IpAddr = SERVICE.parse()?;
    let winner = scenario::expected_winner(SERVICE, &NODES, &NODES);
    netlab::first_reply_from(&lab.network, ip, &winner, Instant::now(), WAIT)?;
    let survivors: Vec<&str> = NODES.iter().copied().filter(|n| *n != winner).collect();
    let next = scenario::expected_winner(SERVICE, &NODES, &survivors);
    let started = Instant::now();
    match stop {
        Stop::Kill => lab.speakers.kill(&winner)?,
        Stop::Terminate => lab.speakers.terminate(&winner)?,
    }
    let took = netlab::first_reply_from(&lab.network, ip, &next, started, WAIT)
        .with_context(|| format!("failover from {winner} to {next}"))?;
    let flags = implementation.speaker_flags(&winner);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    lab.speakers.start_with(&lab.network, &winner, &flags)?;
    netlab::first_reply_from(&lab.network, ip, &winner, Instant::now(), WAIT)
        .with_context(|| format!("the address did not return to {winner}"))?;
    Ok(took)
}

/// What the Layer 2 runs measured.
#[derive(Clone, Debug, Default)]
pub struct Layer2Run {
    /// Failover after kill -9, one sample per trial.
    pub kill: Vec<Duration>,
    /// Failover after SIGTERM.
    pub term: Vec<Duration>,
    /// The largest speaker RSS with the configuration and one Service, bytes.
    pub rss_rest: u64,
    /// The largest speaker RSS with 1,000 more Services announced, bytes.
    pub rss_loaded: u64,
}

/// The largest resident memory among the speakers now.
fn speaker_rss(implementation: &Implementation) -> Result<u64> {
    let mut most = 0;
    for node in NODES {
        let pid = find_process(&implementation.speaker, "--node-name", node)
            .with_context(|| format!("no speaker process for {node}"))?;
        most = most.max(status_kib(pid, "VmRSS:").unwrap_or(0) * 1024);
    }
    Ok(most)
}

async fn l2_status_count(client: &kube::Client) -> Result<usize> {
    let resource = kube::discovery::ApiResource {
        group: "metallb.io".into(),
        version: "v1beta1".into(),
        api_version: "metallb.io/v1beta1".into(),
        kind: "ServiceL2Status".into(),
        plural: "servicel2statuses".into(),
    };
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), NAMESPACE, &resource);
    Ok(api.list_metadata(&ListParams::default()).await?.items.len())
}

/// Failover trials (`trials` of each stop, none when 0), then the speakers' memory at rest and
/// with `loaded` announced Services (skipped when 0).
pub async fn layer2(
    implementation: &Implementation,
    trials: usize,
    loaded: usize,
) -> Result<Layer2Run> {
    let prefix = format!("mlcl{}", std::process::id() % 100_000);
    let mut lab = lab(implementation, &prefix).await?;
    scenario::apply_metallb(
        &lab.client,
        NAMESPACE,
        "IPAddressPool",
        "ipaddresspools",
        "bench",
        json!({"addresses": [netlab::POOL_V4, "198.18.112.0/22"]}),
    )
    .await?;
    scenario::apply_metallb(
        &lab.client,
        NAMESPACE,
        "L2Advertisement",
        "l2advertisements",
        "bench",
        json!({}),
    )
    .await?;
    scenario::lb_service(&lab.client, "default", "web", &[SERVICE], false).await?;
    let endpoints = lab.endpoints_on(&NODES);
    scenario::endpoints(&lab.client, "default", "web", &endpoints).await?;
    let mut run = Layer2Run::default();
    let winner = scenario::expected_winner(SERVICE, &NODES, &NODES);
    netlab::first_reply_from(
        &lab.network,
        SERVICE.parse()?,
        &winner,
        Instant::now(),
        WAIT,
    )
    .with_context(|| format!("{}: the first announcement", implementation.name()))?;
    for (stop, samples) in [
        (Stop::Kill, &mut run.kill),
        (Stop::Terminate, &mut run.term),
    ] {
        for _ in 0..trials {
            match trial(implementation, &mut lab, stop).await {
                Ok(took) => samples.push(took),
                Err(err) => bail!(
                    "{}: {err:#}\n{}",
                    implementation.name(),
                    lab.speakers.diagnostics(&lab.network)
                ),
            }
        }
    }
    // At rest: settled for a few seconds with the configuration and one Service.
    tokio::time::sleep(Duration::from_secs(5)).await;
    run.rss_rest = speaker_rss(implementation)?;
    if loaded == 0 {
        return Ok(run);
    }
    let base = l2_status_count(&lab.client).await?;
    for i in 0..loaded {
        let name = format!("load{i}");
        let ip = format!("198.18.{}.{}", 112 + i / 256, i % 256);
        scenario::endpoints(&lab.client, "default", &name, &endpoints).await?;
        scenario::lb_service(&lab.client, "default", &name, &[&ip], false).await?;
    }
    test_support::wait_for(
        "every loaded Service announced (ServiceL2Status)",
        Duration::from_secs(600),
        || {
            let client = lab.client.clone();
            async move { Ok((l2_status_count(&client).await? >= base + loaded).then_some(())) }
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    run.rss_loaded = speaker_rss(implementation)?;
    Ok(run)
}

/// Service address to route in FRR from all three speakers, `trials` Services.
pub async fn bgp(implementation: &Implementation, trials: usize) -> Result<Vec<Duration>> {
    let prefix = format!("mlcb{}", std::process::id() % 100_000);
    let lab = lab(implementation, &prefix).await?;
    let frr = Frr::start(&lab.network.client.netns, &netlab::frr_config(&lab.network))?;
    scenario::apply_metallb(
        &lab.client,
        NAMESPACE,
        "IPAddressPool",
        "ipaddresspools",
        "bench",
        json!({"addresses": [netlab::POOL_V4]}),
    )
    .await?;
    let peer = json!({
        "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
        "metadata": {"name": "router", "namespace": NAMESPACE},
        "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": lab.network.client.ipv4.to_string()},
    });
    Api::<metallb_api::BGPPeer>::namespaced(lab.client.clone(), NAMESPACE)
        .patch(
            "router",
            &PatchParams::apply("compare").force(),
            &Patch::Apply(&peer),
        )
        .await?;
    scenario::apply_metallb(
        &lab.client,
        NAMESPACE,
        "BGPAdvertisement",
        "bgpadvertisements",
        "bench",
        json!({}),
    )
    .await?;
    let endpoints = lab.endpoints_on(&NODES);
    // The first Service also waits for the sessions to come up: not timed.
    let mut samples = Vec::new();
    for i in 0..=trials {
        let name = format!("web{i}");
        let ip = format!("198.18.100.{}", 10 + i);
        scenario::endpoints(&lab.client, "default", &name, &endpoints).await?;
        let started = Instant::now();
        scenario::lb_service(&lab.client, "default", &name, &[&ip], false).await?;
        let route = format!("{ip}/32");
        while frr.paths(&route)?.len() < NODES.len() {
            if started.elapsed() > Duration::from_secs(180) {
                bail!(
                    "{}: FRR never learned {route} from every speaker:\n{}\n{}",
                    implementation.name(),
                    frr.vtysh("show bgp summary").unwrap_or_default(),
                    lab.speakers.diagnostics(&lab.network)
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if i > 0 {
            samples.push(started.elapsed());
        }
    }
    Ok(samples)
}
