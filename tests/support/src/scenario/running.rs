//! A running scenario: what a test reaches in it.

use std::net::Ipv4Addr;

use anyhow::{Context, Result};
use netlab::{Host, Network, StopOnDrop, http_get_from, netns_exec};

use super::cluster::NetCluster;
use super::nodes::RealNodes;
use super::speakers::Speakers;

/// A running scenario (built by [`ScenarioBuilder`](super::builder::ScenarioBuilder)): the
/// network, the control plane, the nodes, the MetalLB namespace, the HTTP servers and the
/// speaker processes. Dropping it removes everything, the network's namespaces first (which
/// ends every process in them).
pub struct Scenario {
    /// The HTTP servers on the nodes (stopped first).
    pub(crate) _http: Vec<StopOnDrop>,
    /// The speaker processes (none when the speakers run as pods).
    pub speakers: Speakers,
    /// The real nodes, when the scenario has real ones (stopped before the network goes).
    pub nodes: Option<RealNodes>,
    /// The test network.
    pub network: Network,
    /// The control plane.
    pub cluster: NetCluster,
    /// An admin client.
    pub client: kube::Client,
    /// The MetalLB namespace.
    pub namespace: String,
}

impl Scenario {
    /// The MAC address of node `name`.
    pub fn mac_of(&self, name: &str) -> String {
        self.network
            .node(name)
            .map(|n| n.mac.clone())
            .unwrap_or_default()
    }

    /// (node, address) pairs for [`endpoints`](super::objects::endpoints).
    pub fn endpoints_on<'a>(&self, nodes: &[&'a str]) -> Vec<(&'a str, Ipv4Addr)> {
        nodes
            .iter()
            .filter_map(|n| self.node(n).map(|h| (*n, h.ipv4)))
            .collect()
    }

    fn node(&self, name: &str) -> Option<&Host> {
        self.network.node(name)
    }

    /// A value of node `name`'s speaker metrics (`series` includes the labels and ends with a
    /// space, e.g. `"metallb_speaker_members "`); 0 when the series is absent.
    pub fn metric(&self, name: &str, series: &str) -> Result<f64> {
        let host = self.node(name).context("no such node")?;
        let text = http_get_from(
            &host.netns,
            std::net::IpAddr::from([127, 0, 0, 1]),
            7472,
            "/metrics",
            std::time::Duration::from_secs(2),
        )?;
        Ok(text
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0))
    }

    /// Adds an uplink: the second segment (`eth1` on the nodes and the client) with the
    /// network 198.19.200.0/24 (outside eth0's 198.18.0.0/16; client .3, nodes .11 on), and
    /// `ip` accepted locally by every node. A pool holding `ip` with an L2Advertisement naming
    /// no interface is then announced on eth1 only.
    pub fn add_uplink(&self, ip: &str) -> Result<()> {
        self.network.add_second_segment()?;
        let client = &self.network.client.netns;
        netns_exec(
            client,
            &["ip", "addr", "add", "198.19.200.3/24", "dev", "eth1"],
        )?;
        let local = format!("{ip}/32");
        for (i, node) in self.network.nodes.iter().enumerate() {
            let address = format!("198.19.200.{}/24", 11 + i);
            netns_exec(&node.netns, &["ip", "addr", "add", &address, "dev", "eth1"])?;
            netns_exec(
                &node.netns,
                &["ip", "route", "add", "local", &local, "dev", "lo"],
            )?;
        }
        Ok(())
    }

    /// Sets node `name`'s switch port on the uplink (`s<1 + index>` on `br1`) up or down: the
    /// node's eth1 gains or loses carrier.
    pub fn set_uplink_carrier(&self, name: &str, up: bool) -> Result<()> {
        let index = self
            .network
            .nodes
            .iter()
            .position(|n| n.name == name)
            .context("no such node")?;
        let port = format!("s{}", index + 1);
        let state = if up { "up" } else { "down" };
        netns_exec(&self.network.hub, &["ip", "link", "set", &port, state]).map(|_| ())
    }

    /// The MAC address of `interface` in node `name`'s namespace.
    pub fn interface_mac(&self, name: &str, interface: &str) -> Result<String> {
        let host = self.node(name).context("no such node")?;
        let path = format!("/sys/class/net/{interface}/address");
        let output = netns_exec(&host.netns, &["cat", &path])?;
        Ok(String::from_utf8_lossy(&output.stdout)
            .trim()
            .to_lowercase())
    }
}
