//! A test network of network namespaces: "node" namespaces, a "client" namespace and an "api"
//! namespace for the control plane, all on one bridge that lives in its own "hub" namespace.
//! The root namespace gets no address or route on it: processes in this one reach the network
//! only through threads that enter a namespace ([`in_netns`](crate::in_netns), [`spawn_in_netns`](crate::spawn_in_netns)) and through
//! loopback tunnels ([`forward`](crate::forward)).
//!
//! Addresses come from the benchmarking and documentation ranges: hosts in 198.18.0.0/16 and
//! 2001:db8::/64; [`POOL_V4`] and [`POOL_V6`] are on-link, accepted locally by every node (like
//! kube-proxy's IPVS addresses with strictARP: the kernel does not answer ARP/NDP for them).

use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::Result;

use crate::namespace::{namespaces_with_prefix, netns_exec, remove_namespace, run, write_sysctl};

/// IPv4 addresses for LoadBalancer pools (on-link on the test network).
pub const POOL_V4: &str = "198.18.100.0/24";
/// IPv6 addresses for LoadBalancer pools (on-link on the test network).
pub const POOL_V6: &str = "2001:db8::64:0/112";
/// Prefix length of the host network (IPv4).
const HOST_PREFIX_V4: u8 = 16;
/// Prefix length of the host network (IPv6).
const HOST_PREFIX_V6: u8 = 64;

/// One namespace attached to the test bridge.
#[derive(Debug, Clone)]
pub struct Host {
    /// Node name (for nodes) or role.
    pub name: String,
    /// The network namespace.
    pub netns: String,
    /// IPv4 address on `eth0`.
    pub ipv4: Ipv4Addr,
    /// IPv6 address on `eth0`.
    pub ipv6: Ipv6Addr,
    /// MAC address of `eth0`.
    pub mac: String,
}

/// The test network; every namespace and every process in them is removed on drop.
pub struct Network {
    /// Prefix of every namespace name.
    pub prefix: String,
    /// The control plane's namespace.
    pub api: Host,
    /// The client namespace.
    pub client: Host,
    /// The node namespaces.
    pub nodes: Vec<Host>,
    /// The namespace of the bridges (the switch): ports `p<i>` on `br0`, `s<i>` on `br1`.
    pub hub: String,
}

impl Host {
    /// The address plan: host `index` of the network `prefix` is namespace `<prefix>-<name>`
    /// with 198.18.0.`index`, 2001:db8::`index` (hexadecimal) and MAC 02:00:00:00:00:`index`.
    pub fn planned(prefix: &str, name: &str, index: u8) -> Host {
        Host {
            name: name.to_string(),
            netns: format!("{prefix}-{name}"),
            ipv4: Ipv4Addr::new(198, 18, 0, index),
            ipv6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(index)),
            mac: format!("02:00:00:00:00:{index:02x}"),
        }
    }
}

