//! BGPPeer and BGPAdvertisement options against a real FRR: `passwordSecret` (TCP MD5 from a
//! Secret), Community aliases, `sourceAddress`, graceful restart (the router keeps forwarding
//! while a speaker restarts, after kill -9 and after SIGTERM), ServiceBGPStatus objects and
//! `nodeAssigned` events, `ebgpMultiHop` (a router two hops away is reached only with it), and
//! BFD (FRR's bfdd drops a frozen speaker's path long before the hold time; a packet without
//! TTL 255 is ignored), and LOCAL_PREF on iBGP routes.
//!
//! Needs root and the control plane (`cargo xtask test` provides both, and installs FRR).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta};
use kube::api::Api;
use metallb_api::bgp_peer::v1beta2::{DynamicAsn, SecretReference};
use metallb_api::{
    BFDProfile, BFDProfileSpec, BGPAdvertisement, BGPAdvertisementSpec, BGPPeer, BGPPeerSpec,
    Community, CommunityAlias, CommunitySpec, IPAddressPool, IPAddressPoolSpec, LabelSelector,
};
use netlab::{FRR_BFD_FAST, Frr, FrrBgp, Router};
use serde_json::Value;
use test_support::scenario::{self, LabSpec, Scenario, run_with_router};
use test_support::wait_for;

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const SERVICE: &str = "198.18.100.20";
const WAIT: Duration = Duration::from_secs(60);
/// node-a's second address, the `sourceAddress` of its session.
const NODE_A_SOURCE: &str = "198.18.0.21";

/// Speaker flags of the tests that print the speakers' debug logs on failure.
const DEBUG: &[&str] = &["--log-level", "debug"];

/// `line` for every node's IPv4 address.
fn node_lines(lab: &Scenario, line: impl Fn(std::net::Ipv4Addr) -> String) -> String {
    lab.network.nodes.iter().map(|n| line(n.ipv4)).collect()
}

/// The router at the client's IPv4 address (AS 64513) with `neighbors`.
fn router(lab: &Scenario, neighbors: String) -> FrrBgp<'static> {
    FrrBgp {
        hostname: "router",
        asn: 64513,
        router_id: lab.network.client.ipv4.to_string(),
        neighbors,
        ..FrrBgp::default()
    }
}

/// The far router's frr.conf (AS 64513, 198.19.5.2): every node as neighbor in AS 64512, with
/// the lines `options` gives for it; `before` ahead of `router bgp`.
fn far_config(
    lab: &Scenario,
    options: impl Fn(std::net::Ipv4Addr) -> String,
    before: &'static str,
) -> String {
    FrrBgp {
        hostname: "far",
        asn: 64513,
        router_id: "198.19.5.2".into(),
        neighbors: node_lines(lab, |n| {
            format!(" neighbor {n} remote-as 64512\n{}", options(n))
        }),
        ipv6_neighbors: Vec::new(),
        before,
    }
    .render()
}

/// The lab of a test: three nodes running this crate's speaker with `flags`.
fn lab<'a>(tag: &'a str, flags: &'a [&'a str]) -> LabSpec<'a> {
    LabSpec {
        tag,
        nodes: &NODES,
        speaker: Path::new(env!("CARGO_BIN_EXE_metallb-speaker")),
        flags,
    }
}

/// The defaults of the tests' BGPPeers: from the nodes in `nodes`, AS 64512 to AS 64513, hold
/// time 9 s; a test sets its own fields with `..peer_spec(nodes)`.
fn peer_spec(nodes: &[&str]) -> BGPPeerSpec {
    BGPPeerSpec {
        my_asn: 64512,
        peer_asn: Some(64513),
        hold_time: Some("9s".into()),
        node_selectors: vec![LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "kubernetes.io/hostname".into(),
                operator: "In".into(),
                values: Some(nodes.iter().map(|n| n.to_string()).collect()),
            }]),
            match_labels: None,
        }],
        ..Default::default()
    }
}

/// Applies the BGPPeer (v1beta2) `name` with `spec`.
async fn peer(lab: &Scenario, name: &str, spec: BGPPeerSpec) -> Result<()> {
    scenario::apply(&lab.client, &lab.namespace, &BGPPeer::new(name, spec)).await
}

