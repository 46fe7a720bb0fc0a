//! A test network of network namespaces: "node" namespaces, a "client" namespace and an "api"
//! namespace for the control plane, all on one bridge that lives in its own "hub" namespace.
//! The root namespace gets no address or route on it: processes in this one reach the network
//! only through threads that enter a namespace ([`in_netns`], [`spawn_in_netns`]) and through
//! loopback tunnels ([`forward`]).
//!
//! Addresses come from the benchmarking and documentation ranges: hosts in 198.18.0.0/16 and
//! 2001:db8::/64; [`POOL_V4`] and [`POOL_V6`] are on-link, accepted locally by every node (like
//! kube-proxy's IPVS addresses with strictARP: the kernel does not answer ARP/NDP for them).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};

mod clients;
mod cluster;
mod nodes;
mod objects;
mod routers;
mod scenario;
mod speakers;

pub use clients::{
    TrafficProbe, TrafficReport, arping, arping_on, capture_arp, curl, first_reply_from, http_get,
    http_get_any, http_get_from, http_get_path, ndisc6,
};
pub use cluster::NetCluster;
pub use nodes::{CLUSTER_CIDR, IMAGE_TAG, NodeImage, PAUSE_REPOSITORY, RealNodes, clean_node};
pub use objects::{apply_metallb, endpoints, lb_service};
pub use routers::{FRR_BFD_FAST, Frr, FrrBgp, frr_config};
pub use scenario::{LabSpec, Router, run_with_router};
pub use speakers::Speakers;

/// IPv4 addresses for LoadBalancer pools (on-link on the test network).
pub const POOL_V4: &str = "198.18.100.0/24";
/// IPv6 addresses for LoadBalancer pools (on-link on the test network).
pub const POOL_V6: &str = "2001:db8::64:0/112";
/// Prefix length of the host network (IPv4).
const HOST_PREFIX_V4: u8 = 16;
/// Prefix length of the host network (IPv6).
const HOST_PREFIX_V6: u8 = 64;

/// One namespace attached to the test bridge.
#[derive(Debug, Clone)]
pub struct Host {
    /// Node name (for nodes) or role.
    pub name: String,
    /// The network namespace.
    pub netns: String,
    /// IPv4 address on `eth0`.
    pub ipv4: Ipv4Addr,
    /// IPv6 address on `eth0`.
    pub ipv6: Ipv6Addr,
    /// MAC address of `eth0`.
    pub mac: String,
}

/// The test network; every namespace and every process in them is removed on drop.
pub struct Network {
    /// Prefix of every namespace name.
    pub prefix: String,
    /// The control plane's namespace.
    pub api: Host,
    /// The client namespace.
    pub client: Host,
    /// The node namespaces.
    pub nodes: Vec<Host>,
    /// The namespace of the bridges (the switch): ports `p<i>` on `br0`, `s<i>` on `br1`.
    pub hub: String,
}

/// Runs a command and fails with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> Result<Output> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !output.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

/// Runs `args` inside network namespace `ns`.
pub fn netns_exec(ns: &str, args: &[&str]) -> Result<Output> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Network namespaces whose name starts with `prefix`.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Kills every process in namespace `ns` and deletes it.
pub fn remove_namespace(ns: &str) {
    if let Ok(output) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
}

/// Moves the calling thread into network namespace `ns`.
pub fn enter(ns: &str) -> std::io::Result<()> {
    let file = File::open(format!("/run/netns/{ns}"))?;
    // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a thread inside namespace `ns` and returns its result.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let ns = ns.to_string();
    std::thread::spawn(move || -> std::io::Result<T> {
        enter(&ns)?;
        Ok(f())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the thread in a network namespace panicked"))?
    .context("cannot enter the network namespace")
}

/// Runs `f` on a background thread inside namespace `ns`.
pub fn spawn_in_netns(
    ns: &str,
    f: impl FnOnce() + Send + 'static,
) -> JoinHandle<std::io::Result<()>> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns)?;
        f();
        Ok(())
    })
}

/// Stops a background server when dropped.
pub struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How often a polling accept loop looks at its stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

fn accept_loop(listener: TcpListener, stop: Arc<AtomicBool>, mut handle: impl FnMut(TcpStream)) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                handle(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(_) => return,
        }
    }
}

/// Serves HTTP on port `port` of every address of namespace `ns` (also the LoadBalancer
/// addresses accepted locally), answering every request with `body`.
pub fn serve_http(ns: &str, port: u16, body: &str) -> Result<StopOnDrop> {
    let listener = in_netns(ns, move || TcpListener::bind(("::", port)))?
        .with_context(|| format!("cannot listen on port {port} in {ns}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let body = body.to_string();
    let flag = stop.clone();
    std::thread::spawn(move || {
        accept_loop(listener, flag, |mut stream| {
            let body = body.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            });
        })
    });
    Ok(StopOnDrop(stop))
}

