//! The two implementations under comparison: how to start each one's controller, which flags
//! its speakers get, and how to read its metrics.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Which implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// Upstream MetalLB (Go), built by `cargo xtask upstream build`.
    Upstream,
    /// metallb-rs, the static binaries that ship.
    Ours,
}

/// One implementation's binaries.
#[derive(Clone, Debug)]
pub struct Implementation {
    /// Which one.
    pub which: Which,
    /// The controller binary.
    pub controller: PathBuf,
    /// The speaker binary.
    pub speaker: PathBuf,
}

/// The metallb.io namespace every run uses.
pub const NAMESPACE: &str = "metallb-system";
/// The label of the speaker pods the speakers find each other by.
pub const SPEAKER_LABELS: &str = "app=metallb-speaker-test";

impl Implementation {
    /// A short name for the table.
    pub fn name(&self) -> &'static str {
        match self.which {
            Which::Upstream => "upstream",
            Which::Ours => "metallb-rs",
        }
    }

    /// The controller's command line against `kubeconfig`, serving metrics on
    /// `metrics_port`. Upstream's controller runs without its webhooks and needs its own Pod
    /// object (`controller`, see [`controller_pod`]) for owner references.
    pub fn controller_command(
        &self,
        kubeconfig: &Path,
        metrics_port: u16,
        health_port: u16,
    ) -> Command {
        let mut cmd = Command::new(&self.controller);
        cmd.arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--namespace", NAMESPACE, "--log-level", "warn"])
            .args(["--port", &metrics_port.to_string()])
            .args(["--health-probe-port", &health_port.to_string()]);
        if self.which == Which::Upstream {
            cmd.args(["--webhook-mode=disabled", "--pod-name", "controller"]);
        }
        cmd
    }

    /// Flags for the speaker of node `node` (on top of the lab's common flags).
    pub fn speaker_flags(&self, node: &str) -> Vec<String> {
        vec!["--pod-name".into(), speaker_pod(node)]
    }

    /// The controller's metrics text. Ours serves plain HTTP; upstream serves HTTPS that
    /// needs a bearer token allowed to `get /metrics` (see [`metrics_token`]).
    pub fn controller_metrics(&self, port: u16, token: Option<&str>) -> Result<String> {
        match self.which {
            Which::Ours => test_support::netlab::http_get_path(
                std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                "/metrics",
                Duration::from_secs(5),
            ),
            Which::Upstream => {
                let token = token.context("upstream's metrics need a token")?;
                let out = Command::new("curl")
                    .args(["-skf", "--max-time", "5", "-H"])
                    .arg(format!("Authorization: Bearer {token}"))
                    .arg(format!("https://127.0.0.1:{port}/metrics"))
                    .output()
                    .context("cannot run curl")?;
                if !out.status.success() {
                    bail!("upstream's metrics did not answer ({})", out.status);
                }
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
        }
    }
}

/// The speaker pod name of node `node`.
pub fn speaker_pod(node: &str) -> String {
    format!("speaker-{node}")
}

/// Runs `kcp kubectl` with `kubeconfig`, feeding `stdin`; returns stdout.
pub fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str], stdin: &str) -> Result<String> {
    let mut child = Command::new(bin.join("kcp"))
        .arg("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run kubectl")?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A token of a ServiceAccount allowed to read `/metrics` (upstream's metrics endpoint checks
/// bearer tokens with TokenReview and SubjectAccessReview).
pub fn metrics_token(bin: &Path, kubeconfig: &Path) -> Result<String> {
    let objects = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: scraper, namespace: {NAMESPACE}}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: metrics-reader}}\n\
         rules: [{{nonResourceURLs: [/metrics], verbs: [get]}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: scraper}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: metrics-reader}}\n\
         subjects: [{{kind: ServiceAccount, name: scraper, namespace: {NAMESPACE}}}]\n"
    );
    kubectl(bin, kubeconfig, &["apply", "-f", "-"], &objects)?;
    let token = kubectl(
        bin,
        kubeconfig,
        &["-n", NAMESPACE, "create", "token", "scraper"],
        "",
    )?;
    Ok(token.trim().to_string())
}

/// A Pod object named `controller` (never scheduled: no node exists) for upstream's
/// controller, which looks up its own Pod to own the objects it creates.
pub fn controller_pod() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "controller", "namespace": NAMESPACE,
            "labels": {"app": "metallb", "component": "controller"}},
        "spec": {"containers": [{"name": "controller", "image": "localhost/none"}],
            "nodeSelector": {"metallb-compare/none": "none"}},
    })
}

/// Waits until namespace `namespace` has its `default` ServiceAccount (created by the
/// controller-manager shortly after the namespace; Pods are refused before).
pub async fn wait_default_account(client: &kube::Client, namespace: &str) -> Result<()> {
    let accounts: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
        kube::Api::namespaced(client.clone(), namespace);
    test_support::wait_for(
        &format!("the default ServiceAccount of {namespace}"),
        Duration::from_secs(60),
        || {
            let accounts = accounts.clone();
            async move { Ok(accounts.get_opt("default").await?.map(|_| ())) }
        },
    )
    .await
}

/// The user + system CPU time of process `pid`, in clock ticks (100 per second).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A `/proc/<pid>/status` field in KiB (`VmHWM:`, `VmRSS:`).
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The pid of the running process whose command line starts with `binary` and contains the
/// consecutive arguments `flag value` (speakers are started by `ip netns exec`, which execs).
pub fn find_process(binary: &Path, flag: &str, value: &str) -> Option<u32> {
    let wanted = binary.as_os_str().as_encoded_bytes();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.first() != Some(&wanted) {
            continue;
        }
        if args
            .windows(2)
            .any(|w| w[0] == flag.as_bytes() && w[1] == value.as_bytes())
        {
            return Some(pid);
        }
    }
    None
}
