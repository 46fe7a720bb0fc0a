//! Taking over another MetalLB installation (upstream's manifests or Helm chart, or the Python
//! `metallb` charm): what of it must go when the operator adopts it. Pure decisions; the
//! cluster calls are in `k8s.rs`.
//!
//! Upstream MetalLB validates its objects with a `ValidatingWebhookConfiguration`
//! (`metallb-webhook-configuration`) served by its controller. Once the charm's controller
//! replaces upstream's, nothing serves it and, with `failurePolicy: Fail`, every create or
//! update of a pool, advertisement or peer is refused. Adopting the installation therefore
//! retires those webhook configurations, and only those: every webhook in them is a
//! `*.metallb.io` webhook that calls a Service in the namespace the charm takes over.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
