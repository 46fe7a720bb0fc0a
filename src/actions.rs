//! The charm's actions: `list-resources`, `sync-resources`, `adopt`, `scrub-resources`,
//! `list-allocations` and `explain`. Each reads the options like a hook does and reaches the
//! cluster only through [`Cluster`]; `sync-resources` and `adopt` run the hook's reconcile.

use anyhow::{Context as _, Result};
use juju_ops::Context;
use serde_json::{Value, json};

use crate::charm::{MetallbCharm, Outcome, execute, plan_for};
use crate::k8s::{Cluster, K8sError, KubeSource};
use crate::ownership::{self, Adopt};
use crate::render::{Desired, MANAGED_KINDS, RenderInput, render};

/// Runs action `name` and sets its results, or fails it with the reason.
pub(crate) fn run(charm: &mut MetallbCharm, ctx: &Context<'_>, name: &str) -> Result<()> {
    let action = ctx.action().context("not running an action")?;
    let input = match MetallbCharm::settings(ctx)? {
        Ok(input) => input,
        Err(problem) => {
            action.fail(&problem.to_string())?;
            return Ok(());
        }
    };
    let result = match name {
        "list-resources" => list_resources(charm.kube(), &input, action.raw_params().get("kind")),
        "sync-resources" | "adopt" => {
            let adopt = if name == "adopt" {
                Adopt::Foreign
            } else {
                Adopt::No
            };
            match charm.sync(ctx, adopt)? {
                Ok(adopted) => {
                    let adopted: serde_json::Map<String, Value> = adopted
                        .iter()
                        .enumerate()
                        .map(|(i, object)| (format!("{i:02}"), json!(object)))
                        .collect();
                    Ok(json!({"applied": render(&input).len().to_string(), "adopted": adopted}))
                }
                Err(outcome) => Err(K8sError::Transient(describe(&outcome))),
            }
        }
        "scrub-resources" => {
            let dry_run = action.raw_params().get("dry-run") == Some(&Value::Bool(true));
            scrub(charm.kube(), &input, dry_run)
        }
        "list-allocations" => {
            list_allocations(charm.kube(), &input, action.raw_params().get("namespace"))
        }
        "explain" => {
            match crate::explain::action(charm.kube(), &input.namespace, &action.raw_params()) {
                Ok(results) => Ok(results),
                Err(err) => return Ok(action.fail(&err.to_string())?),
            }
        }
        other => Err(K8sError::Transient(format!("unknown action {other}"))),
    };
    match result {
        Ok(results) => action.set_results(&results)?,
        Err(err) => action.fail(&err.to_string())?,
    }
    Ok(())
}

/// One line about an outcome that is not a success (for action failures).
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::BadConfig(problem) => problem.to_string(),
        Outcome::Conflicts(conflicts) => conflicts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        Outcome::NeedsTrust(message) | Outcome::Refused(message) | Outcome::ApiError(message) => {
            message.clone()
        }
        other => format!("{other:?}"),
    }
}
fn list_resources(
    kube: &KubeSource,
    input: &RenderInput,
    kind: Option<&Value>,
) -> Result<Value, K8sError> {
    let cluster = Cluster::connect(kube)?;
    let desired = render(input);
    let existing = cluster.inventory(MANAGED_KINDS)?;
    let instance = input.instance();
    let readiness = cluster.readiness(&input.namespace)?;
    let mut rows = serde_json::Map::new();
    for (i, object) in desired
        .iter()
        .filter(|o| kind.and_then(Value::as_str).is_none_or(|k| k == o.kind))
        .enumerate()
    {
        let present = existing.iter().any(|e| {
            e.kind == object.kind
                && e.name == object.name
                && e.namespace == object.namespace
                && ownership::owner(e, &instance) == ownership::Owner::This
        });
        let ready = match object.kind.as_str() {
            "Deployment" => format!("{}/{}", readiness.controller.0, readiness.controller.1),
            "DaemonSet" => format!("{}/{}", readiness.speaker.0, readiness.speaker.1),
            _ => if present { "yes" } else { "no" }.to_string(),
        };
        rows.insert(
            format!("{i:02}"),
            json!({"object": object.describe(), "present": present, "ready": ready}),
        );
    }
    Ok(json!({"count": rows.len().to_string(), "resources": rows}))
}

/// Deletes (or with `dry_run` lists) what this instance owns and no longer wants; never a
/// CRD, never another's object, a Namespace only if the charm created it and it is empty.
fn scrub(kube: &KubeSource, input: &RenderInput, dry_run: bool) -> Result<Value, K8sError> {
    let cluster = Cluster::connect(kube)?;
    let plan = match plan_for(&cluster, input, Adopt::No)? {
        Ok(plan) => plan,
        Err(conflicts) => {
            return Err(K8sError::Transient(describe(&Outcome::Conflicts(
                conflicts,
            ))));
        }
    };
    let names: Vec<String> = if dry_run {
        plan.retire_workloads
            .iter()
            .chain(&plan.prune)
            .map(Desired::describe)
            .chain(
                plan.retire_namespaces
                    .iter()
                    .map(|n| format!("Namespace/{n}")),
            )
            .collect()
    } else {
        execute(&cluster, &plan, &input.instance())?
    };
    Ok(
        json!({"dry-run": dry_run.to_string(), "count": names.len().to_string(), "objects": names.join(", ")}),
    )
}

/// Every LoadBalancer Service (in `namespace`, or everywhere) with its IPs, pool and the node
/// announcing it in Layer 2.
fn list_allocations(
    kube: &KubeSource,
    input: &RenderInput,
    namespace: Option<&Value>,
) -> Result<Value, K8sError> {
    let cluster = Cluster::connect(kube)?;
    let namespace = namespace.and_then(Value::as_str);
    let mut rows = serde_json::Map::new();
    for allocation in cluster.allocations(namespace, &input.namespace)? {
        let key =
            crate::identity::label_value(&format!("{}-{}", allocation.namespace, allocation.name))
                .to_ascii_lowercase();
        rows.insert(
            key,
            json!({
                "service": format!("{}/{}", allocation.namespace, allocation.name),
                "ips": allocation.ips.join(","),
                "pool": allocation.pool,
                "node": allocation.node,
            }),
        );
    }
    Ok(json!({"count": rows.len().to_string(), "services": rows}))
}

#[cfg(test)]
mod tests;
