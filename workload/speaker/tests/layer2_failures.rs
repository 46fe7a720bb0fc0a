//! The Layer 2 problems users fight with other load balancers, on a real network with real
//! clients: the announcing node's uplink losing carrier, a node cordoned for maintenance,
//! switches whose ARP caches go stale (periodic gratuitous announcements), and another host (or
//! a node without `arp_ignore`) answering for a Service address; and a pool no node has an
//! interface for, reported before any Service needs it.
//!
//! Needs root (network namespaces) and the control plane (`cargo xtask test`).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use metallb_api::configuration_state::LAYER2_POOLS_REACHABLE;
use metallb_api::{ConfigurationState, IPAddressPool, L2Advertisement, ServiceL2Status};
use netlab::TrafficProbe;
use serde_json::json;
use test_support::scenario::{self, Scenario};
use test_support::wait_for;

mod common;
use common::{l2, l2_with};

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
/// On the uplink (eth1, 198.19.200.0/24, outside eth0's 198.18.0.0/16): the link that goes down.
const UPLINK_IP: &str = "198.19.200.100";
/// On the main segment: the Service of the cordon.
const WEB_IP: &str = "198.18.100.40";
/// On the main segment: the Service announced periodically.
const PERIODIC_IP: &str = "198.18.100.41";
/// On the main segment: the Service another host answers for too.
const DUPLICATE_IP: &str = "198.18.100.42";
/// A pool range outside every node's networks (198.18.0.0/16 on eth0) ...
const FAR_RANGE: &str = "198.19.250.0/28";
/// ... until node-b gets this address on eth0.
const FAR_NODE_ADDRESS: &str = "198.19.250.1/24";
const WAIT: Duration = Duration::from_secs(30);
const MEMBERS: &str = "metallb_speaker_members ";

/// Waits until `ip` is answered on the client's `interface` by `mac` only; returns how long.
async fn wait_answered_by(
    lab: &Scenario,
    interface: &str,
    ip: &str,
    mac: &str,
) -> Result<Duration> {
    let started = Instant::now();
    wait_for(
        &format!("only {mac} to answer for {ip} on {interface}"),
        WAIT,
        || async {
            let macs = netlab::arping_on(&lab.network, interface, ip)?;
            Ok((!macs.is_empty() && macs.iter().all(|m| m == mac)).then_some(()))
        },
    )
    .await?;
    Ok(started.elapsed())
}

/// Applies the pool `name` with `addresses` and its advertisement `ad`.
async fn pool(lab: &Scenario, name: &str, addresses: &[&str], ad: &L2Advertisement) -> Result<()> {
    let (client, ns) = (&lab.client, lab.namespace.as_str());
    scenario::apply(client, ns, &common::pool(name, addresses)).await?;
    scenario::apply(client, ns, ad).await
}

async fn service(lab: &Scenario, name: &str, ip: &str) -> Result<()> {
    scenario::lb_service(&lab.client, "default", name, &[ip], false).await?;
    scenario::endpoints(&lab.client, "default", name, &lab.endpoints_on(&NODES)).await
}

/// The announcing node's eth1 loses carrier (its switch port goes down, the node and its
/// speaker stay up): the next node takes the address over within a second, and it comes back
/// when the link does.
async fn link_down(lab: &Scenario) -> Result<()> {
    lab.add_uplink(UPLINK_IP)?;
    // No interface named: eth1 answers because its network holds the address.
    pool(
        lab,
        "uplink",
        &[&format!("{UPLINK_IP}/32")],
        &l2("uplink", &["uplink"], &[]),
    )
    .await?;
    service(lab, "uplink", UPLINK_IP).await?;
    let ranked = scenario::ranked_nodes(UPLINK_IP, &NODES, &NODES);
    let (winner, next) = (&ranked[0], &ranked[1]);
    let winner_mac = lab.interface_mac(winner, "eth1")?;
    let next_mac = lab.interface_mac(next, "eth1")?;
    wait_answered_by(lab, "eth1", UPLINK_IP, &winner_mac).await?;

    let ip: IpAddr = UPLINK_IP.parse()?;
    let probe = TrafficProbe::start(&lab.network, ip);
    wait_flowing(&probe).await?;
    let down_at = Instant::now();
    lab.set_uplink_carrier(winner, false)?;
    let served = netlab::first_reply_from(&lab.network, ip, next, down_at, WAIT)?;
    println!("link down: {next} served {UPLINK_IP} {served:?} after {winner}'s eth1 lost carrier");
    wait_answered_by(lab, "eth1", UPLINK_IP, &next_mac).await?;
    // The link comes back: so does the address (the winner ranks first again).
    lab.set_uplink_carrier(winner, true)?;
    wait_answered_by(lab, "eth1", UPLINK_IP, &winner_mac).await?;
    let report = probe.stop()?;
    println!("link down and up: {report:?}");
    ensure!(report.answered > 0, "the probe saw no answer: {report:?}");
    ensure!(
        report.served_by.iter().any(|n| n == next) && report.served_by.last() == Some(winner),
        "expected {next} to serve while {winner}'s link was down, then {winner}: {report:?}"
    );
    Ok(())
}

