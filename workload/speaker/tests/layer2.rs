//! The speaker on a real network: three node namespaces and a client on one bridge, the
//! control plane in its own namespace, real `arping`, `ndisc6` and HTTP clients.
//!
//! Needs root (network namespaces) and the control plane (`cargo xtask test` provides both).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use metallb_api::ServiceL2Status;
use metallb_core::l2::election::{
    Advertisement, ClusterView, NodeView, ServiceView, ranked_candidates,
};
use serde_json::json;
use test_support::netlab::{self, NetCluster, Network};
use test_support::{create_nodes, install_crds, spawn_tied, wait_for};

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const SERVICE_V4: &str = "198.18.100.10";
const SERVICE_V6: &str = "2001:db8::64:a";
const NOT_ANNOUNCED: &str = "198.18.100.99";
const WAIT: Duration = Duration::from_secs(30);

/// The test network, the control plane and the speakers.
struct Lab {
    network: Network,
    cluster: NetCluster,
    client: Client,
    namespace: String,
    logs: tempfile::TempDir,
    speakers: Vec<(String, Child)>,
    _http: Vec<netlab::StopOnDrop>,
}

impl Lab {
    async fn start() -> Result<Self> {
        let prefix = format!("ml2t{}", std::process::id() % 100_000);
        let network = Network::create(&prefix, &NODES)?;
        let cluster = NetCluster::start(&network)?;
        let client = cluster.client().await?;
        install_crds(&client, metallb_api::crds()).await?;
        let nodes: Vec<(String, String)> = network
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.ipv4.to_string()))
            .collect();
        let refs: Vec<(&str, &str)> = nodes
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        create_nodes(&client, &refs, &[]).await?;
        let namespace = "metallb-system".to_string();
        Api::<Namespace>::all(client.clone())
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": namespace}}))?,
            )
            .await?;
        let mut http = Vec::new();
        for node in &network.nodes {
            http.push(netlab::serve_http(&node.netns, 80, &node.name)?);
        }
        let logs = tempfile::tempdir()?;
        std::fs::write(logs.path().join("secretkey"), "c2VjcmV0LWtleS1mb3ItdGVzdHM")?;
        let mut lab = Lab {
            network,
            cluster,
            client,
            namespace,
            logs,
            speakers: Vec::new(),
            _http: http,
        };
        for name in NODES {
            lab.start_speaker(name)?;
        }
        Ok(lab)
    }

    fn start_speaker(&mut self, name: &str) -> Result<()> {
        let node = self.network.node(name).context("no such node")?.clone();
        let log = std::fs::File::create(self.logs.path().join(format!("{name}.log")))?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &node.netns])
            .arg(env!("CARGO_BIN_EXE_metallb-speaker"))
            .args(["--node-name", name, "--namespace", &self.namespace])
            .arg("--kubeconfig")
            .arg(self.cluster.cluster.kubeconfig())
            .args([
                "--ml-bindaddr",
                &node.ipv4.to_string(),
                "--ml-labels",
                "app=metallb-speaker-test",
            ])
            .arg("--ml-secret-key-path")
            .arg(self.logs.path())
            .args(["--log-level", "debug"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = spawn_tied(&mut cmd)?;
        self.speakers.retain(|(n, _)| n != name);
        self.speakers.push((name.to_string(), child));
        Ok(())
    }

    fn speaker(&mut self, name: &str) -> Result<&mut Child> {
        self.speakers
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .context("no such speaker")
    }

    fn mac_of(&self, name: &str) -> String {
        self.network
            .node(name)
            .map(|n| n.mac.clone())
            .unwrap_or_default()
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for name in NODES {
            let text = std::fs::read_to_string(self.logs.path().join(format!("{name}.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            out.push_str(&format!("--- {name} ---\n"));
            if let Some(node) = self.network.node(name) {
                let metrics = netlab::http_get_from(
                    &node.netns,
                    "127.0.0.1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
                    7472,
                    "/metrics",
                    Duration::from_secs(1),
                )
                .map(|m| {
                    m.lines()
                        .filter(|l| !l.starts_with('#'))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_else(|e| format!("(no metrics: {e})"));
                out.push_str(&format!("metrics:\n{metrics}\n"));
            }
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// The node that should announce `ip` when `alive` speakers run (the election, recomputed).
fn expected_winner(ip: &str, alive: &[&str]) -> String {
    let nodes: Vec<NodeView> = NODES
        .iter()
        .map(|n| NodeView {
            name: n.to_string(),
            ..Default::default()
        })
        .collect();
    let members: BTreeSet<String> = alive.iter().map(|s| s.to_string()).collect();
    let service = ServiceView {
        first_ip: ip.parse().ok(),
        has_serving_endpoint: true,
        ..Default::default()
    };
    let ranked = ranked_candidates(
        &service,
        &[Advertisement::default()],
        ClusterView {
            nodes: &nodes,
            members: Some(&members),
            ignore_exclude_label: false,
        },
    );
    ranked.into_iter().next().unwrap_or_default()
}

async fn apply(
    client: &Client,
    namespace: &str,
    kind_api: &str,
    plural: &str,
    body: serde_json::Value,
) -> Result<()> {
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (group, version) = kind_api.split_once('/').unwrap_or(("", kind_api));
    let resource = kube::discovery::ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: kind_api.into(),
        kind: body["kind"].as_str().unwrap_or_default().into(),
        plural: plural.into(),
    };
    let api: Api<kube::core::DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource);
    api.patch(
        &name,
        &PatchParams::apply("layer2-test").force(),
        &Patch::Apply(&body),
    )
    .await
    .with_context(|| format!("cannot apply {plural}/{name}"))?;
    Ok(())
}

/// A selectorless LoadBalancer Service with the given addresses and endpoints on `endpoint_nodes`.
async fn create_service(
    lab: &Lab,
    name: &str,
    ips: &[&str],
    endpoint_nodes: &[&str],
    local: bool,
) -> Result<()> {
    let ns = "default";
    let services: Api<Service> = Api::namespaced(lab.client.clone(), ns);
    let families: Vec<&str> = ips
        .iter()
        .map(|ip| if ip.contains(':') { "IPv6" } else { "IPv4" })
        .collect();
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "type": "LoadBalancer",
            "ipFamilyPolicy": if ips.len() > 1 { "PreferDualStack" } else { "SingleStack" },
            "ipFamilies": families,
            "externalTrafficPolicy": if local { "Local" } else { "Cluster" },
            "allocateLoadBalancerNodePorts": false,
            "ports": [{"port": 80, "protocol": "TCP"}],
        }
    }))?;
    services
        .patch(
            name,
            &PatchParams::apply("layer2-test").force(),
            &Patch::Apply(&service),
        )
        .await?;
    let ingress: Vec<serde_json::Value> = ips
        .iter()
        .map(|ip| json!({"ip": ip, "ipMode": "VIP"}))
        .collect();
    services
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"loadBalancer": {"ingress": ingress}}})),
        )
        .await?;
    set_endpoints(lab, name, endpoint_nodes).await
}

