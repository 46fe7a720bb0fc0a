use super::*;

use serde_json::{Value, json};

/// The objects of a test, as the caches hold them.
#[derive(Default)]
struct Objects {
    pools: Vec<Arc<IPAddressPool>>,
    peers: Vec<Arc<BGPPeer>>,
    advertisements: Vec<Arc<BGPAdvertisement>>,
    communities: Vec<Arc<Community>>,
    secrets: Vec<Arc<Secret>>,
    bfd_profiles: Vec<Arc<BFDProfile>>,
}

fn object<K: serde::de::DeserializeOwned>(
    kind: &str,
    version: &str,
    name: &str,
    spec: Value,
) -> Arc<K> {
    Arc::new(
        serde_json::from_value(json!({
            "apiVersion": format!("metallb.io/{version}"), "kind": kind,
            "metadata": {"name": name, "namespace": "metallb-system", "uid": format!("uid-{name}")},
            "spec": spec,
        }))
        .unwrap(),
    )
}

fn node() -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a"}},
        "status": {"addresses": [{"type": "InternalIP", "address": "198.18.0.11"}]},
    }))
    .unwrap()
}

/// A BGPPeer to 198.18.0.3 with `extra` fields.
fn peer(name: &str, extra: Value) -> Arc<BGPPeer> {
    let mut spec = json!({"myASN": 64512, "peerASN": 64513, "peerAddress": "198.18.0.3"});
    if let (Some(target), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        target.extend(extra);
    }
    object("BGPPeer", "v1beta2", name, spec)
}

fn pool(name: &str, addresses: &[&str]) -> Arc<IPAddressPool> {
    object(
        "IPAddressPool",
        "v1beta1",
        name,
        json!({"addresses": addresses}),
    )
}

fn advertisement(name: &str, spec: Value) -> Arc<BGPAdvertisement> {
    object("BGPAdvertisement", "v1beta1", name, spec)
}

fn bfd_profile(name: &str, spec: Value) -> Arc<BFDProfile> {
    object("BFDProfile", "v1beta1", name, spec)
}

fn secret(name: &str, kind: &str, data: Value) -> Arc<Secret> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "metallb-system"}, "type": kind, "data": data,
        }))
        .unwrap(),
    )
}

impl Objects {
    fn accept(&self, in_force: &mut InForce) -> Accepted {
        let node = node();
        accept(
            &ConfigInputs {
                local_node: &node,
                pools: &self.pools,
                peers: &self.peers,
                advertisements: &self.advertisements,
                communities: &self.communities,
                secrets: &self.secrets,
                bfd_profiles: &self.bfd_profiles,
            },
            in_force,
        )
    }

    fn accept_fresh(&self) -> Accepted {
        self.accept(&mut InForce::default())
    }
}

fn messages(accepted: &Accepted) -> Vec<String> {
    accepted
        .problems
        .iter()
        .map(|p| p.message.clone())
        .collect()
}

fn peer_names(accepted: &Accepted) -> Vec<String> {
    accepted.peers.iter().map(|p| p.name.clone()).collect()
}

/// A peer with `extra` is refused with a message containing `expected`.
fn assert_peer_refused(extra: Value, expected: &str) {
    let objects = Objects {
        peers: vec![peer("router", extra.clone())],
        ..Objects::default()
    };
    let accepted = objects.accept_fresh();
    assert!(accepted.peers.is_empty(), "{extra} was accepted");
    let messages = messages(&accepted);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("BGPPeer router: ") && messages[0].contains(expected),
        "{extra}: {messages:?}"
    );
    assert!(
        messages[0].contains("the session is not opened"),
        "{messages:?}"
    );
    let problem = &accepted.problems[0];
    assert!(matches!(problem.cause, Cause::Peer(_)), "{problem:?}");
    assert_eq!(problem.object.kind.as_deref(), Some("BGPPeer"));
    assert_eq!(problem.object.name.as_deref(), Some("router"));
    assert_eq!(problem.object.uid.as_deref(), Some("uid-router"));
}

