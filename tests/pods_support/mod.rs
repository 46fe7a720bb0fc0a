//! Real nodes (containerd, kubelet and kube-proxy in network namespaces) with the charm's
//! images imported, and the packed charm deployed on them through `juju-sim`: what the real-pod
//! tests share.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use metallb_api::ServiceL2Status;
use serde_json::{Value, json};
use test_support::netlab::{self, Network, StopOnDrop};
use test_support::scenario::{self, NetCluster, NodeImage, RealNodes};
use test_support::wait_for;

pub const NODES: [&str; 3] = ["pod-node-1", "pod-node-2", "pod-node-3"];
pub const NAMESPACE: &str = "metallb-system";
pub const IPRANGE: &str = "198.18.100.240-198.18.100.250";
pub const CONTROLLER_REPO: &str = "localhost/metallb-rs/controller";
pub const SPEAKER_REPO: &str = "localhost/metallb-rs/speaker";
pub const WAIT: Duration = Duration::from_secs(120);

pub fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{name} is not set: run `cargo xtask test`"))
}

pub fn juju_sim_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("juju-sim")
}

/// Everything of one scenario; dropped in field order (the deploy's files, nodes, cluster,
/// network).
pub struct PodLab {
    pub dir: tempfile::TempDir,
    pub client: Client,
    pub kubeconfig: PathBuf,
    _http: Vec<StopOnDrop>,
    pub nodes: RealNodes,
    pub cluster: NetCluster,
    pub network: Network,
}

