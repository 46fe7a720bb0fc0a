//! FRR (zebra, bgpd, optionally bfdd) in a namespace, and its configuration.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::namespace::{netns_exec, run};
use crate::network::{Host, Network};
use crate::routers::plan::{NODES_AS, ROUTER_AS};
use crate::routers::router::Router;

/// FRR (zebra + bgpd) running in a namespace, stopped with it.
pub struct Frr {
    netns: String,
    instance: String,
    dir: tempfile::TempDir,
    daemons: Vec<&'static str>,
}

impl Frr {
    /// Starts zebra and bgpd in `netns` with `config` (an frr.conf).
    pub fn start(netns: &str, config: &str) -> Result<Self> {
        Self::start_daemons(netns, config, &["zebra", "bgpd"])
    }

    /// Whether `daemon` (e.g. `bfdd`) was started.
    pub fn runs(&self, daemon: &str) -> bool {
        self.daemons.contains(&daemon)
    }

    /// Starts zebra, bfdd and bgpd (for `neighbor ... bfd`).
    pub fn start_with_bfd(netns: &str, config: &str) -> Result<Self> {
        Self::start_daemons(netns, config, &["zebra", "bfdd", "bgpd"])
    }

    fn start_daemons(netns: &str, config: &str, daemons: &[&'static str]) -> Result<Self> {
        if !std::path::Path::new("/usr/lib/frr/bgpd").exists() {
            bail!("FRR is not installed (cargo xtask test installs the frr package)");
        }
        let dir = tempfile::tempdir()?;
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let instance = format!(
            "t{}-{}",
            std::process::id() % 100_000,
            STARTED.fetch_add(1, Ordering::Relaxed)
        );
        std::fs::write(dir.path().join("frr.conf"), config)?;
        std::fs::create_dir_all(format!("/etc/frr/{instance}"))?;
        std::fs::write(format!("/etc/frr/{instance}/vtysh.conf"), "")?;
        run("chown", &["-R", "frr:frr", &dir.path().to_string_lossy()])?;
        let mut started = Frr {
            netns: netns.to_string(),
            instance: instance.clone(),
            dir,
            daemons: Vec::new(),
        };
        let dir = started.dir.path().to_path_buf();
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        for daemon in daemons.iter().copied() {
            let mut args = vec![
                format!("/usr/lib/frr/{daemon}"),
                "-d".into(),
                "-N".into(),
                instance.clone(),
                "-i".into(),
                path(&format!("{daemon}.pid")),
                "--vty_socket".into(),
                path(""),
                "-z".into(),
                path("zserv.api"),
                "-f".into(),
                path("frr.conf"),
            ];
            if daemon == "bgpd" {
                args.extend(["-p".into(), "179".into()]);
            }
            if daemon == "bfdd" {
                args.extend(["--bfdctl".into(), path("bfdd.sock")]);
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            netns_exec(netns, &refs).with_context(|| format!("cannot start FRR {daemon}"))?;
            started.daemons.push(daemon);
        }
        Ok(started)
    }

    /// The directory of its vty sockets (`vtysh --vty_socket DIR`).
    pub fn vty_socket(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Runs a vtysh command.
    pub fn vtysh(&self, command: &str) -> Result<String> {
        let socket = self.dir.path().to_string_lossy().into_owned();
        let output = netns_exec(
            &self.netns,
            &["vtysh", "--vty_socket", &socket, "-c", command],
        )?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The BFD sessions FRR has (`show bfd peers json`; empty when bfdd answers nothing).
    pub fn bfd_peers(&self) -> Result<Vec<Value>> {
        let text = self.vtysh("show bfd peers json")?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(value.as_array().cloned().unwrap_or_default())
    }

    /// The paths FRR has for `prefix` (empty when it has none).
    pub fn paths(&self, prefix: &str) -> Result<Vec<Value>> {
        let family = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let text = self.vtysh(&format!("show bgp {family} unicast {prefix} json"))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(value["paths"].as_array().cloned().unwrap_or_default())
    }
}

impl Router for Frr {
    fn diagnostics(&self) -> String {
        let mut out = format!(
            "FRR:\n{}",
            self.vtysh("show bgp summary").unwrap_or_default()
        );
        if self.runs("bfdd") {
            out.push_str(&self.vtysh("show bfd peers").unwrap_or_default());
        }
        out
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for daemon in self.daemons.iter().rev() {
            if let Ok(pid) = std::fs::read_to_string(self.dir.path().join(format!("{daemon}.pid")))
            {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
        }
        let _ = std::fs::remove_dir_all(format!("/etc/frr/{}", self.instance));
    }
}

/// A `bfd` block with the profile `fast`: 100 ms both ways, multiplier 3.
pub const FRR_BFD_FAST: &str = "bfd\n profile fast\n  receive-interval 100\n  transmit-interval 100\n  detect-multiplier 3\n !\n!\n";

/// An frr.conf for one BGP router. IPv4 unicast uses up to 8 paths (eBGP and iBGP); the IPv6
/// unicast family is configured when `ipv6_neighbors` are given.
#[derive(Debug, Clone, Default)]
pub struct FrrBgp<'a> {
    /// The router's hostname.
    pub hostname: &'a str,
    /// Its AS.
    pub asn: u32,
    /// Its BGP identifier.
    pub router_id: String,
    /// Lines inside `router bgp` before the address families (`neighbor ...`, options), each
    /// with a leading space and a newline.
    pub neighbors: String,
    /// Neighbors activated in the IPv6 unicast family.
    pub ipv6_neighbors: Vec<String>,
    /// Text ahead of `router bgp` (e.g. [`FRR_BFD_FAST`]).
    pub before: &'a str,
}

impl FrrBgp<'_> {
    /// The frr.conf text.
    pub fn render(&self) -> String {
        let multipath = "  maximum-paths 8\n  maximum-paths ibgp 8\n";
        let mut out = format!(
            "frr defaults traditional\nhostname {}\n!\n{}router bgp {}\n bgp router-id {}\n no bgp ebgp-requires-policy\n{} address-family ipv4 unicast\n{multipath} exit-address-family\n",
            self.hostname, self.before, self.asn, self.router_id, self.neighbors
        );
        if !self.ipv6_neighbors.is_empty() {
            out.push_str(" address-family ipv6 unicast\n");
            for neighbor in &self.ipv6_neighbors {
                out.push_str(&format!("  neighbor {neighbor} activate\n"));
            }
            out.push_str(&format!("{multipath} exit-address-family\n"));
        }
        out.push_str("!\n");
        out
    }
}

/// An frr.conf for a router at the client's addresses ([`ROUTER_AS`]) peering with every node
/// ([`NODES_AS`]) over IPv4 and IPv6, with ECMP over up to 8 paths.
pub fn frr_config(network: &Network) -> String {
    frr_config_for(&network.client, &network.nodes)
}

/// [`frr_config`] for a router at `router` and the nodes `nodes`.
pub fn frr_config_for(router: &Host, nodes: &[Host]) -> String {
    FrrBgp {
        hostname: "router",
        asn: ROUTER_AS,
        router_id: router.ipv4.to_string(),
        neighbors: nodes
            .iter()
            .map(|node| {
                format!(
                    " neighbor {} remote-as {NODES_AS}\n neighbor {} remote-as {NODES_AS}\n",
                    node.ipv4, node.ipv6
                )
            })
            .collect(),
        ipv6_neighbors: nodes.iter().map(|n| n.ipv6.to_string()).collect(),
        before: "",
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_only_router_has_no_ipv6_family() {
        let text = FrrBgp {
            hostname: "r",
            asn: 65000,
            router_id: "198.18.0.3".into(),
            neighbors: " neighbor 198.18.0.11 remote-as 64512\n".into(),
            ..FrrBgp::default()
        }
        .render();
        assert!(text.contains("router bgp 65000\n bgp router-id 198.18.0.3\n"));
        assert!(
            text.contains(" neighbor 198.18.0.11 remote-as 64512\n address-family ipv4 unicast\n")
        );
        assert!(!text.contains("ipv6"), "{text}");
        assert!(text.ends_with("exit-address-family\n!\n"), "{text}");
    }

    #[test]
    fn the_router_of_a_network_peers_with_every_node_on_both_families() {
        let router = Host::planned("t", "client", 3);
        let nodes = [Host::planned("t", "a", 11), Host::planned("t", "b", 12)];
        let text = frr_config_for(&router, &nodes);
        assert!(
            text.contains("router bgp 64513\n bgp router-id 198.18.0.3\n"),
            "{text}"
        );
        for neighbor in ["198.18.0.11", "198.18.0.12", "2001:db8::b", "2001:db8::c"] {
            assert!(
                text.contains(&format!(" neighbor {neighbor} remote-as 64512\n")),
                "{neighbor} missing:\n{text}"
            );
        }
        let ipv6 = text
            .split(" address-family ipv6 unicast\n")
            .nth(1)
            .unwrap_or_default();
        assert!(
            ipv6.starts_with("  neighbor 2001:db8::b activate\n  neighbor 2001:db8::c activate\n"),
            "{text}"
        );
        assert_eq!(text.matches("maximum-paths 8").count(), 2);
    }
}
