//! GoBGP (`gobgpd`) in a namespace, and its configuration.

use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::namespace::netns_exec;
use crate::network::{Host, Network};
use crate::process::spawn_tied;
use crate::routers::plan::{NODES_AS, ROUTER_AS, neighbors};
use crate::routers::router::Router;

/// Where `gobgpd` serves its API inside the namespace (for the `gobgp` CLI).
const API: (&str, &str) = ("127.0.0.1", "50051");

/// `gobgpd` running in a namespace (killed when dropped, or when the calling thread ends).
pub struct Gobgp {
    netns: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Gobgp {
    /// Starts `gobgpd` in `netns` with `config` (a gobgpd.toml), installing no routes in the
    /// kernel (`-p`: the router is only a RIB to look at).
    pub fn start(netns: &str, config: &str) -> Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a directory for GoBGP")?;
        let conf = dir.path().join("gobgpd.toml");
        std::fs::write(&conf, config).context("cannot write gobgpd.toml")?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns, "gobgpd", "-f"])
            .arg(&conf)
            .args(["--api-hosts", &format!("{}:{}", API.0, API.1), "-p"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn_tied(&mut cmd).context("cannot start gobgpd (is gobgpd installed?)")?;
        Ok(Gobgp {
            netns: netns.to_string(),
            child,
            _dir: dir,
        })
    }

    /// Runs a `gobgp` command against this daemon; its output.
    pub fn gobgp(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["gobgp", "-u", API.0, "-p", API.1];
        all.extend_from_slice(args);
        let output = netns_exec(&self.netns, &all)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// How many paths GoBGP holds for `prefix` in its global RIB.
    pub fn path_count(&self, prefix: &str) -> Result<usize> {
        let family = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let text = self.gobgp(&["global", "rib", "-a", family, prefix, "-j"])?;
        Ok(count_paths(&text, prefix))
    }
}

/// The paths for `prefix` in a `gobgp global rib -j` answer (a map from prefix to paths).
fn count_paths(json: &str, prefix: &str) -> usize {
    let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    value[prefix].as_array().map(Vec::len).unwrap_or(0)
}

impl Router for Gobgp {
    fn diagnostics(&self) -> String {
        format!("GoBGP:\n{}", self.gobgp(&["neighbor"]).unwrap_or_default())
    }
}

impl Drop for Gobgp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gobgpd.toml for a router at the client's addresses ([`ROUTER_AS`]) peering with every node
/// ([`NODES_AS`]) over IPv4 and IPv6, one family per session.
pub fn gobgp_config(network: &Network) -> String {
    gobgp_config_for(&network.client, &network.nodes)
}

/// [`gobgp_config`] for a router at `router` and the nodes `nodes`.
pub fn gobgp_config_for(router: &Host, nodes: &[Host]) -> String {
    let mut out = format!(
        "[global.config]\n  as = {ROUTER_AS}\n  router-id = \"{}\"\n  port = 179\n",
        router.ipv4
    );
    for neighbor in neighbors(nodes) {
        let family = if neighbor.is_ipv4() {
            "ipv4-unicast"
        } else {
            "ipv6-unicast"
        };
        out.push_str(&format!(
            "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{neighbor}\"\n    peer-as = {NODES_AS}\n  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{family}\"\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_neighbour_per_node_address_with_its_family() {
        let router = Host::planned("t", "client", 3);
        let text = gobgp_config_for(&router, &[Host::planned("t", "a", 11)]);
        assert!(
            text.starts_with(
                "[global.config]\n  as = 64513\n  router-id = \"198.18.0.3\"\n  port = 179\n"
            ),
            "{text}"
        );
        let neighbours: Vec<&str> = text.split("[[neighbors]]\n").skip(1).collect();
        assert_eq!(neighbours.len(), 2, "{text}");
        assert!(
            neighbours[0].contains("neighbor-address = \"198.18.0.11\"\n    peer-as = 64512\n")
        );
        assert!(neighbours[0].contains("afi-safi-name = \"ipv4-unicast\""));
        assert!(neighbours[1].contains("neighbor-address = \"2001:db8::b\""));
        assert!(neighbours[1].contains("afi-safi-name = \"ipv6-unicast\""));
    }

    #[test]
    fn paths_are_read_from_the_rib_of_the_prefix() {
        let answer = r#"{"198.18.100.10/32":[{"nlri":{"prefix":"198.18.100.10/32"}},{"nlri":{"prefix":"198.18.100.10/32"}}]}"#;
        assert_eq!(count_paths(answer, "198.18.100.10/32"), 2);
        assert_eq!(count_paths(answer, "198.18.100.11/32"), 0);
        assert_eq!(count_paths("", "198.18.100.10/32"), 0);
    }
}