/// Waits until `probe` gets answers (so that it knows who answered before a change).
async fn wait_flowing(probe: &TrafficProbe) -> Result<()> {
    wait_for("the probe's first answers", WAIT, || async {
        Ok((probe.answered() >= 3).then_some(()))
    })
    .await
}

/// Each move of an address can reset the one connection open at the moment the client's ARP
/// entry switches node (the new node does not know it); any other lost request means nobody
/// answered for a while.
fn ensure_only_moves_cost(report: &netlab::TrafficReport, what: &str) -> Result<()> {
    let moves = report.served_by.len().saturating_sub(1);
    ensure!(
        report.failed <= moves,
        "{what}, yet {} requests were lost for {moves} moves: {report:?}",
        report.failed
    );
    Ok(())
}

/// A cordoned node hands its addresses over before maintenance: the next node announces, and
/// stopping the cordoned node's speaker afterwards (the maintenance) loses no request.
async fn cordon(lab: &mut Scenario) -> Result<()> {
    pool(
        lab,
        "main",
        &["198.18.100.32/28"],
        &l2("main", &["main"], &[]),
    )
    .await?;
    service(lab, "web", WEB_IP).await?;
    let ranked = scenario::ranked_nodes(WEB_IP, &NODES, &NODES);
    let (winner, next) = (ranked[0].clone(), ranked[1].clone());
    wait_answered_by(lab, "eth0", WEB_IP, &lab.mac_of(&winner)).await?;

    let ip: IpAddr = WEB_IP.parse()?;
    let probe = TrafficProbe::start(&lab.network, ip);
    wait_flowing(&probe).await?;
    let nodes: Api<Node> = Api::all(lab.client.clone());
    let cordon = |on: bool| Patch::Merge(json!({"spec": {"unschedulable": on}}));
    let cordoned_at = Instant::now();
    nodes
        .patch(&winner, &PatchParams::default(), &cordon(true))
        .await?;
    wait_answered_by(lab, "eth0", WEB_IP, &lab.mac_of(&next)).await?;
    println!(
        "cordon: {next} alone answers for {WEB_IP} {:?} after the cordon",
        cordoned_at.elapsed()
    );
    // The maintenance: the cordoned node's speaker dies without a word.
    lab.speakers.kill(&winner)?;
    let others = NODES.len() as f64 - 1.0;
    wait_for(
        &format!("{next} to see {winner}'s speaker gone"),
        WAIT,
        || async { Ok((lab.metric(&next, MEMBERS)? == others).then_some(())) },
    )
    .await?;
    let report = probe.stop()?;
    println!("cordon then kill: {report:?}");
    ensure!(report.answered > 0, "the probe saw no answer: {report:?}");
    ensure_only_moves_cost(&report, "the address moved before the speaker stopped")?;
    // Back from maintenance: uncordoned, the speaker back; the address returns, losing no
    // more (the next node answers until the winner has announced).
    let probe = TrafficProbe::start(&lab.network, ip);
    wait_flowing(&probe).await?;
    nodes
        .patch(&winner, &PatchParams::default(), &cordon(false))
        .await?;
    lab.speakers.start(&lab.network, &winner)?;
    wait_answered_by(lab, "eth0", WEB_IP, &lab.mac_of(&winner)).await?;
    let report = probe.stop()?;
    println!("uncordon and restart: {report:?}");
    ensure_only_moves_cost(&report, "the address came back")?;
    Ok(())
}

