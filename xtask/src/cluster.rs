//! `cargo xtask cluster build|up|down|status|kubeconfig`: the local Kubernetes control plane
//! built from the official Go modules (`tests/cluster`), cached by a hash of its inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::paths::{cache_dir, workspace_root};

/// Control-plane sub-commands.
#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Build the control plane if its Go inputs changed; print the binary directory.
    Build,
    /// Start the control plane in the background and wait until it is ready.
    Up(UpArgs),
    /// Stop the control plane and remove its state.
    Down(DirArgs),
    /// Say whether the control plane is running.
    Status(DirArgs),
    /// Write a kubeconfig for a ServiceAccount (TokenRequest API).
    Kubeconfig(KubeconfigArgs),
}

/// `--dir`.
#[derive(Args)]
pub struct DirArgs {
    /// State directory of the control plane.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Options of `up`.
#[derive(Args)]
pub struct UpArgs {
    /// State directory of the control plane.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Run inside this network namespace (it must exist).
    #[arg(long, requires = "address")]
    netns: Option<String>,
    /// Address the API server listens on (default 127.0.0.1).
    #[arg(long)]
    address: Option<String>,
    /// API server port (default: a free port).
    #[arg(long)]
    port: Option<u16>,
}

/// Options of `kubeconfig`.
#[derive(Args)]
pub struct KubeconfigArgs {
    /// State directory of the control plane.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Namespace of the ServiceAccount.
    #[arg(long)]
    namespace: String,
    /// ServiceAccount name.
    #[arg(long)]
    service_account: String,
    /// Output file (default: DIR/<namespace>-<service-account>.kubeconfig).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn default_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| cache_dir().join("cluster-run").join("default"))
}

/// Runs one control-plane sub-command.
pub fn run(cmd: ClusterCommand) -> Result<()> {
    match cmd {
        ClusterCommand::Build => {
            println!("{}", ensure_built()?.display());
            Ok(())
        }
        ClusterCommand::Up(args) => up(args),
        ClusterCommand::Down(args) => down(&default_dir(args.dir)),
        ClusterCommand::Status(args) => {
            let dir = default_dir(args.dir);
            match running(&dir) {
                Some(pid) => println!(
                    "running (pid {pid}), kubeconfig {}",
                    dir.join("admin.kubeconfig").display()
                ),
                None => println!("not running ({})", dir.display()),
            }
            Ok(())
        }
        ClusterCommand::Kubeconfig(args) => {
            let dir = default_dir(args.dir);
            if running(&dir).is_none() {
                bail!(
                    "the control plane in {} is not running (cargo xtask cluster up)",
                    dir.display()
                );
            }
            let out = args.out.unwrap_or_else(|| {
                dir.join(format!(
                    "{}-{}.kubeconfig",
                    args.namespace, args.service_account
                ))
            });
            let bin = ensure_built()?;
            let status = Command::new(bin.join("kcp"))
                .args(["mint-kubeconfig", "--kubeconfig"])
                .arg(dir.join("admin.kubeconfig"))
                .args([
                    "--namespace",
                    &args.namespace,
                    "--service-account",
                    &args.service_account,
                    "--out",
                ])
                .arg(&out)
                .status()
                .context("cannot run kcp")?;
            if !status.success() {
                bail!("minting the kubeconfig failed");
            }
            println!("{}", out.display());
            Ok(())
        }
    }
}

/// The Go inputs of the build, sorted.
fn inputs(src: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(src)
        .with_context(|| format!("cannot read {}", src.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".go") || name == "go.mod" || name == "go.sum"
        })
        .collect();
    files.sort();
    Ok(files)
}

/// FNV-1a over file names and contents: enough to notice any change of the inputs.
fn inputs_hash(files: &[PathBuf]) -> Result<String> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let content =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        for byte in name
            .as_bytes()
            .iter()
            .chain([0u8].iter())
            .chain(content.iter())
        {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("{hash:016x}"))
}