async fn set_endpoints(lab: &Lab, service: &str, nodes: &[&str]) -> Result<()> {
    let slices: Api<EndpointSlice> = Api::namespaced(lab.client.clone(), "default");
    let endpoints: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            let ip = lab.network.node(n).map(|h| h.ipv4.to_string()).unwrap_or_default();
            json!({"addresses": [ip], "conditions": {"ready": true, "serving": true}, "nodeName": n})
        })
        .collect();
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": format!("{service}-1"), "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"port": 80, "protocol": "TCP"}],
    }))?;
    slices
        .patch(
            &format!("{service}-1"),
            &PatchParams::apply("layer2-test").force(),
            &Patch::Apply(&slice),
        )
        .await?;
    Ok(())
}

/// MACs that answered `arping` for `ip` from the client (one line per reply).
fn arping(lab: &Lab, ip: &str) -> Result<Vec<String>> {
    let output = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.network.client.netns,
            "arping",
            "-c",
            "3",
            "-W",
            "0.2",
            "-r",
            "-i",
            "eth0",
            ip,
        ])
        .output()
        .context("cannot run arping (is the arping package installed?)")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect())
}

/// MACs in `ndisc6` answers for `ip` from the client.
fn ndisc6(lab: &Lab, ip: &str) -> Result<Vec<String>> {
    let output = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.network.client.netns,
            "ndisc6",
            "-m",
            "-n",
            "-r",
            "2",
            "-w",
            "500",
            ip,
            "eth0",
        ])
        .output()
        .context("cannot run ndisc6 (is the ndisc6 package installed?)")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once("Target link-layer address:"))
        .map(|(_, mac)| mac.trim().to_lowercase())
        .collect())
}

/// `curl` from the client to `ip`: the body (the serving node's name).
fn curl(lab: &Lab, ip: &str) -> Result<String> {
    let url = if ip.contains(':') {
        format!("http://[{ip}]/")
    } else {
        format!("http://{ip}/")
    };
    let output = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.network.client.netns,
            "curl",
            "-sS",
            "-g",
            "--max-time",
            "2",
            &url,
        ])
        .output()
        .context("cannot run curl")?;
    if !output.status.success() {
        bail!(
            "curl {url}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

async fn status_node(lab: &Lab, service: &str) -> Result<Vec<String>> {
    let api: Api<ServiceL2Status> = Api::namespaced(lab.client.clone(), &lab.namespace);
    let list = api.list(&Default::default()).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|s| s.status.as_ref().and_then(|st| st.service_name.as_deref()) == Some(service))
        .filter_map(|s| s.status.and_then(|st| st.node))
        .collect())
}

