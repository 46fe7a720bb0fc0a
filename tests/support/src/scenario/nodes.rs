//! Real nodes: in each node namespace of a [`Network`], `kcp node` runs containerd, a kubelet
//! and kube-proxy of the control plane's release, joined to a [`NetCluster`] in the api
//! namespace. Pods run for real (runc), their images imported from our own OCI archives (nothing
//! is ever pulled), their network a CNI bridge per node with the node as gateway.
//!
//! Everything a node creates (processes, pods, cgroups, mounts, state) goes when [`RealNodes`]
//! is dropped, also after a failure: each `kcp node` stops its node and cleans up when asked to,
//! when this process exits, or else `kcp node-clean` does it.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::Client;

use netlab::{Network, netns_exec};

use super::cluster::NetCluster;

/// The repository the pause (sandbox) image is imported as.
pub const PAUSE_REPOSITORY: &str = "localhost/metallb-rs/pause";
/// The tag our image archives carry (the workspace version, as `cargo xtask images` writes it).
pub const IMAGE_TAG: &str = env!("CARGO_PKG_VERSION");
/// The control plane's Service ranges (`kcp up`).
const SERVICE_RANGE_V4: &str = "198.19.0.0/17";
/// See [`SERVICE_RANGE_V4`].
const SERVICE_RANGE_V6: &str = "2001:db8:5e::/112";
/// Every node's pod addresses (kube-proxy's cluster CIDR): node `i` gets `198.19.(208+i).0/24`.
pub const CLUSTER_CIDR: &str = "198.19.192.0/18";

/// An image archive to import into every node as `repository:<its tag>`.
#[derive(Debug, Clone)]
pub struct NodeImage {
    /// The OCI archive (`cargo xtask images` output).
    pub archive: PathBuf,
    /// The repository it is imported as, e.g. `localhost/metallb-rs/controller`.
    pub repository: String,
}

impl NodeImage {
    /// `archive` imported as `repository`.
    pub fn new(archive: impl Into<PathBuf>, repository: &str) -> Self {
        NodeImage {
            archive: archive.into(),
            repository: repository.to_string(),
        }
    }

    /// The reference a pod names it by (`repository:tag` of the archive).
    pub fn reference(&self) -> String {
        format!("{}:{IMAGE_TAG}", self.repository)
    }
}

/// One running node.
struct RealNode {
    name: String,
    netns: String,
    dir: PathBuf,
    log: PathBuf,
    cgroup_root: String,
    child: Child,
}

