//! Taking over another MetalLB installation (upstream's manifests or Helm chart, or the Python
//! `metallb` charm): what of it must go when the operator adopts it. Pure decisions; the
//! cluster calls are in `k8s.rs`.
//!
//! Upstream MetalLB validates its objects with a `ValidatingWebhookConfiguration`
//! (`metallb-webhook-configuration`) served by its controller. Once the charm's controller
//! replaces upstream's, nothing serves it and, with `failurePolicy: Fail`, every create or
//! update of a pool, advertisement or peer is refused. Adopting the installation therefore
//! retires those webhook configurations, and only those: every webhook in them is a
//! `*.metallb.io` webhook that calls a Service in the namespace the charm takes over. It also
//! retires the installation's RBAC bindings for the `controller` and `speaker` ServiceAccounts
//! of that namespace, which the charm's workloads run as: left in place, they would keep
//! granting them the installation's wider rights.
//!
//! Refreshed from the Python `metallb` charm, the application finds the IPAddressPool and
//! L2Advertisement that charm wrote for it (`<model>-<app>`, applied with the application's name
//! as field manager). They overlap the charm's own pool, and MetalLB refuses overlapping pools,
//! so adopting converts them: they are deleted once the charm's pool, applied first, holds every
//! address of theirs (so no Service loses its address), and kept otherwise.

use kube::api::DynamicObject;
use metallb_core::iprange::IpRange;

use crate::identity::{LABEL_MANAGED_BY, MANAGED_BY};

/// One webhook configuration found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfiguration {
    /// `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Each webhook's name and the namespace of the Service it calls (None: a URL).
    pub webhooks: Vec<(String, Option<String>)>,
}