/// Gratuitous announcements keep coming, at the interval the L2Advertisement asks for, long
/// after the burst that follows a change.
async fn periodic(lab: &Scenario) -> Result<()> {
    let ad = l2_with("periodic", &["periodic"], &[], Some("1s"));
    pool(lab, "periodic", &[&format!("{PERIODIC_IP}/32")], &ad).await?;
    service(lab, "periodic", PERIODIC_IP).await?;
    let winner = scenario::expected_winner(PERIODIC_IP, &NODES, &NODES);
    wait_answered_by(lab, "eth0", PERIODIC_IP, &lab.mac_of(&winner)).await?;
    // The burst after the change lasts 5 s: watch it pass, then count what keeps coming.
    netlab::capture_arp(&lab.network, "eth0", PERIODIC_IP, Duration::from_secs(6))?;
    let series = format!("metallb_layer2_gratuitous_sent{{ip=\"{PERIODIC_IP}\"}} ");
    let before = lab.metric(&winner, &series)?;
    let lines = netlab::capture_arp(&lab.network, "eth0", PERIODIC_IP, Duration::from_secs(4))?;
    let gratuitous: Vec<&String> = lines
        .iter()
        .filter(|l| {
            l.contains(&format!("who-has {PERIODIC_IP} tell {PERIODIC_IP}"))
                || l.contains(&format!("{PERIODIC_IP} is-at"))
        })
        .collect();
    let after = lab.metric(&winner, &series)?;
    println!(
        "periodic: {} gratuitous frames in 4 s on the wire, {} sent per the metric",
        gratuitous.len(),
        after - before
    );
    ensure!(
        gratuitous.len() >= 3,
        "expected gratuitous ARP every second, saw {gratuitous:#?} in\n{lines:#?}"
    );
    let mac = lab.mac_of(&winner);
    ensure!(
        gratuitous
            .iter()
            .all(|l| l.starts_with(&mac) || l.contains(&mac)),
        "gratuitous frames from another MAC than {winner}'s {mac}: {gratuitous:#?}"
    );
    Ok(())
}

/// The `DuplicateResponder` condition messages of the ServiceL2Status of `service`.
async fn duplicate_conditions(lab: &Scenario, service: &str) -> Result<Vec<String>> {
    let api: Api<ServiceL2Status> = Api::namespaced(lab.client.clone(), &lab.namespace);
    Ok(api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter_map(|s| s.status)
        .filter(|s| s.service_name.as_deref() == Some(service))
        .flat_map(|s| s.conditions)
        .filter(|c| c.type_ == "DuplicateResponder" && c.status == "True")
        .map(|c| c.message)
        .collect())
}

/// Waits until the ServiceL2Status of `service` says `mac` also answers; returns how long.
async fn wait_duplicate(lab: &Scenario, service: &str, mac: &str) -> Result<Duration> {
    let started = Instant::now();
    wait_for(
        &format!("{service}'s status to name {mac}"),
        WAIT,
        || async {
            let messages = duplicate_conditions(lab, service).await?;
            Ok(messages.iter().any(|m| m.contains(mac)).then_some(()))
        },
    )
    .await?;
    Ok(started.elapsed())
}

/// Another host on the LAN takes the Service address, then a node whose kernel answers ARP for
/// every local address (`arp_ignore=0`, as with kube-proxy IPVS without strictARP): the
/// announcing speaker's probes find both, and it says so (status condition, event, metric).
async fn duplicates(lab: &Scenario) -> Result<()> {
    pool(
        lab,
        "dup",
        &[&format!("{DUPLICATE_IP}/32")],
        &l2("dup", &["dup"], &[]),
    )
    .await?;
    service(lab, "dup", DUPLICATE_IP).await?;
    let ranked = scenario::ranked_nodes(DUPLICATE_IP, &NODES, &NODES);
    let (winner, other) = (&ranked[0], &ranked[1]);
    wait_answered_by(lab, "eth0", DUPLICATE_IP, &lab.mac_of(winner)).await?;
    ensure!(
        duplicate_conditions(lab, "dup").await?.is_empty(),
        "a duplicate before any"
    );

    let rogue = lab.network.add_host("rogue", 99)?;
    let address = format!("{DUPLICATE_IP}/32");
    netlab::netns_exec(
        &rogue.netns,
        &["ip", "addr", "add", &address, "dev", "eth0"],
    )?;
    let found = wait_duplicate(lab, "dup", &rogue.mac).await?;
    println!("duplicates: a foreign host holding {DUPLICATE_IP} reported in {found:?}");
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(lab.client.clone(), "default");
    wait_for("a DuplicateResponder event", WAIT, || async {
        let list = events.list(&Default::default()).await?;
        Ok(list
            .items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("DuplicateResponder")
                    && e.note.as_deref().is_some_and(|n| n.contains(&rogue.mac))
            })
            .then_some(()))
    })
    .await?;
    let series = format!(
        "metallb_layer2_duplicate_responders{{ip=\"{DUPLICATE_IP}\",mac=\"{}\"}} ",
        rogue.mac
    );
    ensure!(
        lab.metric(winner, &series)? == 1.0,
        "no duplicate metric {series}"
    );
    netlab::remove_namespace(&rogue.netns);

    let node = lab.network.node(other).context("node")?.netns.clone();
    let sysctl = |value: &str| -> Result<()> {
        for key in ["all", "eth0"] {
            let path = format!("/proc/sys/net/ipv4/conf/{key}/arp_ignore");
            netlab::netns_exec(&node, &["sh", "-c", &format!("echo {value} > {path}")])?;
        }
        Ok(())
    };
    sysctl("0")?;
    let found = wait_duplicate(lab, "dup", &lab.mac_of(other)).await;
    sysctl("1")?;
    println!(
        "duplicates: {other} answering with arp_ignore=0 reported in {:?}",
        found.as_ref().ok()
    );
    found?;
    Ok(())
}

