//! Restart safety under churn against the real API server (issue 14): the controller killed with
//! SIGKILL at a random moment of each round of creations, deletions, broken requests and pool
//! edits keeps every address and never hands one out twice. `CHURN_SERVICES` and
//! `CHURN_ROUNDS` (default 200 and 3) size it, `CHURN_SEED` repeats a run;
//! `cargo xtask bench churn` runs the large version.

#[path = "common/churn.rs"]
mod churn;

use anyhow::{Result, ensure};

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn a_controller_killed_during_churn_keeps_every_address() -> Result<()> {
    let options = churn::Options::from_env(env!("CARGO_BIN_EXE_metallb-controller"), 200, 3)?;
    let report = churn::run(&options).await?;
    report.print();
    ensure!(
        report.held(),
        "addresses were lost or duplicated (seed {})",
        report.seed
    );
    Ok(())
}
