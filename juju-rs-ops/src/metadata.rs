//! The charm's relation endpoints as `metadata.yaml` declares them (`provides`, `requires`,
//! `peers`), read by the model API (which endpoints exist) and by the simulated agent.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// Which section of `metadata.yaml` declares an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EndpointRole {
    /// `provides:`
    Provides,
    /// `requires:`
    Requires,
    /// `peers:` (a relation among the application's own units, created by Juju itself).
    Peers,
}

impl EndpointRole {
    /// The section name in `metadata.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provides => "provides",
            Self::Requires => "requires",
            Self::Peers => "peers",
        }
    }
}

/// One relation endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The endpoint name (`metrics-endpoint`).
    pub name: String,
    /// Where it is declared.
    pub role: EndpointRole,
    /// The interface name (`prometheus_scrape`).
    pub interface: String,
}

/// An endpoint entry: `{interface: x, ...}` or, in the short form Juju also accepts, `x`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawEndpoint {
    Short(String),
    Full { interface: String },
}

#[derive(Debug, Deserialize, Default)]
struct RawSections {
    #[serde(default)]
    provides: BTreeMap<String, RawEndpoint>,
    #[serde(default)]
    requires: BTreeMap<String, RawEndpoint>,
    #[serde(default)]
    peers: BTreeMap<String, RawEndpoint>,
}

/// Every endpoint of a charm, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoints(BTreeMap<String, Endpoint>);

impl Endpoints {
    /// Parses the endpoint sections of a `metadata.yaml` text. An endpoint declared twice is an
    /// error, as for Juju.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let raw: Option<RawSections> =
            serde_yaml::from_str(text).map_err(|e| format!("metadata.yaml: {e}"))?;
        let raw = raw.unwrap_or_default();
        let mut out = BTreeMap::new();
        for (role, section) in [
            (EndpointRole::Provides, raw.provides),
            (EndpointRole::Requires, raw.requires),
            (EndpointRole::Peers, raw.peers),
        ] {
            for (name, entry) in section {
                let interface = match entry {
                    RawEndpoint::Short(i) | RawEndpoint::Full { interface: i } => i,
                };
                if interface.is_empty() {
                    return Err(format!(
                        "metadata.yaml: {} endpoint {name:?} has no interface",
                        role.as_str()
                    ));
                }
                let endpoint = Endpoint {
                    name: name.clone(),
                    role,
                    interface,
                };
                if let Some(earlier) = out.insert(name.clone(), endpoint) {
                    return Err(format!(
                        "metadata.yaml: endpoint {name:?} is declared in both {} and {}",
                        earlier.role.as_str(),
                        role.as_str()
                    ));
                }
            }
        }
        Ok(Self(out))
    }

    /// Reads `<charm_dir>/metadata.yaml`.
    pub fn load(charm_dir: &Path) -> Result<Self, String> {
        let path = charm_dir.join("metadata.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_yaml(&text)
    }

    /// The endpoint called `name`.
    pub fn get(&self, name: &str) -> Option<&Endpoint> {
        self.0.get(name)
    }

    /// Every endpoint, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Endpoint> {
        self.0.values()
    }

    /// The names of the endpoints (for error messages).
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_sections_and_both_forms() {
        let e = Endpoints::from_yaml(
            "name: x\nprovides:\n  metrics-endpoint: {interface: prometheus_scrape}\n\
             requires:\n  db: pgsql\npeers:\n  cluster:\n    interface: x-peers\n",
        )
        .unwrap();
        assert_eq!(e.names(), ["cluster", "db", "metrics-endpoint"]);
        let m = e.get("metrics-endpoint").unwrap();
        assert_eq!(
            (m.role, m.interface.as_str()),
            (EndpointRole::Provides, "prometheus_scrape")
        );
        assert_eq!(e.get("db").unwrap().interface, "pgsql");
        assert_eq!(e.get("cluster").unwrap().role, EndpointRole::Peers);
        assert!(e.get("nope").is_none());
    }

    #[test]
    fn no_sections_means_no_endpoints() {
        assert_eq!(
            Endpoints::from_yaml("name: x\n").unwrap(),
            Endpoints::default()
        );
        assert_eq!(Endpoints::from_yaml("").unwrap(), Endpoints::default());
    }

    #[test]
    fn duplicates_and_missing_interfaces_are_errors() {
        let err = Endpoints::from_yaml(
            "provides:\n  a: {interface: i}\nrequires:\n  a: {interface: i}\n",
        )
        .unwrap_err();
        assert!(err.contains("both provides and requires"), "{err}");
        let err = Endpoints::from_yaml("provides:\n  a: {limit: 1}\n").unwrap_err();
        assert!(err.contains("metadata.yaml"), "{err}");
        let err = Endpoints::from_yaml("provides:\n  a: ''\n").unwrap_err();
        assert!(err.contains("no interface"), "{err}");
    }
}