/// The BFDProfile `fast`: 100 ms intervals, detection after three missed packets.
async fn fast_bfd_profile(lab: &Scenario) -> Result<()> {
    let spec = BFDProfileSpec {
        receive_interval: Some(100),
        transmit_interval: Some(100),
        detect_multiplier: Some(3),
        ..Default::default()
    };
    scenario::apply(&lab.client, &lab.namespace, &BFDProfile::new("fast", spec)).await
}

/// The pool, an advertisement with `communities`, and the Service on every node.
async fn service(lab: &Scenario, communities: &[&str]) -> Result<()> {
    let advertisement = BGPAdvertisementSpec {
        communities: communities.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    };
    service_with(lab, advertisement).await
}

/// The pool `lab`, the advertisement `lab` of it (`advertisement` with the pool filled in),
/// and the Service on every node.
async fn service_with(lab: &Scenario, advertisement: BGPAdvertisementSpec) -> Result<()> {
    let (client, ns) = (&lab.client, lab.namespace.as_str());
    let pool = IPAddressPoolSpec {
        addresses: vec![netlab::POOL_V4.into()],
        ..Default::default()
    };
    scenario::apply(client, ns, &IPAddressPool::new("lab", pool)).await?;
    let advertisement = BGPAdvertisementSpec {
        ip_address_pools: vec!["lab".into()],
        ..advertisement
    };
    scenario::apply(client, ns, &BGPAdvertisement::new("lab", advertisement)).await?;
    scenario::lb_service(client, "default", "web", &[SERVICE], false).await?;
    scenario::endpoints(client, "default", "web", &lab.endpoints_on(&NODES)).await
}

