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
    /// The Juju secret holding the session's TCP MD5 password (`secret:...` URI or label), as
    /// typed after `password=`.
    pub password_secret: Option<String>,
    /// The password read from that secret (filled by the charm, never by parsing).
    pub password: Option<Password>,
}

/// A TCP MD5 password: never printed (its `Debug` is redacted and it has no `Display`).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// The longest TCP MD5 key Linux takes (`TCP_MD5SIG_MAXKEYLEN`).
pub const MAX_PASSWORD_LEN: usize = 80;

impl Password {
    /// Checks a password read from secret `reference` for peer `item`: 1 to 80 bytes, as the
    /// kernel takes a TCP MD5 key.
    pub fn new(value: String, item: &str, reference: &str) -> Result<Self, ConfigProblem> {
        if value.is_empty() || value.len() > MAX_PASSWORD_LEN {
            return Err(problem(
                "bgp-peers",
                item,
                format!(
                    "the password in secret {reference} must be 1 to {MAX_PASSWORD_LEN} bytes (a TCP MD5 key)"
                ),
            ));
        }
        Ok(Self(value))
    }

    /// The password itself, for the Kubernetes Secret the speakers read.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
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

/// `address:asn[:port]`, IPv6 in brackets, optionally followed by `password=<secret>` (a Juju
/// secret URI `secret:...` or a secret label; the secret's `password` key is the TCP MD5
/// password).
pub fn parse_bgp_peer(item: &str) -> Result<BgpPeerEntry, ConfigProblem> {
    let mut words = item.split_whitespace();
    let router = words.next().unwrap_or_default();
    let mut entry = parse_router(item, router)?;
    for option in words {
        match option.split_once('=') {
            Some(("password", reference)) if !reference.is_empty() => {
                if entry.password_secret.is_some() {
                    return Err(problem("bgp-peers", item, "password= is given twice"));
                }
                entry.password_secret = Some(reference.to_string());
            }
            _ => {
                return Err(problem(
                    "bgp-peers",
                    item,
                    format!(
                        "unknown option {option:?}: after the router only password=<secret URI or label> may follow"
                    ),
                ));
            }
        }
    }
    Ok(entry)
}

/// `address:asn[:port]` (the router part of `item`).
fn parse_router(item: &str, router: &str) -> Result<BgpPeerEntry, ConfigProblem> {
    let bad = |reason: &str| problem("bgp-peers", item, reason.to_string());
    let (address, rest) = if let Some(stripped) = router.strip_prefix('[') {
        let (addr, rest) = stripped
            .split_once(']')
            .ok_or_else(|| bad("missing ']' after the IPv6 address"))?;
        (
            addr,
            rest.strip_prefix(':')
                .ok_or_else(|| bad("expected [address]:asn"))?,
        )
    } else {
        router
            .split_once(':')
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
    Ok(BgpPeerEntry {
        address,
        asn,
        port,
        password_secret: None,
        password: None,
    })
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
    fn a_peer_may_name_the_secret_of_its_password() {
        let peer =
            parse_bgp_peer("198.18.0.1:64513:179  password=secret:cs2ke7rmp25c7ahmeq0g").unwrap();
        assert_eq!(peer.port, Some(179));
        assert_eq!(
            peer.password_secret.as_deref(),
            Some("secret:cs2ke7rmp25c7ahmeq0g")
        );
        assert_eq!(peer.password, None, "parsing never reads a secret");
        let labelled = parse_bgp_peer("[2001:db8::1]:64513 password=bgp-router-a").unwrap();
        assert_eq!(labelled.password_secret.as_deref(), Some("bgp-router-a"));
        for bad in [
            "198.18.0.1:64513 password=",
            "198.18.0.1:64513 secret=x",
            "198.18.0.1:64513 password=a password=b",
        ] {
            let err = parse_bgp_peer(bad).unwrap_err();
            assert_eq!((err.option, err.item.as_str()), ("bgp-peers", bad));
        }
    }

    #[test]
    fn passwords_are_checked_and_never_printed() {
        let password = Password::new("s3cret-md5".into(), "198.18.0.1:64513", "secret:x").unwrap();
        assert_eq!(password.expose(), "s3cret-md5");
        assert!(!format!("{password:?}").contains("s3cret"));
        let long = "x".repeat(MAX_PASSWORD_LEN + 1);
        let err = Password::new(long, "198.18.0.1:64513", "secret:x").unwrap_err();
        assert!(err.to_string().contains("1 to 80 bytes"), "{err}");
        assert!(Password::new(String::new(), "p", "secret:x").is_err());
    }

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
