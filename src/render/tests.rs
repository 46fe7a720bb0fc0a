//! Unit tests of rendering: what each object must hold.

use serde_json::json;

use super::*;

fn input() -> RenderInput {
    RenderInput {
        addresses: vec!["198.18.0.240/28".into(), "2001:db8::/120".into()],
        node_selector: BTreeMap::from([("kubernetes.io/os".into(), "linux".into())]),
        ..super::fixtures::input()
    }
}

fn find<'a>(objects: &'a [Desired], kind: &str, name: &str) -> &'a Desired {
    objects
        .iter()
        .find(|o| o.kind == kind && o.name == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn bgp_renders_peers_and_an_advertisement_for_the_pool() {
    let mut i = input();
    assert!(!render(&i).iter().any(|o| o.kind.starts_with("BGP")));
    i.bgp = Some(crate::config::BgpConfig {
        asn: 64512,
        peers: vec![crate::config::BgpPeerEntry {
            address: "192.168.1.1".parse().unwrap(),
            asn: 64513,
            port: Some(1179),
            password_secret: None,
            password: None,
        }],
        communities: vec!["65000:100".into()],
        local_pref: Some(150),
        aggregation_length: 32,
    });
    let objects = render(&i);
    let peer = find(&objects, "BGPPeer", "lab.metallb-peer-0");
    assert_eq!(peer.api_version, "metallb.io/v1beta2");
    assert_eq!(peer.body["spec"]["myASN"], 64512);
    assert_eq!(peer.body["spec"]["peerASN"], 64513);
    assert_eq!(peer.body["spec"]["peerPort"], 1179);
    let ad = find(&objects, "BGPAdvertisement", "lab.metallb");
    assert_eq!(ad.body["spec"]["ipAddressPools"][0], "lab.metallb");
    assert_eq!(ad.body["spec"]["communities"][0], "65000:100");
    assert_eq!(ad.body["spec"]["localPref"], 150);
}

#[test]
fn every_object_carries_the_ownership_labels() {
    let objects = render(&input());
    assert!(objects.len() > 20);
    for o in &objects {
        let labels = &o.body["metadata"]["labels"];
        assert_eq!(labels[LABEL_MANAGED_BY], MANAGED_BY, "{}", o.describe());
        if o.kind == "CustomResourceDefinition" {
            // Shared by every instance: no instance label to fight over.
            assert!(labels.get(LABEL_INSTANCE).is_none(), "{}", o.describe());
        } else {
            assert_eq!(labels[LABEL_INSTANCE], "lab.metallb", "{}", o.describe());
        }
        assert_eq!(o.body["kind"], o.kind);
        assert_eq!(o.body["metadata"]["name"], o.name);
        assert!(
            MANAGED_KINDS
                .iter()
                .any(|(v, k)| *v == o.api_version && *k == o.kind),
            "{} is not in MANAGED_KINDS",
            o.describe()
        );
    }
}

#[test]
fn namespace_allows_the_privileged_speaker() {
    let objects = render(&input());
    let ns = find(&objects, "Namespace", "metallb-system");
    assert_eq!(
        ns.body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    assert_eq!(objects[0].kind, "Namespace", "namespace first");
}

#[test]
fn pool_and_advertisement_are_named_after_model_and_app() {
    let mut i = input();
    i.l2_interfaces = vec!["eth0".into()];
    let objects = render(&i);
    let pool = find(&objects, "IPAddressPool", "lab.metallb");
    assert_eq!(
        pool.body["spec"]["addresses"],
        json!(["198.18.0.240/28", "2001:db8::/120"])
    );
    let l2 = find(&objects, "L2Advertisement", "lab.metallb");
    assert_eq!(l2.body["spec"]["ipAddressPools"], json!(["lab.metallb"]));
    assert_eq!(l2.body["spec"]["interfaces"], json!(["eth0"]));
    let no_ifaces = render(&input());
    assert!(
        find(&no_ifaces, "L2Advertisement", "lab.metallb").body["spec"]
            .get("interfaces")
            .is_none()
    );
}

#[test]
fn the_exclude_list_is_upstreams_default_in_upstreams_format_and_mounted_where_read() {
    let map = exclude_list(&input());
    assert_eq!(
        (map.kind.as_str(), map.name.as_str()),
        ("ConfigMap", EXCLUDE_CONFIG_MAP)
    );
    let text = map.body["data"]["excludel2.yaml"]
        .as_str()
        .unwrap_or_default();
    let parsed: serde_json::Value = serde_yaml::from_str(text).unwrap();
    assert_eq!(
        parsed["announcedInterfacesToExclude"],
        json!(metallb_core::l2::DEFAULT_EXCLUDED_INTERFACES)
    );
    assert!(
        !render(&input()).iter().any(|o| o.kind == "ConfigMap"),
        "created once, never applied over the operator's edits"
    );
    let objects = render(&input());
    let pod = &find(&objects, "DaemonSet", "speaker").body["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][1]["configMap"]["name"], EXCLUDE_CONFIG_MAP);
    assert_eq!(pod["volumes"][1]["configMap"]["optional"], true);
    assert_eq!(
        pod["containers"][0]["volumeMounts"][1]["mountPath"], "/etc/metallb",
        "the speaker reads /etc/metallb/excludel2.yaml"
    );
}

#[test]
fn workloads_use_images_selector_and_speaker_privileges() {
    let objects = render(&input());
    let controller = find(&objects, "Deployment", "controller");
    assert_eq!(
        controller.body["spec"]["strategy"]["type"], "Recreate",
        "two allocators never run at once"
    );
    let pod = &controller.body["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["image"], "reg/controller:1");
    assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux");
    assert_eq!(
        pod["containers"][0]["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    let speaker = find(&objects, "DaemonSet", "speaker");
    let pod = &speaker.body["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["containers"][0]["image"], "reg/speaker:1");
    assert_eq!(
        pod["containers"][0]["securityContext"]["capabilities"]["add"],
        json!(["NET_RAW"])
    );
    assert_eq!(
        pod["containers"][0]["readinessProbe"]["httpGet"]["host"],
        "127.0.0.1"
    );
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], MEMBERLIST_SECRET);
    assert!(
        pod["containers"][0]["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--log-level=info"))
    );
}

#[test]
fn rbac_is_least_privilege() {
    let objects = render(&input());
    let all_rules: Vec<&Value> = objects
        .iter()
        .filter(|o| o.kind == "Role" || o.kind == "ClusterRole")
        .flat_map(|o| o.body["rules"].as_array().unwrap())
        .collect();
    for r in &all_rules {
        assert_ne!(r["apiGroups"], json!(["*"]), "no wildcard groups: {r}");
        assert_ne!(r["resources"], json!(["*"]), "no wildcard resources: {r}");
    }
    let speaker = find(&objects, "ClusterRole", "metallb-charm:lab.metallb:speaker");
    let text = speaker.body["rules"].to_string();
    assert!(text.contains("endpointslices") && !text.contains("secrets"));
    let ctrl = find(
        &objects,
        "ClusterRole",
        "metallb-charm:lab.metallb:controller",
    );
    assert!(ctrl.body["rules"].to_string().contains("services/status"));
    let secrets_ns = find(&objects, "Role", "controller");
    assert_eq!(secrets_ns.namespace.as_deref(), Some("metallb-system"));
    let binding = find(&objects, "RoleBinding", "speaker");
    assert_eq!(binding.body["subjects"].as_array().unwrap().len(), 1);
    for r in &all_rules {
        for verb in r["verbs"].as_array().unwrap() {
            assert!(
                !["*", "update", "deletecollection"].contains(&verb.as_str().unwrap()),
                "no {verb} anywhere: {r}"
            );
        }
    }
}

#[test]
fn crds_are_rendered_cluster_scoped_with_labels() {
    let objects = render(&input());
    let crds: Vec<&Desired> = objects
        .iter()
        .filter(|o| o.kind == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 9);
    assert!(crds.iter().all(|c| c.namespace.is_none()));
    assert!(crds.iter().any(|c| c.name == "ipaddresspools.metallb.io"));
}

#[test]
fn a_peer_password_is_a_basic_auth_secret_the_peer_names() {
    let mut i = input();
    let mut peer = crate::config::parse_bgp_peer("198.18.0.1:64513 password=secret:abc").unwrap();
    peer.password = Some(
        crate::config::Password::new("md5-pass".into(), "198.18.0.1:64513", "secret:abc").unwrap(),
    );
    let plain = crate::config::parse_bgp_peer("198.18.0.2:64513").unwrap();
    i.bgp = Some(crate::config::BgpConfig {
        asn: 64512,
        peers: vec![peer, plain],
        communities: vec![],
        local_pref: None,
        aggregation_length: 32,
    });
    let objects = render(&i);
    let position = |kind: &str, name: &str| {
        objects
            .iter()
            .position(|o| o.kind == kind && o.name == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let secret = find(&objects, "Secret", "lab.metallb-peer-0-password");
    assert_eq!(secret.body["type"], "kubernetes.io/basic-auth");
    // "md5-pass" in base64.
    assert_eq!(secret.body["data"]["password"], "bWQ1LXBhc3M=");
    assert!(
        position("Secret", "lab.metallb-peer-0-password")
            < position("BGPPeer", "lab.metallb-peer-0"),
        "the password exists before the peer that needs it"
    );
    let peer = find(&objects, "BGPPeer", "lab.metallb-peer-0");
    assert_eq!(
        peer.body["spec"]["passwordSecret"],
        json!({"name": "lab.metallb-peer-0-password", "namespace": "metallb-system"})
    );
    let plain = find(&objects, "BGPPeer", "lab.metallb-peer-1");
    assert!(plain.body["spec"].get("passwordSecret").is_none());
    assert_eq!(
        objects.iter().filter(|o| o.kind == "Secret").count(),
        1,
        "no Secret for a peer without a password"
    );
}
