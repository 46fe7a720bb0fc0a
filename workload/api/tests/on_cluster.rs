//! The generated CRDs on a real API server: accepted, served, and refusing bad objects at
//! apply time through their schema and CEL rules (no webhook involved).

use anyhow::{Context, Result};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use test_support::{TestNamespace, cluster};

fn api(
    client: &kube::Client,
    ns: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", version, kind),
        plural,
    );
    Api::namespaced_with(client.clone(), ns, &resource)
}

async fn create(api: &Api<DynamicObject>, body: Value) -> Result<DynamicObject, kube::Error> {
    let object: DynamicObject = serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
    api.create(&PostParams::default(), &object).await
}

fn refused(result: Result<DynamicObject, kube::Error>, message: &str) {
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status.message.contains(message),
                "expected {message:?} in {}",
                status.message
            );
        }
        other => panic!("expected a refusal containing {message:?}, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn crds_are_served_and_refuse_bad_objects() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let ns = TestNamespace::create(cluster, "crds").await?;

    let pools = api(
        &client,
        &ns.name,
        "v1beta1",
        "IPAddressPool",
        "ipaddresspools",
    );
    let good = create(&pools, json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "good"},
        "spec": {"addresses": ["198.18.0.0/28", "198.18.1.1 - 198.18.1.9", "2001:db8::/120"]},
    }))
    .await?;
    assert_eq!(
        good.data["spec"]["autoAssign"], true,
        "defaults are applied"
    );
    assert_eq!(good.data["spec"]["avoidBuggyIPs"], false);
    refused(
        create(
            &pools,
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "bad"}, "spec": {"addresses": ["banana"]}}),
        )
        .await,
        "each address must be a CIDR",
    );
    refused(
        create(
            &pools,
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "mixed"}, "spec": {"addresses": ["198.18.0.1-2001:db8::1"]}}),
        )
        .await,
        "range of one family",
    );
    refused(
        create(
            &pools,
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "empty"}, "spec": {"addresses": []}}),
        )
        .await,
        "should have at least 1 items",
    );

    let peers = api(&client, &ns.name, "v1beta2", "BGPPeer", "bgppeers");
    let peer = create(&peers, json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
        "metadata": {"name": "router"}, "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.18.0.1"}}))
    .await?;
    assert_eq!(peer.data["spec"]["peerPort"], 179);
    refused(
        create(&peers, json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "both"},
            "spec": {"myASN": 1, "peerASN": 2, "dynamicASN": "external", "peerAddress": "198.18.0.1"}})).await,
        "exactly one of peerASN and dynamicASN",
    );
    refused(
        create(&peers, json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "notip"},
            "spec": {"myASN": 1, "peerASN": 2, "peerAddress": "router.example"}})).await,
        "peerAddress must be an IP address",
    );
    refused(
        create(&peers, json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "ibgp"},
            "spec": {"myASN": 7, "peerASN": 7, "peerAddress": "198.18.0.1", "ebgpMultiHop": true}})).await,
        "ebgpMultiHop cannot be used with iBGP",
    );
    // The deprecated version is served and stored as v1beta2.
    let old = api(&client, &ns.name, "v1beta1", "BGPPeer", "bgppeers");
    create(&old, json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "legacy"},
        "spec": {"myASN": 64500, "peerASN": 64502, "peerAddress": "198.18.0.2"}}))
    .await?;
    assert_eq!(peers.get("legacy").await?.data["spec"]["peerASN"], 64502);

    let ads = api(
        &client,
        &ns.name,
        "v1beta1",
        "BGPAdvertisement",
        "bgpadvertisements",
    );
    refused(
        create(&ads, json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": {"name": "agg"},
            "spec": {"aggregationLength": 24, "serviceSelectors": [{"matchLabels": {"a": "b"}}]}})).await,
        "serviceSelectors can only be used with the default aggregation lengths",
    );
    refused(
        create(&ads, json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": {"name": "len"},
            "spec": {"aggregationLength": 33}})).await,
        "should be less than or equal to 32",
    );
    let communities = api(&client, &ns.name, "v1beta1", "Community", "communities");
    refused(
        create(&communities, json!({"apiVersion": "metallb.io/v1beta1", "kind": "Community", "metadata": {"name": "c"},
            "spec": {"communities": [{"name": "x", "value": "1:2:3"}]}})).await,
        "should match",
    );
    Ok(())
}