/// Real nodes on a test network; stopped and cleaned when dropped.
pub struct RealNodes {
    nodes: Vec<RealNode>,
    bin: PathBuf,
    root: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// The pod subnet of the `index`-th node.
/// The routing a real cluster's network gives: every node forwards (as kubeadm requires) and
/// reaches the other nodes' pod subnets through them (a flat routed pod network, like flannel's
/// host-gw), and the API server reaches Services (an admission or conversion webhook served by
/// a pod) through the first node's kube-proxy, as on a control-plane node running kube-proxy
/// (it masquerades callers from outside the cluster CIDR, so the answer comes back).
fn route_pods_and_services(network: &Network) -> Result<()> {
    for node in &network.nodes {
        netns_exec(&node.netns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        for (index, other) in network.nodes.iter().enumerate() {
            if other.name != node.name {
                let via = other.ipv4.to_string();
                netns_exec(
                    &node.netns,
                    &["ip", "route", "replace", &pod_subnet(index), "via", &via],
                )?;
            }
        }
    }
    if let Some(first) = network.nodes.first() {
        let via = first.ipv4.to_string();
        netns_exec(
            &network.api.netns,
            &["ip", "route", "replace", SERVICE_RANGE_V4, "via", &via],
        )?;
    }
    Ok(())
}

fn pod_subnet(index: usize) -> String {
    format!("198.19.{}.0/24", 208 + index)
}

impl RealNodes {
    /// Starts a real node in every node namespace of `network`, joined to `cluster`, with
    /// `images` imported; returns once every `kcp node` has started its components (wait for
    /// [`RealNodes::wait_ready`] before scheduling pods). State goes to a temporary directory.
    pub fn start(network: &Network, cluster: &NetCluster, images: &[NodeImage]) -> Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix("metallb-rs-nodes-")
            .tempdir()
            .context("cannot create a directory for the nodes")?;
        let root = temp.path().to_path_buf();
        let mut nodes = Self::start_in(&root, network, cluster, images)?;
        nodes._temp = Some(temp);
        Ok(nodes)
    }

    /// [`RealNodes::start`] with the nodes' state in `root` (kept for `kcp node-clean` after a
    /// crash: each node's directory is `root/<node name>`).
    pub fn start_in(
        root: &Path,
        network: &Network,
        cluster: &NetCluster,
        images: &[NodeImage],
    ) -> Result<Self> {
        let bin = cluster.cluster.bin_dir().to_path_buf();
        for file in [
            "kcp",
            "containerd",
            "ctr",
            "containerd-shim-runc-v2",
            "pause.oci.tar",
        ] {
            if !bin.join(file).exists() {
                bail!(
                    "{} has no {file}: rebuild the control plane (`cargo xtask cluster build`)",
                    bin.display()
                );
            }
        }
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        let mut nodes = RealNodes {
            nodes: Vec::new(),
            bin,
            root: root.to_path_buf(),
            _temp: None,
        };
        for (index, host) in network.nodes.iter().enumerate() {
            // From here on, a failure stops and cleans what started (Drop).
            nodes.start_node(index, &host.name, &host.netns, host.ipv4, cluster, images)?;
        }
        route_pods_and_services(network)?;
        let deadline = Instant::now() + Duration::from_secs(90);
        for node in &mut nodes.nodes {
            while !node.dir.join("started").exists() {
                if let Some(status) = node.child.try_wait().context("cannot wait for kcp node")? {
                    bail!(
                        "the node {} exited ({status}):\n{}",
                        node.name,
                        tail(&node.log, 40)
                    );
                }
                if Instant::now() > deadline {
                    bail!(
                        "the node {} did not start in 90 s:\n{}",
                        node.name,
                        tail(&node.log, 40)
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(nodes)
    }

    fn start_node(
        &mut self,
        index: usize,
        name: &str,
        netns: &str,
        address: Ipv4Addr,
        cluster: &NetCluster,
        images: &[NodeImage],
    ) -> Result<()> {
        // Like a real host's default route: the node's own processes (hostNetwork pods such as
        // the speaker) need a route to the Service range for kube-proxy's DNAT (in OUTPUT, after
        // the routing decision) to take them to the API server.
        for (family, range) in [("-4", SERVICE_RANGE_V4), ("-6", SERVICE_RANGE_V6)] {
            netns_exec(
                netns,
                &["ip", family, "route", "replace", range, "dev", "eth0"],
            )?;
        }
        let dir = self.root.join(name);
        let log = self.root.join(format!("{name}.log"));
        let cgroup_root = format!("/metallb-rs/{netns}");
        let output = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{netns}"))
            .arg("--")
            .arg(self.bin.join("kcp"))
            .arg("node")
            .arg("--dir")
            .arg(&dir)
            .arg("--cluster-dir")
            .arg(cluster.cluster.state_dir())
            .args(["--server", cluster.cluster.server()])
            .args(["--name", name])
            .args(["--address", &address.to_string()])
            .arg("--runtime-bin")
            .arg(&self.bin)
            .args(["--pod-subnet", &pod_subnet(index)])
            .args(["--cluster-cidr", CLUSTER_CIDR])
            .args(["--cgroup-root", &cgroup_root])
            .args([
                "--sandbox-image",
                &format!("{PAUSE_REPOSITORY}:{IMAGE_TAG}"),
            ])
            .arg("--image")
            .arg(format!(
                "{}={PAUSE_REPOSITORY}",
                self.bin.join("pause.oci.tar").display()
            ))
            .args(["--parent-pid", &std::process::id().to_string()]);
        // Another OCI runtime binary (for example a wrapper that keeps runc's logs).
        if let Some(runc) = std::env::var_os("METALLB_RS_RUNC") {
            cmd.arg("--runc").arg(runc);
        }
        for image in images {
            cmd.arg("--image")
                .arg(format!("{}={}", image.archive.display(), image.repository));
        }
        // Not tied to this thread by PDEATHSIG: a killed `kcp node` could not clean up. It
        // watches this process instead (--parent-pid) and cleans up when it exits.
        let child = cmd
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .context("cannot start kcp node (nsenter)")?;
        self.nodes.push(RealNode {
            name: name.to_string(),
            netns: netns.to_string(),
            dir,
            log,
            cgroup_root,
            child,
        });
        Ok(())
    }

    /// Waits until every node is Ready in the API.
    pub async fn wait_ready(&self, client: &Client, timeout: Duration) -> Result<()> {
        let names: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
        let result = crate::wait_nodes_ready(client, &names, timeout).await;
        result.map_err(|err| anyhow::anyhow!("{err:#}\n{}", self.diagnostics()))
    }

    fn node(&self, name: &str) -> Result<&RealNode> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .with_context(|| format!("no real node {name}"))
    }

    /// Runs `ctr --namespace k8s.io args...` against node `name`'s containerd.
    pub fn ctr(&self, name: &str, args: &[&str]) -> Result<String> {
        let node = self.node(name)?;
        let output = Command::new(self.bin.join("ctr"))
            .arg("--address")
            .arg(node.dir.join("containerd.sock"))
            .args(["--namespace", "k8s.io"])
            .args(args)
            .output()
            .context("cannot run ctr")?;
        if !output.status.success() {
            bail!(
                "ctr {} on {name} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Imports `archive` into every node as `repository:<its tag>`, and also as `extra` (a full
    /// reference, e.g. another tag) when given.
    pub fn import(&self, archive: &Path, repository: &str, extra: Option<&str>) -> Result<()> {
        let archive = archive.display().to_string();
        for node in &self.nodes {
            let mut args = vec!["images", "import", "--base-name", repository];
            if let Some(extra) = extra {
                args.extend(["--index-name", extra]);
            }
            args.push(&archive);
            self.ctr(&node.name, &args)?;
        }
        Ok(())
    }

    /// The node names.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// Memory of node `name` (containerd, its shims, kubelet, kube-proxy and the pods): the
    /// resident set (`total_rss` of its cgroup subtree) and the whole charge including page cache
    /// (`memory.usage_in_bytes`), in bytes.
    pub fn memory(&self, name: &str) -> Result<(u64, u64)> {
        let node = self.node(name)?;
        let dir = Path::new("/sys/fs/cgroup/memory").join(node.cgroup_root.trim_start_matches('/'));
        let stat = std::fs::read_to_string(dir.join("memory.stat"))
            .with_context(|| format!("cannot read the memory cgroup of {name}"))?;
        let field = |key: &str| -> u64 {
            stat.lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
                .unwrap_or(0)
        };
        let usage = std::fs::read_to_string(dir.join("memory.usage_in_bytes"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        Ok((field("total_rss ") + field("total_rss_huge "), usage))
    }

    /// The end of node `name`'s component log (`containerd`, `kubelet`, `kube-proxy`).
    pub fn log(&self, name: &str, component: &str, lines: usize) -> String {
        match self.node(name) {
            Ok(node) => tail(
                &node.dir.join("logs").join(format!("{component}.log")),
                lines,
            ),
            Err(err) => err.to_string(),
        }
    }

    /// Every node's own output and the end of its kubelet and containerd logs, for failures.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            out.push_str(&format!(
                "--- node {} ({}) ---\n{}\n--- kubelet ---\n{}\n--- containerd ---\n{}\n",
                node.name,
                node.netns,
                tail(&node.log, 10),
                self.log(&node.name, "kubelet", 25),
                self.log(&node.name, "containerd", 10),
            ));
        }
        out
    }

    /// The nodes' state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Removes what a node whose `kcp node` was killed left in `dir` (processes in its cgroups, the
/// cgroups, the directory), with `kcp` from `bin`.
pub fn clean_node(bin: &Path, dir: &Path) -> Result<()> {
    let output = Command::new(bin.join("kcp"))
        .arg("node-clean")
        .arg("--dir")
        .arg(dir)
        .output()
        .context("cannot run kcp node-clean")?;
    if !output.status.success() {
        bail!(
            "kcp node-clean --dir {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

impl Drop for RealNodes {
    fn drop(&mut self) {
        for node in &self.nodes {
            if let Ok(pid) = i32::try_from(node.child.id()) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &mut self.nodes {
            while matches!(node.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
        for node in &self.nodes {
            if node.dir.exists() {
                let _ = clean_node(&self.bin, &node.dir);
            }
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
