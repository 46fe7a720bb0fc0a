//! The speaker on a real network: three node namespaces and a client on one bridge, the
//! control plane in its own namespace, real `arping`, `ndisc6` and `curl` clients.
//!
//! Needs root (network namespaces) and the control plane (`cargo xtask test` provides both).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use kube::api::Api;
use metallb_api::{BGPAdvertisement, BGPAdvertisementSpec, BGPPeer, BGPPeerSpec, ServiceL2Status};
use test_support::scenario::{self, Scenario};
use test_support::wait_for;

mod common;
use common::{l2, pool};

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const SERVICE_V4: &str = "198.18.100.10";
const SERVICE_V6: &str = "2001:db8::64:a";
const LOCAL_V4: &str = "198.18.100.20";
const PINNED_V4: &str = "198.18.100.130";
const NOT_ANNOUNCED: &str = "198.18.100.99";
const WAIT: Duration = Duration::from_secs(30);

async fn status_nodes(lab: &Scenario, service: &str) -> Result<Vec<String>> {
    let api: Api<ServiceL2Status> = Api::namespaced(lab.client.clone(), &lab.namespace);
    let list = api.list(&Default::default()).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|s| s.status)
        .filter(|st| st.service_name.as_deref() == Some(service))
        .filter_map(|st| st.node)
        .collect())
}

/// Waits until only `node` answers ARP for `ip` and the ServiceL2Status names it.
async fn wait_announcer(lab: &Scenario, service: &str, ip: &str, node: &str) -> Result<()> {
    let mac = lab.mac_of(node);
    wait_for(&format!("{node} to answer ARP for {ip}"), WAIT, || async {
        let macs = netlab::arping(&lab.network, ip)?;
        Ok((!macs.is_empty() && macs.iter().all(|m| *m == mac)).then_some(()))
    })
    .await?;
    wait_for(
        &format!("ServiceL2Status of {service} to name {node}"),
        WAIT,
        || async { Ok((status_nodes(lab, service).await? == [node.to_string()]).then_some(())) },
    )
    .await
}

async fn scenario(lab: &mut Scenario) -> Result<()> {
    let ns = lab.namespace.clone();
    let pools = pool("lab", &["198.18.100.0/25", netlab::POOL_V6]);
    scenario::apply(&lab.client, &ns, &pools).await?;
    scenario::apply(&lab.client, &ns, &l2("lab", &["lab"], &[])).await?;
    scenario::lb_service(
        &lab.client,
        "default",
        "web",
        &[SERVICE_V4, SERVICE_V6],
        false,
    )
    .await?;
    scenario::endpoints(&lab.client, "default", "web", &lab.endpoints_on(&NODES)).await?;

    // Exactly one node answers, the elected one, for both families; curl reaches it.
    let winner = scenario::expected_winner(SERVICE_V4, &NODES, &NODES);
    wait_announcer(lab, "web", SERVICE_V4, &winner).await?;
    // Every answer (solicited, or an unsolicited one of the announcement burst) is the winner's.
    let macs = netlab::ndisc6(&lab.network, SERVICE_V6)?;
    let winner_mac = lab.mac_of(&winner);
    ensure!(
        !macs.is_empty() && macs.iter().all(|m| *m == winner_mac),
        "ndisc6 answers for {SERVICE_V6}: {macs:?}, expected only {winner} ({winner_mac})"
    );
    for ip in [SERVICE_V4, SERVICE_V6] {
        let body = netlab::curl(&lab.network, ip)?;
        ensure!(
            body == winner,
            "curl {ip} reached {body}, expected {winner}"
        );
    }
    let macs = netlab::arping(&lab.network, NOT_ANNOUNCED)?;
    ensure!(
        macs.is_empty(),
        "{NOT_ANNOUNCED} is not announced but got ARP answers from {macs:?}"
    );

    interfaces(lab).await?;

    // kill -9 the announcer: the next node in the election order takes over.
    let survivors: Vec<&str> = NODES.iter().copied().filter(|n| *n != winner).collect();
    let second = scenario::expected_winner(SERVICE_V4, &NODES, &survivors);
    let ip: IpAddr = SERVICE_V4.parse()?;
    let killed = Instant::now();
    lab.speakers.kill(&winner)?;
    let took = netlab::first_reply_from(&lab.network, ip, &second, killed, WAIT)?;
    eprintln!("failover after kill -9: {took:?} (from {winner} to {second})");
    wait_announcer(lab, "web", SERVICE_V4, &second).await?;

    // The killed speaker comes back: the address returns to it (hash order).
    lab.speakers.start(&lab.network, &winner)?;
    wait_announcer(lab, "web", SERVICE_V4, &winner).await?;

    // Graceful stop (SIGTERM): the speaker leaves the membership, the next one takes over.
    let stopped = Instant::now();
    lab.speakers.terminate(&winner)?;
    let took = netlab::first_reply_from(&lab.network, ip, &second, stopped, WAIT)?;
    eprintln!("failover after SIGTERM: {took:?}");
    wait_announcer(lab, "web", SERVICE_V4, &second).await?;
    // For `cargo xtask test --faults`: the announcing speaker killed (SIGKILL), brought back,
    // and stopped (SIGTERM); each time another node answered and the status followed.
    println!("faults: speaker-killed-and-stopped tried=2 held=2");

    // externalTrafficPolicy: Local moves the announcement to a node with endpoints.
    let target = survivors
        .iter()
        .copied()
        .find(|n| *n != second)
        .context("two survivors")?;
    scenario::lb_service(&lab.client, "default", "local", &[LOCAL_V4], true).await?;
    scenario::endpoints(
        &lab.client,
        "default",
        "local",
        &lab.endpoints_on(&[target]),
    )
    .await?;
    wait_announcer(lab, "local", LOCAL_V4, target).await?;
    scenario::endpoints(
        &lab.client,
        "default",
        "local",
        &lab.endpoints_on(&[&second]),
    )
    .await?;
    wait_announcer(lab, "local", LOCAL_V4, &second).await?;

    configuration_state(lab).await?;
    membership_keys(lab, &winner).await
}