/// What upstream MetalLB's CRDs and webhooks accept, ours accept too: objects without a spec,
/// unset values written as `0` or `""`, alias names in advertisements, fields of its frr-k8s
/// mode (kept, not pruned); and what its webhooks refuse without looking at other objects,
/// ours refuse.
#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn what_upstream_accepts_is_accepted() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let ns = TestNamespace::create(cluster, "upstream-shapes").await?;
    let object = |kind: &str, version: &str, name: &str, spec: Option<Value>| {
        let mut o = json!({"apiVersion": format!("metallb.io/{version}"), "kind": kind,
            "metadata": {"name": name}});
        if let Some(spec) = spec {
            o["spec"] = spec;
        }
        o
    };

    // Upstream's documented minimal L2Advertisement, and a speaker's ConfigurationState.
    let l2 = api(
        &client,
        &ns.name,
        "v1beta1",
        "L2Advertisement",
        "l2advertisements",
    );
    create(&l2, object("L2Advertisement", "v1beta1", "empty", None)).await?;
    let states = api(
        &client,
        &ns.name,
        "v1beta1",
        "ConfigurationState",
        "configurationstates",
    );
    create(
        &states,
        object("ConfigurationState", "v1beta1", "speaker-a", None),
    )
    .await?;
    let statuses = api(
        &client,
        &ns.name,
        "v1beta1",
        "ServiceL2Status",
        "servicel2statuses",
    );
    create(
        &statuses,
        object("ServiceL2Status", "v1beta1", "l2-x", None),
    )
    .await?;
    let status = json!({"apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
        "metadata": {"name": "l2-x"}, "status": {"node": "a", "interfaces": [{}]}});
    statuses
        .patch_status(
            "l2-x",
            &kube::api::PatchParams::apply("test").force(),
            &kube::api::Patch::Apply(&status),
        )
        .await?;

    let ads = api(
        &client,
        &ns.name,
        "v1beta1",
        "BGPAdvertisement",
        "bgpadvertisements",
    );
    let ad = create(
        &ads,
        object(
            "BGPAdvertisement",
            "v1beta1",
            "frr-k8s",
            Some(
                json!({"asPathPrepend": 3, "communities": ["alias", "alias", "", "65000:1"],
                "aggregationLengthV6": 0}),
            ),
        ),
    )
    .await?;
    assert_eq!(ad.data["spec"]["asPathPrepend"], 3, "not pruned");
    refused(
        create(
            &ads,
            object(
                "BGPAdvertisement",
                "v1beta1",
                "bad-community",
                Some(json!({"communities": ["65000:1:2"]})),
            ),
        )
        .await,
        "should match",
    );

    let communities = api(&client, &ns.name, "v1beta1", "Community", "communities");
    create(
        &communities,
        object(
            "Community",
            "v1beta1",
            "unnamed",
            Some(json!({"communities": [{"value": "65535:65282"}]})),
        ),
    )
    .await?;
    refused(
        create(
            &communities,
            object(
                "Community",
                "v1beta1",
                "no-value",
                Some(json!({"communities": [{"name": "x"}]})),
            ),
        )
        .await,
        "value is required",
    );

    let peers = api(&client, &ns.name, "v1beta2", "BGPPeer", "bgppeers");
    for (name, spec) in [
        (
            "dynamic",
            json!({"myASN": 64500, "peerASN": 0, "dynamicASN": "external", "peerAddress": "198.18.0.1"}),
        ),
        (
            "unnumbered",
            json!({"myASN": 64500, "peerASN": 64501, "peerAddress": "", "interface": "eth0", "routerID": ""}),
        ),
        (
            "both-passwords",
            json!({"myASN": 64500, "peerASN": 64501, "peerAddress": "198.18.0.1",
                "password": "p", "passwordSecret": {"name": "s"}, "holdTime": "0"}),
        ),
        (
            "mapped",
            json!({"myASN": 64500, "peerASN": 64501, "peerAddress": "::ffff:198.18.0.1"}),
        ),
        // Upstream's webhook lets a create with disableMP through without other checks.
        (
            "disable-mp",
            json!({"myASN": 0, "peerASN": 1, "dynamicASN": "internal", "disableMP": true}),
        ),
    ] {
        create(&peers, object("BGPPeer", "v1beta2", name, Some(spec)))
            .await
            .with_context(|| format!("BGPPeer {name}"))?;
    }
    refused(
        create(
            &peers,
            object(
                "BGPPeer",
                "v1beta2",
                "no-asn",
                Some(json!({"myASN": 0, "peerASN": 1, "peerAddress": "198.18.0.1"})),
            ),
        )
        .await,
        "myASN must not be 0",
    );
    refused(
        create(
            &peers,
            object(
                "BGPPeer",
                "v1beta2",
                "bad-hold",
                Some(json!({"myASN": 1, "peerASN": 2, "peerAddress": "198.18.0.1", "holdTime": "90"})),
            ),
        )
        .await,
        "should match",
    );
    let old = api(&client, &ns.name, "v1beta1", "BGPPeer", "bgppeers");
    refused(
        create(
            &old,
            object(
                "BGPPeer",
                "v1beta1",
                "no-values",
                Some(
                    json!({"myASN": 1, "peerASN": 2, "peerAddress": "198.18.0.1",
                    "nodeSelectors": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]}),
                ),
            ),
        )
        .await,
        "values: Required value",
    );
    Ok(())
}
