//! The control plane in the test network's api namespace.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result};

use netlab::{Network, StopOnDrop, forward};

/// A control plane running in the network's api namespace, reachable from this process through
/// a loopback tunnel.
pub struct NetCluster {
    /// The control plane; its admin kubeconfig points at the api namespace's address (use it
    /// from node namespaces).
    pub cluster: crate::Cluster,
    /// An admin kubeconfig for this process (through the tunnel).
    pub local_kubeconfig: std::path::PathBuf,
    _tunnel: StopOnDrop,
    _dir: tempfile::TempDir,
}

impl NetCluster {
    /// Starts the control plane in `network`'s api namespace.
    pub fn start(network: &Network) -> Result<Self> {
        let cluster =
            crate::Cluster::start_in_netns(&network.api.netns, IpAddr::V4(network.api.ipv4))?;
        let port = cluster
            .server()
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
            .with_context(|| format!("no port in the API server URL {}", cluster.server()))?;
        let (local, tunnel) = forward(
            &network.api.netns,
            SocketAddr::new(IpAddr::V4(network.api.ipv4), port),
        )?;
        let dir = tempfile::tempdir().context("cannot create a directory for the kubeconfig")?;
        let mut kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig())
            .context("cannot read the admin kubeconfig")?;
        for named in &mut kubeconfig.clusters {
            if let Some(c) = named.cluster.as_mut() {
                c.server = Some(format!("https://{local}"));
            }
        }
        let local_kubeconfig = dir.path().join("admin-local.kubeconfig");
        std::fs::write(&local_kubeconfig, serde_json::to_vec(&kubeconfig)?)
            .context("cannot write the local kubeconfig")?;
        Ok(NetCluster {
            cluster,
            local_kubeconfig,
            _tunnel: tunnel,
            _dir: dir,
        })
    }

    /// An admin client for this process.
    pub async fn client(&self) -> Result<kube::Client> {
        crate::client_from(&self.local_kubeconfig).await
    }
}
