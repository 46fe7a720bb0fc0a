//! Service status objects written by the speakers, labelled with node and Service:
//! - ServiceL2Status: while this node announces a Service there is exactly one, labelled with
//!   this node; objects of other nodes for that Service and this node's stale ones are deleted
//!   (one node announces a Service with Layer 2).
//! - ServiceBGPStatus: one per Service this node advertises, listing the BGPPeers; every
//!   advertising node has its own, and a node only ever touches its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use metallb_api::annotations::{LABEL_NODE, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE};
use metallb_api::service_status::{
    BGPStatus, InterfaceInfo, L2Status, ServiceBGPStatusSpec, ServiceL2StatusSpec,
};
use metallb_api::{ServiceBGPStatus, ServiceL2Status};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long a created object may take to show up in the watch cache.
const CACHE_GRACE: Duration = Duration::from_secs(5);

/// A status kind the speakers write.
pub trait StatusKind:
    kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
{
    /// The status written.
    type Status: PartialEq + Serialize;
    /// Prefix of generated object names.
    const NAME_PREFIX: &'static str;
    /// One node per Service: other nodes' objects for a Service this node announces go.
    const EXCLUSIVE: bool;
    /// The current status.
    fn status(&self) -> Option<&Self::Status>;
    /// A new object without status.
    fn empty(metadata: ObjectMeta) -> Self;
}

impl StatusKind for ServiceL2Status {
    type Status = L2Status;
    const NAME_PREFIX: &'static str = "l2-";
    const EXCLUSIVE: bool = true;

    fn status(&self) -> Option<&L2Status> {
        self.status.as_ref()
    }

    fn empty(metadata: ObjectMeta) -> Self {
        ServiceL2Status {
            metadata,
            spec: ServiceL2StatusSpec {},
            status: None,
        }
    }
}

impl StatusKind for ServiceBGPStatus {
    type Status = BGPStatus;
    const NAME_PREFIX: &'static str = "bgp-";
    const EXCLUSIVE: bool = false;

    fn status(&self) -> Option<&BGPStatus> {
        self.status.as_ref()
    }

    fn empty(metadata: ObjectMeta) -> Self {
        ServiceBGPStatus {
            metadata,
            spec: ServiceBGPStatusSpec {},
            status: None,
        }
    }
}

/// The status this node wants for one Service.
pub struct Wanted<S> {
    /// Service namespace.
    pub namespace: String,
    /// Service name.
    pub name: String,
    /// The status to write.
    pub status: S,
}

/// The Layer 2 status of `namespace/name` announced by `node` on `interfaces` (None: all),
/// with `conditions` (duplicate responders).
pub fn l2(
    node: &str,
    namespace: &str,
    name: &str,
    interfaces: Option<&BTreeSet<String>>,
    conditions: Vec<Condition>,
) -> Wanted<L2Status> {
    Wanted {
        namespace: namespace.to_string(),
        name: name.to_string(),
        status: L2Status {
            node: Some(node.to_string()),
            service_name: Some(name.to_string()),
            service_namespace: Some(namespace.to_string()),
            interfaces: interfaces
                .into_iter()
                .flatten()
                .map(|name| InterfaceInfo { name: name.clone() })
                .collect(),
            conditions,
        },
    }
}

/// The BGP status of `namespace/name` advertised by `node` to `peers`.
pub fn bgp(node: &str, namespace: &str, name: &str, peers: &BTreeSet<String>) -> Wanted<BGPStatus> {
    Wanted {
        namespace: namespace.to_string(),
        name: name.to_string(),
        status: BGPStatus {
            node: Some(node.to_string()),
            service_name: Some(name.to_string()),
            service_namespace: Some(namespace.to_string()),
            peers: peers.iter().cloned().collect(),
        },
    }
}

fn labels_of<K: kube::Resource>(object: &K) -> (Option<&str>, Option<&str>, Option<&str>) {
    let labels = object.meta().labels.as_ref();
    let get = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    (
        get(LABEL_NODE),
        get(LABEL_SERVICE_NAMESPACE),
        get(LABEL_SERVICE_NAME),
    )
}

/// Brings the status objects of kind `K` in `namespace` in line with what `node` wants.
/// `existing` is the watch cache; returns how many writes were made.
pub async fn sync<K: StatusKind>(
    client: &Client,
    namespace: &str,
    node: &str,
    wanted: &[Wanted<K::Status>],
    existing: &[Arc<K>],
    recently_created: &mut BTreeMap<String, Instant>,
) -> Result<usize> {
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let mut writes = 0;
    let wanted_keys: BTreeMap<(&str, &str), &Wanted<K::Status>> = wanted
        .iter()
        .map(|w| ((w.namespace.as_str(), w.name.as_str()), w))
        .collect();
    let mut kept: BTreeSet<(&str, &str)> = BTreeSet::new();
    for object in existing {
        let (owner, svc_ns, svc_name) = labels_of(object.as_ref());
        let (Some(svc_ns), Some(svc_name)) = (svc_ns, svc_name) else {
            continue;
        };
        let key = (svc_ns, svc_name);
        let ours = owner == Some(node);
        let delete = match wanted_keys.get(&key) {
            // We announce it: our first object is kept up to date, our duplicates go, and
            // other nodes' objects go when one node announces a Service.
            Some(service) if ours && !kept.contains(&key) => {
                kept.insert(key);
                if object.status() != Some(&service.status) {
                    let name = object.meta().name.clone().unwrap_or_default();
                    let patch = serde_json::json!({ "status": service.status });
                    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .with_context(|| format!("cannot update {} {name}", K::kind(&())))?;
                    writes += 1;
                }
                false
            }
            Some(_) => ours || K::EXCLUSIVE,
            // We do not announce it: only our own objects are ours to delete.
            None => ours,
        };
        if delete && let Some(name) = &object.meta().name {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => writes += 1,
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot delete {} {name}", K::kind(&())));
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
            (LABEL_SERVICE_NAME.to_string(), key.1.to_string()),
            (LABEL_SERVICE_NAMESPACE.to_string(), key.0.to_string()),
        ]);
        let object = K::empty(ObjectMeta {
            generate_name: Some(K::NAME_PREFIX.into()),
            labels: Some(labels),
            ..Default::default()
        });
        let created = api
            .create(&PostParams::default(), &object)
            .await
            .with_context(|| format!("cannot create the {} of {created_key}", K::kind(&())))?;
        let name = created.meta().name.clone().unwrap_or_default();
        let patch = serde_json::json!({ "status": service.status });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("cannot set the status of {} {name}", K::kind(&())))?;
        writes += 2;
        recently_created.insert(created_key, Instant::now());
    }
    Ok(writes)
}
