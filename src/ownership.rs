//! Pure decisions about what the charm may touch: which existing objects are its own, what to
//! apply, what to prune, and what to leave alone.
//!
//! The rules (issue "safe on a real cluster"):
//! * An object that exists without the charm's labels is the user's: it is never applied over
//!   (the charm blocks and names it) unless the operator adopts it with the `adopt` action.
//! * An object of another charm instance is never applied over, pruned or deleted.
//! * CustomResourceDefinitions are never deleted: deleting one deletes every object of its kind.
//! * A Namespace is deleted only if this instance created it (annotation
//!   [`ANNOTATION_CREATED_BY`]) and it holds nothing else (checked by the caller).

use std::collections::{BTreeMap, BTreeSet};

use crate::identity::{
    ANNOTATION_CREATED_BY, Instance, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY,
};
use crate::render::Desired;

/// Kind of the CRDs, which every instance shares and none deletes.
pub const CRD_KIND: &str = "CustomResourceDefinition";
/// Kinds whose pods announce or allocate: removed before their replacements are applied, so
/// two controllers (or two sets of speakers) never run at once when the namespace changes.
const WORKLOAD_KINDS: [&str; 2] = ["Deployment", "DaemonSet"];

/// An object found in the cluster, with what ownership needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Existing {
    /// `apiVersion` it was read with.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (None when cluster-scoped).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

impl Existing {
    /// `Kind/namespace/name`, as [`Desired::describe`] writes it.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// The same object as something to delete.
    pub fn as_target(&self) -> Desired {
        Desired::target(
            &self.api_version,
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }

    fn key(&self) -> Key {
        (self.kind.clone(), self.namespace.clone(), self.name.clone())
    }
}

type Key = (String, Option<String>, String);

fn key_of(d: &Desired) -> Key {
    (d.kind.clone(), d.namespace.clone(), d.name.clone())
}

/// Who an existing object belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This charm instance (or, for CRDs, any instance of the charm).
    This,
    /// Another instance of the charm, by its instance label.
    OtherInstance(String),
    /// Not the charm: the user, or another installation of MetalLB.
    Foreign,
}

/// Who owns `object`, from its labels.
pub fn owner(object: &Existing, instance: &Instance) -> Owner {
    if object.labels.get(LABEL_MANAGED_BY).map(String::as_str) != Some(MANAGED_BY) {
        return Owner::Foreign;
    }
    if object.kind == CRD_KIND {
        return Owner::This;
    }
    match object.labels.get(LABEL_INSTANCE) {
        Some(label) if instance.owns_label(label) => Owner::This,
        Some(label) => Owner::OtherInstance(label.clone()),
        None => Owner::OtherInstance("unknown".to_string()),
    }
}

/// An object the charm wants but may not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// `Kind/namespace/name`.
    pub object: String,
    /// Who has it.
    pub owner: Owner,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.owner {
            Owner::OtherInstance(other) => {
                write!(f, "{} belongs to charm instance {other}", self.object)
            }
            _ => write!(
                f,
                "{} exists and was not created by this charm",
                self.object
            ),
        }
    }
}

/// Whether objects that exist without the charm's labels may be taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopt {
    /// Never (every hook): such objects block the charm.
    No,
    /// Yes (the `adopt` action): the operator hands them to the charm.
    Foreign,
}

/// What one reconcile does, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// This instance's workloads that are no longer wanted where they are: deleted first.
    pub retire_workloads: Vec<Desired>,
    /// Every wanted object, ready to apply (the created-by annotation decided).
    pub apply: Vec<Desired>,
    /// The objects taken over from their owner (only with [`Adopt::Foreign`]).
    pub adopted: Vec<String>,
    /// This instance's other objects that are no longer wanted.
    pub prune: Vec<Desired>,
    /// Namespaces this instance created and no longer wants: deleted if nothing else is in
    /// them.
    pub retire_namespaces: Vec<String>,
}