impl Network {
    /// Creates the network: namespaces `<prefix>-hub`, `-api`, `-client` and one per node
    /// name. Namespaces left over from an earlier network with this prefix are removed first.
    pub fn create(prefix: &str, node_names: &[&str]) -> Result<Self> {
        for stale in namespaces_with_prefix(&format!("{prefix}-")) {
            remove_namespace(&stale);
        }
        let hub = format!("{prefix}-hub");
        let nodes: Vec<Host> = node_names
            .iter()
            .enumerate()
            .map(|(i, name)| Host::planned(prefix, name, 11 + i as u8))
            .collect();
        let network = Network {
            prefix: prefix.to_string(),
            api: Host::planned(prefix, "api", 2),
            client: Host::planned(prefix, "client", 3),
            nodes,
            hub: hub.clone(),
        };
        // From here on, a failure removes what was created (Drop).
        run("ip", &["netns", "add", &hub])?;
        netns_exec(&hub, &["ip", "link", "set", "lo", "up"])?;
        netns_exec(
            &hub,
            &[
                "ip",
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        )?;
        netns_exec(&hub, &["ip", "link", "set", "br0", "up"])?;
        for (i, host) in network.hosts().enumerate() {
            network.attach(host, &format!("p{i}"))?;
        }
        for node in &network.nodes {
            network.prepare_node(node)?;
        }
        Ok(network)
    }

    /// Adds a host `<prefix>-<name>` on the main segment (198.18.0.`index`/16, MAC
    /// 02:00:00:00:00:`index`), not a node: e.g. a foreign host on the LAN. Removed with the
    /// network.
    pub fn add_host(&self, name: &str, index: u8) -> Result<Host> {
        let host = Host::planned(&self.prefix, name, index);
        self.attach(&host, &format!("x{index}"))?;
        Ok(host)
    }

    /// Every host: api, client, nodes.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        [&self.api, &self.client]
            .into_iter()
            .chain(self.nodes.iter())
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&Host> {
        self.nodes.iter().find(|n| n.name == name)
    }

    fn attach(&self, host: &Host, port: &str) -> Result<()> {
        let ns = host.netns.as_str();
        run("ip", &["netns", "add", ns])?;
        netns_exec(
            &self.hub,
            &[
                "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        )?;
        netns_exec(
            &self.hub,
            &["ip", "link", "set", port, "master", "br0", "up"],
        )?;
        write_sysctl(ns, "net.ipv6.conf.eth0.accept_dad", "0")?;
        netns_exec(ns, &["ip", "link", "set", "eth0", "address", &host.mac])?;
        let v4 = format!("{}/{HOST_PREFIX_V4}", host.ipv4);
        let v6 = format!("{}/{HOST_PREFIX_V6}", host.ipv6);
        netns_exec(ns, &["ip", "addr", "add", &v4, "dev", "eth0"])?;
        netns_exec(
            ns,
            &["ip", "-6", "addr", "add", &v6, "dev", "eth0", "nodad"],
        )?;
        netns_exec(ns, &["ip", "link", "set", "eth0", "up"])?;
        netns_exec(ns, &["ip", "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// A node accepts the pool addresses locally without answering ARP/NDP for them.
    fn prepare_node(&self, node: &Host) -> Result<()> {
        let ns = node.netns.as_str();
        for key in ["all", "eth0"] {
            write_sysctl(ns, &format!("net.ipv4.conf.{key}.arp_ignore"), "1")?;
            write_sysctl(ns, &format!("net.ipv4.conf.{key}.arp_announce"), "2")?;
        }
        netns_exec(ns, &["ip", "route", "add", "local", POOL_V4, "dev", "lo"])?;
        netns_exec(
            ns,
            &["ip", "-6", "route", "add", "local", POOL_V6, "dev", "lo"],
        )?;
        Ok(())
    }

    /// Adds a second network segment: bridge `br1` with an `eth1` on every node (no address)
    /// and on the client (198.18.200.3/24), for interface selection tests.
    pub fn add_second_segment(&self) -> Result<()> {
        netns_exec(
            &self.hub,
            &[
                "ip",
                "link",
                "add",
                "br1",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        )?;
        netns_exec(&self.hub, &["ip", "link", "set", "br1", "up"])?;
        let hosts: Vec<&Host> = std::iter::once(&self.client)
            .chain(self.nodes.iter())
            .collect();
        for (i, host) in hosts.into_iter().enumerate() {
            let ns = host.netns.as_str();
            let port = format!("s{i}");
            netns_exec(
                &self.hub,
                &[
                    "ip", "link", "add", &port, "type", "veth", "peer", "name", "eth1", "netns", ns,
                ],
            )?;
            netns_exec(
                &self.hub,
                &["ip", "link", "set", &port, "master", "br1", "up"],
            )?;
            write_sysctl(ns, "net.ipv6.conf.eth1.accept_dad", "0")?;
            netns_exec(ns, &["ip", "link", "set", "eth1", "up"])?;
        }
        // The client needs a source address there for arping.
        netns_exec(
            &self.client.netns,
            &["ip", "addr", "add", "198.18.200.3/24", "dev", "eth1"],
        )?;
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let names: Vec<String> = self.hosts().map(|h| h.netns.clone()).collect();
        for ns in names {
            remove_namespace(&ns);
        }
        remove_namespace(&self.hub);
        // Hosts added later (`add_host`).
        for ns in namespaces_with_prefix(&format!("{}-", self.prefix)) {
            remove_namespace(&ns);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_planned_from_its_index() {
        let host = Host::planned("t1", "node-a", 11);
        assert_eq!(host.name, "node-a");
        assert_eq!(host.netns, "t1-node-a");
        assert_eq!(host.ipv4, Ipv4Addr::new(198, 18, 0, 11));
        assert_eq!(host.ipv6.to_string(), "2001:db8::b");
        assert_eq!(host.mac, "02:00:00:00:00:0b");
    }

    #[test]
    fn every_planned_host_is_on_the_host_network_inside_the_test_ranges() {
        for index in 1..=u8::MAX {
            let host = Host::planned("t", "h", index);
            // 198.18.0.0/16 (HOST_PREFIX_V4) inside 198.18.0.0/15.
            assert_eq!(host.ipv4.octets()[..2], [198, 18], "{host:?}");
            assert_eq!(HOST_PREFIX_V4, 16);
            // 2001:db8::/64 (HOST_PREFIX_V6) inside 2001:db8::/32.
            assert_eq!(host.ipv6.segments()[..4], [0x2001, 0xdb8, 0, 0], "{host:?}");
            assert_eq!(HOST_PREFIX_V6, 64);
            // A locally administered unicast MAC.
            assert!(host.mac.starts_with("02:"), "{host:?}");
        }
    }
}