impl PodLab {
    /// Starts the network (namespaces named `<prefix><pid>-...`), the control plane and three
    /// real nodes with our images and `extra` imported.
    pub async fn start(prefix: &str, extra: &[NodeImage]) -> Result<Self> {
        let prefix = format!("{prefix}{}", std::process::id() % 10_000);
        let network = Network::create(&prefix, &NODES)?;
        let cluster = NetCluster::start(&network)?;
        let client = cluster.client().await?;
        let images = env_path("METALLB_RS_IMAGES_DIR");
        let started = Instant::now();
        let nodes = RealNodes::start(
            &network,
            &cluster,
            &[
                NodeImage::new(images.join("controller.oci.tar"), CONTROLLER_REPO),
                NodeImage::new(images.join("speaker.oci.tar"), SPEAKER_REPO),
            ]
            .into_iter()
            .chain(extra.iter().cloned())
            .collect::<Vec<_>>(),
        )?;
        nodes.wait_ready(&client, WAIT).await?;
        println!(
            "three real nodes Ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let http = network
            .nodes
            .iter()
            .map(|node| netlab::serve_http(&node.netns, 80, &node.name))
            .collect::<Result<Vec<_>>>()?;
        let dir = tempfile::tempdir()?;
        let charm = dir.path().join("charm");
        let file = env_path("METALLB_RS_CHARM_FILE");
        zip::ZipArchive::new(std::fs::File::open(&file)?)?
            .extract(&charm)
            .context("cannot unpack the charm")?;
        Ok(PodLab {
            kubeconfig: cluster.local_kubeconfig.clone(),
            dir,
            client,
            _http: http,
            nodes,
            cluster,
            network,
        })
    }

    pub fn charm(&self) -> String {
        self.dir.path().join("charm").display().to_string()
    }

    pub fn sim(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(juju_sim_binary())
            .arg("--state")
            .arg(self.dir.path().join("juju-sim"))
            .args(args)
            .output()
            .context("cannot run juju-sim (build it: cargo build -p juju-rs-ops)")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ensure!(
            output.status.success(),
            "juju-sim {} failed:\n{text}",
            args.join(" ")
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Our images as `juju-sim` resource arguments.
    fn our_resources() -> [String; 4] {
        [
            "--resource".into(),
            format!("controller-image={CONTROLLER_REPO}:{}", scenario::IMAGE_TAG),
            "--resource".into(),
            format!("speaker-image={SPEAKER_REPO}:{}", scenario::IMAGE_TAG),
        ]
    }

    /// Deploys `charm` (a charm directory) trusted, with `args` (e.g. `--config k=v`).
    pub fn deploy(&self, charm: &str, args: &[&str]) -> Result<String> {
        let kubeconfig = self.kubeconfig.display().to_string();
        let mut all = vec!["deploy", charm, "--trust", "--kubeconfig", &kubeconfig];
        all.extend(args);
        self.sim(&all)
    }

    /// Deploys the packed charm trusted, with our images and `config` (`key=value` items).
    pub fn deploy_charm(&self, config: &[&str]) -> Result<String> {
        let resources = Self::our_resources();
        let mut args: Vec<&str> = resources.iter().map(String::as_str).collect();
        for item in config {
            args.extend(["--config", item]);
        }
        self.deploy(&self.charm(), &args)
    }

    /// Refreshes the application to the packed charm with our images.
    pub fn refresh_to_charm(&self) -> Result<String> {
        let charm = self.charm();
        let resources = Self::our_resources();
        let mut args = vec!["refresh", charm.as_str()];
        args.extend(resources.iter().map(String::as_str));
        self.sim(&args)
    }

    /// Fails unless the charm is blocked, asking the operator to adopt; prints what it says.
    pub fn expect_adopt_asked(&self, after: &str) -> Result<()> {
        let (status, message) = self.status()?;
        ensure!(
            status == "blocked" && message.contains("adopt"),
            "{after}, the charm says {status}: {message}"
        );
        println!("{after}: {status}: {message}");
        Ok(())
    }

    /// Runs `adopt` on the leader; prints and returns its results (JSON text).
    pub fn adopt(&self) -> Result<String> {
        let out: Value = serde_json::from_str(&self.sim(&["run", "adopt", "--format", "json"])?)?;
        let results = out["metallb/0"]["results"].to_string();
        println!("adopt: {results}");
        Ok(results)
    }

    /// Imports image archives from `dir` into every node: (archive, repository, reference).
    pub fn import_images(&self, dir: &Path, images: &[(&str, &str, &str)]) -> Result<()> {
        for (archive, repository, reference) in images {
            self.nodes
                .import(&dir.join(archive), repository, Some(reference))
                .with_context(|| format!("cannot import {archive} (run `cargo xtask test`)"))?;
        }
        Ok(())
    }

    /// The unit's workload status (current, message).
    pub fn status(&self) -> Result<(String, String)> {
        let s: Value = serde_json::from_str(&self.sim(&["status", "--format", "json"])?)?;
        let w = &s["applications"]["metallb"]["units"]["metallb/0"]["workload-status"];
        Ok((
            w["current"].as_str().unwrap_or_default().into(),
            w["message"].as_str().unwrap_or_default().into(),
        ))
    }

    /// Fires update-status until the unit's status is `want`; returns its message.
    pub async fn wait_status(&self, want: &str) -> Result<String> {
        wait_for(&format!("the charm to be {want}"), WAIT, || async {
            self.sim(&["update-status"])?;
            match self.status()? {
                (status, message) if status == want => Ok(Some(message)),
                (status, message) => bail!("still {status}: {message}"),
            }
        })
        .await
    }

    pub fn kubectl(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(self.cluster.cluster.kubectl_path())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .context("cannot run kubectl")?;
        ensure!(
            output.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    pub fn diagnostics(&self) -> String {
        let pods = self
            .kubectl(&["get", "pods", "-A", "-o", "wide"])
            .unwrap_or_else(|e| e.to_string());
        let events = self
            .kubectl(&["get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp"])
            .unwrap_or_else(|e| e.to_string());
        let mut logs = String::new();
        for line in pods.lines().filter(|l| l.starts_with(NAMESPACE)) {
            if let Some(pod) = line.split_whitespace().nth(1) {
                let text = self
                    .kubectl(&["logs", "-n", NAMESPACE, pod, "--tail=15"])
                    .unwrap_or_else(|e| e.to_string());
                logs.push_str(&format!("--- kubectl logs {pod} ---\n{text}\n"));
            }
        }
        let charm_log = self
            .sim(&["debug-log"])
            .map(|log| {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(40)..].join("\n")
            })
            .unwrap_or_else(|e| e.to_string());
        format!(
            "pods:\n{pods}\nevents:\n{events}\n{logs}--- juju-sim debug-log (last 40 lines) ---\n{charm_log}\n{}",
            self.nodes.diagnostics()
        )
    }

    pub fn mac_of(&self, node: &str) -> String {
        self.network
            .node(node)
            .map(|n| n.mac.to_lowercase())
            .unwrap_or_default()
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Waits until the controller Deployment is available and every wanted speaker ready, all
    /// with images `tag`; returns the pods.
    pub async fn wait_workloads(&self, tag: &str, speakers: usize) -> Result<Vec<Pod>> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), NAMESPACE);
        let daemonsets: Api<DaemonSet> = Api::namespaced(self.client.clone(), NAMESPACE);
        wait_for(
            &format!("the controller available and {speakers} speakers ready on tag {tag}"),
            WAIT,
            || async {
                let d = deployments.get("controller").await?;
                let ds = daemonsets.get("speaker").await?;
                let dstatus = d.status.unwrap_or_default();
                let dsstatus = ds.status.unwrap_or_default();
                let available = dstatus.available_replicas == Some(1)
                    && dstatus.updated_replicas == Some(1)
                    && dstatus.replicas == Some(1);
                let speakers_ready = dsstatus.number_ready == speakers as i32
                    && dsstatus.updated_number_scheduled == Some(speakers as i32)
                    && dsstatus.desired_number_scheduled == speakers as i32;
                if !(available && speakers_ready) {
                    return Ok(None);
                }
                let pods = self.pods().list(&ListParams::default()).await?.items;
                let all_on_tag = pods.iter().all(|p| {
                    p.spec.as_ref().is_some_and(|s| {
                        s.containers.iter().all(|c| {
                            c.image
                                .as_deref()
                                .is_some_and(|i| i.ends_with(&format!(":{tag}")))
                        })
                    })
                });
                Ok((all_on_tag && pods.len() == speakers + 1).then_some(pods))
            },
        )
        .await
    }

    /// The ServiceL2Status node of Service `default/name`.
    pub async fn announcer(&self, name: &str, not: Option<&str>) -> Result<String> {
        let statuses: Api<ServiceL2Status> = Api::namespaced(self.client.clone(), NAMESPACE);
        wait_for(
            &format!("a ServiceL2Status of default/{name}"),
            WAIT,
            || async {
                let list = statuses.list(&ListParams::default()).await?;
                Ok(list
                    .items
                    .into_iter()
                    .filter_map(|s| s.status)
                    .filter(|s| s.service_name.as_deref() == Some(name))
                    .filter_map(|s| s.node)
                    .find(|n| Some(n.as_str()) != not))
            },
        )
        .await
    }
}

/// Creates `default/<name>`, a LoadBalancer Service (externalTrafficPolicy Local, so a node
/// answers with its own name) whose endpoints are the HTTP servers on the nodes; returns its
/// address once the controller pod has assigned one.
pub async fn service(lab: &PodLab, name: &str) -> Result<String> {
    let services: Api<Service> = Api::namespaced(lab.client.clone(), "default");
    let body: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                 "ports": [{"port": 80, "protocol": "TCP"}]},
    }))?;
    services
        .patch(
            name,
            &PatchParams::apply("real-pods").force(),
            &Patch::Apply(&body),
        )
        .await?;
    let endpoints: Vec<(&str, std::net::Ipv4Addr)> = lab
        .network
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.ipv4))
        .collect();
    scenario::endpoints(&lab.client, "default", name, &endpoints).await?;
    wait_for(&format!("an address for default/{name}"), WAIT, || async {
        Ok(test_support::ingress_ip(services.get(name).await?))
    })
    .await
}