/// The status of the ConfigurationState of `node`'s speaker: (result, errorSummary).
async fn config_state(lab: &Scenario, node: &str) -> Result<Option<(String, String)>> {
    let api: Api<metallb_api::ConfigurationState> =
        Api::namespaced(lab.client.clone(), &lab.namespace);
    let Some(state) = api.get_opt(&format!("speaker-{node}")).await? else {
        return Ok(None);
    };
    let labels = state.metadata.labels.unwrap_or_default();
    ensure!(
        labels.get("metallb.io/component-type").map(String::as_str) == Some("speaker")
            && labels.get("metallb.io/node-name").map(String::as_str) == Some(node),
        "labels of speaker-{node}: {labels:?}"
    );
    Ok(state.status.map(|s| {
        (
            s.result.map(|r| format!("{r:?}")).unwrap_or_default(),
            s.error_summary.unwrap_or_default(),
        )
    }))
}

/// What a speaker cannot honour is refused, reported in its ConfigurationState and with an
/// event on the object, and the state is valid again once it is gone.
async fn configuration_state(lab: &Scenario) -> Result<()> {
    let ns = lab.namespace.clone();
    let node = NODES[0];
    wait_for(&format!("speaker-{node} to be Valid"), WAIT, || async {
        Ok(config_state(lab, node)
            .await?
            .filter(|(result, _)| result == "Valid")
            .map(|_| ()))
    })
    .await?;
    let peer = BGPPeerSpec {
        my_asn: 64512,
        peer_asn: Some(64513),
        peer_address: Some("198.18.0.3".into()),
        vrf: Some("red".into()),
        ..Default::default()
    };
    scenario::apply(&lab.client, &ns, &BGPPeer::new("in-a-vrf", peer)).await?;
    // Aggregating the /25 pool to /1 would announce half the Internet.
    let ad = BGPAdvertisementSpec {
        ip_address_pools: vec!["lab".into()],
        aggregation_length: Some(1),
        ..Default::default()
    };
    scenario::apply(&lab.client, &ns, &BGPAdvertisement::new("wide", ad)).await?;
    wait_for(
        &format!("speaker-{node} to report the vrf and the aggregation length"),
        WAIT,
        || async {
            Ok(config_state(lab, node)
                .await?
                .filter(|(result, summary)| {
                    result == "Invalid"
                        && summary.contains("BGPPeer in-a-vrf: vrf \"red\" is not supported")
                        && summary
                            .contains("BGPAdvertisement wide: aggregation length 1 is shorter")
                })
                .map(|_| ()))
        },
    )
    .await?;
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(lab.client.clone(), &ns);
    wait_for(
        "a ConfigurationError event on the BGPPeer",
        WAIT,
        || async {
            let list = events.list(&Default::default()).await?;
            Ok(list
                .items
                .iter()
                .any(|e| {
                    e.reason.as_deref() == Some("ConfigurationError")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("in-a-vrf")
                })
                .then_some(()))
        },
    )
    .await?;
    let peers: Api<BGPPeer> = Api::namespaced(lab.client.clone(), &ns);
    peers.delete("in-a-vrf", &Default::default()).await?;
    let ads: Api<BGPAdvertisement> = Api::namespaced(lab.client.clone(), &ns);
    ads.delete("wide", &Default::default()).await?;
    wait_for(
        &format!("speaker-{node} to be Valid again"),
        WAIT,
        || async {
            Ok(config_state(lab, node)
                .await?
                .filter(|(result, _)| result == "Valid")
                .map(|_| ()))
        },
    )
    .await
}

