//! The charm in the Canonical Observability Stack: what it publishes on its `metrics-endpoint`
//! (interface `prometheus_scrape`) and `grafana-dashboard` (interface `grafana_dashboard`)
//! relations, in the databag formats the COS charm libraries write and read.
//!
//! Pure: the charm reads the scrape targets from the cluster and the Juju topology from its
//! context, and writes what these functions return.
//!
//! * [`scrape`]: scrape jobs for the controller and a speaker on every selected node, the
//!   scrape metadata, and the alert rules shipped in `monitoring/alert_rules.yaml`.
//! * [`dashboard`]: the dashboard in `monitoring/dashboard.json`, compressed as the
//!   `grafana_dashboard` interface carries it.

pub mod dashboard;
pub mod scrape;

use std::collections::BTreeMap;

use serde::Serialize;

/// The `metrics-endpoint` relation endpoint.
pub const METRICS_ENDPOINT: &str = "metrics-endpoint";
/// The `grafana-dashboard` relation endpoint.
pub const DASHBOARD_ENDPOINT: &str = "grafana-dashboard";

/// Where a databag entry comes from: the Juju model, application and unit (the "Juju topology"
/// COS labels everything with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// Model name.
    pub model: String,
    /// Model UUID.
    pub model_uuid: String,
    /// Application name.
    pub application: String,
    /// Unit name.
    pub unit: String,
    /// Charm name.
    pub charm_name: String,
}

impl Topology {
    /// The labels an alert rule carries (`juju_model`, `juju_model_uuid`, `juju_application`,
    /// `juju_charm`), as the COS libraries add them.
    pub fn alert_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("juju_model".to_string(), self.model.clone()),
            ("juju_model_uuid".to_string(), self.model_uuid.clone()),
            ("juju_application".to_string(), self.application.clone()),
            ("juju_charm".to_string(), self.charm_name.clone()),
        ])
    }

    /// `<model>_<model uuid>_<application>`: the prefix of alert group names.
    pub fn identifier(&self) -> String {
        format!("{}_{}_{}", self.model, self.model_uuid, self.application)
    }
}

/// A databag: string keys to string values.
pub type Databag = BTreeMap<String, String>;
