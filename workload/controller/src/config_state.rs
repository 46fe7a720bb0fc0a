//! The controller's ConfigurationState (`controller` in the MetalLB namespace): whether the pool
//! configuration was accepted, as upstream reports it (condition `poolReconcilerValid`, result
//! `Valid`/`Invalid`, `errorSummary`). Written only when the verdict changes; an invalid
//! configuration also gets a Warning event.

use anyhow::{Context, Result};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use metallb_api::ConfigurationState;
use metallb_api::configuration_state::{ConfigResult, ConfigurationStateStatus};
use serde_json::json;

/// The object's name.
pub const NAME: &str = "controller";
const MANAGER: &str = "poolReconciler";

/// Remembers the last verdict written.
#[derive(Debug, Default)]
pub struct Reporter {
    last: Option<Result<(), String>>,
}

/// The status for a verdict.
pub fn status(verdict: &Result<(), String>) -> ConfigurationStateStatus {
    let (status, reason, message) = match verdict {
        Ok(()) => ("True", "Reconciled", String::new()),
        Err(e) => ("False", "ConfigurationError", e.clone()),
    };
    ConfigurationStateStatus {
        result: Some(if verdict.is_ok() {
            ConfigResult::Valid
        } else {
            ConfigResult::Invalid
        }),
        error_summary: verdict.as_ref().err().cloned(),
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
    /// Writes `verdict` unless it is the one written last.
    pub async fn report(
        &mut self,
        client: &Client,
        events: &crate::events::Reporter,
        namespace: &str,
        verdict: Result<(), String>,
    ) -> Result<()> {
        if self.last.as_ref() == Some(&verdict) {
            return Ok(());
        }
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
            "metadata": {"name": NAME}, "status": status(&verdict),
        });
        api.patch_status(NAME, &params, &Patch::Apply(&status))
            .await
            .context("cannot write the ConfigurationState status")?;
        if let Err(message) = &verdict {
            let note = crate::events::Note {
                warning: true,
                reason: "ConfigurationError",
                note: message,
                action: "Validate",
            };
            let reference = kube::Resource::object_ref(&created, &());
            if let Err(err) = crate::events::publish(client, events, &reference, &note).await {
                tracing::debug!("cannot record the ConfigurationError event: {err}");
            }
        }
        self.last = Some(verdict);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_become_upstream_statuses() {
        let valid = status(&Ok(()));
        assert_eq!(valid.result, Some(ConfigResult::Valid));
        assert_eq!(valid.conditions[0].type_, "poolReconcilerValid");
        assert_eq!(valid.conditions[0].reason, "Reconciled");
        let invalid = status(&Err("pools a and b overlap".into()));
        assert_eq!(invalid.result, Some(ConfigResult::Invalid));
        assert_eq!(
            invalid.error_summary.as_deref(),
            Some("pools a and b overlap")
        );
        assert_eq!(invalid.conditions[0].status, "False");
        assert_eq!(invalid.conditions[0].reason, "ConfigurationError");
    }
}