#[test]
fn a_plain_peer_is_accepted_without_problems() {
    let objects = Objects {
        peers: vec![peer(
            "router",
            json!({"holdTime": "9s", "keepaliveTime": "3s"}),
        )],
        ..Objects::default()
    };
    let accepted = objects.accept_fresh();
    assert!(accepted.problems.is_empty(), "{:?}", messages(&accepted));
    let p = &accepted.peers[0];
    assert_eq!(
        (p.hold_time, p.keepalive_time, p.connect_time),
        (9, Some(3), None)
    );
    assert_eq!(p.router_id, Ipv4Addr::new(198, 18, 0, 11));
    assert_eq!(p.peer_as, PeerAs::Exact(64513));
}

#[test]
fn vrf_is_refused() {
    assert_peer_refused(json!({"vrf": "red"}), "vrf \"red\" is not supported");
}

#[test]
fn interface_is_refused() {
    assert_peer_refused(
        json!({"interface": "eth1"}),
        "interface \"eth1\" (unnumbered BGP) is not supported",
    );
}

#[test]
fn hold_and_keepalive_times_outside_the_rfc_are_refused() {
    assert_peer_refused(
        json!({"holdTime": "2s"}),
        "holdTime \"2s\" must be 0 or at least 3s",
    );
    assert_peer_refused(
        json!({"holdTime": "9s", "keepaliveTime": "10s"}),
        "keepaliveTime \"10s\"",
    );
}

#[test]
fn password_secrets_must_exist_be_basic_auth_and_hold_a_password() {
    let reference = json!({"passwordSecret": {"name": "bgp-auth"}});
    assert_peer_refused(
        reference.clone(),
        "passwordSecret \"bgp-auth\" does not exist",
    );
    let with = |s: Arc<Secret>| {
        Objects {
            peers: vec![peer("router", reference.clone())],
            secrets: vec![s],
            ..Objects::default()
        }
        .accept_fresh()
    };
    let opaque = with(secret(
        "bgp-auth",
        "Opaque",
        json!({"password": "czNjcmV0"}),
    ));
    assert!(opaque.peers.is_empty());
    assert!(
        messages(&opaque)[0].contains("is of type \"Opaque\", not \"kubernetes.io/basic-auth\""),
        "{:?}",
        messages(&opaque)
    );
    let empty = with(secret("bgp-auth", BASIC_AUTH, json!({"username": "eA=="})));
    assert!(messages(&empty)[0].contains("has no \"password\""));
    let good = with(secret(
        "bgp-auth",
        BASIC_AUTH,
        json!({"password": "czNjcmV0"}),
    ));
    assert!(good.problems.is_empty());
    assert_eq!(good.peers[0].password.as_deref(), Some("s3cret"));
}

#[test]
fn a_missing_bfd_profile_is_refused() {
    assert_peer_refused(
        json!({"bfdProfile": "fast"}),
        "bfdProfile \"fast\" does not exist",
    );
}

#[test]
fn connect_time_is_honoured() {
    let objects = Objects {
        peers: vec![peer("router", json!({"connectTime": "10s"}))],
        ..Objects::default()
    };
    let accepted = objects.accept_fresh();
    assert!(accepted.problems.is_empty());
    assert_eq!(accepted.peers[0].connect_time, Some(10));
}

#[test]
fn disable_mp_is_honoured_alone_and_reported_with_dual_stack() {
    let alone = Objects {
        peers: vec![peer("router", json!({"disableMP": true}))],
        ..Objects::default()
    }
    .accept_fresh();
    assert!(alone.problems.is_empty());
    assert!(!alone.peers[0].dual_stack);
    let both = Objects {
        peers: vec![peer(
            "router",
            json!({"disableMP": true, "dualStackAddressFamily": true}),
        )],
        ..Objects::default()
    }
    .accept_fresh();
    // The session still runs, dual-stack; disableMP is reported as without effect.
    assert_eq!(peer_names(&both), ["router"]);
    assert!(both.peers[0].dual_stack);
    assert_eq!(
        messages(&both),
        [
            "BGPPeer router: disableMP has no effect: dualStackAddressFamily carries both families on the session"
        ]
    );
    assert_eq!(both.problems[0].cause, Cause::Ignored(Ignored::DisableMp));
    assert!(!both.problems[0].cause.is_refusal());
}

