//! The metallb-rs speaker binary.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use metallb_runtime::health::{self, Readiness};
use metallb_runtime::{kube_client, metrics, telemetry};
use metallb_speaker::adapters::interfaces::EXCLUDE_FILE;
use metallb_speaker::adapters::membership::{self, Timings};
use metallb_speaker::metrics::speaker_metrics;
use metallb_speaker::run::{MembershipSettings, Settings, run};

/// Announces LoadBalancer addresses with ARP and NDP (MetalLB Layer 2 mode).
#[derive(Parser)]
#[command(name = "metallb-speaker", version)]
struct Flags {
    /// Name of the node this speaker runs on.
    #[arg(long, env = metallb_api::deploy::NODE_NAME_ENV)]
    node_name: String,
    /// Name of this pod (for logs).
    #[arg(long, env = metallb_api::deploy::POD_NAME_ENV)]
    pod_name: Option<String>,
    /// Namespace of the MetalLB configuration.
    #[arg(long, env = metallb_api::deploy::NAMESPACE_ENV, default_value = metallb_api::deploy::DEFAULT_NAMESPACE)]
    namespace: String,
    /// Address of the membership socket (the host address); empty disables membership.
    #[arg(long, env = metallb_api::deploy::ML_BIND_ADDR_ENV)]
    ml_bindaddr: Option<String>,
    /// Port of the membership socket.
    #[arg(long, env = metallb_api::deploy::ML_BIND_PORT_ENV, default_value_t = metallb_api::deploy::MEMBERLIST_PORT)]
    ml_bindport: u16,
    /// Label selector of the speaker pods, used to find peers; empty disables membership.
    #[arg(long, env = metallb_api::deploy::ML_LABELS_ENV)]
    ml_labels: Option<String>,
    /// Directory holding the membership secret (file `secretkey`).
    #[arg(
        long,
        env = metallb_api::deploy::ML_SECRET_KEY_PATH_ENV,
        default_value = metallb_api::deploy::MEMBERLIST_KEY_DIR
    )]
    ml_secret_key_path: PathBuf,
    /// Membership probe period.
    #[arg(long, env = "METALLB_ML_PROBE_PERIOD", value_parser = parse_millis, default_value = "250ms")]
    ml_probe_period: Duration,
    /// Membership probe timeout.
    #[arg(long, env = "METALLB_ML_PROBE_TIMEOUT", value_parser = parse_millis, default_value = "100ms")]
    ml_probe_timeout: Duration,
    /// How long a suspected speaker may refute before it is declared down.
    #[arg(long, env = "METALLB_ML_SUSPICION_TIMEOUT", value_parser = parse_millis, default_value = "300ms")]
    ml_suspicion_timeout: Duration,
    /// Metrics port (0 disables metrics).
    #[arg(long, env = metallb_api::deploy::METRICS_PORT_ENV, default_value_t = metallb_api::deploy::METRICS_PORT)]
    port: u16,
    /// Address the metrics listen on: the node's address (`status.hostIP`), as upstream's
    /// speaker does with its plain-HTTP metrics; unset or empty: every address.
    #[arg(long, env = metallb_api::deploy::HOST_ENV)]
    host: Option<String>,
    /// Health probe port on 127.0.0.1 (0 disables the probes).
    #[arg(long, default_value_t = metallb_api::deploy::HEALTH_PORT)]
    health_probe_port: u16,
    /// Only handle Services of this loadBalancerClass.
    #[arg(long)]
    lb_class: Option<String>,
    /// Ignore the node.kubernetes.io/exclude-from-external-load-balancers label.
    #[arg(long)]
    ignore_exclude_lb: bool,
    /// Announce every Layer 2 address gratuitously every this many seconds while this node
    /// announces it (0: only after a change; an L2Advertisement's `gratuitousARPInterval`
    /// overrides it for its addresses). Upstream's flag, same unit.
    #[arg(long, env = "METALLB_GRATUITOUS_ARP_INTERVAL", default_value_t = 0)]
    gratuitous_arp_interval: u32,
    /// Probe every announced IPv4 address for other holders every this many seconds (an ARP
    /// probe; whoever else answers is reported as a duplicate responder); 0: only watch the
    /// frames that pass anyway.
    #[arg(long, env = "METALLB_DUPLICATE_PROBE_INTERVAL", default_value_t = 30)]
    duplicate_probe_interval: u32,
    /// Interface exclude list (YAML with announcedInterfacesToExclude).
    #[arg(long, default_value = EXCLUDE_FILE)]
    exclude_l2_file: PathBuf,
    /// Log level: error, warn, info, debug.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Kubeconfig file (default: in-cluster service account).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

/// Parses `300ms`, `2s` or a plain number of milliseconds.
fn parse_millis(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 300ms or 2s");
    if let Some(ms) = text.strip_suffix("ms") {
        ms.parse().map(Duration::from_millis).map_err(|_| bad())
    } else if let Some(s) = text.strip_suffix('s') {
        s.parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(bad)
    } else {
        text.parse().map(Duration::from_millis).map_err(|_| bad())
    }
}

