//! The controller's ConfigurationState (`controller` in the MetalLB namespace): whether the pool
//! configuration was accepted, as upstream reports it (condition `poolReconcilerValid`, result
//! `Valid`/`Invalid`, `errorSummary`). Written only when the verdict changes, with a Warning
//! event (`ConfigurationError`) on the ConfigurationState and on the object at fault; a failed
//! write is retried with exponential backoff.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use metallb_api::ConfigurationState;
use metallb_api::configuration_state::{ConfigResult, ConfigurationStateStatus};
use serde_json::json;
use tokio::time::Instant;

use crate::backoff::Backoff;
use metallb_core::config::ConfigError;

/// The object's name.
pub const NAME: &str = "controller";
const MANAGER: &str = "poolReconciler";

/// The event reason of an invalid configuration (upstream's condition reason).
pub const REASON: &str = metallb_core::config::REASON;

/// What the controller makes of the configuration it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Why the configuration read is refused, if it is.
    pub error: Option<ConfigError>,
    /// Whether a configuration is in force (one was loaded at least once).
    pub in_force: bool,
}

impl Verdict {
    /// The `errorSummary`: what is wrong and what the controller does meanwhile.
    pub fn summary(&self) -> Option<String> {
        let error = self.error.as_ref()?;
        Some(if self.in_force {
            format!("{error}; the last valid configuration stays in force")
        } else {
            format!(
                "{error}; no valid configuration has been loaded yet, so no Service is changed and no address is allocated until this is fixed"
            )
        })
    }
}

/// Remembers the last verdict written, and backs off after failed writes.
#[derive(Debug)]
pub struct Reporter {
    last: Option<Verdict>,
    retry: Backoff<()>,
}

impl Default for Reporter {
    fn default() -> Self {
        Self {
            last: None,
            retry: Backoff::new(Duration::from_secs(1), Duration::from_secs(300)),
        }
    }
}

/// The status for a verdict.
pub fn status(verdict: &Verdict) -> ConfigurationStateStatus {
    let summary = verdict.summary();
    let (status, reason, message) = match &summary {
        None => ("True", "Reconciled", String::new()),
        Some(e) => ("False", REASON, e.clone()),
    };
    ConfigurationStateStatus {
        result: Some(if summary.is_none() {
            ConfigResult::Valid
        } else {
            ConfigResult::Invalid
        }),
        error_summary: summary,
        conditions: vec![Condition {
            type_: "poolReconcilerValid".into(),
            status: status.into(),
            reason: reason.into(),
            message,
            last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
            observed_generation: None,
        }],
    }
}

impl Reporter {
    /// When a failed write may be retried (None: nothing to retry).
    pub fn next_retry(&self) -> Option<Instant> {
        self.retry.next_due()
    }

    /// Clears the retry that is due at `now` (the caller runs a pass, which writes again).
    pub fn take_due(&mut self, now: Instant) {
        self.retry.due(now);
    }

    /// Writes `verdict` unless it is the one written last, or a failed write is backing off.
    pub async fn report(
        &mut self,
        client: &Client,
        events: &crate::events::Reporter,
        namespace: &str,
        verdict: Verdict,
        now: Instant,
    ) -> Result<()> {
        if self.last.as_ref() == Some(&verdict) || self.retry.is_waiting(&(), now) {
            return Ok(());
        }
        match self.write(client, events, namespace, &verdict).await {
            Ok(()) => {
                self.retry.reset(&());
                self.last = Some(verdict);
                Ok(())
            }
            Err(err) => {
                let at = self.retry.failed((), now);
                Err(err.context(format!(
                    "retrying in {:?}",
                    at.saturating_duration_since(now)
                )))
            }
        }
    }

    async fn write(
        &self,
        client: &Client,
        events: &crate::events::Reporter,
        namespace: &str,
        verdict: &Verdict,
    ) -> Result<()> {
        let api: Api<ConfigurationState> = Api::namespaced(client.clone(), namespace);
        let params = PatchParams::apply(MANAGER).force();
        let object = json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
            "metadata": {"name": NAME, "labels": {"metallb.io/component-type": "controller"}},
            "spec": {},
        });
        let created = api
            .patch(NAME, &params, &Patch::Apply(&object))
            .await
            .context("cannot apply the ConfigurationState")?;
        let status = json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
            "metadata": {"name": NAME}, "status": status(verdict),
        });
        api.patch_status(NAME, &params, &Patch::Apply(&status))
            .await
            .context("cannot write the ConfigurationState status")?;
        if let (Some(message), Some(error)) = (verdict.summary(), &verdict.error) {
            let note = crate::events::Note {
                warning: true,
                reason: REASON,
                note: &message,
                action: "Validate",
            };
            let at_fault = ObjectReference {
                api_version: Some("metallb.io/v1beta1".into()),
                kind: Some(error.kind().into()),
                namespace: Some(namespace.into()),
                name: Some(error.name().to_string()),
                ..Default::default()
            };
            let state = kube::Resource::object_ref(&created, &());
            let targets = if error.name().is_empty() {
                vec![state]
            } else {
                vec![state, at_fault]
            };
            for reference in targets {
                if let Err(err) = crate::events::publish(client, events, &reference, &note).await {
                    tracing::debug!("cannot record the {REASON} event: {err}");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error() -> ConfigError {
        ConfigError::UnknownPool {
            kind: "L2Advertisement",
            advertisement: "bad".into(),
            pool: "nope".into(),
        }
    }

    #[test]
    fn verdicts_become_upstream_statuses() {
        let valid = status(&Verdict {
            error: None,
            in_force: true,
        });
        assert_eq!(valid.result, Some(ConfigResult::Valid));
        assert_eq!(valid.error_summary, None);
        assert_eq!(valid.conditions[0].type_, "poolReconcilerValid");
        assert_eq!(valid.conditions[0].reason, "Reconciled");
        let stale = status(&Verdict {
            error: Some(error()),
            in_force: true,
        });
        assert_eq!(stale.result, Some(ConfigResult::Invalid));
        assert_eq!(
            stale.error_summary.as_deref(),
            Some(
                "L2Advertisement bad references unknown IPAddressPool nope; the last valid configuration stays in force"
            )
        );
        assert_eq!(stale.conditions[0].status, "False");
        assert_eq!(stale.conditions[0].reason, "ConfigurationError");
    }

    #[test]
    fn an_invalid_configuration_at_start_says_nothing_is_changed() {
        let at_start = Verdict {
            error: Some(error()),
            in_force: false,
        };
        let summary = at_start.summary().unwrap_or_default();
        assert!(summary.starts_with("L2Advertisement bad references unknown IPAddressPool nope"));
        assert!(summary.contains("no Service is changed"), "{summary}");
    }
}
