//! The metallb charm. The Kubernetes reconcile comes with the charm issue; for now the charm
//! reads its typed configuration and reports honestly that it does not manage MetalLB yet.

use anyhow::Result;
use juju_ops::{Charm, Context, Event, Status, StatusCollector};
use serde::Deserialize;

/// The charm's options (config.yaml).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CharmConfig {
    /// Namespace of the MetalLB workload.
    pub namespace: String,
    /// Addresses MetalLB may hand out.
    pub iprange: String,
    /// Node labels selecting speaker nodes.
    pub node_selector: String,
    /// Image registry fallback.
    pub image_registry: String,
    /// Workload log level.
    pub log_level: String,
    /// Layer 2 interfaces.
    pub l2_interfaces: String,
}

/// The charm.
pub struct MetallbCharm;

impl Charm for MetallbCharm {
    fn handle(&mut self, ctx: &Context<'_>, event: &Event) -> Result<()> {
        tracing::info!("{} in model {}", event.describe(), ctx.model_name());
        if matches!(event, Event::Install | Event::UpgradeCharm | Event::Start) {
            ctx.set_workload_version(env!("CARGO_PKG_VERSION"))?;
        }
        Ok(())
    }

    fn collect_status(&mut self, ctx: &Context<'_>, statuses: &mut StatusCollector) -> Result<()> {
        let status = match ctx.config::<CharmConfig>() {
            Err(err) => Status::blocked(err.to_string()),
            Ok(config) => Status::blocked(format!(
                "this revision does not manage MetalLB yet (would use pool {:?} in namespace {:?}, \
                 speakers on {:?}, interfaces {:?}, images from {}, log level {})",
                config.iprange,
                config.namespace,
                config.node_selector,
                config.l2_interfaces,
                config.image_registry,
                config.log_level
            )),
        };
        statuses.add_app(status.clone());
        statuses.add_unit(status);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juju_ops::testing::{Harness, State, TestEvent};

    #[test]
    fn metadata_parses_and_install_reports_status() {
        let harness = Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert_eq!(harness.meta().name, "metallb");
        assert!(harness.meta().options.contains_key("iprange"));
        assert!(harness.meta().actions.contains_key("list-allocations"));
        let out = harness
            .run(
                |_| MetallbCharm,
                TestEvent::hook("install"),
                State::default(),
            )
            .unwrap();
        assert!(out.success);
        assert_eq!(out.state.workload_version, env!("CARGO_PKG_VERSION"));
        assert!(matches!(out.state.unit_status, Status::Blocked(_)));
    }
}
