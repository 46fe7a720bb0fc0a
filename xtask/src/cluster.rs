//! `cargo xtask cluster build|up|down|status|kubeconfig`: the local Kubernetes control plane
//! built from the official Go modules (`tests/cluster`), cached by a hash of its inputs.
//!
//! `up` starts `kcp up` detached (it outlives xtask) with its state, logs and admin kubeconfig
//! in one directory; `down` stops it and removes that directory.

pub(crate) mod build;
pub(crate) mod cache;
mod runtime;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;

pub use build::ensure_built;

use crate::paths::cache_dir;

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
    /// State directory of the control plane [default: ~/.cache/metallb-rs/cluster-run/default].
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Options of `up`.
#[derive(Args)]
pub struct UpArgs {
    /// State directory of the control plane [default: ~/.cache/metallb-rs/cluster-run/default].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Run inside this network namespace (it must exist; its loopback is brought up).
    #[arg(long, requires = "address")]
    netns: Option<String>,
    /// Address the API server listens on [default: 127.0.0.1].
    #[arg(long)]
    address: Option<std::net::IpAddr>,
    /// API server port [default: a free port].
    #[arg(long)]
    port: Option<u16>,
}

/// Options of `kubeconfig`.
#[derive(Args)]
pub struct KubeconfigArgs {
    /// State directory of the control plane [default: ~/.cache/metallb-rs/cluster-run/default].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Namespace of the ServiceAccount.
    #[arg(long)]
    namespace: String,
    /// ServiceAccount name.
    #[arg(long)]
    service_account: String,
    /// Output file [default: DIR/<namespace>-<service-account>.kubeconfig].
    #[arg(long)]
    out: Option<PathBuf>,
}

/// How long `up` waits for the API server.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

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
            status(&default_dir(args.dir));
            Ok(())
        }
        ClusterCommand::Kubeconfig(args) => kubeconfig(args),
    }
}

/// `DIR/ready.json`, written by `kcp up` once the API server answers `/readyz`.
#[derive(Deserialize)]
struct ReadyInfo {
    server: String,
    kubeconfig: PathBuf,
}

/// What runs in a state directory.
enum State {
    /// No `kcp up` process.
    Stopped,
    /// `kcp up` runs but is not ready yet.
    Starting(i32),
    /// Ready.
    Running(i32, ReadyInfo),
}

/// Whether process `pid` is a `kcp up` (and not some other process that got its pid).
fn is_kcp_up(pid: i32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let mut args = cmdline.split(|b| *b == 0);
    let program = args.next().unwrap_or_default();
    program.ends_with(b"kcp") && args.next() == Some(b"up".as_slice())
}

