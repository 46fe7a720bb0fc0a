//! `cargo xtask bench churn --services N --rounds R`: restart safety under churn against a real
//! control plane (see `tests/common/churn.rs`): prints, per round, how many Services held an
//! address when the controller was killed, how many kept it, what was lost and any duplicate.
//! Exits with an error when anything was lost. `BENCH_CONTROLLER_BIN` selects the controller
//! binary (`cargo xtask bench churn` passes the static build that ships in the image).

#[path = "../tests/common/churn.rs"]
mod churn;

use anyhow::{Result, bail};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut options = churn::Options::from_env(env!("CARGO_BIN_EXE_metallb-controller"), 1000, 10)?;
    if let Some(bin) = std::env::var_os("BENCH_CONTROLLER_BIN") {
        options.controller = bin.into();
    }
    println!(
        "{} Services, {} rounds, controller {}",
        options.services,
        options.rounds,
        options.controller.display()
    );
    let started = std::time::Instant::now();
    let report = churn::run(&options).await?;
    report.print();
    println!("took {:.0} s", started.elapsed().as_secs_f64());
    if !report.held() {
        bail!("addresses were lost or duplicated (seed {})", report.seed);
    }
    Ok(())
}
