//! Which network interfaces may answer ARP and NDP, following upstream's rules: the name does
//! not match the exclude list, the interface is up (and has carrier), not enslaved to a bridge or bond, and has
//! no NOARP flag; ARP needs broadcast, NDP needs an IPv6 link-local address. Each interface
//! comes with its networks (its addresses with their prefixes): an address is answered for
//! only on interfaces on its network, unless the advertisement names the interface
//! ([`metallb_core::l2::interface`]).

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use anyhow::{Context, Result};
use metallb_core::iprange::Cidr;
use metallb_core::l2::election::LinkView;
use metallb_core::l2::{DEFAULT_EXCLUDED_INTERFACES, Mac};
use regex::Regex;
use serde::Deserialize;

/// Where upstream mounts the exclude list (ConfigMap `metallb-excludel2`), as the charm does.
pub const EXCLUDE_FILE: &str = metallb_api::deploy::EXCLUDE_FILE;

const IFF_NOARP: u32 = 0x80;

/// An interface that can answer for announced addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// Hardware address.
    pub mac: Mac,
    /// Answers ARP (has broadcast).
    pub arp: bool,
    /// The IPv6 link-local address, when NDP can be answered.
    pub link_local: Option<Ipv6Addr>,
    /// The networks of its addresses (address and prefix length).
    pub networks: Vec<Cidr>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExcludeFile {
    #[serde(default)]
    announced_interfaces_to_exclude: Vec<String>,
}

/// The exclude regex from `path` (YAML with `announcedInterfacesToExclude`), or upstream's
/// defaults when the file does not exist.
pub fn exclude_regex(path: &Path) -> Result<Regex> {
    let patterns: Vec<String> = match std::fs::read_to_string(path) {
        Ok(text) => {
            let file: ExcludeFile = serde_yaml::from_str(&text)
                .with_context(|| format!("cannot parse {}", path.display()))?;
            file.announced_interfaces_to_exclude
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => DEFAULT_EXCLUDED_INTERFACES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    if patterns.is_empty() {
        // Matches nothing.
        return Ok(Regex::new("$^")?);
    }
    let joined: Vec<String> = patterns.iter().map(|p| format!("({p})")).collect();
    Regex::new(&joined.join("|"))
        .with_context(|| format!("bad interface exclude pattern in {}", path.display()))
}

fn enslaved(name: &str) -> bool {
    Path::new("/sys/class/net")
        .join(name)
        .join("master")
        .exists()
}

/// The interfaces of this network namespace that may answer.
pub fn scan(exclude: &Regex) -> Vec<Interface> {
    pnet_datalink::interfaces()
        .into_iter()
        .filter(|i| !exclude.is_match(&i.name))
        .filter(|i| i.is_up() && i.is_running() && !i.is_loopback())
        .filter(|i| i.flags & IFF_NOARP == 0)
        .filter(|i| !enslaved(&i.name))
        .filter_map(|i| {
            let mac = i.mac?.octets();
            if mac == [0; 6] {
                return None;
            }
            let link_local = i.ips.iter().find_map(|net| match net.ip() {
                IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(v6),
                _ => None,
            });
            let arp = i.is_broadcast();
            let networks = i
                .ips
                .iter()
                .filter_map(|net| Cidr::new(net.ip(), net.prefix()))
                .collect();
            (arp || link_local.is_some()).then(|| Interface {
                name: i.name.clone(),
                index: i.index,
                mac,
                arp,
                link_local,
                networks,
            })
        })
        .collect()
}

/// The links of `found`, as this node publishes them to the election.
pub fn links(found: &[Interface]) -> Vec<LinkView> {
    found
        .iter()
        .map(|i| LinkView {
            name: i.name.clone(),
            networks: i.networks.clone(),
        })
        .collect()
}

/// This node's address of the other family on the interface that holds `local`: an IPv4
/// address for an IPv6 one, a global (not link-local) IPv6 address for an IPv4 one. The next
/// hop of routes of the other family on a dual-stack BGP session.
pub fn sibling_address(local: IpAddr) -> Option<IpAddr> {
    pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.ips.iter().any(|net| net.ip() == local))?
        .ips
        .iter()
        .map(|net| net.ip())
        .find(|ip| match (local, ip) {
            (IpAddr::V6(_), IpAddr::V4(_)) => true,
            (IpAddr::V4(_), IpAddr::V6(v6)) => !v6.is_unicast_link_local(),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_excludes_match_upstream_names() {
        let re = exclude_regex(Path::new("/nonexistent/excludel2.yaml")).unwrap();
        for name in ["lo", "veth1234", "docker0", "kube-ipvs0", "cali123", "cni0"] {
            assert!(re.is_match(name), "{name} should be excluded");
        }
        for name in ["eth0", "ens3", "bond0", "lom"] {
            assert!(!re.is_match(name), "{name} should not be excluded");
        }
    }

    #[test]
    fn the_exclude_file_replaces_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("excludel2.yaml");
        std::fs::write(
            &path,
            "announcedInterfacesToExclude: ['^eth1$', '^mgmt.*']\n",
        )
        .unwrap();
        let re = exclude_regex(&path).unwrap();
        assert!(re.is_match("eth1") && re.is_match("mgmt0"));
        assert!(!re.is_match("eth0") && !re.is_match("veth0"));
        std::fs::write(&path, "announcedInterfacesToExclude: ['(']\n").unwrap();
        assert!(exclude_regex(&path).is_err());
    }
}
