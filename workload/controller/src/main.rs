//! The metallb-rs controller binary.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use metallb_controller::run::{
    CONFIG_LOADED, CONFIG_STALE, PASSES, Settings, UPDATE_ERRORS, UPDATES, WITHOUT_ADDRESS, run,
};
use metallb_runtime::health::{self, Readiness};
use metallb_runtime::kube_client::{self, REST_CLIENT_REQUESTS};
use metallb_runtime::metrics::{self, Family, Metrics};
use metallb_runtime::telemetry;

/// MetalLB-compatible IP allocation for Services of type LoadBalancer.
#[derive(Parser)]
#[command(name = "metallb-controller", version)]
struct Flags {
    /// Namespace of the MetalLB configuration.
    #[arg(long, env = metallb_api::deploy::NAMESPACE_ENV, default_value = metallb_api::deploy::DEFAULT_NAMESPACE)]
    namespace: String,
    /// Only handle Services of this loadBalancerClass.
    #[arg(long)]
    lb_class: Option<String>,
    /// Log level: error, warn, info, debug.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Kubeconfig file (default: in-cluster service account).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Port of the /healthz and /readyz probes (0 disables them).
    #[arg(long, default_value_t = metallb_api::deploy::HEALTH_PORT)]
    health_probe_port: u16,
    /// Metrics port (0 disables metrics).
    #[arg(long, env = metallb_api::deploy::METRICS_PORT_ENV, default_value_t = metallb_api::deploy::METRICS_PORT)]
    port: u16,
    /// Name of the memberlist Secret to create when absent (empty: do not create it).
    #[arg(long, env = metallb_api::deploy::ML_SECRET_NAME_ENV, default_value = metallb_api::deploy::MEMBERLIST_SECRET)]
    ml_secret_name: String,
    /// The controller's Deployment, owner of the memberlist Secret.
    #[arg(long, env = metallb_api::deploy::DEPLOYMENT_ENV, default_value = metallb_api::deploy::CONTROLLER)]
    deployment: String,
    /// This pod's name (the reporting instance of its events).
    #[arg(long, env = metallb_api::deploy::POD_NAME_ENV, default_value = "metallb-controller")]
    pod_name: String,
}

/// The controller's metric families (upstream names; label `pool`).
const FAMILIES: &[Family] = &[
    REST_CLIENT_REQUESTS,
    CONFIG_LOADED,
    CONFIG_STALE,
    UPDATES,
    UPDATE_ERRORS,
    PASSES,
    WITHOUT_ADDRESS,
    (
        "metallb_allocator_addresses_total",
        "gauge",
        "Number of usable IP addresses, per pool",
    ),
    (
        "metallb_allocator_ipv4_addresses_total",
        "gauge",
        "Number of usable IPv4 addresses, per pool",
    ),
    (
        "metallb_allocator_ipv6_addresses_total",
        "gauge",
        "Number of usable IPv6 addresses, per pool",
    ),
    (
        "metallb_allocator_addresses_in_use_total",
        "gauge",
        "Number of IP addresses in use, per pool",
    ),
    (
        "metallb_allocator_ipv4_addresses_in_use_total",
        "gauge",
        "Number of IPv4 addresses in use, per pool",
    ),
    (
        "metallb_allocator_ipv6_addresses_in_use_total",
        "gauge",
        "Number of IPv6 addresses in use, per pool",
    ),
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    metallb_controller::memory::tune_allocator();
    let flags = Flags::parse();
    telemetry::init(&flags.log_level)?;
    let readiness = Readiness::default();
    if flags.health_probe_port != 0 {
        let listener = tokio::net::TcpListener::bind(("0.0.0.0", flags.health_probe_port))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on the health probe port {}",
                    flags.health_probe_port
                )
            })?;
        tokio::spawn(health::serve(listener, readiness.clone()));
    }
    let metrics = Metrics::new(FAMILIES);
    if flags.port != 0 {
        let listener = tokio::net::TcpListener::bind(("0.0.0.0", flags.port))
            .await
            .with_context(|| format!("cannot listen on the metrics port {}", flags.port))?;
        tokio::spawn(metrics::serve(listener, metrics.clone()));
    }
    let client = kube_client::client(flags.kubeconfig.as_deref(), Some(&metrics)).await?;
    run(
        client,
        Settings {
            namespace: flags.namespace,
            lb_class: flags.lb_class,
            readiness,
            metrics,
            memberlist_secret: (!flags.ml_secret_name.is_empty())
                .then_some((flags.ml_secret_name, Some(flags.deployment))),
            instance: flags.pod_name,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the charm's alerts and dashboard ask of the controller, it renders; and every
    /// `metallb_*` name they use belongs to the controller or the speaker.
    #[test]
    fn the_monitoring_queries_only_metrics_the_controller_declares() {
        let declared: std::collections::BTreeSet<&str> = FAMILIES.iter().map(|f| f.0).collect();
        let controller_prefixes = [
            "metallb_allocator_",
            "metallb_k8s_client_",
            "metallb_controller_",
        ];
        let speaker_prefixes = [
            "metallb_speaker_",
            "metallb_bgp_",
            "metallb_bfd_",
            "metallb_layer2_",
        ];
        let names = metrics::monitored_names();
        assert!(names.contains("metallb_allocator_services_without_address"));
        for name in names {
            if controller_prefixes.iter().any(|p| name.starts_with(p)) {
                assert!(
                    declared.contains(name.as_str()),
                    "{name} is not a controller metric"
                );
            } else {
                assert!(
                    speaker_prefixes.iter().any(|p| name.starts_with(p)),
                    "{name} belongs to neither workload"
                );
            }
        }
    }
}