/// The `layer2PoolsReachable` condition of every speaker's ConfigurationState: (status,
/// message), or None while some speaker has not reported it.
async fn reachability(lab: &Scenario) -> Result<Option<Vec<(String, String)>>> {
    let api: Api<ConfigurationState> = Api::namespaced(lab.client.clone(), &lab.namespace);
    let mut found = Vec::new();
    for node in NODES {
        let state = api.get_opt(&format!("speaker-{node}")).await?;
        let condition = state
            .and_then(|s| s.status)
            .into_iter()
            .flat_map(|s| s.conditions)
            .find(|c| c.type_ == LAYER2_POOLS_REACHABLE);
        match condition {
            Some(c) => found.push((c.status, c.message)),
            None => return Ok(None),
        }
    }
    Ok(Some(found))
}

/// A pool whose range no node has an interface for is reported by every speaker (the charm
/// warns from that), and no longer once a node has an address in its network.
async fn pool_networks(lab: &Scenario) -> Result<()> {
    let line = format!("IPAddressPool far: no node has an interface in the network of {FAR_RANGE}");
    pool(lab, "far", &[FAR_RANGE], &l2("far", &["far"], &[])).await?;
    let started = Instant::now();
    wait_for("every speaker to report the pool far", WAIT, || async {
        let all = reachability(lab).await?;
        Ok(all
            .filter(|all| {
                all.iter()
                    .all(|(status, message)| status == "False" && message.contains(&line))
            })
            .map(|_| ()))
    })
    .await?;
    println!(
        "pool far reported by every speaker in {:?}",
        started.elapsed()
    );
    let node = lab.network.node(NODES[1]).context("no such node")?;
    netlab::netns_exec(
        &node.netns,
        &["ip", "addr", "add", FAR_NODE_ADDRESS, "dev", "eth0"],
    )?;
    wait_for(
        "every speaker to find the pool far reachable",
        WAIT,
        || async {
            let all = reachability(lab).await?;
            Ok(all
                .filter(|all| {
                    all.iter()
                        .all(|(status, message)| status == "True" && message.is_empty())
                })
                .map(|_| ()))
        },
    )
    .await?;
    netlab::netns_exec(
        &node.netns,
        &["ip", "addr", "del", FAR_NODE_ADDRESS, "dev", "eth0"],
    )?;
    Api::<L2Advertisement>::namespaced(lab.client.clone(), &lab.namespace)
        .delete("far", &Default::default())
        .await?;
    Api::<IPAddressPool>::namespaced(lab.client.clone(), &lab.namespace)
        .delete("far", &Default::default())
        .await?;
    Ok(())
}

async fn scenario(lab: &mut Scenario) -> Result<()> {
    pool_networks(lab).await?;
    duplicates(lab).await?;
    link_down(lab).await?;
    periodic(lab).await?;
    cordon(lab).await
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn layer2_link_loss_cordon_and_periodic_announcements() {
    assert!(
        netlab::available(),
        "this test needs root and iproute2 (run it with `cargo xtask test`)"
    );
    let prefix = format!("ml2f{}", std::process::id() % 100_000);
    let speaker = env!("CARGO_BIN_EXE_metallb-speaker").as_ref();
    let flags = ["--log-level", "debug", "--duplicate-probe-interval", "2"];
    let mut lab = Scenario::start(&prefix, &NODES, speaker, &flags)
        .await
        .expect("cannot start the test network");
    if let Err(err) = scenario(&mut lab).await {
        panic!("{err:#}\n\n{}", lab.speakers.diagnostics(&lab.network));
    }
}
