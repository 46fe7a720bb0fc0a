//! This speaker's ConfigurationState, as upstream's speakers write theirs: one object per
//! speaker, `speaker-<node>` in the MetalLB namespace, labelled `metallb.io/component-type:
//! speaker` and `metallb.io/node-name: <node>`, owned by the speaker's pod when it is known,
//! with the condition `configReconcilerValid` (reason `ConfigurationError` when something is
//! refused or ignored), `result` `Valid`/`Invalid` and the messages in `errorSummary`. Ours adds
//! `layer2PoolsReachable`: pool ranges no node can announce in Layer 2 (not a configuration
//! error: `result` stays as it is).

use anyhow::{Context, Result};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use metallb_api::ConfigurationState;
use metallb_api::configuration_state::{
    ConfigResult, ConfigurationStateStatus, LAYER2_POOLS_REACHABLE, NO_INTERFACE_IN_POOL_NETWORK,
};
use serde_json::json;

/// The field manager of the speaker's writes.
const MANAGER: &str = "metallb-speaker";
/// The condition upstream's speakers report.
pub const CONDITION: &str = "configReconcilerValid";

/// The object's name for the speaker of `node`.
pub fn name(node: &str) -> String {
    format!("speaker-{node}")
}

/// What a speaker reports in its ConfigurationState.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Configuration problems: what this node refuses or ignores (none: valid).
    pub problems: Vec<String>,
    /// Pools with ranges no node can announce in Layer 2, one line each.
    pub unreachable_pools: Vec<String>,
}

/// The status for a report.
pub fn status(report: &Report) -> ConfigurationStateStatus {
    let problems = &report.problems;
    let reachable = report.unreachable_pools.is_empty();
    let valid = problems.is_empty();
    let summary = problems.join("\n");
    ConfigurationStateStatus {
        result: Some(if valid {
            ConfigResult::Valid
        } else {
            ConfigResult::Invalid
        }),
        error_summary: (!valid).then(|| summary.clone()),
        conditions: vec![
            Condition {
                type_: CONDITION.into(),
                status: if valid { "True" } else { "False" }.into(),
                reason: if valid {
                    "Reconciled"
                } else {
                    "ConfigurationError"
                }
                .into(),
                message: summary,
                last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
                observed_generation: None,
            },
            Condition {
                type_: LAYER2_POOLS_REACHABLE.into(),
                status: if reachable { "True" } else { "False" }.into(),
                reason: if reachable {
                    "InterfaceInEveryPoolNetwork"
                } else {
                    NO_INTERFACE_IN_POOL_NETWORK
                }
                .into(),
                message: report.unreachable_pools.join("\n"),
                last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
                observed_generation: None,
            },
        ],
    }
}

/// Writes the ConfigurationState of `node`'s speaker (creating it when missing).
pub async fn write(
    client: &Client,
    namespace: &str,
    node: &str,
    owner: Option<&OwnerReference>,
    report: &Report,
) -> Result<()> {
    let api: Api<ConfigurationState> = Api::namespaced(client.clone(), namespace);
    let name = name(node);
    let params = PatchParams::apply(MANAGER).force();
    let mut metadata = json!({
        "name": name,
        "labels": {"metallb.io/component-type": "speaker", "metallb.io/node-name": node},
    });
    if let Some(owner) = owner {
        metadata["ownerReferences"] = json!([owner]);
    }
    let object = json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
        "metadata": metadata, "spec": {},
    });
    api.patch(&name, &params, &Patch::Apply(&object))
        .await
        .with_context(|| format!("cannot apply the ConfigurationState {name}"))?;
    let status = json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
        "metadata": {"name": name}, "status": status(report),
    });
    api.patch_status(&name, &params, &Patch::Apply(&status))
        .await
        .with_context(|| format!("cannot write the status of the ConfigurationState {name}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_make_the_state_invalid_with_every_message() {
        let valid = status(&Report::default());
        assert_eq!(valid.result, Some(ConfigResult::Valid));
        assert_eq!(valid.error_summary, None);
        assert_eq!(valid.conditions[0].type_, CONDITION);
        assert_eq!(valid.conditions[0].status, "True");
        let invalid = status(&Report {
            problems: vec!["BGPPeer a: vrf".into(), "BFDProfile b: echoMode".into()],
            unreachable_pools: Vec::new(),
        });
        assert_eq!(invalid.result, Some(ConfigResult::Invalid));
        assert_eq!(
            invalid.error_summary.as_deref(),
            Some("BGPPeer a: vrf\nBFDProfile b: echoMode")
        );
        assert_eq!(invalid.conditions[0].status, "False");
        assert_eq!(invalid.conditions[0].reason, "ConfigurationError");
        assert_eq!(name("node-a"), "speaker-node-a");
    }

    #[test]
    fn unreachable_pools_are_a_condition_of_their_own() {
        let reachable = status(&Report::default());
        assert_eq!(reachable.conditions[1].type_, LAYER2_POOLS_REACHABLE);
        assert_eq!(reachable.conditions[1].status, "True");
        let line = "IPAddressPool far: no node has an interface in the network of 198.19.250.0/28";
        let report = Report {
            problems: Vec::new(),
            unreachable_pools: vec![line.into()],
        };
        let unreachable = status(&report);
        assert_eq!(unreachable.result, Some(ConfigResult::Valid));
        assert_eq!(unreachable.conditions[1].status, "False");
        assert_eq!(
            unreachable.conditions[1].reason,
            NO_INTERFACE_IN_POOL_NETWORK
        );
        assert_eq!(unreachable.conditions[1].message, line);
    }
}
