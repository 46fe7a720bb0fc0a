//! ServiceAccounts and RBAC of the workloads: upstream MetalLB's rules minus what this
//! implementation does not need (no webhooks, no PodSecurityPolicies), each rule exactly what a
//! workload calls.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use metallb_api::deploy::{CONTROLLER, MEMBERLIST_SECRET, SPEAKER};

use super::{Desired, RenderInput};

/// The API group of RBAC, the `apiGroup` of a binding's `roleRef`.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// What a reflector needs (kube's watcher lists, then watches).
const WATCH: &[&str] = &["list", "watch"];
/// What server-side apply needs for an object that may not exist yet.
const APPLY: &[&str] = &["create", "patch"];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

fn named_rule(group: &str, resource: &str, names: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        resource_names: Some(strings(names)),
        ..rule(&[group], &[resource], verbs)
    }
}

/// ClusterRole rules of the controller: exactly what it calls. It watches Services and
/// Namespaces (namespace selectors of pools), writes Service status, and records events.
pub fn controller_cluster_rules() -> Vec<PolicyRule> {
    vec![
        rule(&[""], &["services", "namespaces"], WATCH),
        rule(&[""], &["services/status"], &["patch"]),
        rule(&["events.k8s.io"], &["events"], &["create"]),
    ]
}

/// ClusterRole rules of the speaker: it watches Services, their EndpointSlices and the Nodes,
/// and records events.
pub fn speaker_cluster_rules() -> Vec<PolicyRule> {
    vec![
        rule(&[""], &["services", "nodes"], WATCH),
        rule(&["discovery.k8s.io"], &["endpointslices"], WATCH),
        // kube's event recorder patches a repeated event (its series count).
        rule(&["events.k8s.io"], &["events"], &["create", "patch"]),
    ]
}

/// Role rules of the controller in the MetalLB namespace: its configuration, the pools'
/// status counters, its ConfigurationState, and the memberlist Secret it creates when absent
/// (owned by its Deployment).
pub fn controller_namespace_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            &["metallb.io"],
            &["ipaddresspools", "l2advertisements"],
            WATCH,
        ),
        rule(&["metallb.io"], &["ipaddresspools/status"], &["patch"]),
        rule(&["metallb.io"], &["configurationstates"], APPLY),
        rule(&["metallb.io"], &["configurationstates/status"], &["patch"]),
        named_rule("", "secrets", &[MEMBERLIST_SECRET], &["get"]),
        rule(&[""], &["secrets"], &["create"]),
        named_rule("apps", "deployments", &[CONTROLLER], &["get"]),
    ]
}

/// Role rules of the speaker in the MetalLB namespace: its configuration (BGP passwords are
/// Secrets), its memberlist peers (the speaker Pods), the status objects it keeps, and its
/// own ConfigurationState.
pub fn speaker_namespace_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            &["metallb.io"],
            &[
                "ipaddresspools",
                "l2advertisements",
                "bgpadvertisements",
                "bgppeers",
                "communities",
                "bfdprofiles",
            ],
            WATCH,
        ),
        rule(&[""], &["pods", "secrets"], WATCH),
        rule(
            &["metallb.io"],
            &["servicel2statuses", "servicebgpstatuses"],
            &["list", "watch", "create", "delete"],
        ),
        rule(
            &["metallb.io"],
            &["servicel2statuses/status", "servicebgpstatuses/status"],
            &["patch"],
        ),
        rule(&["metallb.io"], &["configurationstates"], APPLY),
        rule(&["metallb.io"], &["configurationstates/status"], &["patch"]),
    ]
}

/// The ServiceAccount `name` in the MetalLB namespace, as a binding's subject.
fn subject(input: &RenderInput, name: &str) -> Vec<Subject> {
    vec![Subject {
        kind: "ServiceAccount".to_string(),
        name: name.to_string(),
        namespace: Some(input.namespace.clone()),
        ..Subject::default()
    }]
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some(RBAC_GROUP.to_string()),
        kind: kind.to_string(),
        name: name.to_string(),
    }
}

/// For each workload: its ServiceAccount, ClusterRole and binding (named per instance, as
/// they are cluster-scoped), and Role and binding in the MetalLB namespace.
pub fn rbac(input: &RenderInput) -> Vec<Desired> {
    let mut out = Vec::new();
    for (component, cluster_rules, namespace_rules) in [
        (
            CONTROLLER,
            controller_cluster_rules(),
            controller_namespace_rules(),
        ),
        (SPEAKER, speaker_cluster_rules(), speaker_namespace_rules()),
    ] {
        out.push(Desired::from_object(&ServiceAccount {
            metadata: input.namespaced(component, &[]),
            ..ServiceAccount::default()
        }));
        let name = input.instance().cluster_name(component);
        out.push(Desired::from_object(&ClusterRole {
            metadata: input.metadata(None, &name, &[]),
            rules: Some(cluster_rules),
            ..ClusterRole::default()
        }));
        out.push(Desired::from_object(&ClusterRoleBinding {
            metadata: input.metadata(None, &name, &[]),
            role_ref: role_ref("ClusterRole", &name),
            subjects: Some(subject(input, component)),
        }));
        out.push(Desired::from_object(&Role {
            metadata: input.namespaced(component, &[]),
            rules: Some(namespace_rules),
        }));
        out.push(Desired::from_object(&RoleBinding {
            metadata: input.namespaced(component, &[]),
            role_ref: role_ref("Role", component),
            subjects: Some(subject(input, component)),
        }));
    }
    out
}
