//! ServiceL2Status objects: while this node announces a Service there is exactly one, labelled
//! with this node; objects of other nodes for that Service and this node's stale ones are deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use metallb_api::ServiceL2Status;
use metallb_api::annotations::{LABEL_NODE, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE};
use metallb_api::service_status::{InterfaceInfo, L2Status, ServiceL2StatusSpec};

/// How long a created object may take to show up in the watch cache.
const CACHE_GRACE: Duration = Duration::from_secs(5);

/// A Service this node announces: (namespace, name) and its interface filter.
pub struct Announced<'a> {
    /// Service namespace.
    pub namespace: &'a str,
    /// Service name.
    pub name: &'a str,
    /// Interfaces, when restricted.
    pub interfaces: Option<&'a BTreeSet<String>>,
}

fn labels_of(object: &ServiceL2Status) -> (Option<&str>, Option<&str>, Option<&str>) {
    let labels = object.metadata.labels.as_ref();
    let get = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    (
        get(LABEL_NODE),
        get(LABEL_SERVICE_NAMESPACE),
        get(LABEL_SERVICE_NAME),
    )
}

/// The wanted status of `service` announced by `node`.
fn wanted(node: &str, service: &Announced<'_>) -> L2Status {
    L2Status {
        node: Some(node.to_string()),
        service_name: Some(service.name.to_string()),
        service_namespace: Some(service.namespace.to_string()),
        interfaces: service
            .interfaces
            .into_iter()
            .flatten()
            .map(|name| InterfaceInfo { name: name.clone() })
            .collect(),
    }
}

/// Brings the ServiceL2Status objects in `namespace` in line with what `node` announces.
/// `existing` is the watch cache; returns how many writes were made.
pub async fn sync(
    client: &Client,
    namespace: &str,
    node: &str,
    announced: &[Announced<'_>],
    existing: &[Arc<ServiceL2Status>],
    recently_created: &mut BTreeMap<String, Instant>,
) -> Result<usize> {
    let api: Api<ServiceL2Status> = Api::namespaced(client.clone(), namespace);
    let mut writes = 0;
    let wanted_keys: BTreeMap<(&str, &str), &Announced<'_>> = announced
        .iter()
        .map(|a| ((a.namespace, a.name), a))
        .collect();
    let mut kept: BTreeSet<(&str, &str)> = BTreeSet::new();
    for object in existing {
        let (owner, svc_ns, svc_name) = labels_of(object);
        let (Some(svc_ns), Some(svc_name)) = (svc_ns, svc_name) else {
            continue;
        };
        let key = (svc_ns, svc_name);
        let ours = owner == Some(node);
        let delete = match wanted_keys.get(&key) {
            // We announce it: other nodes' objects and our duplicates go.
            Some(service) if ours && !kept.contains(&key) => {
                kept.insert(key);
                let status = wanted(node, service);
                if object.status.as_ref() != Some(&status) {
                    let name = object.metadata.name.clone().unwrap_or_default();
                    let patch = serde_json::json!({ "status": status });
                    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .with_context(|| format!("cannot update ServiceL2Status {name}"))?;
                    writes += 1;
                }
                false
            }
            Some(_) => true,
            // We do not announce it: only our own objects are ours to delete.
            None => ours,
        };
        if delete && let Some(name) = &object.metadata.name {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => writes += 1,
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot delete ServiceL2Status {name}"));
                }
            }
        }
    }
    for (key, service) in &wanted_keys {
        let created_key = format!("{}/{}", key.0, key.1);
        if kept.contains(key) {
            recently_created.remove(&created_key);
            continue;
        }
        // Created moments ago and not in the watch cache yet: do not create a twin.
        if recently_created
            .get(&created_key)
            .is_some_and(|at| at.elapsed() < CACHE_GRACE)
        {
            continue;
        }
        let labels = BTreeMap::from([
            (LABEL_NODE.to_string(), node.to_string()),
            (LABEL_SERVICE_NAME.to_string(), service.name.to_string()),
            (
                LABEL_SERVICE_NAMESPACE.to_string(),
                service.namespace.to_string(),
            ),
        ]);
        let object = ServiceL2Status {
            metadata: ObjectMeta {
                generate_name: Some("l2-".into()),
                labels: Some(labels),
                ..Default::default()
            },
            spec: ServiceL2StatusSpec {},
            status: None,
        };
        let created = api
            .create(&PostParams::default(), &object)
            .await
            .with_context(|| {
                format!(
                    "cannot create the ServiceL2Status of {}/{}",
                    service.namespace, service.name
                )
            })?;
        let name = created.metadata.name.unwrap_or_default();
        let patch = serde_json::json!({ "status": wanted(node, service) });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("cannot set the status of ServiceL2Status {name}"))?;
        writes += 2;
        recently_created.insert(created_key, Instant::now());
    }
    Ok(writes)
}
