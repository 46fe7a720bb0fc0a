//! `cargo xtask bench failover`: Layer 2 failover on a network of namespaces with the release
//! speaker. Each trial kills (`kill -9`) or stops (SIGTERM) the announcing speaker while the
//! client sends HTTP requests back to back (200 ms timeout each), and measures from the kill to
//! the first reply served by the new node; the speaker then restarts and the address returns.
//! A third series takes the announcing node's uplink down instead (its switch port: the node and
//! its speaker stay up, on the cluster network) and measures until the next node answers on the
//! uplink; the link then comes back, and so does the address.
//! With `BENCH_IDLE_SECONDS`, it also watches an idle cluster for announcer changes.
//!
//! Environment: `BENCH_TRIALS` (default 20), `BENCH_IDLE_SECONDS` (default 0),
//! `METALLB_RS_CLUSTER_BIN` (set by xtask). Needs root.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use test_support::scenario::{self, Scenario};

#[path = "../tests/common/mod.rs"]
mod common;
use common::{l2, pool};

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const SERVICE: &str = "198.18.100.10";
/// The Service on the uplink (eth1), for the link-down series.
const UPLINK_SERVICE: &str = "198.19.200.100";
const WAIT: Duration = Duration::from_secs(30);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How a trial stops the announcer.
#[derive(Clone, Copy)]
enum Stop {
    Kill,
    Terminate,
    LinkDown,
}

/// The announcer's uplink loses carrier: until the next node answers there.
fn link_trial(lab: &Scenario) -> Result<Duration> {
    let ip: IpAddr = UPLINK_SERVICE.parse()?;
    let ranked = scenario::ranked_nodes(UPLINK_SERVICE, &NODES, &NODES);
    let (winner, next) = (&ranked[0], &ranked[1]);
    netlab::first_reply_from(&lab.network, ip, winner, Instant::now(), WAIT)?;
    let started = Instant::now();
    lab.set_uplink_carrier(winner, false)?;
    let took = netlab::first_reply_from(&lab.network, ip, next, started, WAIT)
        .with_context(|| format!("takeover from {winner} to {next}"))?;
    lab.set_uplink_carrier(winner, true)?;
    netlab::first_reply_from(&lab.network, ip, winner, Instant::now(), WAIT)
        .with_context(|| format!("the address did not return to {winner}"))?;
    Ok(took)
}

async fn trial(lab: &mut Scenario, stop: Stop) -> Result<Duration> {
    if let Stop::LinkDown = stop {
        return link_trial(lab);
    }
    let ip: IpAddr = SERVICE.parse()?;
    let winner = scenario::expected_winner(SERVICE, &NODES, &NODES);
    // The address is at the winner before the trial starts.
    netlab::first_reply_from(&lab.network, ip, &winner, Instant::now(), WAIT)?;
    let survivors: Vec<&str> = NODES.iter().copied().filter(|n| *n != winner).collect();
    let next = scenario::expected_winner(SERVICE, &NODES, &survivors);
    let started = Instant::now();
    match stop {
        Stop::Kill => lab.speakers.kill(&winner)?,
        Stop::Terminate => lab.speakers.terminate(&winner)?,
        Stop::LinkDown => bail!("not a speaker stop"),
    }
    let took = netlab::first_reply_from(&lab.network, ip, &next, started, WAIT)
        .with_context(|| format!("failover from {winner} to {next}"))?;
    lab.speakers.start(&lab.network, &winner)?;
    netlab::first_reply_from(&lab.network, ip, &winner, Instant::now(), WAIT)
        .with_context(|| format!("the address did not return to {winner}"))?;
    Ok(took)
}

/// Polls the service every 100 ms for `seconds`; returns how many replies came from another
/// node than the elected one.
fn idle(lab: &Scenario, seconds: u64) -> Result<(u64, u64)> {
    let ip: IpAddr = SERVICE.parse()?;
    let winner = scenario::expected_winner(SERVICE, &NODES, &NODES);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    netlab::in_netns(&lab.network.client.netns, move || {
        let (mut total, mut wrong) = (0, 0);
        while Instant::now() < deadline {
            let asked = Instant::now();
            total += 1;
            match netlab::http_get((ip, 80).into(), Duration::from_millis(500)) {
                Ok(body) if body == winner => {}
                _ => wrong += 1,
            }
            std::thread::sleep(Duration::from_millis(100).saturating_sub(asked.elapsed()));
        }
        (total, wrong)
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    if !netlab::available() {
        bail!("the failover benchmark needs root and iproute2");
    }
    let trials = env_number("BENCH_TRIALS", 20).max(1) as usize;
    let idle_seconds = env_number("BENCH_IDLE_SECONDS", 0);
    let prefix = format!("mlfo{}", std::process::id() % 100_000);
    let speaker = env!("CARGO_BIN_EXE_metallb-speaker").as_ref();
    let mut lab = Scenario::start(&prefix, &NODES, speaker, &[]).await?;
    let (client, ns) = (&lab.client, lab.namespace.as_str());
    scenario::apply(client, ns, &pool("bench", &[netlab::POOL_V4])).await?;
    scenario::apply(client, ns, &l2("bench", &[], &[])).await?;
    scenario::lb_service(&lab.client, "default", "web", &[SERVICE], false).await?;
    let endpoints = lab.endpoints_on(&NODES);
    scenario::endpoints(&lab.client, "default", "web", &endpoints).await?;
    lab.add_uplink(UPLINK_SERVICE)?;
    let (client, ns) = (&lab.client, lab.namespace.as_str());
    let uplink = format!("{UPLINK_SERVICE}/32");
    scenario::apply(client, ns, &pool("uplink", &[&uplink])).await?;
    scenario::apply(client, ns, &l2("uplink", &["uplink"], &[])).await?;
    scenario::lb_service(&lab.client, "default", "uplink", &[UPLINK_SERVICE], false).await?;
    scenario::endpoints(&lab.client, "default", "uplink", &endpoints).await?;
    println!(
        "failover benchmark: 3 nodes, release speaker with default timings, {trials} trials each"
    );
    let series = [
        ("kill -9", Stop::Kill),
        ("SIGTERM", Stop::Terminate),
        ("uplink down", Stop::LinkDown),
    ];
    for (what, stop) in series {
        let mut samples = Vec::new();
        for _ in 0..trials {
            match trial(&mut lab, stop).await {
                Ok(took) => {
                    if std::env::var_os("BENCH_VERBOSE").is_some() {
                        println!("  {what}: {took:?}");
                    }
                    samples.push(took)
                }
                Err(err) => bail!("{err:#}\n{}", lab.speakers.diagnostics(&lab.network)),
            }
        }
        test_support::report_durations(what, samples);
    }
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        println!("{}", lab.speakers.diagnostics(&lab.network));
    }
    if idle_seconds > 0 {
        let (total, wrong) = idle(&lab, idle_seconds)?;
        println!(
            "idle {idle_seconds} s: {total} requests, {wrong} not answered by the elected node"
        );
    }
    Ok(())
}
