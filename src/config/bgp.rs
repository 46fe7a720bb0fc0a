//! The BGP options: the local AS, the routers, and what the announced routes carry. A bad
//! entry is named; what the API server would refuse (a duplicate community, an IPv4-mapped
//! address) is refused here first.

use std::net::IpAddr;

use metallb_core::bgp::aggregation::{self, AggregationError, AggregationLengths};
use metallb_core::bgp::community::Community;
use metallb_core::iprange::IpRange;

use super::{ConfigProblem, RawConfig, problem};

/// One BGP router from `bgp-peers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpPeerEntry {
    /// Its address.
    pub address: std::net::IpAddr,
    /// Its AS.
    pub asn: u32,
    /// Its port (default 179).
    pub port: Option<u16>,
}

/// BGP mode, when `bgp-asn` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpConfig {
    /// Local AS.
    pub asn: u32,
    /// Routers.
    pub peers: Vec<BgpPeerEntry>,
    /// Communities (as typed, validated).
    pub communities: Vec<String>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// IPv4 aggregation length.
    pub aggregation_length: u8,
}

/// `address:asn[:port]`, IPv6 in brackets.
pub fn parse_bgp_peer(item: &str) -> Result<BgpPeerEntry, ConfigProblem> {
    let bad = |reason: &str| problem("bgp-peers", item, reason.to_string());
    let (address, rest) = if let Some(stripped) = item.strip_prefix('[') {
        let (addr, rest) = stripped
            .split_once(']')
            .ok_or_else(|| bad("missing ']' after the IPv6 address"))?;
        (
            addr,
            rest.strip_prefix(':')
                .ok_or_else(|| bad("expected [address]:asn"))?,
        )
    } else {
        item.split_once(':')
            .ok_or_else(|| bad("expected address:asn, e.g. 192.168.1.1:64513"))?
    };
    let address: IpAddr = address.parse().map_err(|_| {
        bad("not an IP address (IPv6 addresses go in brackets: [2001:db8::1]:64513)")
    })?;
    if let Some(reason) = unusable_peer(address) {
        return Err(bad(reason));
    }
    let mut parts = rest.split(':');
    let asn = parts
        .next()
        .and_then(|a| a.parse::<u32>().ok())
        .filter(|a| *a != 0)
        .ok_or_else(|| bad("the AS number must be 1 to 4294967295"))?;
    let port = match parts.next() {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be 1 to 65535"))?,
        ),
    };
    if parts.next().is_some() {
        return Err(bad(
            "too many ':' parts: expected address:asn or address:asn:port",
        ));
    }
    Ok(BgpPeerEntry { address, asn, port })
}

/// Why a router cannot be at `address`, if it cannot.
fn unusable_peer(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
            Some("an IPv4-mapped IPv6 address, which Kubernetes refuses: write the IPv4 address")
        }
        ip if ip.is_unspecified() => Some("the unspecified address is not a router"),
        ip if ip.is_multicast() => Some("a multicast address is not a router"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address is not a router"),
        _ => None,
    }
}

/// The most communities a BGPAdvertisement takes, and the longest one (the CRD's limits).
const MAX_COMMUNITIES: usize = 64;
const MAX_COMMUNITY_LEN: usize = 64;

