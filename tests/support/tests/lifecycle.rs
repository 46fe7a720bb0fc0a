//! The control plane leaks nothing: `kcp up --parent-pid P --remove-on-exit` stops every
//! component and removes its state when process P exits, and refuses a second control plane in
//! the same state directory.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use test_support::{cluster_bin, wait_for};

/// Kills (and reaps) a child process when dropped, so that a failing test leaks nothing.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pids of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").context("cannot read /proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; it is gone for our purpose.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(|st| st != "Z"))
        })
        .unwrap_or(false)
}

async fn wait_ready(state: &Path, kcp: &mut Child) -> Result<()> {
    wait_for("kcp to be ready", Duration::from_secs(120), || {
        let exited = kcp.try_wait();
        async move {
            if let Some(status) = exited? {
                bail!("kcp exited early ({status})");
            }
            Ok(state.join("ready.json").exists().then_some(()))
        }
    })
    .await
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn the_control_plane_stops_and_cleans_up_when_its_parent_exits() -> Result<()> {
    let bin = cluster_bin()?;
    let work = tempfile::tempdir()?;
    let state = work.path().join("state");
    // A stand-in for a test process that crashes.
    let parent = Reaped(
        Command::new("sleep")
            .arg("600")
            .spawn()
            .context("cannot run sleep")?,
    );
    let mut kcp = Command::new(bin.join("kcp"))
        .arg("up")
        .arg("--dir")
        .arg(&state)
        .args([
            "--parent-pid",
            &parent.0.id().to_string(),
            "--remove-on-exit",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start kcp")?;
    let kcp_pid = kcp.id();
    wait_ready(&state, &mut kcp).await?;
    let mut kcp = Reaped(kcp);

    let components = children_of(kcp_pid)?;
    assert_eq!(
        components.len(),
        4,
        "apiserver, controller-manager, scheduler and kwok run as children: {components:?}"
    );

    // A second control plane in the same directory is refused and changes nothing.
    let second = Command::new(bin.join("kcp"))
        .arg("up")
        .arg("--dir")
        .arg(&state)
        .arg("--remove-on-exit")
        .output()
        .context("cannot start kcp")?;
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains("another control plane"), "{message}");
    assert!(
        state.join("ready.json").exists(),
        "the first one still runs"
    );

    drop(parent);
    let status = wait_for("kcp to exit", Duration::from_secs(30), || {
        let exited = kcp.0.try_wait();
        async move { Ok(exited?) }
    })
    .await?;
    assert!(status.success(), "{status}");
    wait_for(
        "every component to stop",
        Duration::from_secs(10),
        || async { Ok(components.iter().all(|pid| !alive(*pid)).then_some(())) },
    )
    .await?;
    assert!(!state.exists(), "the state directory is removed");
    Ok(())
}

#[tokio::test]
async fn a_tied_process_dies_with_the_thread_that_started_it() -> Result<()> {
    let pid = std::thread::spawn(|| -> Result<u32> {
        let child = test_support::spawn_tied(Command::new("sleep").arg("600"))?;
        Ok(child.id())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the spawning thread panicked"))??;
    wait_for(
        "the tied process to die with its thread",
        Duration::from_secs(10),
        || async { Ok((!alive(pid)).then_some(())) },
    )
    .await
}
