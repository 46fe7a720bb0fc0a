//! Test support for integration tests against a real Kubernetes control plane.
//!
//! [`cluster`] starts one control plane per test binary (the `kcp` program from `tests/cluster`,
//! found through `METALLB_RS_CLUSTER_BIN`, which `cargo xtask test` sets after building it). The
//! control plane watches the test process and exits, removing its state, when the test binary
//! ends, even after a failure. [`TestNamespace`] gives each test a fresh namespace, deleted on
//! drop. [`create_nodes`] and [`create_simulated_nodes`] add simulated (KWOK) nodes.
//! [`Cluster::mint_service_account_kubeconfig`] gives a ServiceAccount's kubeconfig (TokenRequest
//! API). [`wait_for`] polls a condition with a timeout: tests synchronise on conditions, never on
//! sleeps. [`scenario`] builds MetalLB scenarios on a [`netlab`] test network.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub mod scenario;
pub mod upstream;

/// Spawns a helper process that dies with the calling thread (kept here for the many tests that
/// use it; it lives in [`netlab`]).
pub use netlab::spawn_tied;

/// The test networks (re-exported for the tests that reach them through `test_support`).
pub use netlab;

/// The environment variable naming the directory that holds `kcp` and `kubectl`.
pub const CLUSTER_BIN_ENV: &str = "METALLB_RS_CLUSTER_BIN";

/// A running control plane.
pub struct Cluster {
    bin: PathBuf,
    state: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    child: Child,
    /// Whether kcp keeps its state when it stops (so that [`Cluster::restart`] can resume it).
    keeps_state: bool,
    /// How long the control plane took to become ready.
    pub startup: Duration,
}

impl Drop for Cluster {
    /// Stops kcp (SIGTERM, SIGKILL after 10 s) and removes its state. kcp removes the state
    /// itself when it stops on its own, but not when it is killed, as a test network's
    /// namespaces are when they go first (about 120 MB of etcd data each time).
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

static CLUSTER: OnceLock<std::result::Result<Cluster, String>> = OnceLock::new();

/// How long a control plane may take to become ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// The control plane of this test binary, started on first use.
///
/// It runs with its own state directory and a free port, and watches this process: when the
/// test binary exits (also after a failure or a crash) it stops and removes its state.
///
/// # Panics
/// When the control plane cannot be started: every test that needs it must fail, loudly.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(|| Cluster::start().map_err(|e| format!("{e:#}"))) {
        Ok(cluster) => cluster,
        Err(err) => panic!("cannot start the test control plane: {err}"),
    }
}

/// The directory with the control-plane binaries (`kcp`, `kubectl`), from
/// `METALLB_RS_CLUSTER_BIN`.
pub fn cluster_bin() -> Result<PathBuf> {
    cluster_bin_from(std::env::var_os(CLUSTER_BIN_ENV))
}

fn cluster_bin_from(value: Option<std::ffi::OsString>) -> Result<PathBuf> {
    let dir = value.filter(|v| !v.is_empty()).map(PathBuf::from).with_context(|| {
        format!("{CLUSTER_BIN_ENV} is not set: run the tests with `cargo xtask test`, or build the control plane with `cargo xtask cluster build` and set {CLUSTER_BIN_ENV} to the directory it prints")
    })?;
    if !dir.join("kcp").is_file() {
        bail!(
            "{CLUSTER_BIN_ENV}={} has no kcp binary: run `cargo xtask cluster build` and set {CLUSTER_BIN_ENV} to the directory it prints",
            dir.display()
        );
    }
    Ok(dir)
}

/// Reads everything written to `file` so far.
fn read_back(file: &mut std::fs::File) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = String::new();
    if file.seek(SeekFrom::Start(0)).is_ok() {
        let _ = file.read_to_string(&mut text);
    }
    text
}

