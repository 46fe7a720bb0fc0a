//! BGP against a real router: FRR (Debian package `frr`) in the client namespace peers with the
//! speakers on three node namespaces. Its RIB must hold the Service prefix with three equal
//! paths (ECMP) and the configured community, the client must reach the Service through those
//! routes, and a killed speaker's path must go within the hold time.
//!
//! Needs root and the control plane (`cargo xtask test` provides both, and installs FRR).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, ensure};
use kube::api::{Api, Patch, PatchParams};
use metallb_api::{
    BGPAdvertisement, BGPAdvertisementSpec, BGPPeer, BGPPeerSpec, IPAddressPool, IPAddressPoolSpec,
};
use netlab::{Bird, Frr, FrrBgp, Gobgp, Router};
use serde_json::{Value, json};
use test_support::scenario::{self, LabSpec, Scenario, run_with_router};
use test_support::wait_for;

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const SERVICE: &str = "198.18.100.10";
const SERVICE_V6: &str = "2001:db8::64:a";
const WAIT: Duration = Duration::from_secs(60);

async fn configure(lab: &Scenario) -> Result<()> {
    let peers = [
        ("router", lab.network.client.ipv4.to_string(), false),
        ("router6", lab.network.client.ipv6.to_string(), false),
    ];
    configure_with(lab, &peers).await
}

/// The pool (IPv4 and IPv6), the BGPPeers `(name, address, dualStackAddressFamily)`, an
/// advertisement with a community, and a dual-stack Service served on every node.
async fn configure_with(lab: &Scenario, peers_spec: &[(&str, String, bool)]) -> Result<()> {
    let (client, ns) = (&lab.client, lab.namespace.as_str());
    let pool = IPAddressPoolSpec {
        addresses: vec![netlab::POOL_V4.into(), netlab::POOL_V6.into()],
        ..Default::default()
    };
    scenario::apply(client, ns, &IPAddressPool::new("lab", pool)).await?;
    for (name, address, dual_stack) in peers_spec {
        let peer = BGPPeerSpec {
            my_asn: 64512,
            peer_asn: Some(64513),
            peer_address: Some(address.clone()),
            hold_time: Some("9s".into()),
            dual_stack_address_family: Some(*dual_stack),
            ..Default::default()
        };
        scenario::apply(client, ns, &BGPPeer::new(name, peer)).await?;
    }
    let advertisement = BGPAdvertisementSpec {
        ip_address_pools: vec!["lab".into()],
        communities: vec!["65000:100".into()],
        ..Default::default()
    };
    scenario::apply(client, ns, &BGPAdvertisement::new("lab", advertisement)).await?;
    scenario::lb_service(&lab.client, "default", "web", &[SERVICE, SERVICE_V6], false).await?;
    scenario::endpoints(&lab.client, "default", "web", &lab.endpoints_on(&NODES)).await
}

