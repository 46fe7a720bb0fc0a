//! Where an announced address is answered for: the rule that keeps Layer 2 announcements on the
//! networks they belong to.
//!
//! Upstream MetalLB answers ARP/NDP for an address on every eligible interface unless the
//! L2Advertisement lists `interfaces`. That leaks the address onto networks it does not belong
//! to (a management network, a storage VLAN) and lets clients there steer traffic to the node.
//! Here an address is answered for, and announced gratuitously, on an interface when:
//! * the L2Advertisement names interfaces: the interface is one of them (exactly upstream's
//!   rule: naming an interface is how an address is announced on a network it is not part
//!   of); or
//! * it names none: one of the interface's own networks (address and prefix) contains the
//!   address.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::iprange::Cidr;

/// Whether `ip` is answered for on interface `name`, whose networks are `networks`, when the
/// advertisements ask for `requested` interfaces (`None`: they name none).
pub fn answers_on(
    ip: IpAddr,
    requested: Option<&BTreeSet<String>>,
    name: &str,
    networks: &[Cidr],
) -> bool {
    match requested {
        Some(names) => names.contains(name),
        None => networks.iter().any(|network| network.contains(ip)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        let (ip, len) = text.split_once('/').unwrap();
        Cidr::new(ip.parse().unwrap(), len.parse().unwrap()).unwrap()
    }

    #[test]
    fn without_names_only_interfaces_on_the_address_network_answer() {
        let eth0 = [
            cidr("198.18.0.11/16"),
            cidr("2001:db8::b/64"),
            cidr("fe80::1/64"),
        ];
        let eth1 = [cidr("198.18.200.11/24")];
        let v4: IpAddr = "198.18.100.10".parse().unwrap();
        let v6: IpAddr = "2001:db8::64:a".parse().unwrap();
        assert!(answers_on(v4, None, "eth0", &eth0));
        assert!(answers_on(v6, None, "eth0", &eth0));
        assert!(!answers_on(v4, None, "eth1", &eth1));
        assert!(!answers_on(v6, None, "eth1", &eth1));
        // An interface without addresses is on no network.
        assert!(!answers_on(v4, None, "eth2", &[]));
    }

    #[test]
    fn named_interfaces_answer_whatever_their_networks() {
        let names = BTreeSet::from(["eth1".to_string()]);
        let v4: IpAddr = "198.18.100.10".parse().unwrap();
        assert!(answers_on(v4, Some(&names), "eth1", &[]));
        assert!(!answers_on(
            v4,
            Some(&names),
            "eth0",
            &[cidr("198.18.0.11/16")]
        ));
    }
}
