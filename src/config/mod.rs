//! The charm's options, validated. A bad value becomes a message that names the option and the
//! bad item; the charm then blocks and changes nothing in the cluster.

mod addresses;
mod bgp;
mod workloads;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use addresses::parse_iprange;
pub use bgp::{BgpConfig, BgpPeerEntry, MAX_PASSWORD_LEN, Password, parse_bgp, parse_bgp_peer};
pub use workloads::{
    Resources, TolerationItem, WorkloadOptions, parse_tolerations, parse_workloads,
};

/// The raw options from config.yaml.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
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
    /// loadBalancerClass of the Services MetalLB serves.
    #[serde(default)]
    pub lb_class: String,
    /// Extra tolerations of the speaker pods.
    #[serde(default)]
    pub speaker_tolerations: String,
    /// Controller resource requests.
    #[serde(default)]
    pub controller_requests: String,
    /// Controller resource limits.
    #[serde(default)]
    pub controller_limits: String,
    /// Speaker resource requests.
    #[serde(default)]
    pub speaker_requests: String,
    /// Speaker resource limits.
    #[serde(default)]
    pub speaker_limits: String,
    /// PriorityClass of the workload pods.
    #[serde(default)]
    pub priority_class: String,
}

fn default_aggregation() -> i64 {
    32
}

/// One problem with one option: `invalid <option> "<item>": <reason>`, or for an option that
/// must be set, `set <option> ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigProblem {
    /// The option.
    pub option: &'static str,
    /// The offending item (or the whole value).
    pub item: String,
    /// Why it is wrong and what to type instead.
    pub reason: String,
    /// Whether the option is simply unset (the reason then says what to set).
    pub missing: bool,
}

impl ConfigProblem {
    /// An option that must be set; `how` starts with "set <option>".
    pub fn missing(option: &'static str, how: String) -> Self {
        Self {
            option,
            item: String::new(),
            reason: how,
            missing: true,
        }
    }
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.missing {
            f.write_str(&self.reason)
        } else {
            write!(
                f,
                "invalid {} {:?}: {}",
                self.option, self.item, self.reason
            )
        }
    }
}

fn problem(option: &'static str, item: &str, reason: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        option,
        item: item.to_string(),
        reason: reason.into(),
        missing: false,
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
    /// How the workload pods run (class, tolerations, resources, priority).
    pub workloads: WorkloadOptions,
}

const LOG_LEVELS: [&str; 6] = ["all", "debug", "info", "warn", "error", "none"];

impl CharmConfig {
    /// Validates every option.
    pub fn validate(raw: &RawConfig) -> Result<Self, ConfigProblem> {
        let namespace = raw.namespace.trim();
        if !is_dns_label(namespace) {
            return Err(problem(
                "namespace",
                namespace,
                "must be a DNS label: lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit",
            ));
        }
        let pool = parse_iprange(&raw.iprange)?;
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
            addresses: pool.iter().map(ToString::to_string).collect(),
            node_selector: parse_node_selector(&raw.node_selector)?,
            image_registry,
            log_level,
            l2_interfaces: parse_interfaces(&raw.l2_interfaces)?,
            bgp: parse_bgp(raw, &pool)?,
            workloads: workloads::parse_workloads(raw)?,
        })
    }
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

/// A DNS subdomain (RFC 1123): dot-separated DNS labels, at most 253 characters.
fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
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
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_part(name),
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

    pub(super) fn raw() -> RawConfig {
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
            ..RawConfig::default()
        }
    }

    #[test]
    fn a_good_config_is_normalised() {
        let c = CharmConfig::validate(&raw()).unwrap();
        assert_eq!(c.log_level, "info");
        assert_eq!(c.image_registry, "ghcr.io/metallb-rs");
        assert_eq!(c.l2_interfaces, ["eth0", "eth1"]);
        assert_eq!(c.node_selector["kubernetes.io/os"], "linux");
    }

    #[test]
    fn iprange_errors_name_the_option() {
        let mut r = raw();
        r.iprange = "198.18.0.1/32, x".into();
        let err = CharmConfig::validate(&r).unwrap_err();
        assert_eq!((err.option, err.item.as_str()), ("iprange", "x"));
        assert!(err.to_string().starts_with("invalid iprange"), "{err}");
        r.iprange = String::new();
        let err = CharmConfig::validate(&r).unwrap_err();
        assert_eq!(err.option, "iprange");
        assert!(err.to_string().starts_with("set iprange"), "{err}");
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
            let err = CharmConfig::validate(&r).unwrap_err();
            assert_eq!((err.option, err.item.as_str()), (option, item), "{err}");
        }
    }

    #[test]
    fn empty_selector_and_interfaces_are_allowed() {
        let mut r = raw();
        r.node_selector = "  ".into();
        r.l2_interfaces = "".into();
        let c = CharmConfig::validate(&r).unwrap();
        assert!(c.node_selector.is_empty() && c.l2_interfaces.is_empty());
        assert!(
            parse_node_selector("node-role.kubernetes.io/lb=")
                .unwrap()
                .contains_key("node-role.kubernetes.io/lb")
        );
    }
}
