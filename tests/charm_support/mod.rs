//! A compiled charm deployed through `juju-sim` against the test control plane, for the charm's
//! integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Result, bail};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use test_support::{cluster, create_nodes, unique_name, wait_for};
use tokio::sync::Mutex;

/// Scenarios of one test binary run one at a time.
pub static SERIAL: Mutex<()> = Mutex::const_new(());
/// How long a scenario waits for the charm.
pub const WAIT: Duration = Duration::from_secs(90);

/// A deployed charm in its own juju-sim state directory and model.
pub struct Deployed {
    /// The juju-sim state and the unpacked charm.
    pub dir: tempfile::TempDir,
    /// Model name.
    pub model: String,
    /// The charm's `namespace` option.
    pub namespace: String,
    /// Application name.
    pub app: String,
    /// The cluster's admin kubeconfig (None: the test binary's shared control plane).
    pub kubeconfig: Option<PathBuf>,
}

fn juju_sim() -> PathBuf {
    // The juju-sim binary of the workspace, built next to this test's deps directory.
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("juju-sim")
}

impl Deployed {
    /// A deployment of the packed `.charm` (from `METALLB_RS_CHARM_FILE`, which `cargo xtask
    /// test` sets after `cargo xtask pack`), unzipped as Juju does.
    pub fn packed() -> Self {
        let file = std::env::var_os("METALLB_RS_CHARM_FILE").expect(
            "METALLB_RS_CHARM_FILE is not set: run `cargo xtask test` (it packs the charm)",
        );
        let dir = tempfile::tempdir().unwrap();
        let charm = dir.path().join("charm");
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&file).unwrap()).unwrap();
        archive.extract(&charm).unwrap();
        Self {
            dir,
            model: unique_name("model"),
            namespace: unique_name("metallb"),
            app: "metallb".to_string(),
            kubeconfig: None,
        }
    }

    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let charm = dir.path().join("charm");
        std::fs::create_dir(&charm).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in ["metadata.yaml", "config.yaml", "actions.yaml"] {
            std::fs::copy(root.join(file), charm.join(file)).unwrap();
        }
        std::fs::copy(env!("CARGO_BIN_EXE_metallb-charm"), charm.join("dispatch")).unwrap();
        Self {
            dir,
            model: unique_name("model"),
            namespace: unique_name("metallb"),
            app: "metallb".to_string(),
            kubeconfig: None,
        }
    }

    pub fn sim(&self, args: &[&str]) -> Output {
        let binary = juju_sim();
        assert!(
            binary.exists(),
            "{} missing: run `cargo xtask test`",
            binary.display()
        );
        Command::new(binary)
            .arg("--state")
            .arg(self.dir.path().join("state"))
            .args(args)
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.sim(args);
        assert!(
            out.status.success(),
            "juju-sim {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The node label value that selects this scenario's own nodes.
    pub fn node_selector(&self) -> String {
        format!("node-selector=metallb.test/scenario={}", self.model)
    }

    /// Creates this scenario's two simulated nodes (speakers use host ports, so scenarios must
    /// not share nodes while an earlier scenario's pods are still terminating).
    pub async fn nodes(&self) -> Result<kube::Client> {
        let client = cluster().client().await?;
        self.nodes_in(&client).await?;
        Ok(client)
    }

    /// Creates this scenario's two simulated nodes through `client`.
    pub async fn nodes_in(&self, client: &kube::Client) -> Result<()> {
        let (a, b) = (format!("{}-n1", self.model), format!("{}-n2", self.model));
        create_nodes(
            client,
            &[(a.as_str(), "198.18.20.1"), (b.as_str(), "198.18.20.2")],
            &[("metallb.test/scenario", self.model.as_str())],
        )
        .await?;
        Ok(())
    }

    pub fn deploy(&self, trust: bool, extra: &[&str]) {
        let charm = self.dir.path().join("charm");
        let namespace = format!("namespace={}", self.namespace);
        let selector = self.node_selector();
        let kubeconfig = match &self.kubeconfig {
            Some(path) => path.display().to_string(),
            None => cluster().kubeconfig().display().to_string(),
        };
        let mut args = vec![
            "deploy",
            charm.to_str().unwrap(),
            "--model",
            &self.model,
            "--app",
            &self.app,
            "--kubeconfig",
            &kubeconfig,
            "--config",
            &namespace,
            "--config",
            "iprange=198.18.100.0/28",
            "--config",
            &selector,
        ];
        if trust {
            args.push("--trust");
        }
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    pub fn status(&self) -> (String, String) {
        self.unit_status(0)
    }

    /// Workload status and message of unit `n`.
    pub fn unit_status(&self, n: u32) -> (String, String) {
        let s: Value = serde_json::from_str(&self.ok(&["status", "--format", "json"])).unwrap();
        let w =
            &s["applications"][&self.app]["units"][format!("{}/{n}", self.app)]["workload-status"];
        (
            w["current"].as_str().unwrap_or_default().into(),
            w["message"].as_str().unwrap_or_default().into(),
        )
    }

    /// Fires update-status until the charm is active; a timeout reports the last status seen.
    pub async fn wait_active(&self) -> Result<String> {
        wait_for("the charm to be active", WAIT, || async {
            self.ok(&["update-status"]);
            match self.status() {
                (status, message) if status == "active" => Ok(Some(message)),
                (status, message) => bail!("still {status}: {message}"),
            }
        })
        .await
    }

    pub fn action(&self, name: &str, params: &[&str]) -> Value {
        let mut args = vec!["run", name, "--format", "json"];
        args.extend_from_slice(params);
        let out: Value = serde_json::from_str(&self.ok(&args)).unwrap();
        out[format!("{}/0", self.app)].clone()
    }
}

/// The IPAddressPool API in `ns`.
pub fn pool_api(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", "v1beta1", "IPAddressPool"),
        "ipaddresspools",
    );
    Api::namespaced_with(client.clone(), ns, &resource)
}

/// The charm's pool's addresses.
pub async fn pool_addresses(client: &kube::Client, d: &Deployed) -> Result<Value> {
    let pool = pool_api(client, &d.namespace)
        .get(&format!("{}.{}", d.model, d.app))
        .await?;
    Ok(pool.data["spec"]["addresses"].clone())
}

/// Creates a user's IPAddressPool (no charm labels).
pub async fn user_pool(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    cidr: &str,
) -> Result<()> {
    let pool: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"addresses": [cidr]},
    }))?;
    pool_api(client, namespace)
        .create(&PostParams::default(), &pool)
        .await?;
    Ok(())
}