/// The next hops FRR has for the Service, with whether each path is stale.
fn hops(frr: &Frr) -> Result<Vec<(String, bool)>> {
    Ok(frr
        .paths(&format!("{SERVICE}/32"))?
        .iter()
        .map(|p| {
            (
                p["nexthops"][0]["ip"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                p["stale"] == true,
            )
        })
        .collect())
}

/// FRR's state of the session with `neighbor`.
fn session_state(frr: &Frr, neighbor: &str) -> Result<String> {
    let text = frr.vtysh(&format!("show bgp neighbors {neighbor} json"))?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(value[neighbor]["bgpState"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Stops a speaker with `stop`, checks that FRR keeps its path (stale) once the session is
/// down and that the client still reaches the Service, then restarts it and waits for the
/// path to be fresh again.
async fn restart_keeps_forwarding(
    lab: &mut Scenario,
    frr: &Frr,
    node: &str,
    stop: fn(&mut scenario::Speakers, &str) -> Result<()>,
) -> Result<()> {
    let address = lab
        .network
        .node(node)
        .map(|n| n.ipv4.to_string())
        .context("no such node")?;
    stop(&mut lab.speakers, node)?;
    wait_for(
        &format!("FRR to see {node}'s session go down"),
        WAIT,
        || async { Ok((session_state(frr, &address)? != "Established").then_some(())) },
    )
    .await?;
    let now = hops(frr)?;
    ensure!(
        now.contains(&(address.clone(), true)) && now.len() == 3,
        "FRR did not keep {node}'s path as stale while it restarts: {now:?}"
    );
    for _ in 0..3 {
        let body = netlab::curl(&lab.network, SERVICE)?;
        ensure!(
            NODES.contains(&body.as_str()),
            "curl reached {body:?} during the restart"
        );
    }
    lab.speakers.start(&lab.network, node)?;
    wait_for(
        &format!("{node}'s path to be fresh again"),
        WAIT,
        || async {
            let now = hops(frr)?;
            Ok((now.len() == 3 && now.iter().all(|(_, stale)| !stale)).then_some(()))
        },
    )
    .await
}

async fn options_scenario(lab: &mut Scenario, frr: &Frr) -> Result<()> {
    // node-a connects from a second address of its own.
    let node_a = lab
        .network
        .node("node-a")
        .context("no node-a")?
        .netns
        .clone();
    netlab::netns_exec(
        &node_a,
        &[
            "ip",
            "addr",
            "add",
            &format!("{NODE_A_SOURCE}/24"),
            "dev",
            "eth0",
        ],
    )?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("bgp-auth".into()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/basic-auth".into()),
        string_data: Some(BTreeMap::from([
            ("username".into(), "metallb".into()),
            ("password".into(), "s3cret".into()),
        ])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(lab.client.clone(), &lab.namespace)
        .create(&Default::default(), &secret)
        .await?;
    let alias = |name: &str, value: &str| CommunityAlias {
        name: name.into(),
        value: value.into(),
    };
    let aliases = CommunitySpec {
        communities: vec![alias("web", "65000:300"), alias("big", "large:64512:1:2")],
    };
    scenario::apply(
        &lab.client,
        &lab.namespace,
        &Community::new("aliases", aliases),
    )
    .await?;
    let router = lab.network.client.ipv4.to_string();
    let secured = |nodes: &[&str]| BGPPeerSpec {
        peer_address: Some(router.clone()),
        password_secret: Some(SecretReference {
            name: Some("bgp-auth".into()),
            namespace: None,
        }),
        enable_graceful_restart: Some(true),
        ..peer_spec(nodes)
    };
    peer(lab, "router", secured(&["node-b", "node-c"])).await?;
    let from_a = BGPPeerSpec {
        source_address: Some(NODE_A_SOURCE.into()),
        ..secured(&["node-a"])
    };
    peer(lab, "router-a", from_a).await?;
    service(lab, &["web", "big"]).await?;

    // Three paths; node-a's next hop is its source address; the aliases became communities
    // (a speaker that saw the advertisement before the Community object re-sends its route
    // once it has both).
    let aliased = |p: &Value| {
        p["community"]["string"] == "65000:300" && p["largeCommunity"]["string"] == "64512:1:2"
    };
    let paths = wait_for("FRR to have three paths with the aliases", WAIT, || async {
        let paths = frr.paths(&format!("{SERVICE}/32"))?;
        Ok((paths.len() == 3 && paths.iter().all(aliased)).then_some(paths))
    })
    .await?;
    let next_hops: Vec<&str> = paths
        .iter()
        .filter_map(|p| p["nexthops"][0]["ip"].as_str())
        .collect();
    ensure!(
        next_hops.contains(&NODE_A_SOURCE),
        "node-a's path does not come from its source address: {next_hops:?}"
    );
    for path in &paths {
        ensure!(
            path["community"]["string"] == "65000:300",
            "path without the aliased community: {path}"
        );
        ensure!(
            path["largeCommunity"]["string"] == "64512:1:2",
            "path without the aliased large community: {path}"
        );
    }

    // Each advertising node has its ServiceBGPStatus listing its peers, and said so in an event.
    let statuses: Api<metallb_api::ServiceBGPStatus> =
        Api::namespaced(lab.client.clone(), &lab.namespace);
    wait_for("a ServiceBGPStatus per node", WAIT, || async {
        let mut seen: Vec<(String, Vec<String>)> = statuses
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter_map(|o| o.status)
            .filter(|s| s.service_name.as_deref() == Some("web"))
            .map(|s| (s.node.unwrap_or_default(), s.peers))
            .collect();
        seen.sort();
        let router = vec!["router".to_string()];
        let expected = vec![
            ("node-a".to_string(), vec!["router-a".to_string()]),
            ("node-b".to_string(), router.clone()),
            ("node-c".to_string(), router),
        ];
        Ok((seen == expected).then_some(()))
    })
    .await?;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(lab.client.clone(), "default");
    wait_for("nodeAssigned events for BGP", WAIT, || async {
        let bgp_events = events
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter(|e| {
                e.reason.as_deref() == Some("nodeAssigned")
                    && e.note.as_deref().is_some_and(|n| n.contains("\"bgp\""))
            })
            .count();
        Ok((bgp_events >= 3).then_some(()))
    })
    .await?;

    // Graceful restart: after kill -9, and after SIGTERM, the router keeps the path.
    restart_keeps_forwarding(lab, frr, "node-b", scenario::Speakers::kill).await?;
    restart_keeps_forwarding(lab, frr, "node-c", scenario::Speakers::terminate).await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn password_secret_aliases_source_address_and_graceful_restart_work_with_frr() {
    let start_frr = |lab: &Scenario| {
        let neighbors: String = ["198.18.0.12", "198.18.0.13", NODE_A_SOURCE]
            .iter()
            .map(|a| format!(" neighbor {a} remote-as 64512\n neighbor {a} password s3cret\n"))
            .collect();
        let config = router(lab, format!(" bgp graceful-restart\n{neighbors}"));
        Frr::start(&lab.network.client.netns, &config.render())
    };
    run_with_router(lab("mopt", DEBUG), start_frr, options_scenario).await;
}

/// A namespace removed when dropped.
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        netlab::remove_namespace(&self.0);
    }
}

/// A router namespace behind the client, which routes between the two: the nodes reach the
/// router (198.19.5.2) through the client (one hop in between).
fn far_router(lab: &Scenario) -> Result<Namespace> {
    let far = Namespace(format!("{}-far", lab.network.prefix));
    let client = lab.network.client.netns.as_str();
    netlab::run("ip", &["netns", "add", &far.0])?;
    netlab::netns_exec(
        client,
        &[
            "ip", "link", "add", "ethf", "type", "veth", "peer", "name", "eth0", "netns", &far.0,
        ],
    )?;
    netlab::netns_exec(
        client,
        &["ip", "addr", "add", "198.19.5.1/24", "dev", "ethf"],
    )?;
    netlab::netns_exec(client, &["ip", "link", "set", "ethf", "up"])?;
    netlab::netns_exec(
        client,
        &["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
    )?;
    netlab::netns_exec(
        &far.0,
        &["ip", "addr", "add", "198.19.5.2/24", "dev", "eth0"],
    )?;
    netlab::netns_exec(&far.0, &["ip", "link", "set", "eth0", "up"])?;
    netlab::netns_exec(&far.0, &["ip", "link", "set", "lo", "up"])?;
    netlab::netns_exec(
        &far.0,
        &["ip", "route", "add", "default", "via", "198.19.5.1"],
    )?;
    for node in &lab.network.nodes {
        netlab::netns_exec(
            &node.netns,
            &["ip", "route", "add", "198.19.5.0/24", "via", "198.18.0.3"],
        )?;
    }
    Ok(far)
}

/// The BGPPeer `far` (the router two hops away) from every node, with `ebgpMultiHop` and
/// `bfdProfile` as given.
async fn far_peer(lab: &Scenario, multi_hop: bool, bfd_profile: Option<&str>) -> Result<()> {
    let spec = BGPPeerSpec {
        peer_address: Some("198.19.5.2".into()),
        ebgp_multi_hop: Some(multi_hop),
        bfd_profile: bfd_profile.map(str::to_string),
        ..peer_spec(&NODES)
    };
    peer(lab, "far", spec).await
}

async fn multi_hop_scenario(lab: &Scenario, frr: &Frr) -> Result<()> {
    far_peer(lab, false, None).await?;
    service(lab, &[]).await?;
    // Single hop (TTL 1): the packets die at the router in between; no session in 8 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while std::time::Instant::now() < deadline {
        ensure!(
            frr.paths(&format!("{SERVICE}/32"))?.is_empty(),
            "a single-hop eBGP session reached a router two hops away"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    far_peer(lab, true, None).await?;
    wait_for("three paths over multi-hop sessions", WAIT, || async {
        Ok((frr.paths(&format!("{SERVICE}/32"))?.len() == 3).then_some(()))
    })
    .await
}

/// FRR in the far router's namespace (dropped before the namespace).
struct FarFrr {
    frr: Frr,
    _far: Namespace,
}

impl Router for FarFrr {
    fn diagnostics(&self) -> String {
        self.frr.diagnostics()
    }
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn ebgp_multi_hop_reaches_a_router_two_hops_away_and_single_hop_does_not() {
    let start_far_frr = |lab: &Scenario| {
        let far = far_router(lab).context("building the two-hop network")?;
        let config = far_config(lab, |n| format!(" neighbor {n} ebgp-multihop 2\n"), "");
        let frr = Frr::start(&far.0, &config)?;
        Ok(FarFrr { frr, _far: far })
    };
    run_with_router(
        lab("mhop", DEBUG),
        start_far_frr,
        async |lab: &mut Scenario, far: &FarFrr| multi_hop_scenario(lab, &far.frr).await,
    )
    .await;
}

async fn bfd_scenario(lab: &mut Scenario, frr: &Frr) -> Result<()> {
    fast_bfd_profile(lab).await?;
    let router = lab.network.client.ipv4.to_string();
    let spec = BGPPeerSpec {
        peer_address: Some(router),
        bfd_profile: Some("fast".into()),
        ..peer_spec(&NODES)
    };
    peer(lab, "router", spec).await?;
    service(lab, &[]).await?;
    wait_for("FRR to have three paths", WAIT, || async {
        Ok((hops(frr)?.len() == 3).then_some(()))
    })
    .await?;
    wait_for("three BFD sessions up in FRR", WAIT, || async {
        let up = frr
            .bfd_peers()?
            .iter()
            .filter(|p| p["status"] == "up")
            .count();
        Ok((up == 3).then_some(()))
    })
    .await?;
    // RFC 5881 §5: a packet that did not come with TTL 255 is dropped. A forged "Down" from
    // the router's address with TTL 64 would otherwise bring node-a's session down.
    let node_a = lab.network.node("node-a").context("no node-a")?.clone();
    let forged = metallb_core::bfd::session::Session::new(Default::default(), 4242).periodic();
    let target = std::net::SocketAddr::new(node_a.ipv4.into(), metallb_core::bfd::CONTROL_PORT);
    netlab::in_netns(&lab.network.client.netns, move || -> std::io::Result<()> {
        let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
        socket.set_ttl(64)?;
        socket.send_to(&forged.encode(), target)?;
        Ok(())
    })??;
    wait_for("node-a to drop the TTL-64 packet", WAIT, || async {
        let metrics = netlab::http_get_from(
            &node_a.netns,
            [127, 0, 0, 1].into(),
            7472,
            "/metrics",
            Duration::from_secs(1),
        )?;
        Ok(metrics
            .contains("metallb_bfd_packets_dropped{reason=\"ttl\"} 1")
            .then_some(()))
    })
    .await?;
    wait_for("three paths before the freeze", WAIT, || async {
        Ok((hops(frr)?.len() == 3).then_some(()))
    })
    .await?;
    // Freeze node-a's speaker: its TCP connection stays open, so without BFD the router would
    // keep the path for the 9 s hold time; BFD (3 x 100 ms) drops it well before.
    let frozen = std::time::Instant::now();
    lab.speakers.signal("node-a", libc::SIGSTOP)?;
    let dropped = wait_for(
        "FRR to drop the frozen node's path through BFD",
        Duration::from_secs(4),
        || async {
            let now = hops(frr)?;
            Ok(
                (now.len() == 2 && !now.iter().any(|(hop, _)| hop == "198.18.0.11"))
                    .then_some(frozen.elapsed()),
            )
        },
    )
    .await;
    lab.speakers.signal("node-a", libc::SIGCONT)?;
    let dropped = dropped?;
    println!(
        "path dropped {} ms after the speaker froze",
        dropped.as_millis()
    );
    wait_for("node-a's path to come back", WAIT, || async {
        Ok((hops(frr)?.len() == 3).then_some(()))
    })
    .await
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn bfd_drops_a_frozen_speakers_path_long_before_the_hold_time() {
    let start_frr = |lab: &Scenario| {
        let config = FrrBgp {
            before: FRR_BFD_FAST,
            ..router(
                lab,
                node_lines(lab, |n| {
                    format!(
                        " neighbor {n} remote-as 64512\n neighbor {n} bfd\n neighbor {n} bfd profile fast\n"
                    )
                }),
            )
        };
        Frr::start_with_bfd(&lab.network.client.netns, &config.render())
    };
    run_with_router(lab("mbfd", DEBUG), start_frr, bfd_scenario).await;
}

async fn ibgp_scenario(lab: &Scenario, frr: &Frr) -> Result<()> {
    let router = lab.network.client.ipv4.to_string();
    let spec = BGPPeerSpec {
        peer_address: Some(router),
        peer_asn: Some(64512),
        ..peer_spec(&NODES)
    };
    peer(lab, "router", spec).await?;
    let advertisement = BGPAdvertisementSpec {
        local_pref: Some(150),
        ..Default::default()
    };
    service_with(lab, advertisement).await?;
    let in_use = |p: &Value| p["multipath"] == true || p["bestpath"]["overall"] == true;
    let paths = wait_for("FRR to use three iBGP paths", WAIT, || async {
        let paths = frr.paths(&format!("{SERVICE}/32"))?;
        Ok((paths.len() == 3 && paths.iter().all(in_use)).then_some(paths))
    })
    .await?;
    for path in &paths {
        ensure!(path["locPrf"] == 150, "path without LOCAL_PREF 150: {path}");
        ensure!(
            path["aspath"]["length"] == 0,
            "an iBGP path carries no AS: {path}"
        );
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn ibgp_routes_carry_the_advertisements_local_preference() {
    let start_frr = |lab: &Scenario| {
        let config = FrrBgp {
            asn: 64512,
            ..router(
                lab,
                node_lines(lab, |n| format!(" neighbor {n} remote-as 64512\n")),
            )
        };
        Frr::start(&lab.network.client.netns, &config.render())
    };
    run_with_router(
        lab("mibg", &[]),
        start_frr,
        async |lab: &mut Scenario, frr: &Frr| ibgp_scenario(lab, frr).await,
    )
    .await;
}

async fn dynamic_asn_scenario(lab: &Scenario, frr: &Frr) -> Result<()> {
    let router = lab.network.client.ipv4.to_string();
    let spec = BGPPeerSpec {
        peer_address: Some(router),
        peer_asn: None,
        dynamic_asn: Some(DynamicAsn::External),
        local_asn: Some(64600),
        ..peer_spec(&NODES)
    };
    peer(lab, "router", spec).await?;
    service(lab, &[]).await?;
    wait_for("three paths from AS 64600", WAIT, || async {
        let paths = frr.paths(&format!("{SERVICE}/32"))?;
        Ok((paths.len() == 3
            && paths
                .iter()
                .all(|p| p["aspath"]["string"].as_str() == Some("64600")))
        .then_some(()))
    })
    .await
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn dynamic_asn_accepts_the_routers_as_and_local_asn_replaces_my_asn() {
    let start_frr = |lab: &Scenario| {
        let config = router(
            lab,
            node_lines(lab, |n| format!(" neighbor {n} remote-as 64600\n")),
        );
        Frr::start(&lab.network.client.netns, &config.render())
    };
    run_with_router(
        lab("mdyn", DEBUG),
        start_frr,
        async |lab: &mut Scenario, frr: &Frr| dynamic_asn_scenario(lab, frr).await,
    )
    .await;
}

async fn multi_hop_bfd_scenario(lab: &Scenario, frr: &Frr) -> Result<()> {
    fast_bfd_profile(lab).await?;
    far_peer(lab, true, Some("fast")).await?;
    service(lab, &[]).await?;
    wait_for("three paths over multi-hop sessions", WAIT, || async {
        Ok((frr.paths(&format!("{SERVICE}/32"))?.len() == 3).then_some(()))
    })
    .await?;
    // FRR runs multihop BFD (port 4784) with an eBGP multi-hop neighbor; packets cross one
    // router and arrive with TTL 254 on both sides.
    wait_for("three multihop BFD sessions up in FRR", WAIT, || async {
        let up = frr
            .bfd_peers()?
            .iter()
            .filter(|p| p["status"] == "up" && p["multihop"] == true)
            .count();
        Ok((up == 3).then_some(()))
    })
    .await?;
    for node in &lab.network.nodes {
        let metrics = netlab::http_get_from(
            &node.netns,
            [127, 0, 0, 1].into(),
            7472,
            "/metrics",
            Duration::from_secs(1),
        )?;
        ensure!(
            metrics.contains("metallb_bfd_session_up{peer=\"far\"} 1"),
            "{}'s BFD session is not up",
            node.name
        );
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn multi_hop_bfd_comes_up_with_a_router_two_hops_away() {
    let start_far_frr = |lab: &Scenario| {
        let far = far_router(lab).context("building the two-hop network")?;
        let config = far_config(
            lab,
            |n| {
                format!(
                    " neighbor {n} ebgp-multihop 2\n neighbor {n} bfd\n neighbor {n} bfd profile fast\n"
                )
            },
            FRR_BFD_FAST,
        );
        let frr = Frr::start_with_bfd(&far.0, &config)?;
        Ok(FarFrr { frr, _far: far })
    };
    run_with_router(
        lab("mmbf", DEBUG),
        start_far_frr,
        async |lab: &mut Scenario, far: &FarFrr| multi_hop_bfd_scenario(lab, &far.frr).await,
    )
    .await;
}