const MEMBERS: &str = "metallb_speaker_members ";
const UNAUTHENTICATED: &str =
    "metallb_speaker_memberlist_packets_dropped{reason=\"unauthenticated\"} ";

/// A speaker with another key forms no membership with the others: each side drops the
/// other's packets as unauthenticated. With the right key it is a member again.
async fn membership_keys(lab: &mut Scenario, odd: &str) -> Result<()> {
    let others: Vec<&str> = NODES.iter().copied().filter(|n| *n != odd).collect();
    // The stopped speaker (SIGTERM above) comes back, with another key.
    lab.speakers
        .start_with_key(&lab.network, odd, b"a-key-of-another-cluster")?;
    wait_for(
        &format!("{odd}, with another key, to drop the others' packets and be alone"),
        WAIT,
        || async {
            let members = lab.metric(odd, MEMBERS)?;
            let dropped = lab.metric(odd, UNAUTHENTICATED)?;
            Ok((members == 1.0 && dropped > 0.0).then_some(()))
        },
    )
    .await?;
    for node in &others {
        wait_for(
            &format!("{node} to drop {odd}'s packets and not count it"),
            WAIT,
            || async {
                let members = lab.metric(node, MEMBERS)?;
                let dropped = lab.metric(node, UNAUTHENTICATED)?;
                Ok((members == others.len() as f64 && dropped > 0.0).then_some(()))
            },
        )
        .await?;
    }
    lab.speakers.start(&lab.network, odd)?;
    wait_for(
        &format!("{odd}, with the cluster's key, to be a member again"),
        WAIT,
        || async { Ok((lab.metric(odd, MEMBERS)? == NODES.len() as f64).then_some(())) },
    )
    .await
}

