//! Test support for integration tests against a real Kubernetes control plane.
//!
//! [`cluster`] starts one control plane per test binary (the `kcp` program from `tests/cluster`,
//! found through `METALLB_RS_CLUSTER_BIN`, which `cargo xtask test` sets after building it). The
//! control plane watches the test process and exits, removing its state, when the test binary
//! ends, even after a failure. [`TestNamespace`] gives each test a fresh namespace, deleted on
//! drop. [`create_nodes`] adds simulated (KWOK) nodes. [`wait_for`] polls a condition with a
//! timeout: tests synchronise on conditions, never on sleeps.

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

/// The environment variable naming the directory that holds `kcp` and `kubectl`.
pub const CLUSTER_BIN_ENV: &str = "METALLB_RS_CLUSTER_BIN";

/// A running control plane.
pub struct Cluster {
    bin: PathBuf,
    _dir: tempfile::TempDir,
    state: PathBuf,
    kubeconfig: PathBuf,
    _child: Child,
    /// How long the control plane took to become ready.
    pub startup: Duration,
}

static CLUSTER: OnceLock<std::result::Result<Cluster, String>> = OnceLock::new();

/// The control plane of this test binary, started on first use.
///
/// # Panics
/// When the control plane cannot be started: every test that needs it must fail, loudly.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(|| Cluster::start().map_err(|e| format!("{e:#}"))) {
        Ok(cluster) => cluster,
        Err(err) => panic!("cannot start the test control plane: {err}"),
    }
}

/// The directory with the control-plane binaries.
pub fn cluster_bin() -> Result<PathBuf> {
    let dir = std::env::var_os(CLUSTER_BIN_ENV).map(PathBuf::from).with_context(|| {
        format!("{CLUSTER_BIN_ENV} is not set: run the tests with `cargo xtask test`, or build the control plane with `cargo xtask cluster build` and set {CLUSTER_BIN_ENV} to the directory it prints")
    })?;
    if !dir.join("kcp").is_file() {
        bail!("{} has no kcp binary", dir.display());
    }
    Ok(dir)
}

impl Cluster {
    fn start() -> Result<Self> {
        let bin = cluster_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("metallb-rs-cluster-")
            .tempdir()?;
        let state = dir.path().join("state");
        let log = std::fs::File::create(dir.path().join("kcp.log"))?;
        let started = Instant::now();
        let mut child = Command::new(bin.join("kcp"))
            .arg("up")
            .arg("--dir")
            .arg(&state)
            .args([
                "--parent-pid",
                &std::process::id().to_string(),
                "--remove-on-exit",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start kcp")?;
        let ready = state.join("ready.json");
        let deadline = started + Duration::from_secs(120);
        while !ready.exists() {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(dir.path().join("kcp.log")).unwrap_or_default();
                bail!("kcp exited ({status}):\n{log}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("the control plane was not ready after 120 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            bin,
            kubeconfig: state.join("admin.kubeconfig"),
            state,
            _dir: dir,
            _child: child,
            startup: started.elapsed(),
        })
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The control plane's state directory (logs are in `logs/`).
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// The directory with `kcp` and `kubectl`.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
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

    /// Writes a kubeconfig for ServiceAccount `namespace/account` (TokenRequest) into `dir`.
    pub fn mint_kubeconfig(&self, namespace: &str, account: &str, dir: &Path) -> Result<PathBuf> {
        let out = dir.join(format!("{namespace}-{account}.kubeconfig"));
        let output = Command::new(self.bin.join("kcp"))
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
                "mint-kubeconfig failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(out)
    }
}

/// A client from a kubeconfig file.
pub async fn client_from(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
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
        api.create(&PostParams::default(), &ns).await?;
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