/// Whether a pod's container is running.
pub fn running(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.container_statuses.as_ref().is_some_and(|c| {
            c.iter()
                .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
        })
    })
}

pub fn container_image(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

pub fn component(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("component"))
        .map(String::as_str)
        .unwrap_or_default()
}

/// Applies `yaml` with `kubectl apply --server-side`.
pub fn apply(lab: &PodLab, yaml: &str, name: &str) -> Result<()> {
    let file = lab.dir.path().join(name);
    std::fs::write(&file, yaml)?;
    lab.kubectl(&["apply", "--server-side", "-f", &file.display().to_string()])?;
    Ok(())
}

/// The node whose MAC answers ARP for `ip` from the client (one answer expected).
pub fn arp_owner(lab: &PodLab, ip: &str) -> Result<String> {
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

/// The addresses of Services `default/<name>` (empty when none yet).
pub async fn addresses(lab: &PodLab, names: &[&str]) -> Result<BTreeMap<String, String>> {
    let services: Api<Service> = Api::namespaced(lab.client.clone(), "default");
    let mut out = BTreeMap::new();
    for name in names {
        let ip = test_support::ingress_ip(services.get(name).await?).unwrap_or_default();
        out.insert(name.to_string(), ip);
    }
    Ok(out)
}

/// A switch from another installation to the charm's workloads, under a polling client.
pub struct Switch<'a> {
    /// The Service the client polls.
    pub polled: &'a str,
    /// Every Service's address before the switch.
    pub before: &'a BTreeMap<String, String>,
    /// When the switch began.
    pub started: Instant,
    /// What the switch did (for the report).
    pub what: &'a str,
    /// The node that announced the polled Service before.
    pub old_owner: &'a str,
}