/// Builds `kcp` (and a `kubectl` wrapper) unless a build for the same inputs is cached; returns
/// the directory holding them.
pub fn ensure_built() -> Result<PathBuf> {
    let src = workspace_root().join("tests").join("cluster");
    let hash = inputs_hash(&inputs(&src)?)?;
    let out = cache_dir().join("cluster").join(&hash);
    if out.join("kcp").is_file() {
        return Ok(out);
    }
    let tmp = cache_dir().join("cluster").join(format!("{hash}.partial"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    println!(
        "==> building the control plane (Kubernetes from the official Go modules; the first build takes a while)"
    );
    let start = Instant::now();
    let mut child = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(tmp.join("kcp"))
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "-mod=readonly")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run `go` (is Go installed?)")?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_secs(1));
        let secs = start.elapsed().as_secs();
        if secs > 0 && secs.is_multiple_of(60) {
            println!("    still building the control plane... {secs}s");
        }
    };
    if !status.success() {
        bail!("building the control plane failed ({status})");
    }
    std::fs::write(
        tmp.join("kubectl"),
        "#!/bin/sh\nexec \"$(dirname \"$0\")/kcp\" kubectl \"$@\"\n",
    )?;
    set_executable(&tmp.join("kubectl"))?;
    let _ = std::fs::remove_dir_all(&out);
    std::fs::rename(&tmp, &out).context("cannot move the build into the cache")?;
    println!(
        "==> control plane built in {}s: {}",
        start.elapsed().as_secs(),
        out.display()
    );
    Ok(out)
}

fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

/// The pid of a running control plane in `dir`, if any.
fn running(dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join("kcp.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let alive = Path::new(&format!("/proc/{pid}")).exists();
    (alive && dir.join("ready.json").exists()).then_some(pid)
}

fn up(args: UpArgs) -> Result<()> {
    let dir = default_dir(args.dir);
    if let Some(pid) = running(&dir) {
        println!(
            "already running (pid {pid}); kubeconfig {}",
            dir.join("admin.kubeconfig").display()
        );
        return Ok(());
    }
    let bin = ensure_built()?;
    std::fs::create_dir_all(dir.join("logs"))?;
    let log = std::fs::File::create(dir.join("logs").join("kcp.log"))?;
    let mut cmd = match &args.netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bin.join("kcp"));
            c
        }
        None => Command::new(bin.join("kcp")),
    };
    cmd.arg("up").arg("--dir").arg(&dir);
    if let Some(address) = &args.address {
        cmd.args(["--address", address]);
    }
    if let Some(port) = args.port {
        cmd.args(["--port", &port.to_string()]);
    }
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start kcp")?;
    let deadline = start + Duration::from_secs(120);
    while Instant::now() < deadline {
        if dir.join("ready.json").exists() {
            println!(
                "control plane ready in {:.1}s; kubeconfig {}",
                start.elapsed().as_secs_f64(),
                dir.join("admin.kubeconfig").display()
            );
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the control plane exited ({status}); log:\n{}",
                tail(&dir.join("logs").join("kcp.log"))
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    bail!(
        "the control plane was not ready after 120s; log:\n{}",
        tail(&dir.join("logs").join("kcp.log"))
    )
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn down(dir: &Path) -> Result<()> {
    let pid = std::fs::read_to_string(dir.join("kcp.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok());
    if let Some(pid) = pid {
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        if proc_dir.exists() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while proc_dir.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if proc_dir.exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &format!("-{pid}")])
                    .status();
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    println!(
        "control plane stopped and its state removed ({})",
        dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_changes_with_content_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.go");
        std::fs::write(&a, "package main").unwrap();
        let h1 = inputs_hash(std::slice::from_ref(&a)).unwrap();
        std::fs::write(&a, "package main // changed").unwrap();
        let h2 = inputs_hash(std::slice::from_ref(&a)).unwrap();
        assert_ne!(h1, h2);
        assert_eq!(h2, inputs_hash(std::slice::from_ref(&a)).unwrap());
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(inputs(dir.path()).unwrap(), vec![a]);
    }
}
