//! The address ranges every test network lives in, held in this process's namespace so that
//! nothing sent to them leaves the machine.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// The address ranges of the test networks and the control plane's Service ranges: nothing
/// sent to them may leave the machine.
pub const TEST_RANGES: [&str; 2] = ["198.18.0.0/15", "2001:db8::/32"];

/// Puts `unreachable` routes for [`TEST_RANGES`] in this process's network namespace (idempotent),
/// so that traffic to them fails at once instead of following the default route off the machine.
pub fn hold_test_ranges() -> Result<()> {
    for range in TEST_RANGES {
        let family = if range.contains(':') { "-6" } else { "-4" };
        let status = Command::new("ip")
            .args([family, "route", "replace", "unreachable", range])
            .status()
            .context("cannot run ip (iproute2) to hold the test ranges")?;
        if !status.success() {
            bail!("`ip {family} route replace unreachable {range}` failed (root is needed)");
        }
    }
    Ok(())
}
