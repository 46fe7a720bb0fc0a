//! A fresh control plane (`kcp up`) for one measurement, stopped and removed when dropped.
//! (`test_support::cluster()` gives one per process; a comparison wants one per run so that
//! neither implementation meets the other's leftovers.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a control plane may take to become ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// A running control plane on 127.0.0.1.
pub struct Plane {
    child: Child,
    state: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Plane {
    /// Starts `kcp up` from the directory `bin` (`METALLB_RS_CLUSTER_BIN`) and waits until it
    /// is ready.
    pub fn start(bin: &Path) -> Result<Self> {
        let state = tempfile::Builder::new()
            .prefix("metallb-compare-")
            .tempdir()
            .context("cannot create a directory for the control plane")?;
        let log = std::fs::File::create(state.path().join("kcp.log"))?;
        let child = Command::new(bin.join("kcp"))
            .arg("up")
            .arg("--dir")
            .arg(state.path().join("plane"))
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.join("kcp").display()))?;
        let mut plane = Plane {
            child,
            kubeconfig: state.path().join("plane").join("admin.kubeconfig"),
            state,
        };
        let started = Instant::now();
        while !plane.state.path().join("plane").join("ready.json").exists() {
            if let Some(status) = plane.child.try_wait()? {
                bail!(
                    "kcp exited ({status}) before it was ready:\n{}",
                    std::fs::read_to_string(plane.state.path().join("kcp.log")).unwrap_or_default()
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                bail!("the control plane was not ready after {STARTUP_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(plane)
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// An admin client.
    pub async fn client(&self) -> Result<kube::Client> {
        test_support::client_from(&self.kubeconfig).await
    }
}

impl Drop for Plane {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
