//! The charm's options, validated. A bad value becomes a message that names the option and the
//! bad item; the charm then blocks and changes nothing in the cluster.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The raw options from config.yaml.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct RawConfig {
    /// Namespace of the MetalLB workload.
    pub namespace: String,
    /// Addresses MetalLB may hand out.
    pub iprange: String,
    /// Node labels selecting speaker nodes.
    pub node_selector: String,
    /// Image registry fallback.
    pub image_registry: String,
    /// Workload log level.
    pub log_level: String,
    /// Layer 2 interfaces.
    pub l2_interfaces: String,
    /// Local AS for BGP (0: BGP off).
    #[serde(default)]
    pub bgp_asn: i64,
    /// BGP routers.
    #[serde(default)]
    pub bgp_peers: String,
    /// Communities of the announced routes.
    #[serde(default)]
    pub bgp_communities: String,
    /// LOCAL_PREF (0: unset).
    #[serde(default)]
    pub bgp_local_pref: i64,
    /// IPv4 aggregation length.
    #[serde(default = "default_aggregation")]
    pub bgp_aggregation_length: i64,
}

fn default_aggregation() -> i64 {
    32
}

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

/// One problem with one option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {option} {item:?}: {reason}")]
pub struct ConfigProblem {
    /// The option.
    pub option: &'static str,
    /// The offending item (or the whole value).
    pub item: String,
    /// Why it is wrong and what to type instead.
    pub reason: String,
}

fn problem(option: &'static str, item: &str, reason: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        option,
        item: item.to_string(),
        reason: reason.into(),
    }
}

/// The validated options.
#[derive(Debug, Clone, PartialEq)]
pub struct CharmConfig {
    /// Namespace of the MetalLB workload.
    pub namespace: String,
    /// Pool addresses in canonical form.
    pub addresses: Vec<String>,
    /// Node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Image registry fallback.
    pub image_registry: String,
    /// Workload log level.
    pub log_level: String,
    /// Layer 2 interfaces (empty: all).
    pub l2_interfaces: Vec<String>,
    /// BGP mode (None: off).
    pub bgp: Option<BgpConfig>,
}

const LOG_LEVELS: [&str; 6] = ["all", "debug", "info", "warn", "error", "none"];

impl CharmConfig {
    /// Validates every option; `parse_addresses` validates `iprange`.
    pub fn validate(
        raw: &RawConfig,
        parse_addresses: impl Fn(&str) -> Result<Vec<String>, String>,
    ) -> Result<Self, ConfigProblem> {
        let namespace = raw.namespace.trim();
        if !is_dns_label(namespace) {
            return Err(problem(
                "namespace",
                namespace,
                "must be a DNS label: lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit",
            ));
        }
        let addresses = parse_addresses(&raw.iprange).map_err(|reason| ConfigProblem {
            option: "iprange",
            item: raw.iprange.clone(),
            reason,
        })?;
        let log_level = raw.log_level.trim().to_ascii_lowercase();
        if !LOG_LEVELS.contains(&log_level.as_str()) {
            return Err(problem(
                "log-level",
                &raw.log_level,
                format!("expected one of {}", LOG_LEVELS.join(", ")),
            ));
        }
        let image_registry = raw.image_registry.trim().trim_end_matches('/').to_string();
        if image_registry.is_empty() || image_registry.contains(char::is_whitespace) {
            return Err(problem(
                "image-registry",
                &raw.image_registry,
                "expected a registry such as ghcr.io/metallb-rs",
            ));
        }
        Ok(Self {
            namespace: namespace.to_string(),
            addresses,
            node_selector: parse_node_selector(&raw.node_selector)?,
            image_registry,
            log_level,
            l2_interfaces: parse_interfaces(&raw.l2_interfaces)?,
            bgp: parse_bgp(raw)?,
        })
    }
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
    let address: std::net::IpAddr = address.parse().map_err(|_| {
        bad("not an IP address (IPv6 addresses go in brackets: [2001:db8::1]:64513)")
    })?;
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

/// `a:b` with 16-bit halves, or `large:a:b:c` with 32-bit parts.
pub fn valid_community(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [a, b] => a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok(),
        ["large", a, b, c] => [a, b, c].iter().all(|p| p.parse::<u32>().is_ok()),
        _ => false,
    }
}

fn parse_bgp(raw: &RawConfig) -> Result<Option<BgpConfig>, ConfigProblem> {
    let items = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let peers = items(&raw.bgp_peers)
        .iter()
        .map(|p| parse_bgp_peer(p))
        .collect::<Result<Vec<_>, _>>()?;
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
    let communities = items(&raw.bgp_communities);
    if let Some(bad) = communities.iter().find(|c| !valid_community(c)) {
        return Err(problem(
            "bgp-communities",
            bad,
            "expected 65000:100 or large:64512:1:2",
        ));
    }
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
    Ok(Some(BgpConfig {
        asn,
        peers,
        communities,
        local_pref,
        aggregation_length,
    }))
}

fn is_dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

/// A label name or value part: at most 63, alphanumeric ends, `-_.` inside.
fn is_label_part(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || b"-_.".contains(b))
}

fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            prefix.len() <= 253 && prefix.split('.').all(is_dns_label) && is_label_part(name)
        }
        None => is_label_part(key),
    }
}