#[test]
fn bfd_echo_mode_and_interval_are_reported_on_the_profile() {
    let objects = Objects {
        peers: vec![peer("router", json!({"bfdProfile": "echo"}))],
        bfd_profiles: vec![
            bfd_profile(
                "echo",
                json!({"echoMode": true, "echoInterval": 60, "transmitInterval": 100}),
            ),
            // Not used by a peer of this node: not this speaker's business.
            bfd_profile("unused", json!({"echoMode": true})),
        ],
        ..Objects::default()
    };
    let accepted = objects.accept_fresh();
    // BFD runs, without echo.
    let bfd = accepted.peers[0].bfd.expect("BFD settings");
    assert_eq!(
        bfd.config.desired_min_tx,
        std::time::Duration::from_millis(100)
    );
    assert_eq!(
        messages(&accepted),
        [
            "BFDProfile echo: echoMode is not supported: BFD runs in asynchronous mode, without echo",
            "BFDProfile echo: echoInterval (60 ms) has no effect: echo mode is not supported",
        ]
    );
    assert!(
        accepted
            .problems
            .iter()
            .all(|p| p.object.kind.as_deref() == Some("BFDProfile"))
    );
}

#[test]
fn peers_of_other_nodes_are_not_checked() {
    let objects = Objects {
        peers: vec![peer(
            "elsewhere",
            json!({"vrf": "red", "nodeSelectors": [{"matchLabels": {"kubernetes.io/hostname": "node-b"}}]}),
        )],
        ..Objects::default()
    };
    let accepted = objects.accept_fresh();
    assert!(accepted.peers.is_empty() && accepted.problems.is_empty());
}

#[test]
fn a_refused_peer_keeps_the_version_in_force() {
    let mut in_force = InForce::default();
    let mut objects = Objects {
        peers: vec![peer("router", json!({"holdTime": "30s"}))],
        ..Objects::default()
    };
    assert_eq!(objects.accept(&mut in_force).peers[0].hold_time, 30);
    objects.peers = vec![peer("router", json!({"holdTime": "30s", "vrf": "red"}))];
    let accepted = objects.accept(&mut in_force);
    assert_eq!(peer_names(&accepted), ["router"]);
    assert_eq!(accepted.peers[0].hold_time, 30);
    assert!(
        messages(&accepted)[0].ends_with("the version accepted before stays in force"),
        "{:?}",
        messages(&accepted)
    );
    // Fixed: the new version applies; deleted: nothing stays.
    objects.peers = vec![peer("router", json!({"holdTime": "60s"}))];
    assert_eq!(objects.accept(&mut in_force).peers[0].hold_time, 60);
    objects.peers.clear();
    assert!(objects.accept(&mut in_force).peers.is_empty());
    objects.peers = vec![peer("router", json!({"vrf": "red"}))];
    assert!(objects.accept(&mut in_force).peers.is_empty());
}

#[test]
fn an_aggregation_shorter_than_a_pool_prefix_is_refused() {
    let objects = Objects {
        pools: vec![pool("small", &["198.18.100.0/29"])],
        advertisements: vec![advertisement(
            "wide",
            json!({"ipAddressPools": ["small"], "aggregationLength": 1}),
        )],
        ..Objects::default()
    };
    let accepted = objects.accept_fresh();
    assert!(accepted.advertisements.is_empty());
    let messages = messages(&accepted);
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].starts_with(
            "BGPAdvertisement wide: aggregation length 1 is shorter than the prefix 198.18.100.0/29"
        ) && messages[0].contains("IPAddressPool small")
            && messages[0].ends_with("nothing is advertised for it"),
        "{messages:?}"
    );
    // The IPv6 length is checked against IPv6 ranges.
    let v6 = Objects {
        pools: vec![pool("v6", &["2001:db8::64:0/112"])],
        advertisements: vec![advertisement("wide", json!({"aggregationLengthV6": 64}))],
        ..Objects::default()
    }
    .accept_fresh();
    assert!(v6.advertisements.is_empty());
    assert!(messages_contain(&v6, "aggregation length 64"));
}

fn messages_contain(accepted: &Accepted, text: &str) -> bool {
    messages(accepted).iter().any(|m| m.contains(text))
}