/// A pool whose advertisement names `eth1`: only that interface answers; with `eth1` on the
/// winner's exclude list, the next node's eth1 does; naming an interface no node has, nobody
/// does and the winner reports `announceFailed`.
async fn interfaces(lab: &mut Scenario) -> Result<()> {
    let ns = lab.namespace.clone();
    lab.network.add_second_segment()?;
    // The nodes' eth1 is on another network (198.18.200.0/24), which holds no pool address.
    for (i, node) in lab.network.nodes.iter().enumerate() {
        let address = format!("198.18.200.{}/24", 11 + i);
        netlab::netns_exec(&node.netns, &["ip", "addr", "add", &address, "dev", "eth1"])?;
    }
    let pinned = pool("pinned", &["198.18.100.128/25"]);
    scenario::apply(&lab.client, &ns, &pinned).await?;
    let ad = l2("pinned", &["pinned"], &["eth1"]);
    scenario::apply(&lab.client, &ns, &ad).await?;
    scenario::lb_service(&lab.client, "default", "pinned", &[PINNED_V4], false).await?;
    scenario::endpoints(&lab.client, "default", "pinned", &lab.endpoints_on(&NODES)).await?;
    let winner = scenario::expected_winner(PINNED_V4, &NODES, &NODES);
    let host = lab.network.node(&winner).context("winner")?.clone();
    let output = netlab::netns_exec(&host.netns, &["cat", "/sys/class/net/eth1/address"])?;
    let eth1_mac = String::from_utf8_lossy(&output.stdout)
        .trim()
        .to_lowercase();
    wait_for(
        &format!("only {winner}'s eth1 to answer for {PINNED_V4}"),
        WAIT,
        || async {
            let macs = netlab::arping_on(&lab.network, "eth1", PINNED_V4)?;
            Ok((!macs.is_empty() && macs.iter().all(|m| *m == eth1_mac)).then_some(()))
        },
    )
    .await?;
    let macs = netlab::arping(&lab.network, PINNED_V4)?;
    ensure!(
        macs.is_empty(),
        "{PINNED_V4} is announced on eth1 only, but eth0 answers came from {macs:?}"
    );
    // eth1 answers (for the pinned address), but not for the address of an advertisement that
    // names no interface: eth1's network does not contain it.
    let macs = netlab::arping_on(&lab.network, "eth1", SERVICE_V4)?;
    ensure!(
        macs.is_empty(),
        "{SERVICE_V4} is not on eth1's network and its advertisement names no interface, but \
         eth1 answers came from {macs:?}"
    );

    // The exclude list wins over the advertisement: the winner cannot announce on eth1 any
    // more, so the next node in the election order, whose eth1 can, takes the address over.
    let ranked = scenario::ranked_nodes(PINNED_V4, &NODES, &NODES);
    let next_eth1 = lab.interface_mac(&ranked[1], "eth1")?;
    let dir = tempfile::tempdir()?;
    let exclude = dir.path().join("excludel2.yaml");
    std::fs::write(&exclude, "announcedInterfacesToExclude: ['^eth1$']\n")?;
    let exclude_arg = exclude.to_string_lossy().into_owned();
    lab.speakers
        .start_with(&lab.network, &winner, &["--exclude-l2-file", &exclude_arg])?;
    wait_for(
        &format!("{}'s eth1 to answer for {PINNED_V4}", ranked[1]),
        WAIT,
        || async {
            let macs = netlab::arping_on(&lab.network, "eth1", PINNED_V4)?;
            Ok((!macs.is_empty() && macs.iter().all(|m| *m == next_eth1)).then_some(()))
        },
    )
    .await?;
    // An interface no node has: nobody can announce, and the usual winner says why.
    let ad = l2("pinned", &["pinned"], &["eth9"]);
    scenario::apply(&lab.client, &ns, &ad).await?;
    wait_for(
        &format!("nobody to answer for {PINNED_V4}"),
        WAIT,
        || async {
            Ok(netlab::arping_on(&lab.network, "eth1", PINNED_V4)?
                .is_empty()
                .then_some(()))
        },
    )
    .await?;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(lab.client.clone(), "default");
    wait_for("an announceFailed event", WAIT, || async {
        let list = events.list(&Default::default()).await?;
        Ok(list
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("announceFailed"))
            .then_some(()))
    })
    .await?;
    let ad = l2("pinned", &["pinned"], &["eth1"]);
    scenario::apply(&lab.client, &ns, &ad).await?;
    lab.speakers.start(&lab.network, &winner)?;
    wait_for(
        &format!("{winner}'s eth1 to answer again"),
        WAIT,
        || async {
            let macs = netlab::arping_on(&lab.network, "eth1", PINNED_V4)?;
            Ok((!macs.is_empty() && macs.iter().all(|m| *m == eth1_mac)).then_some(()))
        },
    )
    .await?;
    let web_winner = scenario::expected_winner(SERVICE_V4, &NODES, &NODES);
    wait_announcer(lab, "web", SERVICE_V4, &web_winner).await
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn layer2_announcement_failover_and_traffic_policy() {
    assert!(
        netlab::available(),
        "this test needs root and iproute2 (run it with `cargo xtask test`)"
    );
    let prefix = format!("ml2t{}", std::process::id() % 100_000);
    let speaker = env!("CARGO_BIN_EXE_metallb-speaker").as_ref();
    let mut lab = Scenario::start(&prefix, &NODES, speaker, &["--log-level", "debug"])
        .await
        .expect("cannot start the test network");
    if let Err(err) = scenario(&mut lab).await {
        panic!("{err:#}\n\n{}", lab.speakers.diagnostics(&lab.network));
    }
}
