//! Moving onto the charm from an upstream MetalLB install (v0.16.2's own `metallb-native.yaml`,
//! from the module proxy): the charm refuses to take it silently, and the `adopt` action takes
//! it over keeping the user's pools and advertisements and retiring upstream's webhooks, which
//! would refuse every pool once upstream's controller is gone. The compiled charm through
//! `juju-sim` against the real API server. `METALLB_RS_UPSTREAM_SRC` names upstream's module
//! directory (`cargo xtask test` sets it).

mod charm_support;

use anyhow::{Context, Result, bail, ensure};
use charm_support::{Deployed, pool_api, user_pool};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::json;
use test_support::cluster;

const NAMESPACE: &str = "metallb-system";
const WEBHOOKS: &str = "metallb-webhook-configuration";

/// Upstream's manifest, split into its webhook configurations and everything else.
fn upstream_manifest() -> Result<(String, String)> {
    let text = test_support::upstream::manifest("metallb-native.yaml")?;
    let (mut webhooks, mut rest) = (String::new(), String::new());
    for doc in text.split("\n---") {
        let target = if doc.contains("\nkind: ValidatingWebhookConfiguration") {
            &mut webhooks
        } else {
            &mut rest
        };
        target.push_str(doc);
        target.push_str("\n---\n");
    }
    ensure!(
        !webhooks.is_empty(),
        "no webhook configuration in upstream's metallb-native.yaml"
    );
    Ok((webhooks, rest))
}

fn kubectl_apply(yaml: &str, dir: &std::path::Path, name: &str) -> Result<()> {
    let file = dir.join(name);
    std::fs::write(&file, yaml)?;
    let file = file.to_string_lossy().into_owned();
    let out = cluster().kubectl(&["apply", "--server-side", "-f", &file])?;
    if !out.status.success() {
        bail!(
            "kubectl apply {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn l2_api(client: &kube::Client) -> Api<DynamicObject> {
    let resource = kube::core::ApiResource {
        group: "metallb.io".into(),
        version: "v1beta1".into(),
        api_version: "metallb.io/v1beta1".into(),
        kind: "L2Advertisement".into(),
        plural: "l2advertisements".into(),
    };
    Api::namespaced_with(client.clone(), NAMESPACE, &resource)
}

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn adopting_an_upstream_install_keeps_the_users_objects_and_retires_its_webhooks()
-> Result<()> {
    let (webhooks, rest) = upstream_manifest()?;
    let mut d = Deployed::new();
    d.namespace = NAMESPACE.to_string();
    let client = d.nodes().await?;

    // Upstream installed as its documentation says, and the user's configuration in place.
    kubectl_apply(&rest, d.dir.path(), "upstream.yaml")?;
    let out = cluster().kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/ipaddresspools.metallb.io",
        "crd/l2advertisements.metallb.io",
        "crd/bgppeers.metallb.io",
    ])?;
    ensure!(
        out.status.success(),
        "upstream's CRDs not established: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    user_pool(&client, NAMESPACE, "users-pool", "198.18.110.0/28").await?;
    // Upstream's documented minimum: an L2Advertisement without a spec.
    l2_api(&client)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                "metadata": {"name": "users-l2", "namespace": NAMESPACE},
            }))?,
        )
        .await?;
    kubectl_apply(&webhooks, d.dir.path(), "webhooks.yaml")?;
    // With nothing serving upstream's webhook, a new pool is refused: what adopt must undo.
    let refused = user_pool(&client, NAMESPACE, "refused", "198.18.111.0/28").await;
    ensure!(
        refused.is_err(),
        "upstream's webhook did not refuse a pool (is the manifest's webhook missing?)"
    );

    // The charm finds the installation and takes nothing silently.
    d.deploy(true, &[]);
    let (status, message) = d.status();
    ensure!(
        status == "blocked"
            && message.contains("not created by this charm")
            && message.contains("adopt"),
        "deploy over upstream: {status}: {message}"
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let controller = deployments.get("controller").await?;
    ensure!(
        controller
            .metadata
            .labels
            .unwrap_or_default()
            .get("app.kubernetes.io/managed-by")
            != Some(&"metallb-charm".to_string()),
        "the charm changed upstream's controller before adopt"
    );

    // Adopt: the charm takes the installation over.
    let adopted = d.action("adopt", &[]);
    println!("adopt: {adopted}");
    let taken = adopted["results"]["adopted"].to_string();
    for expected in [
        "CustomResourceDefinition/bgppeers.metallb.io",
        "Namespace/metallb-system",
        "Deployment/metallb-system/controller",
        "ValidatingWebhookConfiguration/metallb-webhook-configuration (removed)",
        "ClusterRoleBinding/metallb-system:controller (removed)",
        "ClusterRoleBinding/metallb-system:speaker (removed)",
        "RoleBinding/metallb-system/pod-lister (removed)",
    ] {
        ensure!(
            taken.contains(expected),
            "adopt does not report {expected}: {taken}"
        );
    }
    d.wait_active().await?;
    let webhook_api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    ensure!(
        webhook_api.get_opt(WEBHOOKS).await?.is_none(),
        "upstream's webhook configuration is still there"
    );
    ensure!(
        pool_api(&client, NAMESPACE)
            .get_opt("users-pool")
            .await?
            .is_some(),
        "the user's pool was lost"
    );
    ensure!(
        l2_api(&client).get_opt("users-l2").await?.is_some(),
        "the user's L2Advertisement was lost"
    );
    // Pools can be created again (no webhook in the way).
    user_pool(&client, NAMESPACE, "after-adopt", "198.18.112.0/28")
        .await
        .context("a pool is still refused after adopt")?;
    // The CRDs are the charm's, and BGPPeer versions no longer call upstream's webhook.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let peers = crds.get("bgppeers.metallb.io").await?;
    let strategy = peers
        .spec
        .conversion
        .map(|c| c.strategy)
        .unwrap_or_default();
    ensure!(strategy == "None", "BGPPeer conversion is still {strategy}");
    let controller = deployments.get("controller").await?;
    ensure!(
        controller
            .metadata
            .labels
            .unwrap_or_default()
            .get("app.kubernetes.io/managed-by")
            == Some(&"metallb-charm".to_string()),
        "the controller Deployment was not taken over"
    );
    println!("faults: adopt-upstream-install tried=1 held=1");
    Ok(())
}
