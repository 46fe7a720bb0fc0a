//! The simulator's state directory: `state.json` (the model without any secret value),
//! `secrets.json` (secret content, mode 0600), the hook-tool links, the agent socket, the
//! charm's Kubernetes identity and resource files. A lock file serialises `juju-sim` commands.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use juju_ops::sim::tools::TOOL_NAMES;
use juju_ops::sim::{ModelState, SecretContents};

/// How long a command keeps retrying a failed hook unless told otherwise: Juju's first three
/// retries (5 s, 10 s, 20 s).
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::from_secs(60);

/// Paths inside the state directory, and the lock held while a command runs.
pub struct Store {
    /// The state directory.
    pub dir: PathBuf,
    /// How long this command keeps retrying a failed hook (see `juju_ops::sim::retry`).
    pub retry_window: Duration,
    _lock: File,
}

impl Store {
    /// Opens (creating) the state directory and takes its lock.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create state directory {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let lock = File::create(dir.join("lock"))
            .with_context(|| format!("cannot create the lock file in {}", dir.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", dir.display()))?;
        Ok(Self {
            dir,
            retry_window: DEFAULT_RETRY_WINDOW,
            _lock: lock,
        })
    }

    /// `state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// `secrets.json`: every secret revision's content, readable by the owner only.
    pub fn secrets_file(&self) -> PathBuf {
        self.dir.join("secrets.json")
    }

    /// The hook-tools directory prepended to `PATH`.
    pub fn tools_dir(&self) -> PathBuf {
        self.dir.join("tools")
    }

    /// The agent socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("agent.socket")
    }

    /// The kubeconfig handed to the charm (when a cluster is attached).
    pub fn charm_kubeconfig(&self) -> PathBuf {
        self.dir.join("kube").join("charm.kubeconfig")
    }

    /// Where resource files are written.
    pub fn resources_dir(&self) -> PathBuf {
        self.dir.join("resources")
    }

    /// Loads the deployed application's state.
    pub fn load(&self) -> Result<SimState> {
        let path = self.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!(
                    "no application deployed in {} (run `juju-sim deploy CHARM_DIR` first)",
                    self.dir.display()
                )
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut state: SimState = serde_json::from_str(&text).with_context(|| {
            format!(
                "corrupt state file {} (written by an older juju-sim? remove the directory and deploy again)",
                path.display()
            )
        })?;
        let secrets = self.secrets_file();
        match std::fs::read_to_string(&secrets) {
            Ok(text) => {
                state.model.secret_content = serde_json::from_str::<SecretContents>(&text)
                    .with_context(|| format!("corrupt secrets file {}", secrets.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", secrets.display())),
        }
        Ok(state)
    }

    /// Whether an application is deployed here.
    pub fn exists(&self) -> bool {
        self.state_file().exists()
    }

    /// Saves state atomically: the model (no secret values) to `state.json`, the secret content
    /// to `secrets.json` created with mode 0600.
    pub fn save(&self, state: &SimState) -> Result<()> {
        let tmp = self.dir.join("secrets.json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(&serde_json::to_vec(&state.model.secret_content)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        drop(file);
        std::fs::rename(&tmp, self.secrets_file()).context("cannot replace secrets.json")?;
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(state)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, self.state_file()).context("cannot replace state.json")
    }

    /// Creates one link per hook tool to the `jujuc` client built next to this binary (or, when
    /// there is none, to this binary itself), as Juju links its tools to its `jujuc`.
    pub fn install_tools(&self) -> Result<()> {
        let exe = std::env::current_exe().context("cannot find the juju-sim binary")?;
        let jujuc = exe.with_file_name("jujuc");
        let exe = if jujuc.is_file() { jujuc } else { exe };
        let dir = self.tools_dir();
        std::fs::create_dir_all(&dir)?;
        for tool in TOOL_NAMES {
            let link = dir.join(tool);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&exe, &link)
                .with_context(|| format!("cannot link {}", link.display()))?;
        }
        Ok(())
    }
}

/// What `juju-sim` persists: the model as the controller knows it plus the simulator's own
/// settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SimState {
    /// The application and its units.
    pub model: ModelState,
    /// The admin kubeconfig of the cluster the model runs on, if any.
    pub cluster_kubeconfig: Option<PathBuf>,
}