fn state(dir: &Path) -> State {
    let Some(pid) = std::fs::read_to_string(dir.join("kcp.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|pid| is_kcp_up(*pid))
    else {
        return State::Stopped;
    };
    let ready = std::fs::read_to_string(dir.join("ready.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<ReadyInfo>(&text).ok());
    match ready {
        Some(info) => State::Running(pid, info),
        None => State::Starting(pid),
    }
}

/// The network namespace the control plane in `dir` runs in, if any.
fn netns_of(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("netns"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn status(dir: &Path) {
    let netns = netns_of(dir)
        .map(|ns| format!(" in network namespace {ns}"))
        .unwrap_or_default();
    match state(dir) {
        State::Running(pid, info) => println!(
            "running (pid {pid}){netns} at {}\nkubeconfig: {}\nlogs: {}",
            info.server,
            info.kubeconfig.display(),
            dir.join("logs").display()
        ),
        State::Starting(pid) => println!(
            "starting (pid {pid}){netns}; logs in {}",
            dir.join("logs").display()
        ),
        State::Stopped => println!("not running ({})", dir.display()),
    }
}

/// Sends `signal` (a `kill` signal name) to process `pid`.
fn kill(signal: &str, pid: i32) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Test ranges that must never leave the machine (the test networks, the Service ranges).
const TEST_RANGES: [&str; 2] = ["198.18.0.0/15", "2001:db8::/32"];

/// Puts `unreachable` routes for [`TEST_RANGES`] in the root namespace, where the default route
/// leads off the machine: a control plane here then never sends test traffic away.
fn hold_test_ranges() -> Result<()> {
    for range in TEST_RANGES {
        let family = if range.contains(':') { "-6" } else { "-4" };
        let status = Command::new("ip")
            .args([family, "route", "replace", "unreachable", range])
            .status()
            .context("cannot run `ip`")?;
        if !status.success() {
            bail!("cannot add an unreachable route for {range} (root is needed)");
        }
    }
    Ok(())
}

fn up(args: UpArgs) -> Result<()> {
    let dir = default_dir(args.dir);
    match state(&dir) {
        State::Running(pid, info) => {
            println!(
                "the control plane in {} is already running (pid {pid}) at {}; not starting another",
                dir.display(),
                info.server
            );
            println!("{}", info.kubeconfig.display());
            return Ok(());
        }
        State::Starting(pid) => bail!(
            "a control plane is already starting in {} (pid {pid}); see {} or run `cargo xtask cluster down`",
            dir.display(),
            dir.join("logs").display()
        ),
        State::Stopped => {}
    }
    if let Some(ns) = &args.netns
        && !Path::new("/run/netns").join(ns).exists()
    {
        bail!("network namespace {ns} does not exist (create it with `ip netns add {ns}`)");
    }
    let bin = ensure_built()?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let netns_file = dir.join("netns");
    let mut cmd = match &args.netns {
        Some(ns) => {
            // etcd listens on loopback, which a new namespace has down.
            let status = Command::new("ip")
                .args(["-n", ns, "link", "set", "lo", "up"])
                .status()
                .context("cannot run `ip`")?;
            if !status.success() {
                bail!("cannot bring up the loopback interface of network namespace {ns}");
            }
            std::fs::write(&netns_file, ns)
                .with_context(|| format!("cannot write {}", netns_file.display()))?;
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns]).arg(bin.join("kcp"));
            cmd
        }
        None => {
            let _ = std::fs::remove_file(&netns_file);
            hold_test_ranges()?;
            Command::new(bin.join("kcp"))
        }
    };
    cmd.arg("up").arg("--dir").arg(&dir);
    if let Some(address) = &args.address {
        cmd.args(["--address", &address.to_string()]);
    }
    if let Some(port) = args.port {
        cmd.args(["--port", &port.to_string()]);
    }
    let log_path = logs.join("kcp.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    // Its own process group, so that a Ctrl-C at the terminal does not reach it.
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start kcp")?;
    println!("==> starting the control plane in {}", dir.display());
    loop {
        if let State::Running(pid, info) = state(&dir) {
            println!(
                "control plane ready in {:.1}s (pid {pid}) at {}; logs in {}\nkubeconfig:\n{}",
                start.elapsed().as_secs_f64(),
                info.server,
                logs.display(),
                info.kubeconfig.display()
            );
            return Ok(());
        }
        if let Some(status) = child.try_wait().context("cannot wait for kcp")? {
            bail!(
                "the control plane exited ({status}); last lines of {}:\n{}",
                log_path.display(),
                tail(&log_path, 40)
            );
        }
        if start.elapsed() > READY_TIMEOUT {
            // kcp stops its components on SIGTERM.
            kill("TERM", child.id() as i32);
            let _ = child.wait();
            bail!(
                "the control plane was not ready after {}s (stopped it); last lines of {}:\n{}",
                READY_TIMEOUT.as_secs(),
                log_path.display(),
                tail(&log_path, 40)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn down(dir: &Path) -> Result<()> {
    let pid = match state(dir) {
        State::Running(pid, _) | State::Starting(pid) => Some(pid),
        State::Stopped => None,
    };
    if let Some(pid) = pid {
        // kcp stops its components (within 5 s), then etcd; its components also die with it.
        kill("TERM", pid);
        let deadline = Instant::now() + Duration::from_secs(15);
        while is_kcp_up(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if is_kcp_up(pid) {
            kill("KILL", pid);
            let deadline = Instant::now() + Duration::from_secs(5);
            while is_kcp_up(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if is_kcp_up(pid) {
            bail!("the control plane (pid {pid}) does not stop");
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    match pid {
        Some(pid) => println!(
            "control plane (pid {pid}) stopped and its state removed ({})",
            dir.display()
        ),
        None => println!(
            "no control plane was running; state removed ({})",
            dir.display()
        ),
    }
    Ok(())
}

fn kubeconfig(args: KubeconfigArgs) -> Result<()> {
    let dir = default_dir(args.dir);
    let State::Running(_, info) = state(&dir) else {
        bail!(
            "the control plane in {} is not running (cargo xtask cluster up)",
            dir.display()
        );
    };
    let out = args.out.unwrap_or_else(|| {
        dir.join(format!(
            "{}-{}.kubeconfig",
            args.namespace, args.service_account
        ))
    });
    let bin = ensure_built()?;
    let mut cmd = match netns_of(&dir) {
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", &ns]).arg(bin.join("kcp"));
            cmd
        }
        None => Command::new(bin.join("kcp")),
    };
    let status = cmd
        .args(["mint-kubeconfig", "--kubeconfig"])
        .arg(&info.kubeconfig)
        .args([
            "--namespace",
            &args.namespace,
            "--service-account",
            &args.service_account,
            "--out",
        ])
        .arg(&out)
        .status()
        .context("cannot run kcp mint-kubeconfig")?;
    if !status.success() {
        bail!(
            "minting a kubeconfig for {}/{} failed",
            args.namespace,
            args.service_account
        );
    }
    println!("{}", out.display());
    Ok(())
}