impl WebhookConfiguration {
    /// Reads a webhook configuration of `kind` from the API's `object`.
    pub fn from_object(kind: &str, object: &DynamicObject) -> Self {
        let webhooks = object.data["webhooks"]
            .as_array()
            .map(|hooks| {
                hooks
                    .iter()
                    .map(|h| {
                        (
                            text(&h["name"]),
                            h["clientConfig"]["service"]["namespace"]
                                .as_str()
                                .map(String::from),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            kind: kind.to_string(),
            name: object.metadata.name.clone().unwrap_or_default(),
            webhooks,
        }
    }
}

/// The name the Python `metallb` charm gives the IPAddressPool and L2Advertisement of application
/// `app` in model `model`.
pub fn predecessor_name(model: &str, app: &str) -> String {
    format!("{model}-{app}")
}

/// Whether `object` is what the Python `metallb` charm of application `app` in `model` wrote:
/// named [`predecessor_name`] and applied with `app` as its field manager.
pub fn written_by_predecessor(object: &DynamicObject, model: &str, app: &str) -> bool {
    object.metadata.name.as_deref() == Some(predecessor_name(model, app).as_str())
        && object
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .any(|m| m.manager.as_deref() == Some(app))
}

/// Whether `ranges` (the charm's pool) hold every address of a pool's `spec.addresses`; false
/// when one of them does not parse or none is given.
pub fn pool_covers(ranges: &[IpRange], addresses: &[String]) -> bool {
    !addresses.is_empty()
        && addresses.iter().all(|item| {
            IpRange::parse(item.trim()).is_ok_and(|old| {
                ranges
                    .iter()
                    .any(|r| r.contains(old.first()) && r.contains(old.last()))
            })
        })
}

/// The `spec.addresses` of an IPAddressPool object.
pub fn pool_addresses(object: &DynamicObject) -> Vec<String> {
    object.data["spec"]["addresses"]
        .as_array()
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default()
}

fn text(value: &serde_json::Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// Whether `config` belongs to a MetalLB installation in `namespace`: it has webhooks, and
/// every one is a `metallb.io` webhook served from `namespace`.
pub fn is_metallb_webhook(config: &WebhookConfiguration, namespace: &str) -> bool {
    !config.webhooks.is_empty()
        && config.webhooks.iter().all(|(name, service_namespace)| {
            name.ends_with(".metallb.io") && service_namespace.as_deref() == Some(namespace)
        })
}

/// The webhook configurations that adopting the MetalLB installation in `namespace` retires.
pub fn webhooks_to_retire<'a>(
    configs: &'a [WebhookConfiguration],
    namespace: &str,
) -> Vec<&'a WebhookConfiguration> {
    configs
        .iter()
        .filter(|c| is_metallb_webhook(c, namespace))
        .collect()
}

/// An RBAC binding found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub kind: String,
    /// The namespace of a RoleBinding.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Each subject: kind, namespace, name.
    pub subjects: Vec<(String, Option<String>, String)>,
    /// Whether it carries the charm's ownership labels.
    pub charm_managed: bool,
}

impl Binding {
    /// Reads a binding of `kind` from the API's `object`.
    pub fn from_object(kind: &str, object: &DynamicObject) -> Self {
        let subjects = object.data["subjects"]
            .as_array()
            .map(|subjects| {
                subjects
                    .iter()
                    .map(|s| {
                        (
                            text(&s["kind"]),
                            s["namespace"].as_str().map(String::from),
                            text(&s["name"]),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let charm_managed = object
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_MANAGED_BY))
            .is_some_and(|v| v == MANAGED_BY);
        Self {
            kind: kind.to_string(),
            namespace: object.metadata.namespace.clone(),
            name: object.metadata.name.clone().unwrap_or_default(),
            subjects,
            charm_managed,
        }
    }
}

/// The ServiceAccounts a MetalLB installation's workloads run as (upstream's names, and ours).
pub const WORKLOAD_ACCOUNTS: [&str; 2] = ["controller", "speaker"];

/// The bindings that adopting the MetalLB installation in `namespace` retires: not the
/// charm's, not among the objects it applies (`wanted`: kind, namespace, name), and granting
/// rights only to the workload ServiceAccounts of `namespace`, which the charm's workloads
/// now run as (upstream's would otherwise keep giving them upstream's wider rights).
pub fn bindings_to_retire<'a>(
    bindings: &'a [Binding],
    namespace: &str,
    wanted: &[(String, Option<String>, String)],
) -> Vec<&'a Binding> {
    bindings
        .iter()
        .filter(|b| !b.charm_managed)
        .filter(|b| b.kind == "ClusterRoleBinding" || b.namespace.as_deref() == Some(namespace))
        .filter(|b| {
            !wanted
                .iter()
                .any(|(kind, ns, name)| *kind == b.kind && *ns == b.namespace && *name == b.name)
        })
        .filter(|b| {
            !b.subjects.is_empty()
                && b.subjects.iter().all(|(kind, ns, name)| {
                    kind == "ServiceAccount"
                        && WORKLOAD_ACCOUNTS.contains(&name.as_str())
                        && ns.as_deref().or(b.namespace.as_deref()) == Some(namespace)
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(kind: &str, ns: Option<&str>, name: &str, subjects: &[(&str, &str)]) -> Binding {
        Binding {
            kind: kind.into(),
            namespace: ns.map(String::from),
            name: name.into(),
            subjects: subjects
                .iter()
                .map(|(sns, sname)| {
                    (
                        "ServiceAccount".into(),
                        Some(sns.to_string()),
                        sname.to_string(),
                    )
                })
                .collect(),
            charm_managed: false,
        }
    }

    #[test]
    fn only_foreign_bindings_of_the_workload_accounts_are_retired() {
        let ns = "metallb-system";
        let mut ours = binding(
            "ClusterRoleBinding",
            None,
            "metallb-charm:m.metallb:speaker",
            &[(ns, "speaker")],
        );
        ours.charm_managed = true;
        let bindings = [
            binding(
                "ClusterRoleBinding",
                None,
                "metallb-system:controller",
                &[(ns, "controller")],
            ),
            binding(
                "RoleBinding",
                Some(ns),
                "pod-lister",
                &[(ns, "controller"), (ns, "speaker")],
            ),
            // Wanted by the charm under the same name: applied, not retired.
            binding("RoleBinding", Some(ns), "controller", &[(ns, "controller")]),
            // Someone else's account too, another namespace's accounts, the charm's own.
            binding(
                "ClusterRoleBinding",
                None,
                "shared",
                &[(ns, "speaker"), (ns, "monitoring")],
            ),
            binding(
                "ClusterRoleBinding",
                None,
                "elsewhere",
                &[("other", "speaker")],
            ),
            binding(
                "RoleBinding",
                Some("other"),
                "pod-lister",
                &[("other", "speaker")],
            ),
            ours,
        ];
        let wanted = [(
            "RoleBinding".to_string(),
            Some(ns.to_string()),
            "controller".to_string(),
        )];
        let retired: Vec<String> = bindings_to_retire(&bindings, ns, &wanted)
            .iter()
            .map(|b| b.name.clone())
            .collect();
        assert_eq!(retired, ["metallb-system:controller", "pod-lister"]);
    }

    fn config(name: &str, webhooks: &[(&str, Option<&str>)]) -> WebhookConfiguration {
        WebhookConfiguration {
            kind: "ValidatingWebhookConfiguration".into(),
            name: name.into(),
            webhooks: webhooks
                .iter()
                .map(|(n, ns)| (n.to_string(), ns.map(String::from)))
                .collect(),
        }
    }

    #[test]
    fn only_metallb_webhooks_served_from_the_adopted_namespace_are_retired() {
        let configs = [
            config(
                "metallb-webhook-configuration",
                &[
                    (
                        "ipaddresspoolvalidationwebhook.metallb.io",
                        Some("metallb-system"),
                    ),
                    (
                        "bgppeervalidationwebhook.metallb.io",
                        Some("metallb-system"),
                    ),
                ],
            ),
            // Another installation's, in another namespace.
            config(
                "other-metallb",
                &[(
                    "ipaddresspoolvalidationwebhook.metallb.io",
                    Some("elsewhere"),
                )],
            ),
            // Someone else's webhook that happens to live in the same namespace.
            config(
                "policy",
                &[
                    (
                        "ipaddresspoolvalidationwebhook.metallb.io",
                        Some("metallb-system"),
                    ),
                    ("policy.example.com", Some("metallb-system")),
                ],
            ),
            // A URL webhook, and an empty configuration.
            config("url", &[("pools.metallb.io", None)]),
            config("empty", &[]),
        ];
        let retired: Vec<&str> = webhooks_to_retire(&configs, "metallb-system")
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(retired, ["metallb-webhook-configuration"]);
    }

    fn object(name: &str, managers: &[&str], addresses: &[&str]) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {
                "name": name, "namespace": "metallb-system",
                "managedFields": managers.iter().map(|m| serde_json::json!({
                    "manager": m, "operation": "Apply", "apiVersion": "metallb.io/v1beta1",
                })).collect::<Vec<_>>(),
            },
            "spec": {"addresses": addresses},
        }))
        .unwrap()
    }

    #[test]
    fn only_the_python_charms_pool_of_this_application_is_its_predecessors() {
        let ours = object("lab-metallb", &["metallb"], &[]);
        assert!(written_by_predecessor(&ours, "lab", "metallb"));
        // Another application's, a user's pool of that name, and another name.
        assert!(!written_by_predecessor(&ours, "lab", "lb"));
        assert!(!written_by_predecessor(
            &object("lab-metallb", &["kubectl"], &[]),
            "lab",
            "metallb"
        ));
        assert!(!written_by_predecessor(
            &object("users-pool", &["metallb"], &[]),
            "lab",
            "metallb"
        ));
    }

    #[test]
    fn a_pool_is_covered_only_when_every_address_is_in_the_charms_ranges() {
        let charm: Vec<IpRange> = ["198.18.100.240/29", "2001:db8::/120"]
            .iter()
            .map(|r| IpRange::parse(r).unwrap())
            .collect();
        let pool = |a: &[&str]| pool_addresses(&object("p", &[], a));
        assert!(pool_covers(
            &charm,
            &pool(&["198.18.100.240-198.18.100.247"])
        ));
        assert!(pool_covers(
            &charm,
            &pool(&["198.18.100.242/31", "2001:db8::10-2001:db8::20"])
        ));
        assert!(!pool_covers(
            &charm,
            &pool(&["198.18.100.240-198.18.100.248"])
        ));
        assert!(!pool_covers(&charm, &pool(&["198.18.100.240/29", "bad"])));
        assert!(!pool_covers(&charm, &pool(&[])));
    }
}