/// A loopback tunnel: connections to the returned `127.0.0.1` address (in this process's
/// namespace) are forwarded to `target` inside namespace `ns`.
pub fn forward(ns: &str, target: SocketAddr) -> Result<(SocketAddr, StopOnDrop)> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on loopback")?;
    let local = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let ns = ns.to_string();
    std::thread::spawn(move || {
        accept_loop(listener, flag, |inbound| {
            let ns = ns.clone();
            std::thread::spawn(move || {
                if enter(&ns).is_err() {
                    return;
                }
                let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_secs(5))
                else {
                    return;
                };
                pipe(inbound, outbound);
            });
        })
    });
    Ok((local, StopOnDrop(stop)))
}

fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(mut a2), Ok(mut b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let (mut a, mut b) = (a, b);
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a2);
    let _ = a2.shutdown(std::net::Shutdown::Write);
    let _ = upstream.join();
}

fn host(prefix: &str, name: &str, index: u8) -> Host {
    Host {
        name: name.to_string(),
        netns: format!("{prefix}-{name}"),
        ipv4: Ipv4Addr::new(198, 18, 0, index),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(index)),
        mac: format!("02:00:00:00:00:{index:02x}"),
    }
}

fn write_sysctl(ns: &str, key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    netns_exec(ns, &["sh", "-c", &format!("echo {value} > {path}")]).map(|_| ())
}

