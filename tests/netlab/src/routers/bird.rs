//! BIRD 2 in a namespace, and its configuration.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

use crate::namespace::netns_exec;
use crate::network::{Host, Network};
use crate::process::spawn_tied;
use crate::routers::plan::{NODES_AS, ROUTER_AS, neighbors};
use crate::routers::router::Router;

/// The name of the BGP protocol of neighbour `i` in [`bird_config`]; routes learnt from it carry
/// `[peer<i> ...]` in `show route`.
const PROTOCOL: &str = "peer";

/// `bird` running in a namespace (killed when dropped, or when the calling thread ends).
pub struct Bird {
    netns: String,
    socket: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Bird {
    /// Starts `bird` in `netns` with `config` (a bird.conf), in the foreground of a tied process.
    pub fn start(netns: &str, config: &str) -> Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a directory for BIRD")?;
        let conf = dir.path().join("bird.conf");
        let socket = dir.path().join("bird.ctl");
        std::fs::write(&conf, config).context("cannot write bird.conf")?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns, "bird", "-f", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn_tied(&mut cmd).context("cannot start bird (is bird2 installed?)")?;
        Ok(Bird {
            netns: netns.to_string(),
            socket,
            child,
            _dir: dir,
        })
    }

    /// Runs a `birdc` command; its output.
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        let socket = self.socket.to_string_lossy().into_owned();
        let mut all = vec!["birdc", "-s", &socket];
        all.extend_from_slice(args);
        let output = netns_exec(&self.netns, &all)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// How many paths BIRD holds for `prefix` (learnt from the neighbours of [`bird_config`]).
    pub fn path_count(&self, prefix: &str) -> Result<usize> {
        Ok(count_paths(&self.birdc(&["show", "route", prefix])?))
    }
}

/// The paths in a `birdc show route` answer: one line per route learnt from a [`PROTOCOL`]
/// neighbour.
fn count_paths(text: &str) -> usize {
    let marker = format!("[{PROTOCOL}");
    text.lines().filter(|l| l.contains(&marker)).count()
}

impl Router for Bird {
    fn diagnostics(&self) -> String {
        format!(
            "BIRD:\n{}",
            self.birdc(&["show", "protocols"]).unwrap_or_default()
        )
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bird.conf for a router at the client's addresses ([`ROUTER_AS`]) importing every route
/// from every node ([`NODES_AS`]) over IPv4 and IPv6, exporting none.
pub fn bird_config(network: &Network) -> String {
    bird_config_for(&network.client, &network.nodes)
}

/// [`bird_config`] for a router at `router` and the nodes `nodes`.
pub fn bird_config_for(router: &Host, nodes: &[Host]) -> String {
    let mut out = format!(
        "router id {};\nprotocol device {{}}\nipv4 table master4;\nipv6 table master6;\n",
        router.ipv4
    );
    for (i, neighbor) in neighbors(nodes).into_iter().enumerate() {
        let (local, family) = if neighbor.is_ipv4() {
            (router.ipv4.to_string(), "ipv4")
        } else {
            (router.ipv6.to_string(), "ipv6")
        };
        out.push_str(&format!(
            "protocol bgp {PROTOCOL}{i} {{ local {local} as {ROUTER_AS}; neighbor {neighbor} as {NODES_AS}; {family} {{ import all; export none; }}; }}\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_protocol_per_neighbour_with_its_family_and_local_address() {
        let router = Host::planned("t", "client", 3);
        let text = bird_config_for(&router, &[Host::planned("t", "a", 11)]);
        assert_eq!(
            text,
            "router id 198.18.0.3;\nprotocol device {}\nipv4 table master4;\nipv6 table master6;\n\
             protocol bgp peer0 { local 198.18.0.3 as 64513; neighbor 198.18.0.11 as 64512; ipv4 { import all; export none; }; }\n\
             protocol bgp peer1 { local 2001:db8::3 as 64513; neighbor 2001:db8::b as 64512; ipv6 { import all; export none; }; }\n"
        );
    }

    #[test]
    fn paths_are_the_lines_of_the_neighbours() {
        let answer = "BIRD 2.0.12 ready.\nTable master4:\n198.18.100.10/32     unicast [peer0 12:00:00.000] * (100) [AS64512i]\n\tvia 198.18.0.11 on eth0\n                     unicast [peer2 12:00:01.000] (100) [AS64512i]\n\tvia 198.18.0.12 on eth0\n";
        assert_eq!(count_paths(answer), 2);
        assert_eq!(count_paths("BIRD 2.0.12 ready.\nNetwork not found\n"), 0);
    }
}