/// Where the metrics listen: `--host` (METALLB_HOST), else every address.
fn metrics_host(host: Option<&str>) -> Result<IpAddr> {
    match host.map(str::trim).filter(|h| !h.is_empty()) {
        Some(text) => text
            .parse()
            .with_context(|| format!("--host (METALLB_HOST) {text:?} is not an IP address")),
        None => Ok(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
    }
}

fn membership_settings(flags: &Flags) -> Result<Option<MembershipSettings>> {
    let (Some(addr), Some(labels)) = (
        flags.ml_bindaddr.as_deref().filter(|a| !a.is_empty()),
        flags.ml_labels.as_deref().filter(|l| !l.is_empty()),
    ) else {
        return Ok(None);
    };
    let ip: IpAddr = addr
        .parse()
        .with_context(|| format!("--ml-bindaddr {addr:?} is not an IP address"))?;
    let secret_file = flags.ml_secret_key_path.join("secretkey");
    // No key, no gossip: membership packets are always encrypted and authenticated.
    let secret = match std::fs::read(&secret_file) {
        Ok(bytes) => bytes.trim_ascii().to_vec(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "refusing to start: membership is on (--ml-bindaddr and --ml-labels) but its key \
             file {} does not exist; the speaker never gossips unencrypted. Mount the \
             memberlist Secret (key `secretkey`) at --ml-secret-key-path",
            secret_file.display()
        ),
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", secret_file.display()));
        }
    };
    if secret.is_empty() {
        bail!(
            "refusing to start: the membership key file {} is empty; the speaker never gossips \
             without a key. Put a random key in the memberlist Secret (key `secretkey`)",
            secret_file.display()
        );
    }
    Ok(Some(MembershipSettings {
        gossip: membership::Settings {
            node: flags.node_name.clone(),
            addr: SocketAddr::new(ip, flags.ml_bindport),
            secret,
            timings: Timings {
                probe_period: flags.ml_probe_period,
                probe_rtt: flags.ml_probe_timeout,
                suspect_to_down_after: flags.ml_suspicion_timeout,
                ..Timings::default()
            },
        },
        pod_labels: labels.to_string(),
    }))
}

/// Registers SIGTERM and SIGINT handling now (a signal before the first poll must not kill the
/// process without leaving the membership) and resolves when either arrives.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let flags = Flags::parse();
    let shutdown = shutdown_signal()?;
    telemetry::init(&flags.log_level)?;
    let readiness = Readiness::default();
    let metrics = speaker_metrics();
    if flags.health_probe_port != 0 {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", flags.health_probe_port))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on the health probe port {}",
                    flags.health_probe_port
                )
            })?;
        tokio::spawn(health::serve(listener, readiness.clone()));
    }
    let membership = membership_settings(&flags).inspect_err(|err| tracing::error!("{err:#}"))?;
    if flags.port != 0 {
        let host = metrics_host(flags.host.as_deref())?;
        let listener = tokio::net::TcpListener::bind((host, flags.port))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on the metrics address {host} port {}",
                    flags.port
                )
            })?;
        tracing::info!(%host, port = flags.port, "serving metrics");
        tokio::spawn(metrics::serve(listener, metrics.clone()));
    }
    let client = kube_client::client(flags.kubeconfig.as_deref(), Some(&metrics)).await?;
    tracing::info!(node = %flags.node_name, pod = ?flags.pod_name, "speaker starting");
    run(
        client,
        Settings {
            node: flags.node_name,
            pod_name: flags.pod_name,
            namespace: flags.namespace,
            lb_class: flags.lb_class,
            ignore_exclude_label: flags.ignore_exclude_lb,
            membership,
            exclude_file: flags.exclude_l2_file,
            gratuitous_interval: (flags.gratuitous_arp_interval > 0)
                .then(|| Duration::from_secs(u64::from(flags.gratuitous_arp_interval))),
            duplicate_probe_interval: (flags.duplicate_probe_interval > 0)
                .then(|| Duration::from_secs(u64::from(flags.duplicate_probe_interval))),
            readiness,
            metrics,
        },
        shutdown,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_listen_on_the_host_address_when_given() {
        assert_eq!(
            metrics_host(Some("198.18.0.11")).unwrap(),
            "198.18.0.11".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            metrics_host(Some("2001:db8::b")).unwrap(),
            "2001:db8::b".parse::<IpAddr>().unwrap()
        );
        for unset in [None, Some(""), Some("  ")] {
            assert!(metrics_host(unset).unwrap().is_unspecified());
        }
        let err = metrics_host(Some("node-a")).unwrap_err();
        assert!(format!("{err:#}").contains("METALLB_HOST"), "{err:#}");
    }
}
