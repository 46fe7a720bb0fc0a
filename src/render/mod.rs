//! Pure rendering: the charm's validated settings in, every Kubernetes object it wants out.
//!
//! No client and no I/O here. Each object is built as its typed value (`k8s_openapi` for the
//! built-in kinds, `metallb_api` for the `metallb.io` kinds), so a renamed field fails to
//! compile, and is serialised once into [`Desired::body`]. Every object carries the charm's
//! ownership labels ([`crate::identity`]) so that pruning can find what the charm created and no
//! longer wants. What the workloads read (env names, ports, labels, mount paths) comes from
//! [`metallb_api::deploy`], the one definition the workloads' flags use too.
//!
//! * [`namespace`]: the Namespace, labelled for the privileged speaker.
//! * [`rbac`]: ServiceAccounts and least-privilege (Cluster)Roles and bindings.
//! * [`workloads`]: the controller Deployment, the speaker DaemonSet, the exclude list.
//! * [`metallb`]: the CRDs, the IPAddressPool and the L2/BGP advertisements and peers.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::Serialize;
use serde_json::Value;

use crate::identity::{Instance, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY};

pub mod metallb;
pub mod namespace;
pub mod rbac;
pub mod workloads;

pub use metallb_api::deploy::{
    EXCLUDE_CONFIG_MAP, HEALTH_PORT, MEMBERLIST_PORT, MEMBERLIST_SECRET, METRICS_PORT,
};
pub use rbac::{
    controller_cluster_rules, controller_namespace_rules, speaker_cluster_rules,
    speaker_namespace_rules,
};
pub use workloads::exclude_list;

/// Everything rendering needs, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderInput {
    /// Juju model name.
    pub model: String,
    /// Juju application name.
    pub app: String,
    /// Namespace of the MetalLB workload.
    pub namespace: String,
    /// Pool addresses in canonical form.
    pub addresses: Vec<String>,
    /// Node selector of the controller and speakers.
    pub node_selector: BTreeMap<String, String>,
    /// Interfaces of the L2Advertisement (empty: all).
    pub l2_interfaces: Vec<String>,
    /// BGP mode (None: off).
    pub bgp: Option<crate::config::BgpConfig>,
    /// Controller image reference.
    pub controller_image: String,
    /// Speaker image reference.
    pub speaker_image: String,
    /// Workload log level.
    pub log_level: String,
    /// How the workload pods run (class, tolerations, resources, priority).
    pub workloads: crate::config::WorkloadOptions,
}

/// One desired object.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace (None for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The whole object.
    pub body: Value,
}

impl Desired {
    /// The object `kind` `namespace/name`, named only: something to delete.
    pub fn target(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Self {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            body: Value::Null,
        }
    }

    /// The Namespace `name`, as something to delete.
    pub fn namespace_target(name: &str) -> Self {
        Self::target("v1", "Namespace", None, name)
    }

    /// `Kind/namespace/name` for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// A typed object, serialised once: its kind, version, namespace and name come from the
    /// type and its metadata, its body is the whole object.
    ///
    /// Serialising cannot fail for the objects rendered here, by construction of their types:
    /// `serde_json::to_value` fails only for a map whose keys are not strings or a `Serialize`
    /// implementation that reports an error, and the `k8s_openapi` and `metallb_api` types
    /// used have string-keyed maps and derived or generated implementations that report none
    /// (no time or quantity fields are set). Returning a `Result` would put an error path
    /// that cannot be taken into every caller of [`render`], so this is the one `expect` of
    /// rendering; the golden test serialises every kind rendered.
    pub fn from_object<K>(object: &K) -> Self
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        let meta = object.meta();
        Self {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            body: serde_json::to_value(object)
                .expect("k8s_openapi and metallb_api objects serialise to JSON"),
        }
    }
}

impl RenderInput {
    /// This charm instance.
    pub fn instance(&self) -> Instance {
        Instance::new(&self.model, &self.app)
    }

    /// Name of the IPAddressPool and the advertisements.
    pub fn pool_name(&self) -> String {
        self.instance().pool_name()
    }

    /// The ownership labels every object of this instance carries.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = shared_labels();
        labels.insert(LABEL_INSTANCE.to_string(), self.instance().label());
        labels
    }

    /// The metadata of an object of this instance named `name` (in `namespace` when it is
    /// namespaced), with the ownership labels and `extra_labels`.
    pub(crate) fn metadata(
        &self,
        namespace: Option<&str>,
        name: &str,
        extra_labels: &[(&str, &str)],
    ) -> ObjectMeta {
        let mut labels = self.labels();
        for (k, v) in extra_labels {
            labels.insert((*k).to_string(), (*v).to_string());
        }
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: namespace.map(str::to_string),
            labels: Some(labels),
            ..ObjectMeta::default()
        }
    }

    /// [`Self::metadata`] of an object in the MetalLB namespace.
    pub(crate) fn namespaced(&self, name: &str, extra_labels: &[(&str, &str)]) -> ObjectMeta {
        self.metadata(Some(&self.namespace), name, extra_labels)
    }
}

/// The labels of objects every instance shares (the CRDs): managed by the charm, no instance.
pub(crate) fn shared_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (
            "app.kubernetes.io/part-of".to_string(),
            "metallb".to_string(),
        ),
    ])
}

/// Every object the charm wants, in apply order (namespace and CRDs first).
pub fn render(input: &RenderInput) -> Vec<Desired> {
    let mut out = vec![namespace::namespace(input)];
    out.extend(metallb::crds());
    out.extend(rbac::rbac(input));
    out.push(workloads::controller(input));
    out.push(workloads::speaker(input));
    out.push(metallb::pool(input));
    out.push(metallb::l2_advertisement(input));
    out.extend(metallb::bgp(input));
    out
}

/// Every kind the charm may create (`apiVersion`, kind): what it looks for when pruning and
/// removing, even kinds it renders none of now (BGP switched off).
pub const MANAGED_KINDS: &[(&str, &str)] = &[
    ("v1", "Namespace"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "DaemonSet"),
    ("metallb.io/v1beta1", "IPAddressPool"),
    ("metallb.io/v1beta1", "L2Advertisement"),
    ("metallb.io/v1beta2", "BGPPeer"),
    ("metallb.io/v1beta1", "BGPAdvertisement"),
];

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod golden_tests;

#[cfg(test)]
mod tests;
