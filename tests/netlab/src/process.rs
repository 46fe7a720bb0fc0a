//! Helper processes tied to the calling thread: they never outlive it.

use std::process::{Child, Command};

use anyhow::{Context, Result};

/// Spawns `cmd` so that the kernel kills it (SIGKILL) when the calling thread ends: for a test,
/// when the test ends, passes, fails or crashes. Helper processes (a controller under test, a
/// speaker) then never outlive their test, even when an early `?` skips their cleanup.
///
/// The parent is the calling *thread* (`PR_SET_PDEATHSIG`): call it from the test's own thread
/// or runtime, not from a short-lived thread such as `spawn_blocking`'s.
pub fn spawn_tied(cmd: &mut Command) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (prctl, getppid).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have gone before prctl took effect.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(std::io::Error::other("the parent exited"));
            }
            Ok(())
        });
    }
    cmd.spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))
}