async fn wait_announcer(lab: &Lab, service: &str, ip: &str, node: &str) -> Result<()> {
    let mac = lab.mac_of(node);
    wait_for(&format!("{node} to answer ARP for {ip}"), WAIT, || async {
        let macs = arping(lab, ip)?;
        Ok((!macs.is_empty() && macs.iter().all(|m| *m == mac)).then_some(()))
    })
    .await?;
    wait_for(
        &format!("ServiceL2Status of {service} to name {node}"),
        WAIT,
        || async {
            let nodes = status_node(lab, service).await?;
            Ok((nodes == [node.to_string()]).then_some(()))
        },
    )
    .await
}

/// Polls HTTP from the client until a reply comes from `node`; returns the time it took.
fn first_reply_from(lab: &Lab, ip: &str, node: &str, since: Instant) -> Result<Duration> {
    let ip: IpAddr = ip.parse()?;
    let node = node.to_string();
    netlab::in_netns(&lab.network.client.netns, move || -> Result<Duration> {
        loop {
            if let Ok(body) = netlab::http_get((ip, 80).into(), Duration::from_millis(200))
                && body == node
            {
                return Ok(since.elapsed());
            }
            if since.elapsed() > WAIT {
                bail!("no reply from {node} within {WAIT:?}");
            }
        }
    })?
}

async fn scenario(lab: &mut Lab) -> Result<()> {
    let ns = lab.namespace.clone();
    apply(
        &lab.client,
        &ns,
        "metallb.io/v1beta1",
        "ipaddresspools",
        json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "lab", "namespace": ns},
            "spec": {"addresses": [netlab::POOL_V4, netlab::POOL_V6]},
        }),
    )
    .await?;
    apply(
        &lab.client,
        &ns,
        "metallb.io/v1beta1",
        "l2advertisements",
        json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
            "metadata": {"name": "lab", "namespace": ns}, "spec": {},
        }),
    )
    .await?;
    create_service(lab, "web", &[SERVICE_V4, SERVICE_V6], &NODES, false).await?;

    // Exactly one node answers, the elected one, for both families; curl reaches it.
    let winner = expected_winner(SERVICE_V4, &NODES);
    wait_announcer(lab, "web", SERVICE_V4, &winner).await?;
    // Every answer (solicited, or an unsolicited one of the announcement burst) is the winner's.
    let macs = ndisc6(lab, SERVICE_V6)?;
    let winner_mac = lab.mac_of(&winner);
    ensure!(
        !macs.is_empty() && macs.iter().all(|m| *m == winner_mac),
        "ndisc6 answers for {SERVICE_V6}: {macs:?}, expected only {winner} ({winner_mac})"
    );
    let body = curl(lab, SERVICE_V4)?;
    ensure!(
        body == winner,
        "curl {SERVICE_V4} reached {body}, expected {winner}"
    );
    let body = curl(lab, SERVICE_V6)?;
    ensure!(
        body == winner,
        "curl {SERVICE_V6} reached {body}, expected {winner}"
    );
    let macs = arping(lab, NOT_ANNOUNCED)?;
    ensure!(
        macs.is_empty(),
        "{NOT_ANNOUNCED} is not announced but got ARP answers from {macs:?}"
    );

    // kill -9 the announcer: the next node in the election order takes over.
    let survivors: Vec<&str> = NODES.iter().copied().filter(|n| *n != winner).collect();
    let second = expected_winner(SERVICE_V4, &survivors);
    let killed = Instant::now();
    lab.speaker(&winner)?.kill()?;
    let took = first_reply_from(lab, SERVICE_V4, &second, killed)?;
    eprintln!("failover after kill -9: {took:?} (from {winner} to {second})");
    wait_announcer(lab, "web", SERVICE_V4, &second).await?;

    // The killed speaker comes back: the address returns to it (hash order).
    lab.start_speaker(&winner)?;
    wait_announcer(lab, "web", SERVICE_V4, &winner).await?;

    // Graceful stop (SIGTERM): the speaker leaves the membership, the next one takes over.
    let pid = lab.speaker(&winner)?.id().to_string();
    let stopped = Instant::now();
    Command::new("kill").args(["-TERM", &pid]).status()?;
    let took = first_reply_from(lab, SERVICE_V4, &second, stopped)?;
    eprintln!("failover after SIGTERM: {took:?}");
    wait_announcer(lab, "web", SERVICE_V4, &second).await?;

    // externalTrafficPolicy: Local moves the announcement to a node with endpoints.
    let target = survivors
        .iter()
        .copied()
        .find(|n| *n != second)
        .context("two survivors")?;
    create_service(lab, "local", &["198.18.100.20"], &[target], true).await?;
    wait_announcer(lab, "local", "198.18.100.20", target).await?;
    set_endpoints(lab, "local", &[second.as_str()]).await?;
    wait_announcer(lab, "local", "198.18.100.20", &second).await?;
    Ok(())
}

#[tokio::test]
async fn layer2_announcement_failover_and_traffic_policy() {
    assert!(
        netlab::available(),
        "this test needs root and iproute2 (run it with `cargo xtask test`)"
    );
    let mut lab = Lab::start().await.expect("cannot start the test network");
    if let Err(err) = scenario(&mut lab).await {
        panic!("{err:#}\n\nspeaker logs:\n{}", lab.logs());
    }
}
