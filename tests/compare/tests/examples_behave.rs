//! Upstream's documentation examples behave the same with both controllers. Every YAML block of
//! upstream MetalLB's documentation set (v0.16.2) that holds IPAddressPools is applied as the page
//! shows it (its pools together), and Services ask for addresses: one plain, one naming each pool
//! (`metallb.io/address-pool`), and, for a pool with `serviceAllocation`, one in a namespace with
//! the labels it selects. Upstream's controller and ours, each on a fresh control plane with our
//! CRDs, must give every Service the same answer: the same address, or none.
//!
//! Nothing is sent to the addresses (the controller only writes Service status), so upstream's
//! documentation ranges are used as written. Environment as in `interop.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Event, Namespace, Service};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use metallb_compare::controller;
use metallb_compare::implementation::{Implementation, NAMESPACE, Which};
use metallb_compare::plane::Plane;
use serde_json::{Value, json};
use test_support::upstream;

fn dir(name: &str) -> Result<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .with_context(|| format!("{name} is not set: run the tests with `cargo xtask test`"))
}

/// One block of the documentation: its pools, and where it is.
struct Case {
    origin: String,
    pools: Vec<Value>,
}

/// The documentation's blocks that hold IPAddressPools, in order.
fn cases() -> Result<Vec<Case>> {
    let module = upstream::module_dir()?;
    let mut cases: Vec<Case> = Vec::new();
    for example in upstream::examples(&module)? {
        if example.object["kind"] != "IPAddressPool" {
            continue;
        }
        let block = match example.origin.split_once(", document") {
            Some((block, _)) => format!("{block})"),
            None => example.origin.clone(),
        };
        match cases.last_mut() {
            Some(case) if case.origin == block => case.pools.push(example.object),
            _ => cases.push(Case {
                origin: block,
                pools: vec![example.object],
            }),
        }
    }
    Ok(cases)
}

/// A Service that asks for an address: name, namespace, labels, annotations.
struct Ask {
    name: String,
    namespace: String,
    labels: Value,
    annotations: Value,
}

