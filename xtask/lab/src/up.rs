//! `metallb-lab up`: the whole lab, step by step, with what each step did printed as it goes.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use metallb_api::ServiceL2Status;
use netlab::{Frr, Network};
use serde_json::json;
use test_support::scenario::{self, NodeImage, RealNodes, Scenario, Step};
use test_support::wait_for;

use crate::down::stop_and_clean;
use crate::sim::{indent, juju_sim};

/// The lab's nodes.
const NODES: [&str; 3] = ["lab-node-1", "lab-node-2", "lab-node-3"];
/// The charm's `iprange` in the lab (on-link on the lab network).
const IPRANGE: &str = "198.18.100.240-198.18.100.250";
/// The MetalLB namespace (the charm's default).
const NAMESPACE: &str = "metallb-system";
/// The repositories the workload images are imported as on the nodes.
const CONTROLLER_REPO: &str = "localhost/metallb-rs/controller";
/// See [`CONTROLLER_REPO`].
const SPEAKER_REPO: &str = "localhost/metallb-rs/speaker";
/// How long any one step may take.
const STEP: Duration = Duration::from_secs(120);

/// Options of `up`.
#[derive(Args)]
pub struct UpArgs {
    /// Directory with the built binaries (metallb-charm, juju-sim).
    #[arg(long)]
    bin_dir: PathBuf,
    /// Directory with the workload images (`cargo xtask images`: controller.oci.tar,
    /// speaker.oci.tar), imported into every node.
    #[arg(long, env = "METALLB_RS_IMAGES_DIR")]
    images_dir: PathBuf,
    /// The charm's source directory (metadata.yaml, config.yaml, actions.yaml).
    #[arg(long)]
    charm_src: PathBuf,
    /// Stop after showing the Service answering, instead of waiting for Ctrl-C (for tests).
    #[arg(long)]
    no_wait: bool,
}

fn step(n: u32, text: &str) {
    println!("\n==> [{n}/8] {text}");
}

/// Everything that must stay alive while the lab runs (FRR goes first, then the scenario).
struct Running {
    frr: Option<Frr>,
    scenario: Scenario,
}

fn charm_dir(args: &UpArgs, state: &Path) -> Result<PathBuf> {
    let dir = state.join("charm");
    std::fs::create_dir_all(&dir)?;
    for file in ["metadata.yaml", "config.yaml", "actions.yaml"] {
        std::fs::copy(args.charm_src.join(file), dir.join(file))
            .with_context(|| format!("cannot copy {file}"))?;
    }
    std::fs::copy(args.bin_dir.join("metallb-charm"), dir.join("dispatch"))
        .context("cannot copy the charm binary (build it first)")?;
    Ok(dir)
}

/// Creates `default/hello`: a LoadBalancer Service whose endpoints are the HTTP servers on the
/// three nodes.
async fn sample_service(client: &Client, network: &Network) -> Result<()> {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service = serde_json::from_value::<Service>(json!({
        "metadata": {"name": "hello"},
        "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false,
                 "ports": [{"port": 80, "protocol": "TCP"}]},
    }))?;
    services
        .patch(
            "hello",
            &PatchParams::apply("metallb-lab").force(),
            &Patch::Apply(&service),
        )
        .await
        .context("cannot create the sample Service")?;
    let endpoints: Vec<(&str, std::net::Ipv4Addr)> = network
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.ipv4))
        .collect();
    scenario::endpoints(client, "default", "hello", &endpoints).await
}

async fn external_ip(client: &Client) -> Result<String> {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    wait_for("an external IP for default/hello", STEP, || async {
        let service = services.get("hello").await?;
        Ok(service
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .and_then(|i| i.into_iter().find_map(|i| i.ip)))
    })
    .await
}

async fn announcer(client: &Client) -> Result<String> {
    let statuses: Api<ServiceL2Status> = Api::namespaced(client.clone(), NAMESPACE);
    wait_for("the ServiceL2Status of default/hello", STEP, || async {
        let list = statuses.list(&Default::default()).await?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|s| s.status)
            .find(|s| s.service_name.as_deref() == Some("hello"))
            .and_then(|s| s.node))
    })
    .await
}