async fn scenario(lab: &mut Scenario, frr: &Frr) -> Result<()> {
    configure(lab).await?;
    let prefix = format!("{SERVICE}/32");
    // Three paths, all used together (ECMP) once FRR has run its best-path selection.
    let in_use = |p: &Value| p["multipath"] == true || p["bestpath"]["overall"] == true;
    let paths = wait_for("FRR to use three paths to the Service", WAIT, || async {
        let paths = frr.paths(&prefix)?;
        Ok((paths.len() == 3 && paths.iter().all(in_use)).then_some(paths))
    })
    .await?;
    for path in &paths {
        let community = path["community"]["string"].as_str().unwrap_or_default();
        ensure!(
            community == "65000:100",
            "path without the community: {path}"
        );
        ensure!(
            path["aspath"]["string"] == "64512",
            "unexpected AS path: {path}"
        );
    }
    // IPv6 over the IPv6 sessions (MP-BGP), with the node's address as next hop.
    let prefix_v6 = format!("{SERVICE_V6}/128");
    wait_for("FRR to have three IPv6 paths", WAIT, || async {
        Ok((frr.paths(&prefix_v6)?.len() == 3).then_some(()))
    })
    .await?;
    // The client (behind the router) reaches the Service through the BGP routes.
    for ip in [SERVICE, SERVICE_V6] {
        let body = netlab::curl(&lab.network, ip)?;
        ensure!(NODES.contains(&body.as_str()), "curl {ip} reached {body:?}");
    }

    // A killed speaker's path goes within the hold time (9 s).
    lab.speakers.kill("node-a")?;
    wait_for(
        "FRR to drop node-a's path",
        Duration::from_secs(20),
        || async {
            let paths = frr.paths(&prefix)?;
            let hops: Vec<String> = paths
                .iter()
                .filter_map(|p| p["nexthops"][0]["ip"].as_str().map(String::from))
                .collect();
            Ok((paths.len() == 2 && !hops.contains(&"198.18.0.11".to_string())).then_some(()))
        },
    )
    .await?;

    // Deleting the Service withdraws it everywhere.
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(lab.client.clone(), "default");
    services.delete("web", &Default::default()).await?;
    wait_for(
        "FRR to withdraw the Service",
        Duration::from_secs(20),
        || async { Ok(frr.paths(&prefix)?.is_empty().then_some(())) },
    )
    .await?;
    Ok(())
}

/// Speaker flags of the tests that print the speakers' debug logs on failure.
const DEBUG: &[&str] = &["--log-level", "debug"];

/// The lab of a test: three nodes running this crate's speaker with `flags`.
fn lab<'a>(tag: &'a str, flags: &'a [&'a str]) -> LabSpec<'a> {
    LabSpec {
        tag,
        nodes: &NODES,
        speaker: Path::new(env!("CARGO_BIN_EXE_metallb-speaker")),
        flags,
    }
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn frr_learns_the_service_from_every_speaker_and_drops_a_dead_one() {
    run_with_router(
        lab("mbgp", DEBUG),
        |lab: &Scenario| Frr::start(&lab.network.client.netns, &netlab::frr_config(&lab.network)),
        scenario,
    )
    .await;
}