impl Cluster {
    fn start() -> Result<Self> {
        let bin = cluster_bin()?;
        // kcp deletes this directory when it stops (--remove-on-exit).
        let state = tempfile::Builder::new()
            .prefix("metallb-rs-cluster-")
            .tempdir()
            .context("cannot create a directory for the control plane")?
            .keep();
        let started = Self::start_in(bin, &state);
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&state);
        }
        started
    }

    /// Starts a control plane inside network namespace `netns`, listening on `address` there.
    /// Its URL ([`Cluster::server`]) is only reachable from that network; connect from this
    /// process through a [`netlab::forward`] tunnel.
    pub fn start_in_netns(netns: &str, address: std::net::IpAddr) -> Result<Self> {
        let bin = cluster_bin()?;
        let state = tempfile::Builder::new()
            .prefix("metallb-rs-cluster-")
            .tempdir()
            .context("cannot create a directory for the control plane")?
            .keep();
        let started = Self::start_with(bin, &state, Some((netns, address)));
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&state);
        }
        started
    }

    fn start_in(bin: PathBuf, state: &Path) -> Result<Self> {
        Self::start_with(bin, state, None)
    }

    /// Starts a control plane of its own (in this namespace) that [`Cluster::restart`] can stop
    /// and start again on the same data and port, for fault tests.
    pub fn start_restartable() -> Result<Self> {
        let bin = cluster_bin()?;
        let state = tempfile::Builder::new()
            .prefix("metallb-rs-cluster-")
            .tempdir()
            .context("cannot create a directory for the control plane")?
            .keep();
        let started = Self::launch(bin, &state, None, None, true);
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&state);
        }
        started
    }

    /// Stops the whole control plane (API server, etcd, controller-manager, scheduler, KWOK)
    /// as a crash would, runs `while_down`, and starts it again on the same data and port.
    /// Returns what `while_down` returned and how long the restart took. Only for a control
    /// plane from [`Cluster::start_restartable`].
    pub fn restart<T>(&mut self, while_down: impl FnOnce() -> T) -> Result<(T, Duration)> {
        if !self.keeps_state {
            bail!("only a control plane from Cluster::start_restartable can be restarted");
        }
        let port: u16 = self
            .server
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("no port in {}", self.server))?;
        let _ = self.child.kill();
        let _ = self.child.wait();
        let result = while_down();
        let started = Instant::now();
        let again = Self::launch(
            self.bin.clone(),
            &self.state.clone(),
            None,
            Some(port),
            true,
        )?;
        // The old value's Drop must not stop the new kcp or remove the state.
        let old = std::mem::replace(self, again);
        std::mem::forget(old);
        Ok((result, started.elapsed()))
    }

    fn start_with(
        bin: PathBuf,
        state: &Path,
        netns: Option<(&str, std::net::IpAddr)>,
    ) -> Result<Self> {
        Self::launch(bin, state, netns, None, false)
    }

    fn launch(
        bin: PathBuf,
        state: &Path,
        netns: Option<(&str, std::net::IpAddr)>,
        port: Option<u16>,
        keeps_state: bool,
    ) -> Result<Self> {
        if netns.is_none() {
            // A control plane in this namespace must not reach the test ranges through the
            // default route (a webhook Service's ClusterIP, a simulated node's address).
            netlab::hold_test_ranges()?;
        }
        // kcp's own output goes to an unnamed file: nothing to clean up, readable on failure.
        let mut output = tempfile::tempfile().context("cannot create a temporary file")?;
        let started = Instant::now();
        let mut command = match netns {
            Some((ns, address)) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns])
                    .arg(bin.join("kcp"))
                    .arg("up")
                    .arg("--address")
                    .arg(address.to_string());
                c
            }
            None => {
                let mut c = Command::new(bin.join("kcp"));
                c.arg("up");
                c
            }
        };
        let mut child = command
            .arg("--dir")
            .arg(state)
            .args(["--parent-pid", &std::process::id().to_string()])
            .args((!keeps_state).then_some("--remove-on-exit"))
            .args(port.map(|p| format!("--port={p}")))
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output.try_clone()?)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.join("kcp").display()))?;
        let ready = state.join("ready.json");
        // A kcp killed earlier (a restart) left its ready.json behind.
        let _ = std::fs::remove_file(&ready);
        let server = loop {
            // kcp writes ready.json atomically once /readyz answers.
            if let Some(server) = std::fs::read_to_string(&ready)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|info| info["server"].as_str().map(String::from))
            {
                break server;
            }
            if let Some(status) = child.try_wait().context("cannot wait for kcp")? {
                bail!(
                    "kcp exited ({status}) before the control plane was ready:\n{}",
                    read_back(&mut output)
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                // SIGKILL: kcp's components die with it; the caller removes the state.
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the control plane was not ready after {}s:\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    read_back(&mut output)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok(Self {
            bin,
            kubeconfig: state.join("admin.kubeconfig"),
            state: state.to_path_buf(),
            server,
            child,
            keeps_state,
            startup: started.elapsed(),
        })
    }

    /// The admin kubeconfig (client certificate in group `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server's URL (`https://127.0.0.1:<port>`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The control plane's state directory (logs are in `logs/`); removed when it stops.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// The directory with `kcp` and `kubectl`.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The `kcp` binary.
    pub fn kcp_path(&self) -> PathBuf {
        self.bin.join("kcp")
    }

    /// The `kubectl` binary (same Kubernetes release as the control plane).
    pub fn kubectl_path(&self) -> PathBuf {
        self.bin.join("kubectl")
    }

    /// An admin client.
    pub async fn client(&self) -> Result<Client> {
        client_from(&self.kubeconfig).await
    }

    /// Runs kubectl with the admin kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Result<std::process::Output> {
        Command::new(self.bin.join("kcp"))
            .arg("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .context("cannot run kubectl")
    }

    /// Writes a kubeconfig for ServiceAccount `namespace/account` (token from the TokenRequest
    /// API) into `dir`, and returns its path.
    pub fn mint_kubeconfig(&self, namespace: &str, account: &str, dir: &Path) -> Result<PathBuf> {
        self.mint_kubeconfig_via(Command::new(self.bin.join("kcp")), namespace, account, dir)
    }

    /// [`Cluster::mint_kubeconfig`] for a control plane in network namespace `netns` (the
    /// token request is made from there).
    pub fn mint_kubeconfig_in_netns(
        &self,
        netns: &str,
        namespace: &str,
        account: &str,
        dir: &Path,
    ) -> Result<PathBuf> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns]).arg(self.bin.join("kcp"));
        self.mint_kubeconfig_via(cmd, namespace, account, dir)
    }

    fn mint_kubeconfig_via(
        &self,
        mut kcp: Command,
        namespace: &str,
        account: &str,
        dir: &Path,
    ) -> Result<PathBuf> {
        let out = dir.join(format!("{namespace}-{account}.kubeconfig"));
        let output = kcp
            .args(["mint-kubeconfig", "--kubeconfig"])
            .arg(&self.kubeconfig)
            .args([
                "--namespace",
                namespace,
                "--service-account",
                account,
                "--out",
            ])
            .arg(&out)
            .output()
            .context("cannot run kcp mint-kubeconfig")?;
        if !output.status.success() {
            bail!(
                "mint-kubeconfig for {namespace}/{account} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(out)
    }

    /// Writes a kubeconfig for ServiceAccount `namespace/account` into the control plane's
    /// state directory (removed with it), and returns its path.
    pub fn mint_service_account_kubeconfig(
        &self,
        namespace: &str,
        account: &str,
    ) -> Result<PathBuf> {
        let dir = self.state.join("minted");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        self.mint_kubeconfig(namespace, account, &dir)
    }
}

/// A client from a kubeconfig file.
pub async fn client_from(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("cannot read {}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("invalid kubeconfig {}", kubeconfig.display()))?;
    Client::try_from(config).context("cannot create a Kubernetes client")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique lowercase name with `prefix`.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{:x}", std::process::id(), nanos % 0xfffff)
}

/// A fresh namespace, deleted when dropped (also when the test panics).
pub struct TestNamespace {
    /// The namespace name.
    pub name: String,
    kubeconfig: PathBuf,
}

impl TestNamespace {
    /// Creates a namespace named after `prefix`.
    pub async fn create(cluster: &Cluster, prefix: &str) -> Result<Self> {
        let name = unique_name(prefix);
        let api: Api<Namespace> = Api::all(cluster.client().await?);
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
        api.create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("cannot create namespace {name}"))?;
        Ok(Self {
            name,
            kubeconfig: cluster.kubeconfig().to_path_buf(),
        })
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        let kubeconfig = self.kubeconfig.clone();
        // Drop may run inside a runtime: delete from a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let client = client_from(&kubeconfig).await.ok()?;
                Api::<Namespace>::all(client)
                    .delete(&name, &DeleteParams::background())
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Creates simulated nodes (managed by KWOK) with the given names and InternalIPs, labelled
/// `type=kwok`, `kubernetes.io/os=linux`, `kubernetes.io/hostname=<name>` plus `labels`.
pub async fn create_nodes(
    client: &Client,
    nodes: &[(&str, &str)],
    labels: &[(&str, &str)],
) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    for (name, ip) in nodes {
        let mut node_labels = serde_json::json!({"type": "kwok", "kubernetes.io/os": "linux", "kubernetes.io/hostname": name});
        for (k, v) in labels {
            node_labels[*k] = serde_json::json!(v);
        }
        let node: Node = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": node_labels,
            },
            "spec": {},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]},
        }))?;
        api.patch(
            name,
            &PatchParams::apply("test-support").force(),
            &Patch::Apply(&node),
        )
        .await
        .with_context(|| format!("creating node {name}"))?;
        // The status is a subresource: apply the addresses there too.
        api.patch_status(name, &PatchParams::apply("test-support").force(), &Patch::Apply(&serde_json::json!({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]},
        })))
        .await
        .with_context(|| format!("setting the addresses of node {name}"))?;
    }
    Ok(())
}

