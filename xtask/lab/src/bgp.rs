//! The lab's BGP step: FRR as the router in the client namespace, the charm's BGP options set
//! through juju-sim, and the Service's route learnt from every speaker (ECMP).

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use netlab::{Frr, FrrBgp, Network};
use test_support::wait_for;

use crate::sim::{indent, juju_sim};

/// The speakers' AS (the charm's `bgp-asn`).
pub const LOCAL_AS: u32 = 64512;
/// The router's AS.
pub const ROUTER_AS: u32 = 64513;

/// An frr.conf for the router at the client's IPv4 address, peering with every node.
fn config(network: &Network) -> String {
    FrrBgp {
        hostname: "lab-router",
        asn: ROUTER_AS,
        router_id: network.client.ipv4.to_string(),
        neighbors: network
            .nodes
            .iter()
            .map(|node| format!(" neighbor {} remote-as {LOCAL_AS}\n", node.ipv4))
            .collect(),
        ..FrrBgp::default()
    }
    .render()
}

/// Starts FRR, turns BGP on in the charm and shows the route to `ip` from every speaker.
/// `None` (with a note) when FRR is not installed.
pub async fn show(
    bin_dir: &Path,
    state: &Path,
    network: &Network,
    ip: &str,
    wait: Duration,
) -> Result<Option<Frr>> {
    if !Path::new("/usr/lib/frr/bgpd").exists() {
        println!("    FRR is not installed: no BGP step (`apt-get install frr` to see it)");
        return Ok(None);
    }
    let frr = Frr::start(&network.client.netns, &config(network))?;
    println!(
        "    FRR (zebra, bgpd) in {} as AS {ROUTER_AS}, neighbors: the three nodes",
        network.client.netns
    );
    let asn = format!("bgp-asn={LOCAL_AS}");
    let peers = format!("bgp-peers={}:{ROUTER_AS}", network.client.ipv4);
    juju_sim(bin_dir, state, &["config", &asn, &peers])?;
    println!("    juju-sim config {asn} {peers}");
    let prefix = format!("{ip}/32");
    let paths = wait_for(&format!("three BGP paths to {prefix}"), wait, || async {
        let paths = frr.paths(&prefix)?;
        Ok((paths.len() == 3).then_some(paths.len()))
    })
    .await?;
    println!("    FRR has {paths} paths to {prefix} (one per speaker):");
    print!("{}", indent(&frr.vtysh(&format!("show ip bgp {prefix}"))?));
    let route =
        test_support::netlab::netns_exec(&network.client.netns, &["ip", "route", "show", ip])?;
    println!("    the client's kernel route (installed by zebra):");
    print!("{}", indent(&String::from_utf8_lossy(&route.stdout)));
    Ok(Some(frr))
}
