//! The metallb-rs controller binary.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use metallb_controller::health::{Readiness, serve};
use metallb_controller::run::{Settings, run};

/// MetalLB-compatible IP allocation for Services of type LoadBalancer.
#[derive(Parser)]
#[command(name = "metallb-controller", version)]
struct Flags {
    /// Namespace of the MetalLB configuration.
    #[arg(long, env = "METALLB_NAMESPACE", default_value = "metallb-system")]
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
    #[arg(long, default_value_t = 17472)]
    health_probe_port: u16,
}

async fn client(kubeconfig: Option<&PathBuf>) -> Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?
        }
        None => Config::infer().await?,
    };
    Ok(Client::try_from(config)?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let flags = Flags::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "{},hyper=info,kube=info,tower=info",
            flags.log_level
        )))
        .init();
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
        tokio::spawn(serve(listener, readiness.clone()));
    }
    let client = client(flags.kubeconfig.as_ref()).await?;
    run(
        client,
        Settings {
            namespace: flags.namespace,
            lb_class: flags.lb_class,
            readiness,
        },
    )
    .await
}