fn run_in_client(network: &Network, args: &[&str]) -> Result<String> {
    let output = Command::new("ip")
        .args(["netns", "exec", &network.client.netns])
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", args[0]))?;
    if !output.status.success() {
        bail!(
            "`{}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What the lab shows (and records for `down`) after each step of the scenario.
fn show(
    done: Step<'_>,
    state: &Path,
    kubeconfig: &Path,
    images: &[NodeImage],
    started: &mut Instant,
) -> Result<()> {
    match done {
        Step::Network(network) => {
            for host in network.hosts() {
                println!(
                    "    {:<12} {:<14} {:<13} {}",
                    host.name, host.netns, host.ipv4, host.ipv6
                );
            }
            step(
                2,
                "Kubernetes control plane (kube-apiserver, etcd, controller-manager, scheduler) and three real nodes (containerd, kubelet, kube-proxy)",
            );
            *started = Instant::now();
        }
        Step::ControlPlane(cluster) => {
            // For `down` after a crash: a killed control plane leaves its state behind, and
            // the nodes' state needs the kcp that cleans it.
            std::fs::write(
                state.join(crate::down::CLUSTER_STATE),
                cluster.cluster.state_dir().as_os_str().as_encoded_bytes(),
            )?;
            std::fs::write(
                state.join(crate::down::KCP),
                cluster.cluster.kcp_path().as_os_str().as_encoded_bytes(),
            )?;
            std::fs::copy(&cluster.local_kubeconfig, kubeconfig)?;
            println!(
                "    control plane ready in {:.1} s at {} (from here: {})",
                started.elapsed().as_secs_f64(),
                cluster.cluster.server(),
                kubeconfig.display()
            );
            *started = Instant::now();
        }
        Step::Nodes(_) => {
            let references: Vec<String> = images.iter().map(NodeImage::reference).collect();
            println!(
                "    nodes {} Ready in {:.1} s (kubelet registered them with their namespace addresses); images {} imported (nothing is pulled)",
                NODES.join(", "),
                started.elapsed().as_secs_f64(),
                references.join(" and "),
            );
        }
        Step::Workloads => {
            println!("    an HTTP server on port 80 of every node answers with the node's name");
        }
    }
    Ok(())
}

async fn start(args: &UpArgs, state: &Path, prefix: &str) -> Result<Running> {
    let images = [
        NodeImage::new(args.images_dir.join("controller.oci.tar"), CONTROLLER_REPO),
        NodeImage::new(args.images_dir.join("speaker.oci.tar"), SPEAKER_REPO),
    ];
    let kubeconfig = state.join("kubeconfig");
    step(
        1,
        "test network: a bridge, the api, client and three node namespaces (198.18.0.0/16)",
    );
    let mut started = Instant::now();
    let scenario = Scenario::builder(prefix, &NODES)
        .real_nodes(
            images.to_vec(),
            Some(&state.join(crate::down::NODES_DIR)),
            STEP,
        )
        .http(|node| format!("hello from {}\n", node.name))
        .on_step(|done| show(done, state, &kubeconfig, &images, &mut started))
        .start()
        .await?;
    let (network, cluster, client) = (&scenario.network, &scenario.cluster, &scenario.client);
    let diagnostics = || {
        scenario
            .nodes
            .as_ref()
            .map(RealNodes::diagnostics)
            .unwrap_or_default()
    };

    let controller = format!("controller-image={}", images[0].reference());
    let speaker = format!("speaker-image={}", images[1].reference());
    step(
        3,
        &format!(
            "juju-sim deploy metallb --trust --resource {controller} --resource {speaker} --config iprange={IPRANGE}"
        ),
    );
    let charm = charm_dir(args, state)?;
    let charm_arg = charm.to_string_lossy().into_owned();
    let kubeconfig_arg = kubeconfig.to_string_lossy().into_owned();
    let iprange = format!("iprange={IPRANGE}");
    juju_sim(
        &args.bin_dir,
        state,
        &[
            "deploy",
            &charm_arg,
            "--trust",
            "--kubeconfig",
            &kubeconfig_arg,
            "--resource",
            &controller,
            "--resource",
            &speaker,
            "--config",
            &iprange,
        ],
    )?;
    print!("{}", indent(&juju_sim(&args.bin_dir, state, &["status"])?));

    step(
        4,
        "the charm's controller Deployment and speaker DaemonSet run as real pods; waiting for the charm to be active",
    );
    let started = Instant::now();
    let active = wait_for("the charm to report active", STEP, || async {
        juju_sim(&args.bin_dir, state, &["update-status"])?;
        let status = juju_sim(&args.bin_dir, state, &["status"])?;
        Ok(status.contains(" active ").then_some(status))
    })
    .await
    .map_err(|err| anyhow::anyhow!("{err:#}\n{}", diagnostics()))?;
    println!(
        "    active after {:.1} s, because the pods became ready:",
        started.elapsed().as_secs_f64()
    );
    print!("{}", indent(&active));
    let kubectl_pods = Command::new(cluster.cluster.kcp_path())
        .arg("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "pods", "-n", NAMESPACE, "-o", "wide"])
        .output()
        .context("cannot run kubectl")?;
    println!("    kubectl get pods -n {NAMESPACE} -o wide");
    print!("{}", indent(&String::from_utf8_lossy(&kubectl_pods.stdout)));
    step(
        5,
        "sample LoadBalancer Service default/hello (endpoints: the three nodes)",
    );
    sample_service(client, network).await?;
    let ip = external_ip(client).await?;
    println!("    external IP {ip} (assigned by the controller pod from the charm's pool)");
    let kubectl = Command::new(cluster.cluster.kcp_path())
        .arg("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "service", "hello", "-n", "default", "-o", "wide"])
        .output()
        .context("cannot run kubectl")?;
    print!("{}", indent(&String::from_utf8_lossy(&kubectl.stdout)));
    let node = announcer(client).await?;
    println!("    announced by {node} (ServiceL2Status)");

    step(6, &format!("from the client namespace: arping -c 3 {ip}"));
    let arping = run_in_client(network, &["arping", "-c", "3", "-i", "eth0", &ip])?;
    print!("{}", indent(&arping));
    let mac = network.node(&node).map(|n| n.mac.as_str()).unwrap_or("?");
    println!("    ({node} has MAC {mac})");

    step(7, &format!("from the client namespace: curl http://{ip}/"));
    let parsed: IpAddr = ip.parse()?;
    let url = format!("http://{parsed}/");
    // kube-proxy programs the address's rules a moment after the controller writes it; a
    // connection that arrives before keeps its conntrack entry (no DNAT) for all its retries,
    // so each attempt is a new connection.
    let started = Instant::now();
    let answer = wait_for("the Service to answer HTTP", STEP, || async {
        run_in_client(network, &["curl", "-sS", "--max-time", "2", &url]).map(Some)
    })
    .await?;
    print!("{}", indent(&answer));
    println!(
        "    (answered {:.1} s after the first try)",
        started.elapsed().as_secs_f64()
    );

    step(
        8,
        "BGP: FRR as the client's router, the charm's bgp-asn and bgp-peers set",
    );
    let frr = crate::bgp::show(&args.bin_dir, state, network, &ip, STEP).await?;

    println!("\n==> juju-sim status (after update-status)");
    let settled = wait_for("the charm to report active", STEP, || async {
        juju_sim(&args.bin_dir, state, &["update-status"])?;
        let status = juju_sim(&args.bin_dir, state, &["status"])?;
        Ok(status.contains(" active ").then_some(status))
    })
    .await;
    match settled {
        Ok(status) => print!("{}", indent(&status)),
        Err(err) => {
            println!("    {err:#}");
            print!("{}", indent(&juju_sim(&args.bin_dir, state, &["status"])?));
        }
    }
    Ok(Running { frr, scenario })
}

fn usage(state: &Path, bin_dir: &Path, running: &Running) {
    let kubectl = running
        .scenario
        .cluster
        .cluster
        .kubectl_path()
        .display()
        .to_string();
    let kcp = running
        .scenario
        .cluster
        .cluster
        .kcp_path()
        .display()
        .to_string();
    let sim = bin_dir.join("juju-sim").display().to_string();
    let juju_state = state.join("juju-sim");
    let client = &running.scenario.network.client.netns;
    println!(
        "\nThe lab is up. Meanwhile, in another terminal:
    {kcp} kubectl --kubeconfig {kc} get svc,nodes,ipaddresspools -A
    {sim} --state {js} status
    {sim} --state {js} config iprange=198.18.100.200-198.18.100.210
    {sim} --state {js} run metallb/0 list-allocations
    ip netns exec {client} curl http://<external-ip>/
    ip netns exec {client} arping -c 3 -i eth0 <external-ip>{vtysh}
(kubectl is also at {kubectl}: `kubectl logs -n {NAMESPACE} <pod>`.) Node logs are in {st}/nodes.
Ctrl-C stops the lab; `cargo xtask lab down` cleans up after a crash.",
        kc = state.join("kubeconfig").display(),
        js = juju_state.display(),
        st = state.display(),
        vtysh = running.frr.as_ref().map_or(String::new(), |frr| format!(
            "\n    ip netns exec {client} vtysh --vty_socket {} -c 'show ip bgp'",
            frr.vty_socket().display()
        )),
    );
}

/// `up`: replaces a running lab, starts a new one, and waits for Ctrl-C.
pub fn run(state: &Path, prefix: &str, args: UpArgs) -> Result<()> {
    if !netlab::available() {
        bail!("the lab needs root (network namespaces) and iproute2");
    }
    stop_and_clean(state, prefix);
    if state.exists() {
        std::fs::remove_dir_all(state)
            .with_context(|| format!("cannot clean {}", state.display()))?;
    }
    std::fs::create_dir_all(state).with_context(|| format!("cannot create {}", state.display()))?;
    std::fs::write(state.join("lab.pid"), std::process::id().to_string())?;
    // One thread: the processes the lab starts are tied to it (they die with the lab).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let running = start(&args, state, prefix).await?;
        usage(state, &args.bin_dir, &running);
        if !args.no_wait {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        println!("\n==> stopping the lab");
        drop(running);
        Ok::<(), anyhow::Error>(())
    });
    let _ = std::fs::remove_file(state.join("lab.pid"));
    for ns in netlab::namespaces_with_prefix(&format!("{prefix}-")) {
        netlab::remove_namespace(&ns);
    }
    result
}
