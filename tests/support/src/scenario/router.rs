//! Running a BGP scenario in a fresh [`Scenario`] against a router, with what a failure needs
//! to be understood: the error, the router's view and every speaker's log.

use std::path::Path;

use anyhow::Result;

use netlab::{Router, available};

use super::running::Scenario;

/// The lab a scenario runs in.
#[derive(Debug, Clone, Copy)]
pub struct LabSpec<'a> {
    /// A short tag naming the test's namespaces (the process id is appended).
    pub tag: &'a str,
    /// The node names.
    pub nodes: &'a [&'a str],
    /// The speaker binary.
    pub speaker: &'a Path,
    /// Flags given to every speaker.
    pub flags: &'a [&'a str],
}

/// Checks that the machine can run the lab (root, iproute2), starts it, starts the router with
/// `start_router` and runs `scenario`. A failure panics with the error, the router's
/// diagnostics and every speaker's log.
pub async fn run_with_router<R: Router>(
    spec: LabSpec<'_>,
    start_router: impl FnOnce(&Scenario) -> Result<R>,
    scenario: impl AsyncFnOnce(&mut Scenario, &R) -> Result<()>,
) {
    assert!(
        available(),
        "this test needs root and iproute2 (run it with `cargo xtask test`)"
    );
    let prefix = format!("{}{}", spec.tag, std::process::id() % 10_000);
    let mut lab = match Scenario::start(&prefix, spec.nodes, spec.speaker, spec.flags).await {
        Ok(lab) => lab,
        Err(err) => panic!("cannot start the test network: {err:#}"),
    };
    let router = match start_router(&lab) {
        Ok(router) => router,
        Err(err) => panic!("cannot start the router: {err:#}"),
    };
    if let Err(err) = scenario(&mut lab, &router).await {
        panic!(
            "{err:#}\n\n{}\n{}",
            router.diagnostics(),
            lab.speakers.diagnostics(&lab.network)
        );
    }
}
