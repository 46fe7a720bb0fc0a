//! What the charm tells related applications: on `metrics-endpoint` the scrape jobs, scrape
//! metadata and alert rules (leader, application databag) and this unit's address (every
//! unit); on `grafana-dashboard` the dashboard (leader). Nothing is read from the cluster unless
//! a `metrics-endpoint` relation exists.

use anyhow::Result;
use juju_ops::{Bag, Context};

use crate::cos::{DASHBOARD_ENDPOINT, METRICS_ENDPOINT, Topology, dashboard, scrape};
use crate::k8s::K8sError;

/// The charm's name in metadata.yaml.
const CHARM_NAME: &str = "metallb";

/// This unit's place in the model.
pub fn topology(ctx: &Context<'_>) -> Topology {
    Topology {
        model: ctx.model_name().to_string(),
        model_uuid: ctx.juju().model_uuid.clone(),
        application: ctx.app_name().to_string(),
        unit: ctx.unit_name().to_string(),
        charm_name: CHARM_NAME.to_string(),
    }
}

/// Publishes on every relation of both endpoints. `targets` is asked only when the leader has
/// a `metrics-endpoint` relation to fill; when it fails (the API is down) the jobs already
/// published stay as they are.
pub fn publish(
    ctx: &Context<'_>,
    leader: bool,
    targets: impl FnOnce() -> Result<scrape::Targets, K8sError>,
) -> Result<()> {
    let topology = topology(ctx);
    let metrics = ctx.relations(METRICS_ENDPOINT)?;
    if !metrics.is_empty() {
        let unit = scrape::unit_data(&topology);
        for relation in &metrics {
            ctx.set_relation_data(relation, Bag::Unit, &unit)?;
        }
        if leader {
            match targets() {
                Ok(targets) => {
                    let app = scrape::app_data(&topology, &targets);
                    for relation in &metrics {
                        ctx.set_relation_data(relation, Bag::App, &app)?;
                    }
                }
                Err(err) => tracing::warn!("scrape targets not updated: {err}"),
            }
        }
    }
    if leader {
        let dashboards = ctx.relations(DASHBOARD_ENDPOINT)?;
        if !dashboards.is_empty() {
            let app = dashboard::app_data(&topology);
            for relation in &dashboards {
                ctx.set_relation_data(relation, Bag::App, &app)?;
            }
        }
    }
    Ok(())
}