static NODE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Creates `count` simulated (KWOK) nodes named `<prefix>-<n>` with unique InternalIPs from
/// 198.18.240.0/20 (a benchmarking range: never a real network), waits until every one is Ready,
/// and returns their names.
pub async fn create_simulated_nodes(
    client: &Client,
    prefix: &str,
    count: usize,
) -> Result<Vec<String>> {
    let nodes: Vec<(String, String)> = (0..count)
        .map(|_| {
            let n = NODE_COUNTER.fetch_add(1, Ordering::Relaxed);
            let offset = n % 4094 + 1;
            (
                format!("{prefix}-{n}"),
                format!("198.18.{}.{}", 240 + offset / 256, offset % 256),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = nodes
        .iter()
        .map(|(name, ip)| (name.as_str(), ip.as_str()))
        .collect();
    create_nodes(client, &refs, &[]).await?;
    let names: Vec<String> = nodes.into_iter().map(|(name, _)| name).collect();
    wait_nodes_ready(client, &names, Duration::from_secs(60)).await?;
    Ok(names)
}

/// The first address in a Service's `status.loadBalancer.ingress`, if any.
pub fn ingress_ip(service: k8s_openapi::api::core::v1::Service) -> Option<String> {
    service
        .status?
        .load_balancer?
        .ingress?
        .into_iter()
        .find_map(|i| i.ip)
}

/// Waits until every node in `names` has condition Ready=True.
pub async fn wait_nodes_ready(client: &Client, names: &[String], timeout: Duration) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    wait_for(&format!("nodes {names:?} to be Ready"), timeout, || async {
        for name in names {
            let ready = api
                .get(name)
                .await?
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            if !ready {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await
}

/// Server-side applies `crds` and waits until every one is established (served).
pub async fn install_crds(client: &Client, crds: Vec<CustomResourceDefinition>) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply("test-support").force(),
            &Patch::Apply(&crd),
        )
        .await
        .with_context(|| format!("applying CRD {name}"))?;
        wait_for(
            &format!("CRD {name} to be established"),
            Duration::from_secs(30),
            || async {
                let established = api
                    .get(&name)
                    .await?
                    .status
                    .and_then(|s| s.conditions)
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    });
                Ok(established.then_some(()))
            },
        )
        .await?;
    }
    Ok(())
}

/// Polls `check` until it returns `Some`, or fails after `timeout` saying what was awaited.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(err) => last_error = Some(err),
        }
        if tokio::time::Instant::now() >= deadline {
            match last_error {
                Some(err) => {
                    bail!("timed out after {timeout:?} waiting for {what}; last error: {err:#}")
                }
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Prints `what: n=.. min=.. median=.. p90=.. max=..` (milliseconds) for benchmark samples.
pub fn report_durations(what: &str, mut samples: Vec<Duration>) {
    if samples.is_empty() {
        println!("{what}: no samples");
        return;
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: n={} min={:.0} ms median={:.0} ms p90={:.0} ms max={:.0} ms",
        samples.len(),
        ms(samples[0]),
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(samples[samples.len() - 1])
    );
}

/// The sum of every series of metric `name` in a Prometheus text exposition.
pub fn sum_metric(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sums_add_every_series_of_one_name_only() {
        let text = "# TYPE x counter\nx{code=\"200\"} 3\nx{code=\"404\"} 2\nx_other 7\nx 1\n";
        assert_eq!(sum_metric(text, "x"), 6.0);
        assert_eq!(sum_metric(text, "missing"), 0.0);
    }

    #[test]
    fn a_missing_binary_directory_says_how_to_build_it() {
        let unset = cluster_bin_from(None).map(|_| ()).unwrap_err().to_string();
        assert!(unset.contains("cargo xtask cluster build"), "{unset}");
        assert!(unset.contains(CLUSTER_BIN_ENV), "{unset}");
        let empty = cluster_bin_from(Some("".into()))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(empty.contains("is not set"), "{empty}");
        let dir = std::env::temp_dir().join(unique_name("no-kcp"));
        let missing = cluster_bin_from(Some(dir.clone().into()))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(missing.contains("has no kcp binary"), "{missing}");
    }

    #[test]
    fn unique_names_are_unique_and_valid() {
        let a = unique_name("ns");
        let b = unique_name("ns");
        assert_ne!(a, b);
        assert!(
            a.len() <= 63
                && a.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