/// Starts the lab with the BGP configuration and a dual-stack Service on every node, and
/// returns once the router started by `start_router` holds three paths (`path_count`) for both
/// families.
async fn peer_with<R: Router>(
    tag: &str,
    start_router: impl FnOnce(&Scenario) -> Result<R>,
    path_count: fn(&R, &str) -> Result<usize>,
) {
    run_with_router(
        lab(tag, DEBUG),
        start_router,
        async |lab: &mut Scenario, router: &R| {
            configure(lab).await?;
            for p in [format!("{SERVICE}/32"), format!("{SERVICE_V6}/128")] {
                wait_for(&format!("three paths to {p}"), WAIT, || async {
                    Ok((path_count(router, &p)? == 3).then_some(()))
                })
                .await?;
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn gobgp_accepts_the_routes_of_every_speaker() {
    peer_with(
        "mgob",
        |lab| {
            Gobgp::start(
                &lab.network.client.netns,
                &netlab::gobgp_config(&lab.network),
            )
        },
        Gobgp::path_count,
    )
    .await;
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn bird_accepts_the_routes_of_every_speaker() {
    peer_with(
        "mbrd",
        |lab| {
            Bird::start(
                &lab.network.client.netns,
                &netlab::bird_config(&lab.network),
            )
        },
        Bird::path_count,
    )
    .await;
}

/// Whether any speaker reports an established session.
fn any_session_up(lab: &Scenario) -> bool {
    lab.network.nodes.iter().any(|node| {
        netlab::http_get_from(
            &node.netns,
            [127, 0, 0, 1].into(),
            7472,
            "/metrics",
            Duration::from_secs(1),
        )
        .is_ok_and(|m| m.contains("metallb_bgp_session_up{peer=\"router\"} 1"))
    })
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn md5_passwords_must_match() {
    let start_frr = |lab: &Scenario| {
        let mut passwords = String::new();
        for node in &lab.network.nodes {
            passwords.push_str(&format!(" neighbor {} password s3cret\n", node.ipv4));
        }
        let config = netlab::frr_config(&lab.network).replacen(
            " address-family ipv4 unicast",
            &format!("{passwords} address-family ipv4 unicast"),
            1,
        );
        Frr::start(&lab.network.client.netns, &config)
    };
    run_with_router(
        lab("mmd5", &[]),
        start_frr,
        async |lab: &mut Scenario, frr: &Frr| {
            configure(lab).await?;
            let peers: Api<metallb_api::BGPPeer> =
                Api::namespaced(lab.client.clone(), &lab.namespace);
            let set_password = |password: &'static str| {
                let peers = peers.clone();
                async move {
                    let patch = json!({"spec": {"password": password}});
                    peers
                        .patch("router", &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                }
            };
            // A wrong password: no session comes up in 10 s (the speakers retry meanwhile).
            set_password("wrong").await?;
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                ensure!(
                    !any_session_up(lab),
                    "a session came up with the wrong password"
                );
                ensure!(
                    frr.paths(&format!("{SERVICE}/32"))?.is_empty(),
                    "routes arrived with the wrong password"
                );
            }
            // The right one: the routes arrive.
            set_password("s3cret").await?;
            wait_for("the routes with the right password", WAIT, || async {
                Ok((frr.paths(&format!("{SERVICE}/32"))?.len() == 3).then_some(()))
            })
            .await
        },
    )
    .await;
}

/// The IPv6 next hops FRR holds for the dual-stack Service's IPv6 address.
fn ipv6_hops(frr: &Frr) -> Result<BTreeSet<String>> {
    Ok(frr
        .paths(&format!("{SERVICE_V6}/128"))?
        .iter()
        .filter_map(|p| p["nexthops"][0]["ip"].as_str().map(str::to_string))
        .collect())
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn dual_stack_address_family_carries_ipv6_routes_over_an_ipv4_session() {
    let start_frr = |lab: &Scenario| {
        let nodes = &lab.network.nodes;
        let config = FrrBgp {
            hostname: "router",
            asn: 64513,
            router_id: lab.network.client.ipv4.to_string(),
            neighbors: nodes
                .iter()
                .map(|n| format!(" neighbor {} remote-as 64512\n", n.ipv4))
                .collect(),
            ipv6_neighbors: nodes.iter().map(|n| n.ipv4.to_string()).collect(),
            before: "",
        };
        Frr::start(&lab.network.client.netns, &config.render())
    };
    run_with_router(
        lab("mdsf", DEBUG),
        start_frr,
        async |lab: &mut Scenario, frr: &Frr| {
            let router = lab.network.client.ipv4.to_string();
            // One IPv4 session per node, single family: the IPv4 route only.
            configure_with(lab, &[("router", router.clone(), false)]).await?;
            wait_for("three IPv4 paths", WAIT, || async {
                Ok((frr.paths(&format!("{SERVICE}/32"))?.len() == 3).then_some(()))
            })
            .await?;
            ensure!(
                ipv6_hops(frr)?.is_empty(),
                "IPv6 routes over IPv4 sessions without dualStackAddressFamily"
            );
            // Both families on the session: the IPv6 route, with each node's IPv6 address as next
            // hop.
            configure_with(lab, &[("router", router, true)]).await?;
            let nodes: BTreeSet<String> = lab
                .network
                .nodes
                .iter()
                .map(|n| n.ipv6.to_string())
                .collect();
            wait_for("three IPv6 paths over the IPv4 sessions", WAIT, || async {
                Ok((ipv6_hops(frr)? == nodes).then_some(()))
            })
            .await?;
            ensure!(
                frr.paths(&format!("{SERVICE}/32"))?.len() == 3,
                "the IPv4 paths stay"
            );
            Ok(())
        },
    )
    .await;
}
