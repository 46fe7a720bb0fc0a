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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};

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
    hub: String,
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

/// One HTTP GET of `path` at `addr:port` from namespace `ns`; the body, or an error.
pub fn http_get_from(
    ns: &str,
    addr: IpAddr,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<String> {
    let path = path.to_string();
    in_netns(ns, move || {
        http_get_path(SocketAddr::new(addr, port), &path, timeout)
    })?
}

/// One HTTP GET of `/` at `target` from the calling thread's namespace.
pub fn http_get(target: SocketAddr, timeout: Duration) -> Result<String> {
    http_get_path(target, "/", timeout)
}

/// One HTTP GET of `path` at `target` from the calling thread's namespace.
pub fn http_get_path(target: SocketAddr, path: &str, timeout: Duration) -> Result<String> {
    let mut stream = TcpStream::connect_timeout(&target, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: {target}\r\nconnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => bail!("unexpected response from {target}: {response:?}"),
    }
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

    /// Adds a second interface `name` to node `node`, on its own bridge port (for interface
    /// selection tests).
    pub fn add_node_interface(&self, node: &Host, name: &str, port: &str) -> Result<()> {
        let ns = node.netns.as_str();
        netns_exec(
            &self.hub,
            &[
                "ip", "link", "add", port, "type", "veth", "peer", "name", name, "netns", ns,
            ],
        )?;
        netns_exec(
            &self.hub,
            &["ip", "link", "set", port, "master", "br0", "up"],
        )?;
        write_sysctl(ns, &format!("net.ipv6.conf.{name}.accept_dad"), "0")?;
        netns_exec(ns, &["ip", "link", "set", name, "up"])?;
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
    }
}

/// A control plane running in the network's api namespace, reachable from this process through
/// a loopback tunnel.
pub struct NetCluster {
    /// The control plane; its admin kubeconfig points at the api namespace's address (use it
    /// from node namespaces).
    pub cluster: crate::Cluster,
    /// An admin kubeconfig for this process (through the tunnel).
    pub local_kubeconfig: std::path::PathBuf,
    _tunnel: StopOnDrop,
    _dir: tempfile::TempDir,
}

impl NetCluster {
    /// Starts the control plane in `network`'s api namespace.
    pub fn start(network: &Network) -> Result<Self> {
        let cluster =
            crate::Cluster::start_in_netns(&network.api.netns, IpAddr::V4(network.api.ipv4))?;
        let port = cluster
            .server()
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
            .with_context(|| format!("no port in the API server URL {}", cluster.server()))?;
        let (local, tunnel) = forward(
            &network.api.netns,
            SocketAddr::new(IpAddr::V4(network.api.ipv4), port),
        )?;
        let dir = tempfile::tempdir().context("cannot create a directory for the kubeconfig")?;
        let mut kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig())
            .context("cannot read the admin kubeconfig")?;
        for named in &mut kubeconfig.clusters {
            if let Some(c) = named.cluster.as_mut() {
                c.server = Some(format!("https://{local}"));
            }
        }
        let local_kubeconfig = dir.path().join("admin-local.kubeconfig");
        std::fs::write(&local_kubeconfig, serde_json::to_vec(&kubeconfig)?)
            .context("cannot write the local kubeconfig")?;
        Ok(NetCluster {
            cluster,
            local_kubeconfig,
            _tunnel: tunnel,
            _dir: dir,
        })
    }

    /// An admin client for this process.
    pub async fn client(&self) -> Result<kube::Client> {
        crate::client_from(&self.local_kubeconfig).await
    }
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