/// The Services a case creates (see the module's documentation).
fn asks(case: usize, pools: &[Value]) -> Vec<Ask> {
    let ns = format!("case-{case}");
    let mut asks = Vec::new();
    for (i, pool) in pools.iter().enumerate() {
        let name = pool["metadata"]["name"].as_str().unwrap_or_default();
        asks.push(Ask {
            name: format!("pool-{i}"),
            namespace: ns.clone(),
            labels: json!({}),
            annotations: json!({"metallb.io/address-pool": name}),
        });
        let allocation = &pool["spec"]["serviceAllocation"];
        if let Some(selected) = allocation["namespaces"][0].as_str() {
            let labels: serde_json::Map<String, Value> = allocation["serviceSelectors"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| {
                    s["matchExpressions"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter(|e| e["operator"] == "In")
                .filter_map(|e| Some((e["key"].as_str()?.to_string(), e["values"][0].clone())))
                .collect();
            asks.push(Ask {
                name: format!("selected-{i}"),
                namespace: selected.to_string(),
                labels: Value::Object(labels),
                annotations: json!({}),
            });
        }
    }
    asks.push(Ask {
        name: "plain".into(),
        namespace: ns,
        labels: json!({}),
        annotations: json!({}),
    });
    asks
}

fn pools_api(client: &kube::Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", "v1beta1", "IPAddressPool"),
        "ipaddresspools",
    );
    Api::namespaced_with(client.clone(), NAMESPACE, &resource)
}

async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// The answer the controller gave `ask`: its address, `none (<reason>)` after an
/// `AllocationFailed` event, or None while it has given none.
async fn answer(client: &kube::Client, ask: &Ask) -> Result<Option<String>> {
    let services: Api<Service> = Api::namespaced(client.clone(), &ask.namespace);
    if let Some(ip) = test_support::ingress_ip(services.get(&ask.name).await?) {
        return Ok(Some(ip));
    }
    let events: Api<Event> = Api::namespaced(client.clone(), &ask.namespace);
    let failed = events
        .list(&ListParams::default().fields(&format!(
            "involvedObject.name={},reason=AllocationFailed",
            ask.name
        )))
        .await?;
    Ok((!failed.items.is_empty()).then(|| "none".to_string()))
}

/// Runs every case with `implementation`'s controller; returns each Service's answer by
/// (case origin, Service).
async fn answers(
    implementation: &Implementation,
    cases: &[Case],
) -> Result<BTreeMap<String, String>> {
    let plane = Plane::start(&dir("METALLB_RS_CLUSTER_BIN")?)?;
    let client = plane.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    ensure_namespace(&client, NAMESPACE).await?;
    let log = tempfile::NamedTempFile::new()?;
    let mut process = controller::start(
        implementation,
        &client,
        plane.kubeconfig(),
        controller::free_port()?,
        Stdio::from(log.reopen()?),
    )
    .await?;
    let result = async {
        let mut out = BTreeMap::new();
        for (i, case) in cases.iter().enumerate() {
            let pools = pools_api(&client);
            for pool in &case.pools {
                let mut pool = pool.clone();
                pool["metadata"]["namespace"] = json!(NAMESPACE);
                pools
                    .create(&PostParams::default(), &serde_json::from_value(pool)?)
                    .await
                    .with_context(|| format!("{}: pool refused", case.origin))?;
            }
            let asks = asks(i, &case.pools);
            for ask in &asks {
                ensure_namespace(&client, &ask.namespace).await?;
                let service: Service = serde_json::from_value(json!({
                    "metadata": {"name": ask.name, "labels": ask.labels, "annotations": ask.annotations},
                    "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
                }))?;
                Api::<Service>::namespaced(client.clone(), &ask.namespace)
                    .create(&PostParams::default(), &service)
                    .await?;
                // One at a time, so that the order of allocation is the same on both sides.
                let got = test_support::wait_for(
                    &format!("{}: an answer for {}/{}", case.origin, ask.namespace, ask.name),
                    Duration::from_secs(30),
                    || answer(&client, ask),
                )
                .await?;
                out.insert(format!("{} {}/{}", case.origin, ask.namespace, ask.name), got);
            }
            for ask in &asks {
                Api::<Service>::namespaced(client.clone(), &ask.namespace)
                    .delete(&ask.name, &DeleteParams::default())
                    .await?;
            }
            for pool in &case.pools {
                let name = pool["metadata"]["name"].as_str().unwrap_or_default();
                pools.delete(name, &DeleteParams::default()).await?;
            }
        }
        Ok::<_, anyhow::Error>(out)
    }
    .await;
    let _ = process.kill();
    let _ = process.wait();
    result.map_err(|err| {
        anyhow::anyhow!(
            "{} controller: {err:#}\n--- its log ---\n{}",
            implementation.name(),
            std::fs::read_to_string(log.path()).unwrap_or_default()
        )
    })
}

#[tokio::test]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn upstream_examples_get_the_same_addresses_from_both_controllers() -> Result<()> {
    let cases = cases()?;
    if cases.len() < 10 {
        bail!(
            "expected at least 10 blocks with pools in upstream's documentation, found {}",
            cases.len()
        );
    }
    let bin = |name: &str| -> Result<PathBuf> { dir(name) };
    let upstream_impl = Implementation {
        which: Which::Upstream,
        controller: bin("METALLB_RS_UPSTREAM_BIN")?.join("controller"),
        speaker: bin("METALLB_RS_UPSTREAM_BIN")?.join("speaker"),
    };
    let ours_impl = Implementation {
        which: Which::Ours,
        controller: bin("METALLB_RS_OURS_BIN")?.join("metallb-controller"),
        speaker: bin("METALLB_RS_OURS_BIN")?.join("metallb-speaker"),
    };
    let theirs = answers(&upstream_impl, &cases).await?;
    let ours = answers(&ours_impl, &cases).await?;
    let mut differ = Vec::new();
    for (service, answer) in &theirs {
        let mine = ours.get(service).map(String::as_str).unwrap_or("(missing)");
        println!("{service}: upstream {answer}, metallb-rs {mine}");
        if mine != answer {
            differ.push(format!("{service}: upstream {answer}, metallb-rs {mine}"));
        }
    }
    if !differ.is_empty() {
        bail!(
            "{} of {} answers differ:\n  {}",
            differ.len(),
            theirs.len(),
            differ.join("\n  ")
        );
    }
    println!(
        "{} Services over {} documentation blocks: the same answer from both controllers",
        theirs.len(),
        cases.len()
    );
    Ok(())
}
