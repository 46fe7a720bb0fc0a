//! `juju-sim` gives the charm a real Kubernetes identity: untrusted, the API server answers 403
//! beyond Juju's narrow rules; after `juju-sim trust`, the same identity has cluster access;
//! `juju-sim remove` deletes the identity.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::api::{Api, ListParams};
use test_support::{client_from, cluster, unique_name};

fn sim(state: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_juju-sim"))
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .unwrap()
}

fn charm_dir(root: &Path) -> PathBuf {
    let charm = root.join("charm");
    std::fs::create_dir_all(&charm).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture");
    for file in ["metadata.yaml", "config.yaml", "actions.yaml"] {
        std::fs::copy(fixture.join(file), charm.join(file)).unwrap();
    }
    std::fs::copy(env!("CARGO_BIN_EXE_fixture-charm"), charm.join("dispatch")).unwrap();
    charm
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(ref s)) if s.code == 403)
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn trust_is_a_real_identity_with_juju_rules() -> Result<()> {
    let cluster = cluster();
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    let charm = charm_dir(dir.path());
    let model = unique_name("model");
    let kubeconfig = cluster.kubeconfig().to_str().unwrap().to_string();
    let out = sim(
        &state,
        &[
            "deploy",
            charm.to_str().unwrap(),
            "--model",
            &model,
            "--kubeconfig",
            &kubeconfig,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let charm_kubeconfig = state.join("kube/charm.kubeconfig");
    let charm_client = client_from(&charm_kubeconfig).await?;
    // Untrusted: pods in the model namespace yes, nodes (cluster-wide) no.
    Api::<Pod>::namespaced(charm_client.clone(), &model)
        .list(&ListParams::default())
        .await?;
    assert!(forbidden(
        Api::<Node>::all(charm_client.clone())
            .list(&ListParams::default())
            .await
    ));
    assert!(forbidden(
        Api::<ServiceAccount>::namespaced(charm_client.clone(), &model)
            .list(&ListParams::default())
            .await
    ));

    let out = sim(&state, &["trust"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let charm_client = client_from(&charm_kubeconfig).await?;
    Api::<Node>::all(charm_client.clone())
        .list(&ListParams::default())
        .await?;

    let out = sim(&state, &["trust", "--remove"]);
    assert!(out.status.success());
    let charm_client = client_from(&charm_kubeconfig).await?;
    assert!(forbidden(
        Api::<Node>::all(charm_client)
            .list(&ListParams::default())
            .await
    ));

    let out = sim(&state, &["remove"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = cluster.client().await?;
    let sa = Api::<ServiceAccount>::namespaced(admin, &model)
        .get_opt("fixture")
        .await?;
    assert!(sa.is_none(), "remove deletes the application's identity");
    Ok(())
}
