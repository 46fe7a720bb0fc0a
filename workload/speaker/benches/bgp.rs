//! `cargo xtask bench bgp`: BGP with the release speaker and FRR on network namespaces.
//!
//! Prints the time from a Service getting its address (status written) to FRR holding the
//! route from all three speakers, over `BENCH_TRIALS` Services (default 20), and the time the
//! speaker's encoder takes to pack and encode 10,000 prefixes into UPDATEs.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use metallb_api::{
    BGPAdvertisement, BGPAdvertisementSpec, BGPPeer, BGPPeerSpec, IPAddressPool, IPAddressPoolSpec,
};
use metallb_core::bgp::{Attribute, Message, Prefix, encode, pack_announcements};
use netlab::Frr;
use test_support::scenario::{self, Scenario};

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

fn encoding() {
    let prefixes: Vec<Prefix> = (0..10_000u32)
        .filter_map(|i| {
            let [_, b, c, d] = i.to_be_bytes();
            Prefix::new(IpAddr::V4(Ipv4Addr::new(198, 18 + (b & 1), c, d)), 32)
        })
        .collect();
    let attributes = vec![
        Attribute::Origin(0),
        Attribute::AsPath(vec![64512]),
        Attribute::Communities(vec![1]),
    ];
    let started = Instant::now();
    let mut bytes = 0;
    let mut messages = 0;
    for _ in 0..100 {
        let updates = pack_announcements(
            &attributes,
            &prefixes,
            Some(Ipv4Addr::new(198, 18, 0, 11)),
            &[],
        );
        messages = updates.len();
        bytes = updates
            .into_iter()
            .map(|u| encode(&Message::Update(u)).len())
            .sum::<usize>();
    }
    let each = started.elapsed() / 100;
    println!(
        "10,000 IPv4 prefixes: {messages} UPDATEs, {bytes} bytes, packed and encoded in {:.2} ms",
        each.as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    encoding();
    if !netlab::available() {
        bail!("the BGP benchmark needs root and iproute2");
    }
    let trials: usize = std::env::var("BENCH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let prefix = format!("mbgb{}", std::process::id() % 100_000);
    let speaker = env!("CARGO_BIN_EXE_metallb-speaker").as_ref();
    let lab = Scenario::start(&prefix, &NODES, speaker, &[]).await?;
    let frr = Frr::start(&lab.network.client.netns, &netlab::frr_config(&lab.network))?;
    let (client, ns) = (&lab.client, lab.namespace.as_str());
    let pool = IPAddressPoolSpec {
        addresses: vec![netlab::POOL_V4.to_string()],
        ..Default::default()
    };
    scenario::apply(client, ns, &IPAddressPool::new("bench", pool)).await?;
    let peer = BGPPeerSpec {
        my_asn: 64512,
        peer_asn: Some(64513),
        peer_address: Some(lab.network.client.ipv4.to_string()),
        ..Default::default()
    };
    scenario::apply(client, ns, &BGPPeer::new("router", peer)).await?;
    let advertisement = BGPAdvertisement::new("bench", BGPAdvertisementSpec::default());
    scenario::apply(client, ns, &advertisement).await?;
    let endpoints = lab.endpoints_on(&NODES);
    let mut samples = Vec::new();
    for i in 0..trials {
        let name = format!("web{i}");
        let ip = format!("198.18.100.{}", 10 + i);
        scenario::endpoints(&lab.client, "default", &name, &endpoints).await?;
        let started = Instant::now();
        scenario::lb_service(&lab.client, "default", &name, &[&ip], false).await?;
        let route = format!("{ip}/32");
        loop {
            if frr.paths(&route)?.len() == 3 {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "FRR never learned {route}:\n{}",
                    lab.speakers.diagnostics(&lab.network)
                );
            }
        }
        samples.push(started.elapsed());
    }
    test_support::report_durations(
        "Service address to route in FRR from all 3 speakers",
        samples,
    );
    let _ = frr.vtysh("show bgp summary").context("vtysh")?;
    Ok(())
}
