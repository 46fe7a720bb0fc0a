//! `metallb-lab down`: stops the lab process and removes its namespaces and files.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use test_support::scenario;

/// The file in the lab's state directory naming the control plane's state directory.
pub const CLUSTER_STATE: &str = "cluster-state";
/// The file in the lab's state directory naming the `kcp` binary (it cleans the nodes).
pub const KCP: &str = "kcp";
/// The nodes' state directory (one directory per node) in the lab's state directory.
pub const NODES_DIR: &str = "nodes";

/// The pid of a running lab recorded in `state`, if that process still runs `metallb-lab`.
pub fn running_lab(state: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(state.join("lab.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    (program.ends_with(b"metallb-lab") && pid != std::process::id() as i32).then_some(pid)
}

/// Stops a running lab (SIGTERM, then SIGKILL after 15 s) and removes every lab namespace.
pub fn stop_and_clean(state: &Path, prefix: &str) {
    if let Some(pid) = running_lab(state) {
        println!("==> stopping the running lab (pid {pid})");
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let started = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() {
            if started.elapsed() > Duration::from_secs(15) {
                // SAFETY: as above.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for ns in netlab::namespaces_with_prefix(&format!("{prefix}-")) {
        println!("==> removing network namespace {ns}");
        netlab::remove_namespace(&ns);
    }
    // A lab that was killed may have left its nodes' pods (in their own network namespaces and
    // cgroups) and state: each node's `kcp node` cleans up when the lab exits, but it may have
    // been killed with the namespaces.
    if let (Ok(kcp), Ok(entries)) = (
        std::fs::read_to_string(state.join(KCP)),
        std::fs::read_dir(state.join(NODES_DIR)),
    ) {
        let bin = Path::new(kcp.trim()).parent().unwrap_or(Path::new("/"));
        for dir in entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
        {
            match scenario::clean_node(bin, &dir) {
                Ok(()) => println!("==> cleaned node {}", dir.display()),
                Err(err) => println!("==> cleaning node {}: {err:#}", dir.display()),
            }
        }
    }
    // A lab that was killed left its control plane's state (kcp, killed with the namespaces,
    // could not remove it).
    if let Ok(dir) = std::fs::read_to_string(state.join(CLUSTER_STATE)) {
        let dir = Path::new(dir.trim());
        if dir.exists() && std::fs::remove_dir_all(dir).is_ok() {
            println!("==> removed the control plane's state {}", dir.display());
        }
    }
}

/// `down`: stop, clean, and remove the state directory.
pub fn run(state: &Path, prefix: &str) -> Result<()> {
    stop_and_clean(state, prefix);
    if state.exists() {
        std::fs::remove_dir_all(state)
            .with_context(|| format!("cannot remove {}", state.display()))?;
        println!("==> removed {}", state.display());
    }
    println!("The lab is down.");
    Ok(())
}