/// Decides a reconcile. `existing` must hold every object of the charm's kinds that carries
/// its managed-by label, and every other object named like a wanted one; `keep` names objects
/// that are wanted but not applied (the memberlist Secret).
pub fn plan(
    desired: Vec<Desired>,
    existing: &[Existing],
    keep: &[Key],
    instance: &Instance,
    adopt: Adopt,
) -> Result<Plan, Vec<Conflict>> {
    let by_key: BTreeMap<Key, &Existing> = existing.iter().map(|e| (e.key(), e)).collect();
    let mut conflicts = Vec::new();
    let mut adopted = Vec::new();
    let mut apply = Vec::with_capacity(desired.len());
    for mut object in desired {
        match by_key.get(&key_of(&object)) {
            None => {
                if object.kind == "Namespace" {
                    annotate_created(&mut object, instance);
                }
            }
            Some(found) => match owner(found, instance) {
                Owner::This => {
                    if object.kind == "Namespace"
                        && found.annotations.contains_key(ANNOTATION_CREATED_BY)
                    {
                        annotate_created(&mut object, instance);
                    }
                }
                Owner::Foreign if adopt == Adopt::Foreign => adopted.push(object.describe()),
                owner => conflicts.push(Conflict {
                    object: object.describe(),
                    owner,
                }),
            },
        }
        apply.push(object);
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let wanted: BTreeSet<Key> = apply
        .iter()
        .map(key_of)
        .chain(keep.iter().cloned())
        .collect();
    let mut plan = release(existing, instance, |e| wanted.contains(&e.key()));
    plan.apply = apply;
    plan.adopted = adopted;
    Ok(plan)
}

/// What removing the application deletes: every object of this instance except CRDs; its
/// Namespaces only if it created them (and, checked by the caller, they are empty).
pub fn removal(existing: &[Existing], instance: &Instance) -> Plan {
    release(existing, instance, |_| false)
}

/// Whether `object` is this instance's to delete when it no longer wants it: its own objects
/// but CRDs (shared by every instance, and their deletion deletes every object of the kind),
/// and a Namespace only if this instance created it.
pub fn retirable(object: &Existing, instance: &Instance) -> bool {
    owner(object, instance) == Owner::This
        && object.kind != CRD_KIND
        && (object.kind != "Namespace" || object.annotations.contains_key(ANNOTATION_CREATED_BY))
}

/// This instance's objects in `existing` that `wanted` refuses, sorted into what to delete.
fn release(existing: &[Existing], instance: &Instance, wanted: impl Fn(&Existing) -> bool) -> Plan {
    let mut plan = Plan::default();
    for object in existing {
        if !retirable(object, instance) || wanted(object) {
            continue;
        }
        if object.kind == "Namespace" {
            plan.retire_namespaces.push(object.name.clone());
        } else if WORKLOAD_KINDS.contains(&object.kind.as_str()) {
            plan.retire_workloads.push(object.as_target());
        } else {
            plan.prune.push(object.as_target());
        }
    }
    plan
}

/// Marks a Namespace as created by this instance.
fn annotate_created(object: &mut Desired, instance: &Instance) {
    object.body["metadata"]["annotations"][ANNOTATION_CREATED_BY] =
        serde_json::Value::String(instance.label());
}

/// Whether an object left in a Namespace the charm wants to delete is something it may delete
/// with it: its own objects, what its workloads create (their pods and revisions, status
/// objects), and what Kubernetes puts in every namespace.
pub fn deletable_with_namespace(object: &Existing, instance: &Instance) -> bool {
    const EVERY_NAMESPACE: [(&str, &str); 2] = [
        ("ConfigMap", "kube-root-ca.crt"),
        ("ServiceAccount", "default"),
    ];
    const WORKLOAD_STATUS: [&str; 3] =
        ["ServiceL2Status", "ServiceBGPStatus", "ConfigurationState"];
    const WORKLOAD_CHILDREN: [&str; 4] =
        ["Pod", "ReplicaSet", "ControllerRevision", "EndpointSlice"];
    if owner(object, instance) == Owner::This
        || EVERY_NAMESPACE.contains(&(object.kind.as_str(), object.name.as_str()))
        || WORKLOAD_STATUS.contains(&object.kind.as_str())
        || object.kind == "Event"
        || object.kind == "Lease"
    {
        return true;
    }
    let component = object.labels.get("component").map(String::as_str);
    WORKLOAD_CHILDREN.contains(&object.kind.as_str())
        && object.labels.get("app").map(String::as_str) == Some("metallb")
        && matches!(component, Some("controller" | "speaker"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn instance() -> Instance {
        Instance::new("lab", "metallb")
    }

    fn desired(kind: &str, ns: Option<&str>, name: &str) -> Desired {
        Desired {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
            body: json!({"metadata": {"name": name}}),
        }
    }

    fn existing(kind: &str, ns: Option<&str>, name: &str, labels: &[(&str, &str)]) -> Existing {
        Existing {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
        }
    }

    const OURS: [(&str, &str); 2] = [
        (LABEL_MANAGED_BY, MANAGED_BY),
        (LABEL_INSTANCE, "lab.metallb"),
    ];

    #[test]
    fn a_users_object_blocks_and_is_named() {
        let wanted = vec![
            desired("Namespace", None, "metallb-system"),
            desired("Deployment", Some("metallb-system"), "controller"),
        ];
        let found = [existing("Namespace", None, "metallb-system", &[])];
        let conflicts = plan(wanted.clone(), &found, &[], &instance(), Adopt::No).unwrap_err();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(
            conflicts[0].to_string(),
            "Namespace/metallb-system exists and was not created by this charm"
        );
        // Adopted deliberately: applied, not marked as created (so never deleted).
        let p = plan(wanted, &found, &[], &instance(), Adopt::Foreign).unwrap();
        assert_eq!(p.adopted, ["Namespace/metallb-system"]);
        assert!(p.apply[0].body["metadata"].get("annotations").is_none());
    }

    #[test]
    fn another_instance_is_never_taken_over_even_when_adopting() {
        let wanted = vec![desired("IPAddressPool", Some("ns"), "lab.metallb")];
        let found = [existing(
            "IPAddressPool",
            Some("ns"),
            "lab.metallb",
            &[
                (LABEL_MANAGED_BY, MANAGED_BY),
                (LABEL_INSTANCE, "other.metallb"),
            ],
        )];
        let conflicts = plan(wanted, &found, &[], &instance(), Adopt::Foreign).unwrap_err();
        assert_eq!(
            conflicts[0].to_string(),
            "IPAddressPool/ns/lab.metallb belongs to charm instance other.metallb"
        );
    }

    #[test]
    fn a_namespace_the_charm_creates_is_marked_and_the_mark_is_kept() {
        let wanted = vec![desired("Namespace", None, "metallb-system")];
        let p = plan(wanted.clone(), &[], &[], &instance(), Adopt::No).unwrap();
        assert_eq!(
            p.apply[0].body["metadata"]["annotations"][ANNOTATION_CREATED_BY],
            "lab.metallb"
        );
        let mut ours = existing("Namespace", None, "metallb-system", &OURS);
        ours.annotations
            .insert(ANNOTATION_CREATED_BY.into(), "lab.metallb".into());
        let p = plan(wanted, &[ours], &[], &instance(), Adopt::No).unwrap();
        assert_eq!(
            p.apply[0].body["metadata"]["annotations"][ANNOTATION_CREATED_BY],
            "lab.metallb"
        );
    }

    #[test]
    fn pruning_spares_crds_other_instances_and_what_is_kept() {
        let others = [
            (LABEL_MANAGED_BY, MANAGED_BY),
            (LABEL_INSTANCE, "m2.metallb"),
        ];
        let found = [
            existing(CRD_KIND, None, "ipaddresspools.metallb.io", &OURS),
            existing("IPAddressPool", Some("ns"), "old", &OURS),
            existing("IPAddressPool", Some("ns2"), "m2.metallb", &others),
            existing("IPAddressPool", Some("ns"), "users", &[]),
            existing("Secret", Some("ns"), "memberlist", &OURS),
            existing("DaemonSet", Some("old-ns"), "speaker", &OURS),
            existing("Namespace", None, "old-ns", &OURS),
        ];
        let keep = [(
            "Secret".to_string(),
            Some("ns".to_string()),
            "memberlist".to_string(),
        )];
        let p = plan(vec![], &found, &keep, &instance(), Adopt::No).unwrap();
        let pruned: Vec<String> = p.prune.iter().map(Desired::describe).collect();
        assert_eq!(pruned, ["IPAddressPool/ns/old"]);
        assert_eq!(p.retire_workloads[0].describe(), "DaemonSet/old-ns/speaker");
        assert!(
            p.retire_namespaces.is_empty(),
            "a namespace the charm did not create is never deleted"
        );
    }

    #[test]
    fn removal_deletes_everything_of_this_instance_but_crds() {
        let mut ns = existing("Namespace", None, "metallb-system", &OURS);
        ns.annotations
            .insert(ANNOTATION_CREATED_BY.into(), "lab.metallb".into());
        let found = [
            existing(CRD_KIND, None, "bgppeers.metallb.io", &OURS),
            existing(
                "ClusterRole",
                None,
                "metallb-charm:lab.metallb:speaker",
                &OURS,
            ),
            existing("Deployment", Some("metallb-system"), "controller", &OURS),
            existing("IPAddressPool", Some("default"), "mine", &[]),
            ns,
        ];
        let p = removal(&found, &instance());
        let all: Vec<String> = p
            .retire_workloads
            .iter()
            .chain(&p.prune)
            .map(Desired::describe)
            .collect();
        assert_eq!(
            all,
            [
                "Deployment/metallb-system/controller",
                "ClusterRole/metallb-charm:lab.metallb:speaker"
            ]
        );
        assert_eq!(p.retire_namespaces, ["metallb-system"]);
    }

    #[test]
    fn only_the_charms_leftovers_may_go_with_its_namespace() {
        let i = instance();
        let pod = existing(
            "Pod",
            Some("ns"),
            "speaker-x",
            &[("app", "metallb"), ("component", "speaker")],
        );
        assert!(deletable_with_namespace(&pod, &i));
        assert!(deletable_with_namespace(
            &existing("ConfigMap", Some("ns"), "kube-root-ca.crt", &[]),
            &i
        ));
        assert!(!deletable_with_namespace(
            &existing("IPAddressPool", Some("ns"), "users-pool", &[]),
            &i
        ));
        assert!(!deletable_with_namespace(
            &existing("Pod", Some("ns"), "nginx", &[("app", "nginx")]),
            &i
        ));
        assert!(!deletable_with_namespace(
            &existing("ConfigMap", Some("ns"), "settings", &[]),
            &i
        ));
    }
}