/// Ends a switch: waits until the charm is active, our speaker answers ARP for the polled
/// Service and the client is served through it, gives a new Service an address from the
/// charm's pool, stops `probe` and prints what it saw (`bench:` line). Fails if a Service of
/// `switch.before` moved or the client was never answered.
pub async fn finish_switch(
    lab: &PodLab,
    probe: netlab::TrafficProbe,
    switch: &Switch<'_>,
) -> Result<netlab::TrafficReport> {
    let message = lab.wait_status("active").await?;
    println!("the charm says active: {message}");
    let ip = switch.before[switch.polled].clone();
    let ours = lab.announcer(switch.polled, None).await?;
    let owner = wait_for("our speaker to answer ARP", WAIT, || async {
        Ok(arp_owner(lab, &ip).ok().filter(|o| *o == ours))
    })
    .await?;
    wait_for("the client to be served after the switch", WAIT, || async {
        Ok(netlab::curl(&lab.network, &ip).ok().filter(|b| *b == owner))
    })
    .await?;
    let new = service(lab, "web-new").await?;
    println!("a new Service got {new} from the charm's pool");
    let report = probe.stop()?;
    println!(
        "traffic during the switch ({}, {:.1} s): {} requests answered, {} failed, longest gap \
         {} ms (began {:.1} s in), served by {:?}",
        switch.what,
        switch.started.elapsed().as_secs_f64(),
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
    let names: Vec<&str> = switch.before.keys().map(String::as_str).collect();
    let after = addresses(lab, &names).await?;
    ensure!(
        &after == switch.before,
        "addresses moved: before {:?}, after {after:?}",
        switch.before
    );
    println!(
        "every Service kept its address; {ip} now announced by our speaker on {owner} (before: {})",
        switch.old_owner
    );
    Ok(report)
}

/// Gives Service `default/name` a core `Endpoints` object naming every node's HTTP server, next
/// to the EndpointSlice [`service`] writes: what older MetalLB releases read (v0.13 looks for
/// `discovery.k8s.io/v1beta1` slices, which Kubernetes no longer serves, and falls back to
/// Endpoints), as a real cluster's endpoints controller would give them.
pub async fn legacy_endpoints(lab: &PodLab, name: &str) -> Result<()> {
    let addresses: Vec<Value> = lab
        .network
        .nodes
        .iter()
        .map(|n| json!({"ip": n.ipv4.to_string(), "nodeName": n.name}))
        .collect();
    let body: k8s_openapi::api::core::v1::Endpoints = serde_json::from_value(json!({
        "metadata": {"name": name},
        "subsets": [{"addresses": addresses, "ports": [{"port": 80, "protocol": "TCP"}]}],
    }))?;
    Api::<k8s_openapi::api::core::v1::Endpoints>::namespaced(lab.client.clone(), "default")
        .patch(
            name,
            &PatchParams::apply("real-pods").force(),
            &Patch::Apply(&body),
        )
        .await?;
    Ok(())
}