#[test]
fn an_unknown_community_is_refused_and_aliases_resolve() {
    let aliases: Arc<Community> = object(
        "Community",
        "v1beta1",
        "aliases",
        json!({"communities": [{"name": "no-export", "value": "65535:65281"},
            {"name": "big", "value": "large:1:2:3"}]}),
    );
    let objects = Objects {
        pools: vec![pool("lab", &["198.18.100.0/24"])],
        advertisements: vec![advertisement(
            "tagged",
            json!({"communities": ["65000:1", "no-export", "big"]}),
        )],
        communities: vec![aliases.clone()],
        ..Objects::default()
    };
    let accepted = objects.accept_fresh();
    assert!(accepted.problems.is_empty(), "{:?}", messages(&accepted));
    let ad = &accepted.advertisements[0];
    assert_eq!(ad.communities, [(65000 << 16) | 1, (65535 << 16) | 65281]);
    assert_eq!(ad.large_communities, [(1, 2, 3)]);
    let unknown = Objects {
        advertisements: vec![advertisement("tagged", json!({"communities": ["nope"]}))],
        communities: vec![aliases],
        ..Objects::default()
    }
    .accept_fresh();
    assert!(unknown.advertisements.is_empty());
    assert!(messages_contain(&unknown, "community \"nope\" is neither"));
}

#[test]
fn a_refused_advertisement_keeps_the_version_in_force() {
    let mut in_force = InForce::default();
    let mut objects = Objects {
        pools: vec![pool("lab", &["198.18.100.0/24"])],
        advertisements: vec![advertisement("agg", json!({"aggregationLength": 24}))],
        ..Objects::default()
    };
    let first = objects.accept(&mut in_force);
    assert_eq!(first.advertisements[0].lengths.v4, 24);
    // The pool shrinks below the aggregation: the advertisement is refused and what was in
    // force (the /24 with its pool ranges) stays.
    objects.pools = vec![pool("lab", &["198.18.100.0/29"])];
    let shrunk = objects.accept(&mut in_force);
    assert_eq!(shrunk.advertisements, first.advertisements);
    assert!(messages_contain(&shrunk, "stays in force"));
    // Fixed: the new version applies.
    objects.advertisements = vec![advertisement("agg", json!({"aggregationLength": 29}))];
    let fixed = objects.accept(&mut in_force);
    assert!(fixed.problems.is_empty());
    assert_eq!(fixed.advertisements[0].lengths.v4, 29);
    assert_eq!(
        fixed.advertisements[0].ranges,
        [IpRange::parse("198.18.100.0/29").unwrap()]
    );
}

#[test]
fn peer_asn_or_dynamic_asn_give_the_expected_peer_as() {
    let spec = |extra: Value| -> BGPPeerSpec {
        let mut value = json!({"myASN": 64512, "peerAddress": "198.18.0.3"});
        if let (Some(target), Value::Object(extra)) = (value.as_object_mut(), extra) {
            target.extend(extra);
        }
        serde_json::from_value(value).unwrap()
    };
    assert_eq!(
        peer_as(&spec(json!({"peerASN": 64513}))),
        Some(PeerAs::Exact(64513))
    );
    assert_eq!(
        peer_as(&spec(json!({"dynamicASN": "internal"}))),
        Some(PeerAs::Internal)
    );
    assert_eq!(
        peer_as(&spec(json!({"dynamicASN": "external"}))),
        Some(PeerAs::External)
    );
    assert_eq!(peer_as(&spec(json!({}))), None);
}

#[test]
fn communities_parse() {
    let alias: Community = serde_json::from_value(json!({
        "metadata": {"name": "aliases"},
        "spec": {"communities": [{"name": "no-advertise", "value": "65535:65282"}]},
    }))
    .unwrap();
    let aliases = [Arc::new(alias)];
    assert_eq!(
        resolve_community("65000:100", &aliases),
        Some(BgpCommunity::Standard((65000 << 16) | 100))
    );
    assert_eq!(
        resolve_community("no-advertise", &aliases),
        Some(BgpCommunity::Standard((65535 << 16) | 65282))
    );
    assert_eq!(resolve_community("70000:1", &aliases), None);
}
