//! Speaker processes, one per node namespace, with their logs and metrics at hand.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use netlab::{Network, http_get_from, spawn_tied};

/// The speakers of a test network (killed when dropped or when the test ends).
pub struct Speakers {
    /// The speaker binary; `None` for a scenario whose speakers run as pods.
    binary: Option<PathBuf>,
    kubeconfig: PathBuf,
    namespace: String,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    running: Vec<(String, Child)>,
    extra: Vec<String>,
    labels: String,
}

impl Speakers {
    /// Speakers running `binary` with `kubeconfig` (reachable from the node namespaces), for
    /// the MetalLB namespace `namespace`; `extra` flags are added to every speaker.
    pub fn new(binary: &Path, kubeconfig: &Path, namespace: &str, extra: &[&str]) -> Result<Self> {
        let temp = tempfile::tempdir().context("cannot create a directory for speaker logs")?;
        let dir = temp.path().to_path_buf();
        std::fs::write(dir.join("secretkey"), "c2VjcmV0LWtleS1mb3ItdGVzdHM")?;
        Ok(Speakers {
            binary: Some(binary.to_path_buf()),
            kubeconfig: kubeconfig.to_path_buf(),
            namespace: namespace.to_string(),
            dir,
            _temp: Some(temp),
            running: Vec::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            labels: "app=metallb-speaker-test".into(),
        })
    }

    /// No speaker processes (the speakers of the scenario run as pods): starting one fails.
    pub fn none(kubeconfig: &Path, namespace: &str) -> Result<Self> {
        let mut speakers = Self::new(Path::new(""), kubeconfig, namespace, &[])?;
        speakers.binary = None;
        Ok(speakers)
    }

    /// Keeps logs and the membership secret in `dir` (kept after the speakers stop).
    pub fn in_dir(mut self, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::copy(self.dir.join("secretkey"), dir.join("secretkey"))
            .context("cannot copy the membership secret")?;
        self.dir = dir.to_path_buf();
        self._temp = None;
        Ok(self)
    }

    /// Uses `labels` as the speakers' pod selector and `secret` as the membership key (as read
    /// from the `memberlist` Secret).
    pub fn with_membership(mut self, labels: &str, secret: &[u8]) -> Result<Self> {
        std::fs::write(self.dir.join("secretkey"), secret)
            .context("cannot write the membership secret")?;
        self.labels = labels.to_string();
        Ok(self)
    }

    /// The log file of node `name`'s speaker.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// Starts (or restarts) the speaker of node `name`, with membership on its address.
    pub fn start(&mut self, network: &Network, name: &str) -> Result<()> {
        self.start_with(network, name, &[])
    }

    /// [`Speakers::start`] with `more` flags for this speaker only.
    pub fn start_with(&mut self, network: &Network, name: &str, more: &[&str]) -> Result<()> {
        let key_dir = self.dir.clone();
        self.spawn(network, name, &key_dir, more)
    }

    /// [`Speakers::start`] with another membership key than the others' for this speaker.
    pub fn start_with_key(&mut self, network: &Network, name: &str, key: &[u8]) -> Result<()> {
        let key_dir = self.dir.join(format!("key-{name}"));
        std::fs::create_dir_all(&key_dir)
            .with_context(|| format!("cannot create {}", key_dir.display()))?;
        std::fs::write(key_dir.join("secretkey"), key)
            .context("cannot write the membership secret")?;
        self.spawn(network, name, &key_dir, &[])
    }

    fn spawn(
        &mut self,
        network: &Network,
        name: &str,
        key_dir: &Path,
        more: &[&str],
    ) -> Result<()> {
        let node = network.node(name).context("no such node")?;
        let binary = self
            .binary
            .as_ref()
            .context("this scenario runs no speaker processes")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &node.netns])
            .arg(binary)
            .args(["--node-name", name, "--namespace", &self.namespace])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--ml-bindaddr", &node.ipv4.to_string()])
            .args(["--ml-labels", &self.labels])
            .arg("--ml-secret-key-path")
            .arg(key_dir)
            .args(&self.extra)
            .args(more)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // The previous speaker of the node goes first: the new one binds the same ports, and
        // would exit with "address in use" if it started before the old one was gone.
        self.stop_quietly(name);
        let child = spawn_tied(&mut cmd)?;
        self.running.push((name.to_string(), child));
        Ok(())
    }

    fn stop_quietly(&mut self, name: &str) {
        if let Some(pos) = self.running.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.running.remove(pos);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kill -9` the speaker of node `name`.
    pub fn kill(&mut self, name: &str) -> Result<()> {
        let (_, child) = self
            .running
            .iter_mut()
            .find(|(n, _)| n == name)
            .context("no such speaker")?;
        child.kill().context("cannot kill the speaker")?;
        let _ = child.wait();
        Ok(())
    }

    /// SIGTERM the speaker of node `name` (a graceful stop) and wait for it to exit.
    pub fn terminate(&mut self, name: &str) -> Result<()> {
        let (_, child) = self
            .running
            .iter_mut()
            .find(|(n, _)| n == name)
            .context("no such speaker")?;
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let _ = child.wait();
        Ok(())
    }

    /// Sends `signal` (for example `libc::SIGSTOP` to freeze a speaker without closing its
    /// connections, `libc::SIGCONT` to resume it) to the speaker of node `name`.
    pub fn signal(&mut self, name: &str, signal: i32) -> Result<()> {
        let (_, child) = self
            .running
            .iter()
            .find(|(n, _)| n == name)
            .context("no such speaker")?;
        // SAFETY: kill has no memory-safety preconditions.
        let sent = unsafe { libc::kill(child.id() as i32, signal) };
        anyhow::ensure!(sent == 0, "cannot signal the speaker of {name}");
        Ok(())
    }

    /// The last lines of every speaker's log and its metrics, for failure messages.
    pub fn diagnostics(&self, network: &Network) -> String {
        let mut out = String::new();
        for node in &network.nodes {
            let name = &node.name;
            out.push_str(&format!("--- speaker on {name} ---\n"));
            let metrics = http_get_from(
                &node.netns,
                IpAddr::from([127, 0, 0, 1]),
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
            let text =
                std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for line in &lines[lines.len().saturating_sub(
                if std::env::var_os("BENCH_VERBOSE").is_some() {
                    400
                } else {
                    40
                },
            )..]
            {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}