/// Validates communities: each well-formed, none twice, no more than the CRD allows.
fn parse_communities(items: &[String]) -> Result<Vec<String>, ConfigProblem> {
    if items.len() > MAX_COMMUNITIES {
        return Err(problem(
            "bgp-communities",
            &items[MAX_COMMUNITIES],
            format!("at most {MAX_COMMUNITIES} communities"),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if item.len() > MAX_COMMUNITY_LEN || item.parse::<Community>().is_err() {
            return Err(problem(
                "bgp-communities",
                item,
                "expected 65000:100 or large:64512:1:2",
            ));
        }
        if items[..i].contains(item) {
            return Err(problem("bgp-communities", item, "given twice"));
        }
    }
    Ok(items.to_vec())
}

/// Refuses an aggregation length that would announce addresses outside the pool, with the rule
/// the speakers apply to BGPAdvertisements (`metallb_core::bgp::aggregation`).
fn check_aggregation(length: u8, pool: &[IpRange]) -> Result<(), ConfigProblem> {
    let lengths = AggregationLengths {
        v4: length,
        ..AggregationLengths::default()
    };
    match aggregation::check_aggregation(pool, lengths) {
        Ok(()) => Ok(()),
        Err(AggregationError::ShorterThanPool { cidr, .. }) => Err(problem(
            "bgp-aggregation-length",
            &length.to_string(),
            format!(
                "shorter than the pool's {cidr}: routes would announce addresses outside the pool; use at least {}",
                cidr.prefix_len()
            ),
        )),
        Err(err) => Err(problem(
            "bgp-aggregation-length",
            &length.to_string(),
            err.to_string(),
        )),
    }
}

/// The BGP options; `pool` (the validated `iprange`) bounds the aggregation length.
pub fn parse_bgp(raw: &RawConfig, pool: &[IpRange]) -> Result<Option<BgpConfig>, ConfigProblem> {
    let items = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let mut peers: Vec<BgpPeerEntry> = Vec::new();
    for item in items(&raw.bgp_peers) {
        let peer = parse_bgp_peer(&item)?;
        if peers
            .iter()
            .any(|p| p.address == peer.address && p.port.unwrap_or(179) == peer.port.unwrap_or(179))
        {
            return Err(problem("bgp-peers", &item, "this router is given twice"));
        }
        peers.push(peer);
    }
    if raw.bgp_asn == 0 {
        if !peers.is_empty() {
            return Err(problem(
                "bgp-asn",
                "0",
                "set bgp-asn (the local AS) to peer with bgp-peers",
            ));
        }
        return Ok(None);
    }
    let asn = u32::try_from(raw.bgp_asn).ok().ok_or_else(|| {
        problem(
            "bgp-asn",
            &raw.bgp_asn.to_string(),
            "must be 1 to 4294967295, or 0 for no BGP",
        )
    })?;
    let communities = parse_communities(&items(&raw.bgp_communities))?;
    let local_pref = match raw.bgp_local_pref {
        0 => None,
        n => Some(u32::try_from(n).map_err(|_| {
            problem(
                "bgp-local-pref",
                &n.to_string(),
                "must be 0 (unset) to 4294967295",
            )
        })?),
    };
    let aggregation_length = u8::try_from(raw.bgp_aggregation_length)
        .ok()
        .filter(|l| (1..=32).contains(l))
        .ok_or_else(|| {
            problem(
                "bgp-aggregation-length",
                &raw.bgp_aggregation_length.to_string(),
                "must be 1 to 32",
            )
        })?;
    check_aggregation(aggregation_length, pool)?;
    Ok(Some(BgpConfig {
        asn,
        peers,
        communities,
        local_pref,
        aggregation_length,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::CharmConfig;
    use super::super::tests::raw;
    use super::*;

    #[test]
    fn bgp_options_are_validated_and_name_the_bad_entry() {
        let mut r = raw();
        assert_eq!(CharmConfig::validate(&r).unwrap().bgp, None);
        r.bgp_asn = 64512;
        r.bgp_peers = "192.168.1.1:64513, [2001:db8::1]:64513:1179".into();
        r.bgp_communities = "65000:100, large:64512:1:2".into();
        r.bgp_local_pref = 150;
        let bgp = CharmConfig::validate(&r).unwrap().bgp.unwrap();
        assert_eq!(bgp.peers.len(), 2);
        assert_eq!(bgp.peers[1].port, Some(1179));
        assert_eq!(bgp.local_pref, Some(150));
        for (mutate, option, item) in [
            (
                Box::new(|r: &mut RawConfig| r.bgp_peers = "192.168.1.1:64513, 10.0.0.1".into())
                    as Box<dyn Fn(&mut RawConfig)>,
                "bgp-peers",
                "10.0.0.1",
            ),
            (
                Box::new(|r: &mut RawConfig| r.bgp_peers = "2001:db8::1:64513".into()),
                "bgp-peers",
                "2001:db8::1:64513",
            ),
            (
                Box::new(|r: &mut RawConfig| r.bgp_peers = "192.168.1.1:0".into()),
                "bgp-peers",
                "192.168.1.1:0",
            ),
            (
                Box::new(|r: &mut RawConfig| r.bgp_communities = "65000:100, 70000:1".into()),
                "bgp-communities",
                "70000:1",
            ),
            (
                Box::new(|r: &mut RawConfig| r.bgp_aggregation_length = 33),
                "bgp-aggregation-length",
                "33",
            ),
            (
                Box::new(|r: &mut RawConfig| r.bgp_asn = -1),
                "bgp-asn",
                "-1",
            ),
            (
                Box::new(|r: &mut RawConfig| {
                    r.bgp_asn = 0;
                }),
                "bgp-asn",
                "0",
            ),
        ] {
            let mut bad = r.clone();
            mutate(&mut bad);
            let err = CharmConfig::validate(&bad).unwrap_err();
            assert_eq!((err.option, err.item.as_str()), (option, item), "{err}");
        }
    }
}