/// Parses `key=value key2=value2` (space-separated) into a node selector.
pub fn parse_node_selector(text: &str) -> Result<BTreeMap<String, String>, ConfigProblem> {
    let mut out = BTreeMap::new();
    for item in text.split_whitespace() {
        let Some((key, value)) = item.split_once('=') else {
            return Err(problem(
                "node-selector",
                item,
                "expected key=value (for example kubernetes.io/os=linux)",
            ));
        };
        if !is_label_key(key) {
            return Err(problem(
                "node-selector",
                item,
                format!("{key:?} is not a valid label key"),
            ));
        }
        if !value.is_empty() && !is_label_part(value) {
            return Err(problem(
                "node-selector",
                item,
                format!(
                    "{value:?} is not a valid label value (at most 63 of letters, digits, '-', '_', '.')"
                ),
            ));
        }
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(problem(
                "node-selector",
                item,
                format!("label {key:?} is given twice"),
            ));
        }
    }
    Ok(out)
}

/// Parses comma-separated Linux interface names.
pub fn parse_interfaces(text: &str) -> Result<Vec<String>, ConfigProblem> {
    let mut out: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let valid = item.len() < 16
            && item != "."
            && item != ".."
            && !item.contains(|c: char| c == '/' || c == ':' || c.is_whitespace());
        if !valid {
            return Err(problem(
                "l2-interfaces",
                item,
                "not a Linux interface name (1 to 15 characters, no '/', ':' or spaces)",
            ));
        }
        if out.iter().any(|i| i == item) {
            return Err(problem("l2-interfaces", item, "given twice"));
        }
        out.push(item.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawConfig {
        RawConfig {
            namespace: "metallb-system".into(),
            iprange: "198.18.0.240-198.18.0.247".into(),
            node_selector: "kubernetes.io/os=linux".into(),
            image_registry: "ghcr.io/metallb-rs/".into(),
            log_level: "INFO".into(),
            l2_interfaces: " eth0 , eth1 ".into(),
            bgp_asn: 0,
            bgp_peers: String::new(),
            bgp_communities: String::new(),
            bgp_local_pref: 0,
            bgp_aggregation_length: 32,
        }
    }

    fn ok_addresses(text: &str) -> Result<Vec<String>, String> {
        Ok(vec![text.to_string()])
    }

    #[test]
    fn a_good_config_is_normalised() {
        let c = CharmConfig::validate(&raw(), ok_addresses).unwrap();
        assert_eq!(c.log_level, "info");
        assert_eq!(c.image_registry, "ghcr.io/metallb-rs");
        assert_eq!(c.l2_interfaces, ["eth0", "eth1"]);
        assert_eq!(c.node_selector["kubernetes.io/os"], "linux");
    }

    #[test]
    fn iprange_errors_name_the_option() {
        let err =
            CharmConfig::validate(&raw(), |_| Err("\"x\": not an address".into())).unwrap_err();
        assert_eq!(err.option, "iprange");
        assert!(err.to_string().starts_with("invalid iprange"), "{err}");
    }

    /// A change to the raw config, the option expected to be named, and the item.
    type Case = (fn(&mut RawConfig), &'static str, &'static str);

    #[test]
    fn each_option_names_its_bad_item() {
        let cases: Vec<Case> = vec![
            (|r| r.namespace = "Metallb".into(), "namespace", "Metallb"),
            (|r| r.namespace = "".into(), "namespace", ""),
            (|r| r.log_level = "loud".into(), "log-level", "loud"),
            (|r| r.image_registry = " ".into(), "image-registry", " "),
            (
                |r| r.node_selector = "a=b nolabel".into(),
                "node-selector",
                "nolabel",
            ),
            (
                |r| r.node_selector = "-bad=x".into(),
                "node-selector",
                "-bad=x",
            ),
            (
                |r| r.node_selector = "a=b a=c".into(),
                "node-selector",
                "a=c",
            ),
            (|r| r.node_selector = "k=v!".into(), "node-selector", "k=v!"),
            (
                |r| r.l2_interfaces = "eth0,eth0:1".into(),
                "l2-interfaces",
                "eth0:1",
            ),
            (
                |r| r.l2_interfaces = "averyveryverylongname".into(),
                "l2-interfaces",
                "averyveryverylongname",
            ),
            (
                |r| r.l2_interfaces = "eth0, eth0".into(),
                "l2-interfaces",
                "eth0",
            ),
        ];
        for (change, option, item) in cases {
            let mut r = raw();
            change(&mut r);
            let err = CharmConfig::validate(&r, ok_addresses).unwrap_err();
            assert_eq!((err.option, err.item.as_str()), (option, item), "{err}");
        }
    }

    #[test]
    fn bgp_options_are_validated_and_name_the_bad_entry() {
        let mut r = raw();
        assert_eq!(CharmConfig::validate(&r, ok_addresses).unwrap().bgp, None);
        r.bgp_asn = 64512;
        r.bgp_peers = "192.168.1.1:64513, [2001:db8::1]:64513:1179".into();
        r.bgp_communities = "65000:100, large:64512:1:2".into();
        r.bgp_local_pref = 150;
        let bgp = CharmConfig::validate(&r, ok_addresses)
            .unwrap()
            .bgp
            .unwrap();
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
            let err = CharmConfig::validate(&bad, ok_addresses).unwrap_err();
            assert_eq!((err.option, err.item.as_str()), (option, item), "{err}");
        }
    }

    #[test]
    fn empty_selector_and_interfaces_are_allowed() {
        let mut r = raw();
        r.node_selector = "  ".into();
        r.l2_interfaces = "".into();
        let c = CharmConfig::validate(&r, ok_addresses).unwrap();
        assert!(c.node_selector.is_empty() && c.l2_interfaces.is_empty());
        assert!(
            parse_node_selector("node-role.kubernetes.io/lb=")
                .unwrap()
                .contains_key("node-role.kubernetes.io/lb")
        );
    }
}
