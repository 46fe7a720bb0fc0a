//! The charm never destroys what the user owns, never takes over what it did not create, keeps
//! to its own objects when two instances share a cluster, and refuses bad options without
//! touching the cluster. The compiled charm through `juju-sim` against the real API server.

mod charm_support;

use anyhow::{Result, bail};
use charm_support::{Deployed, SERIAL, WAIT, pool_addresses, pool_api, user_pool};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use test_support::{cluster, unique_name, wait_for};

/// The metallb.io CRDs in the cluster.
async fn metallb_crds(client: &kube::Client) -> Result<usize> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    Ok(crds
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|c| c.spec.group == "metallb.io")
        .count())
}

/// Whether the Namespace exists and is not being deleted.
async fn namespace_lives(client: &kube::Client, name: &str) -> Result<bool> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    Ok(namespaces
        .get_opt(name)
        .await?
        .is_some_and(|n| n.metadata.deletion_timestamp.is_none()))
}

/// This instance's ClusterRoles.
async fn cluster_roles(client: &kube::Client, d: &Deployed) -> Result<usize> {
    let api: Api<ClusterRole> = Api::all(client.clone());
    let selector = format!(
        "app.kubernetes.io/managed-by=metallb-charm,charm.metallb.io/instance={}.{}",
        d.model, d.app
    );
    Ok(api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .len())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn remove_keeps_the_crds_and_everything_the_user_made() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;
    assert_eq!(metallb_crds(&client).await?, 9);
    // The user's own pools: one in the charm's namespace, one elsewhere.
    user_pool(&client, &d.namespace, "users-pool", "198.18.101.0/28").await?;
    let elsewhere = test_support::TestNamespace::create(cluster(), "users").await?;
    user_pool(&client, &elsewhere.name, "other-pool", "198.18.102.0/28").await?;

    d.ok(&["remove"]);

    assert_eq!(metallb_crds(&client).await?, 9, "CRDs are never deleted");
    assert!(
        pool_api(&client, &d.namespace)
            .get_opt("users-pool")
            .await?
            .is_some()
    );
    assert!(
        pool_api(&client, &elsewhere.name)
            .get_opt("other-pool")
            .await?
            .is_some()
    );
    assert!(
        namespace_lives(&client, &d.namespace).await?,
        "a namespace holding the user's pool is kept"
    );
    assert!(
        pool_api(&client, &d.namespace)
            .get_opt(&format!("{}.metallb", d.model))
            .await?
            .is_none(),
        "the charm's own pool goes"
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
    assert!(deployments.get_opt("controller").await?.is_none());
    assert_eq!(cluster_roles(&client, &d).await?, 0);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn a_namespace_the_user_made_blocks_until_adopted_and_is_never_deleted() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": d.namespace}}))?;
    namespaces.create(&PostParams::default(), &ns).await?;

    d.deploy(true, &[]);
    let (status, message) = d.status();
    assert_eq!(status, "blocked");
    assert_eq!(
        message,
        format!(
            "Namespace/{} exists and was not created by this charm: run `juju run metallb/0 adopt` to hand it to the charm, or set another namespace",
            d.namespace
        )
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
    assert!(
        deployments.get_opt("controller").await?.is_none(),
        "nothing is applied while an object is someone else's"
    );

    let adopted = d.action("adopt", &[]);
    assert_eq!(adopted["status"], "completed", "{adopted}");
    d.wait_active().await?;
    d.ok(&["remove"]);
    assert!(
        namespace_lives(&client, &d.namespace).await?,
        "an adopted namespace is never deleted"
    );
    assert!(deployments.get_opt("controller").await?.is_none());
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn removing_the_leader_unit_keeps_metallb_and_the_new_leader_manages_it() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &["-n", "2"]);
    d.wait_active().await?;
    assert_eq!(
        d.unit_status(1).1,
        "standby: the leader unit manages MetalLB"
    );

    d.ok(&["remove-unit", "metallb/0"]);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
    assert!(deployments.get_opt("controller").await?.is_some());
    assert_eq!(
        pool_addresses(&client, &d).await?,
        json!(["198.18.100.0/28"]),
        "a unit's removal is not the application's"
    );
    assert_eq!(cluster_roles(&client, &d).await?, 2);
    // metallb/1 leads now and manages MetalLB.
    d.ok(&["config", "iprange=198.18.100.16/28"]);
    let status = wait_for("metallb/1 to be active", WAIT, || async {
        d.ok(&["update-status"]);
        let (status, message) = d.unit_status(1);
        Ok((status == "active").then_some(message))
    })
    .await?;
    assert!(
        status.starts_with("16 addresses (198.18.100.16/28)"),
        "{status}"
    );
    println!("faults: remove-unit-of-leader tried=1 held=1");

    d.ok(&["remove"]);
    assert!(deployments.get_opt("controller").await?.is_none());
    assert_eq!(cluster_roles(&client, &d).await?, 0);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn a_failed_clean_up_fails_the_hook_and_is_retried() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;
    // Without trust the charm cannot delete anything: remove must fail, not forget.
    d.ok(&["trust", "--remove"]);
    let failed = d.sim(&["remove"]);
    assert!(!failed.status.success(), "remove without access must fail");
    assert_eq!(
        cluster_roles(&client, &d).await?,
        2,
        "nothing was lost track of"
    );
    d.ok(&["trust"]);
    d.ok(&["remove"]);
    assert_eq!(cluster_roles(&client, &d).await?, 0);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn two_instances_keep_to_their_own_objects() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let a = Deployed::new();
    let b = Deployed::new();
    let client = a.nodes().await?;
    b.nodes().await?;
    a.deploy(true, &[]);
    b.deploy(true, &["--config", "iprange=198.18.100.16/28"]);
    a.wait_active().await?;
    b.wait_active().await?;
    assert_ne!(a.namespace, b.namespace);
    assert_eq!(cluster_roles(&client, &a).await?, 2);
    assert_eq!(cluster_roles(&client, &b).await?, 2);

    // A third instance pointed at b's namespace is refused, naming the owner.
    let mut c = Deployed::new();
    c.namespace = b.namespace.clone();
    c.app = "lb".to_string();
    c.nodes().await?;
    c.deploy(true, &["--config", "iprange=198.18.100.32/28"]);
    let (status, message) = c.status();
    assert_eq!(status, "blocked");
    assert!(
        message.contains(&format!("belongs to charm instance {}.metallb", b.model))
            && message.ends_with("set another namespace"),
        "{message}"
    );

    a.ok(&["remove"]);
    assert_eq!(cluster_roles(&client, &a).await?, 0);
    assert_eq!(cluster_roles(&client, &b).await?, 2, "b's objects stay");
    assert_eq!(
        pool_addresses(&client, &b).await?,
        json!(["198.18.100.16/28"])
    );
    assert_eq!(metallb_crds(&client).await?, 9);
    b.wait_active().await?;
    b.ok(&["remove"]);
    Ok(())
}

/// Option settings the charm must refuse (several settings are set together), each with the
/// text its message must hold. The API server would refuse many of them, or they would
/// announce what no operator means to.
pub const BAD_OPTIONS: &[(&[&str], &str)] = &[
    (&["iprange="], "set iprange"),
    (&["iprange=198.18.100.0/33"], "198.18.100.0/33"),
    (&["iprange=198.18.100.5/28"], "host bits"),
    (&["iprange=0.0.0.0/0"], "0.0.0.0/0"),
    (&["iprange=127.0.0.1/32"], "loopback"),
    (&["iprange=224.0.0.0/28"], "multicast"),
    (&["iprange=169.254.0.0/28"], "link-local"),
    (&["iprange=255.255.255.255/32"], "broadcast"),
    (&["iprange=::ffff:198.18.100.1/128"], "IPv4-mapped"),
    (&["iprange=fe80::/120"], "link-local"),
    (&["iprange=ff02::/120"], "multicast"),
    (&["iprange=::1/128"], "loopback"),
    (&["iprange=198.18.100.9-198.18.100.1"], "after"),
    (&["iprange=198.18.100.1-2001:db8::1"], "mix"),
    (&["iprange=198.18.100.0/28,198.18.100.8/29"], "overlaps"),
    (&["iprange=198.18.100.1"], "prefix length"),
    (&["iprange=not-an-address"], "not-an-address"),
    (&["iprange=198.18.100.0/+28"], "198.18.100.0/+28"),
    (&["namespace=Metallb"], "Metallb"),
    (&["namespace=-x"], "-x"),
    (&["namespace=a.b"], "a.b"),
    (&["log-level=loud"], "loud"),
    (&["image-registry= "], "image-registry"),
    (&["node-selector=nolabel"], "nolabel"),
    (&["node-selector=a=b a=c"], "a=c"),
    (&["node-selector=k=v!"], "k=v!"),
    (&["l2-interfaces=eth0:1"], "eth0:1"),
    (
        &["l2-interfaces=averyveryverylongname"],
        "averyveryverylongname",
    ),
    (&["bgp-asn=-1"], "-1"),
    (&["bgp-asn=4294967296"], "4294967296"),
    (&["bgp-peers=198.18.0.3:64513"], "bgp-asn"),
    (&["bgp-asn=64512", "bgp-peers=198.18.0.3"], "198.18.0.3"),
    (&["bgp-asn=64512", "bgp-peers=198.18.0.3:0"], "198.18.0.3:0"),
    (
        &["bgp-asn=64512", "bgp-peers=198.18.0.3:64513:70000"],
        "198.18.0.3:64513:70000",
    ),
    (
        &["bgp-asn=64512", "bgp-peers=2001:db8::3:64513"],
        "brackets",
    ),
    (
        &["bgp-asn=64512", "bgp-peers=[::ffff:198.18.0.3]:64513"],
        "IPv4-mapped",
    ),
    (&["bgp-asn=64512", "bgp-peers=224.0.0.5:64513"], "multicast"),
    (
        &[
            "bgp-asn=64512",
            "bgp-peers=198.18.0.3:64513,198.18.0.3:64514",
        ],
        "twice",
    ),
    (
        &["bgp-asn=64512", "bgp-communities=65000:100,65000:100"],
        "twice",
    ),
    (&["bgp-asn=64512", "bgp-communities=70000:1"], "70000:1"),
    (
        &["bgp-asn=64512", "bgp-aggregation-length=1"],
        "198.18.100.0/28",
    ),
    (&["bgp-asn=64512", "bgp-aggregation-length=33"], "33"),
    (&["bgp-asn=64512", "bgp-local-pref=-5"], "-5"),
];

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn bad_option_values_block_naming_the_item_and_change_nothing() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;
    let before = pool_addresses(&client, &d).await?;
    let mut failures = Vec::new();
    for (settings, expected) in BAD_OPTIONS {
        let mut args = vec!["config"];
        args.extend(settings.iter());
        d.ok(&args);
        let (status, message) = d.status();
        let pool = pool_addresses(&client, &d).await?;
        if status != "blocked" || !message.contains(expected) || pool != before {
            failures.push(format!("{settings:?}: {status}: {message} (pool {pool})"));
        }
        // Back to the deploy-time settings in one config change.
        let keys: Vec<&str> = settings
            .iter()
            .filter_map(|s| s.split_once('=').map(|(k, _)| k))
            .collect();
        let reset = keys.join(",");
        let namespace = format!("namespace={}", d.namespace);
        let selector = d.node_selector();
        d.ok(&[
            "config",
            "--reset",
            &reset,
            "iprange=198.18.100.0/28",
            &namespace,
            &selector,
        ]);
    }
    println!(
        "faults: bad-options tried={} held={}",
        BAD_OPTIONS.len(),
        BAD_OPTIONS.len() - failures.len()
    );
    if !failures.is_empty() {
        bail!("accepted or badly reported:\n{}", failures.join("\n"));
    }
    assert!(BAD_OPTIONS.len() >= 40);
    d.wait_active().await?;
    d.ok(&["remove"]);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn a_namespace_move_keeps_the_old_namespace_when_the_user_has_things_in_it() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let mut d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;
    let old = d.namespace.clone();
    user_pool(&client, &old, "users-pool", "198.18.103.0/28").await?;
    d.namespace = unique_name("moved");
    d.ok(&["config", &format!("namespace={}", d.namespace)]);
    d.wait_active().await?;
    let old_deployments: Api<Deployment> = Api::namespaced(client.clone(), &old);
    wait_for("the old controller to go", WAIT, || async {
        Ok(old_deployments
            .get_opt("controller")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    assert!(
        namespace_lives(&client, &old).await?,
        "the user's pool keeps it"
    );
    assert!(
        pool_api(&client, &old)
            .get_opt("users-pool")
            .await?
            .is_some()
    );
    d.ok(&["remove"]);
    Ok(())
}

/// Who asks (component), what, in kubectl's notation (`verb resource[.group][/subresource]
/// namespace|cluster [name]`), and whether it must be allowed.
const ACCESS: &[(&str, &str, bool)] = &[
    // The controller: watches, writes statuses, creates its Secret and events.
    ("controller", "watch services cluster", true),
    ("controller", "list namespaces cluster", true),
    ("controller", "patch services/status cluster", true),
    ("controller", "create events.events.k8s.io cluster", true),
    (
        "controller",
        "list ipaddresspools.metallb.io namespace",
        true,
    ),
    (
        "controller",
        "patch ipaddresspools.metallb.io/status namespace",
        true,
    ),
    (
        "controller",
        "create configurationstates.metallb.io namespace",
        true,
    ),
    ("controller", "get secrets namespace memberlist", true),
    ("controller", "create secrets namespace", true),
    (
        "controller",
        "get deployments.apps namespace controller",
        true,
    ),
    // ... and nothing more.
    ("controller", "update services cluster", false),
    ("controller", "patch services cluster", false),
    ("controller", "delete services cluster", false),
    ("controller", "list secrets namespace", false),
    ("controller", "get secrets namespace other", false),
    ("controller", "get secrets cluster memberlist", false),
    ("controller", "list nodes cluster", false),
    (
        "controller",
        "delete ipaddresspools.metallb.io namespace",
        false,
    ),
    (
        "controller",
        "list ipaddresspools.metallb.io cluster",
        false,
    ),
    (
        "controller",
        "get deployments.apps namespace speaker",
        false,
    ),
    ("controller", "list pods namespace", false),
    // The speaker: watches, keeps its status objects, events with their series.
    ("speaker", "watch nodes cluster", true),
    (
        "speaker",
        "list endpointslices.discovery.k8s.io cluster",
        true,
    ),
    ("speaker", "patch events.events.k8s.io cluster", true),
    ("speaker", "list pods namespace", true),
    ("speaker", "watch secrets namespace", true),
    ("speaker", "list bgppeers.metallb.io namespace", true),
    (
        "speaker",
        "delete servicel2statuses.metallb.io namespace",
        true,
    ),
    (
        "speaker",
        "patch servicebgpstatuses.metallb.io/status namespace",
        true,
    ),
    (
        "speaker",
        "patch configurationstates.metallb.io/status namespace",
        true,
    ),
    // ... and nothing more.
    ("speaker", "list secrets cluster", false),
    ("speaker", "list pods cluster", false),
    ("speaker", "create pods namespace", false),
    ("speaker", "patch services/status cluster", false),
    ("speaker", "patch nodes cluster", false),
    ("speaker", "create secrets namespace", false),
    (
        "speaker",
        "patch ipaddresspools.metallb.io namespace",
        false,
    ),
    (
        "speaker",
        "delete configurationstates.metallb.io namespace",
        false,
    ),
    (
        "speaker",
        "delete customresourcedefinitions.apiextensions.k8s.io cluster",
        false,
    ),
    (
        "speaker",
        "patch servicel2statuses.metallb.io cluster",
        false,
    ),
];

/// The resource attributes of one [`ACCESS`] question, in `namespace` when it says so.
fn resource_attributes(
    question: &str,
    namespace: &str,
) -> Result<k8s_openapi::api::authorization::v1::ResourceAttributes> {
    let words: Vec<&str> = question.split_whitespace().collect();
    let (verb, path, scope, name) = match words.as_slice() {
        [verb, path, scope] => (*verb, *path, *scope, None),
        [verb, path, scope, name] => (*verb, *path, *scope, Some(name.to_string())),
        _ => bail!("not `verb resource scope [name]`: {question}"),
    };
    let (resource, subresource) = match path.split_once('/') {
        Some((r, sub)) => (r, Some(sub.to_string())),
        None => (path, None),
    };
    let (resource, group) = resource.split_once('.').unwrap_or((resource, ""));
    Ok(k8s_openapi::api::authorization::v1::ResourceAttributes {
        verb: Some(verb.into()),
        group: Some(group.into()),
        resource: Some(resource.into()),
        subresource,
        namespace: (scope == "namespace").then(|| namespace.to_string()),
        name,
        ..Default::default()
    })
}

/// What the workloads call must be allowed, and nothing broader: asked of the real API
/// server's authorizer (SubjectAccessReview) for the service accounts the charm created.
#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn the_workloads_get_exactly_the_access_they_use() -> Result<()> {
    use k8s_openapi::api::authorization::v1::{SubjectAccessReview, SubjectAccessReviewSpec};
    let _serial = SERIAL.lock().await;
    let d = Deployed::new();
    let client = d.nodes().await?;
    d.deploy(true, &[]);
    d.wait_active().await?;
    // What `kubectl auth can-i --list` shows for each account (printed for the record).
    for component in ["controller", "speaker"] {
        let user = format!("--as=system:serviceaccount:{}:{component}", d.namespace);
        let out = cluster().kubectl(&["auth", "can-i", "--list", &user, "-n", &d.namespace])?;
        println!(
            "kubectl auth can-i --list {user} -n {}:\n{}",
            d.namespace,
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let mut wrong = Vec::new();
    for &(component, question, expected) in ACCESS {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(format!("system:serviceaccount:{}:{component}", d.namespace)),
                groups: Some(vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{}", d.namespace),
                    "system:authenticated".into(),
                ]),
                resource_attributes: Some(resource_attributes(question, &d.namespace)?),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = reviews.create(&PostParams::default(), &review).await?;
        let allowed = answer.status.is_some_and(|s| s.allowed);
        println!("rbac: {component:<10} {question:<66} allowed={allowed}");
        if allowed != expected {
            wrong.push(format!(
                "{component} {question}: allowed={allowed}, expected {expected}"
            ));
        }
    }
    println!(
        "faults: least-privilege tried={} held={}{}",
        ACCESS.len(),
        ACCESS.len() - wrong.len(),
        if wrong.is_empty() {
            String::new()
        } else {
            format!(" lost={}", wrong.join("; "))
        }
    );
    if !wrong.is_empty() {
        bail!("access differs from least privilege:\n{}", wrong.join("\n"));
    }
    Ok(())
}