impl Network {
    /// Creates the network: namespaces `<prefix>-hub`, `-api`, `-client` and one per node
    /// name. Namespaces left over from an earlier network with this prefix are removed first.
    pub fn create(prefix: &str, node_names: &[&str]) -> Result<Self> {
        for stale in namespaces_with_prefix(&format!("{prefix}-")) {
            remove_namespace(&stale);
        }
        let hub = format!("{prefix}-hub");
        let nodes: Vec<Host> = node_names
            .iter()
            .enumerate()
            .map(|(i, name)| host(prefix, name, 11 + i as u8))
            .collect();
        let network = Network {
            prefix: prefix.to_string(),
            api: host(prefix, "api", 2),
            client: host(prefix, "client", 3),
            nodes,
            hub: hub.clone(),
        };
        // From here on, a failure removes what was created (Drop).
        run("ip", &["netns", "add", &hub])?;
        netns_exec(&hub, &["ip", "link", "set", "lo", "up"])?;
        netns_exec(
            &hub,
            &[
                "ip",
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        )?;
        netns_exec(&hub, &["ip", "link", "set", "br0", "up"])?;
        for (i, host) in network.hosts().enumerate() {
            network.attach(host, &format!("p{i}"))?;
        }
        for node in &network.nodes {
            network.prepare_node(node)?;
        }
        Ok(network)
    }

    /// Adds a host `<prefix>-<name>` on the main segment (198.18.0.`index`/16, MAC
    /// 02:00:00:00:00:`index`), not a node: e.g. a foreign host on the LAN. Removed with the
    /// network.
    pub fn add_host(&self, name: &str, index: u8) -> Result<Host> {
        let host = host(&self.prefix, name, index);
        self.attach(&host, &format!("x{index}"))?;
        Ok(host)
    }

    /// Every host: api, client, nodes.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        [&self.api, &self.client]
            .into_iter()
            .chain(self.nodes.iter())
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&Host> {
        self.nodes.iter().find(|n| n.name == name)
    }

    fn attach(&self, host: &Host, port: &str) -> Result<()> {
        let ns = host.netns.as_str();
        run("ip", &["netns", "add", ns])?;
        netns_exec(
            &self.hub,
            &[
                "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        )?;
        netns_exec(
            &self.hub,
            &["ip", "link", "set", port, "master", "br0", "up"],
        )?;
        write_sysctl(ns, "net.ipv6.conf.eth0.accept_dad", "0")?;
        netns_exec(ns, &["ip", "link", "set", "eth0", "address", &host.mac])?;
        let v4 = format!("{}/{HOST_PREFIX_V4}", host.ipv4);
        let v6 = format!("{}/{HOST_PREFIX_V6}", host.ipv6);
        netns_exec(ns, &["ip", "addr", "add", &v4, "dev", "eth0"])?;
        netns_exec(
            ns,
            &["ip", "-6", "addr", "add", &v6, "dev", "eth0", "nodad"],
        )?;
        netns_exec(ns, &["ip", "link", "set", "eth0", "up"])?;
        netns_exec(ns, &["ip", "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// A node accepts the pool addresses locally without answering ARP/NDP for them.
    fn prepare_node(&self, node: &Host) -> Result<()> {
        let ns = node.netns.as_str();
        for key in ["all", "eth0"] {
            write_sysctl(ns, &format!("net.ipv4.conf.{key}.arp_ignore"), "1")?;
            write_sysctl(ns, &format!("net.ipv4.conf.{key}.arp_announce"), "2")?;
        }
        netns_exec(ns, &["ip", "route", "add", "local", POOL_V4, "dev", "lo"])?;
        netns_exec(
            ns,
            &["ip", "-6", "route", "add", "local", POOL_V6, "dev", "lo"],
        )?;
        Ok(())
    }

    /// Adds a second network segment: bridge `br1` with an `eth1` on every node (no address)
    /// and on the client (198.18.200.3/24), for interface selection tests.
    pub fn add_second_segment(&self) -> Result<()> {
        netns_exec(
            &self.hub,
            &[
                "ip",
                "link",
                "add",
                "br1",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        )?;
        netns_exec(&self.hub, &["ip", "link", "set", "br1", "up"])?;
        let hosts: Vec<&Host> = std::iter::once(&self.client)
            .chain(self.nodes.iter())
            .collect();
        for (i, host) in hosts.into_iter().enumerate() {
            let ns = host.netns.as_str();
            let port = format!("s{i}");
            netns_exec(
                &self.hub,
                &[
                    "ip", "link", "add", &port, "type", "veth", "peer", "name", "eth1", "netns", ns,
                ],
            )?;
            netns_exec(
                &self.hub,
                &["ip", "link", "set", &port, "master", "br1", "up"],
            )?;
            write_sysctl(ns, "net.ipv6.conf.eth1.accept_dad", "0")?;
            netns_exec(ns, &["ip", "link", "set", "eth1", "up"])?;
        }
        // The client needs a source address there for arping.
        netns_exec(
            &self.client.netns,
            &["ip", "addr", "add", "198.18.200.3/24", "dev", "eth1"],
        )?;
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let names: Vec<String> = self.hosts().map(|h| h.netns.clone()).collect();
        for ns in names {
            remove_namespace(&ns);
        }
        remove_namespace(&self.hub);
        // Hosts added later (`add_host`).
        for ns in namespaces_with_prefix(&format!("{}-", self.prefix)) {
            remove_namespace(&ns);
        }
    }
}

/// The node that announces `ip` when the speakers of `alive` (among `nodes`) run, every node
/// eligible: the first in the upstream election order.
pub fn expected_winner(ip: &str, nodes: &[&str], alive: &[&str]) -> String {
    ranked_nodes(ip, nodes, alive)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The election order for `ip` when the speakers of `alive` (among `nodes`) run, every node
/// eligible and able to announce.
pub fn ranked_nodes(ip: &str, nodes: &[&str], alive: &[&str]) -> Vec<String> {
    use metallb_core::l2::election::{
        Advertisement, ClusterView, NodeView, ServiceView, ranked_candidates,
    };
    let views: Vec<NodeView> = nodes
        .iter()
        .map(|n| NodeView {
            name: n.to_string(),
            ..Default::default()
        })
        .collect();
    let members: std::collections::BTreeSet<String> = alive.iter().map(|s| s.to_string()).collect();
    let service = ServiceView {
        first_ip: ip.parse().ok(),
        has_serving_endpoint: true,
        ..Default::default()
    };
    let cluster = ClusterView {
        nodes: &views,
        members: Some(&members),
        ..Default::default()
    };
    ranked_candidates(&service, &[Advertisement::default()], cluster)
}

/// Whether this process may create network namespaces (root with `ip`).
pub fn available() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A ready Layer 2 scenario: the network, the control plane with the metallb.io CRDs, Node
/// objects for the node namespaces, the MetalLB namespace, an HTTP server answering with the
/// node's name on port 80 of every node, and a speaker per node.
pub struct SpeakerLab {
    /// The test network.
    pub network: Network,
    /// The control plane.
    pub cluster: NetCluster,
    /// An admin client.
    pub client: kube::Client,
    /// The speakers.
    pub speakers: Speakers,
    /// The MetalLB namespace.
    pub namespace: String,
    _http: Vec<StopOnDrop>,
}

impl SpeakerLab {
    /// Starts everything; `speaker` is the speaker binary, `extra` flags go to every speaker.
    pub async fn start(
        prefix: &str,
        nodes: &[&str],
        speaker: &std::path::Path,
        extra: &[&str],
    ) -> Result<Self> {
        use k8s_openapi::api::core::v1::Namespace;
        use kube::api::{Api, PostParams};
        let namespace = "metallb-system".to_string();
        let network = Network::create(prefix, nodes)?;
        let cluster = NetCluster::start(&network)?;
        let client = cluster.client().await?;
        crate::install_crds(&client, metallb_api_crds()?).await?;
        let addresses: Vec<(String, String)> = network
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.ipv4.to_string()))
            .collect();
        let refs: Vec<(&str, &str)> = addresses
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        crate::create_nodes(&client, &refs, &[]).await?;
        let object = serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}}))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &object)
            .await
            .context("cannot create the MetalLB namespace")?;
        let http = network
            .nodes
            .iter()
            .map(|node| serve_http(&node.netns, 80, &node.name))
            .collect::<Result<Vec<_>>>()?;
        let mut speakers = Speakers::new(speaker, cluster.cluster.kubeconfig(), &namespace, extra)?;
        for node in &network.nodes {
            speakers.start(&network, &node.name)?;
        }
        Ok(SpeakerLab {
            network,
            cluster,
            client,
            speakers,
            namespace,
            _http: http,
        })
    }

    /// The MAC address of node `name`.
    pub fn mac_of(&self, name: &str) -> String {
        self.network
            .node(name)
            .map(|n| n.mac.clone())
            .unwrap_or_default()
    }

    /// (node, address) pairs for [`endpoints`].
    pub fn endpoints_on<'a>(&self, nodes: &[&'a str]) -> Vec<(&'a str, Ipv4Addr)> {
        nodes
            .iter()
            .filter_map(|n| self.node(n).map(|h| (*n, h.ipv4)))
            .collect()
    }

    fn node(&self, name: &str) -> Option<&Host> {
        self.network.node(name)
    }

    /// A value of node `name`'s speaker metrics (`series` includes the labels and ends with a
    /// space, e.g. `"metallb_speaker_members "`); 0 when the series is absent.
    pub fn metric(&self, name: &str, series: &str) -> Result<f64> {
        let host = self.node(name).context("no such node")?;
        let text = http_get_from(
            &host.netns,
            std::net::IpAddr::from([127, 0, 0, 1]),
            7472,
            "/metrics",
            std::time::Duration::from_secs(2),
        )?;
        Ok(text
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0))
    }

    /// Adds an uplink: the second segment (`eth1` on the nodes and the client) with the
    /// network 198.19.200.0/24 (outside eth0's 198.18.0.0/16; client .3, nodes .11 on), and
    /// `ip` accepted locally by every node. A pool holding `ip` with an L2Advertisement naming
    /// no interface is then announced on eth1 only.
    pub fn add_uplink(&self, ip: &str) -> Result<()> {
        self.network.add_second_segment()?;
        let client = &self.network.client.netns;
        netns_exec(
            client,
            &["ip", "addr", "add", "198.19.200.3/24", "dev", "eth1"],
        )?;
        let local = format!("{ip}/32");
        for (i, node) in self.network.nodes.iter().enumerate() {
            let address = format!("198.19.200.{}/24", 11 + i);
            netns_exec(&node.netns, &["ip", "addr", "add", &address, "dev", "eth1"])?;
            netns_exec(
                &node.netns,
                &["ip", "route", "add", "local", &local, "dev", "lo"],
            )?;
        }
        Ok(())
    }

    /// Sets node `name`'s switch port on the uplink (`s<1 + index>` on `br1`) up or down: the
    /// node's eth1 gains or loses carrier.
    pub fn set_uplink_carrier(&self, name: &str, up: bool) -> Result<()> {
        let index = self
            .network
            .nodes
            .iter()
            .position(|n| n.name == name)
            .context("no such node")?;
        let port = format!("s{}", index + 1);
        let state = if up { "up" } else { "down" };
        netns_exec(&self.network.hub, &["ip", "link", "set", &port, state]).map(|_| ())
    }

    /// The MAC address of `interface` in node `name`'s namespace.
    pub fn interface_mac(&self, name: &str, interface: &str) -> Result<String> {
        let host = self.node(name).context("no such node")?;
        let path = format!("/sys/class/net/{interface}/address");
        let output = netns_exec(&host.netns, &["cat", &path])?;
        Ok(String::from_utf8_lossy(&output.stdout)
            .trim()
            .to_lowercase())
    }
}

/// The metallb.io CRDs, read from the committed YAML (test-support does not depend on the API
/// crate).
fn metallb_api_crds() -> Result<Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>>{
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../workload/api/crds/metallb.io.yaml"
    );
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    text.split("\n---")
        .filter(|doc| doc.contains("kind: CustomResourceDefinition"))
        .map(|doc| serde_yaml::from_str(doc).context("cannot parse a CRD"))
        .collect()
}
