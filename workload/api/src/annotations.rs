//! Service annotations and labels MetalLB reads and writes. Both prefixes are read:
//! `metallb.io/` (current) and `metallb.universe.tf/` (older manifests).

/// The current annotation prefix.
pub const PREFIX: &str = "metallb.io/";
/// The legacy annotation prefix, still read.
pub const LEGACY_PREFIX: &str = "metallb.universe.tf/";

/// Requested pool name.
pub const ADDRESS_POOL: &str = "address-pool";
/// Requested addresses (comma-separated).
pub const LOAD_BALANCER_IPS: &str = "loadBalancerIPs";
/// Sharing key.
pub const ALLOW_SHARED_IP: &str = "allow-shared-ip";
/// Written by the controller: the pool an address came from.
pub const IP_ALLOCATED_FROM_POOL: &str = "ip-allocated-from-pool";

/// Reads annotation `name` with either prefix; the current prefix wins when both are set.
pub fn get<'a>(
    annotations: Option<&'a std::collections::BTreeMap<String, String>>,
    name: &str,
) -> Option<&'a str> {
    let map = annotations?;
    map.get(&format!("{PREFIX}{name}"))
        .or_else(|| map.get(&format!("{LEGACY_PREFIX}{name}")))
        .map(String::as_str)
}

/// Label on ServiceL2Status/ServiceBGPStatus: the announcing node.
pub const LABEL_NODE: &str = "metallb.io/node";
/// Label on ServiceL2Status/ServiceBGPStatus: the Service name.
pub const LABEL_SERVICE_NAME: &str = "metallb.io/service-name";
/// Label on ServiceL2Status/ServiceBGPStatus: the Service namespace.
pub const LABEL_SERVICE_NAMESPACE: &str = "metallb.io/service-namespace";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn both_prefixes_are_read_and_the_current_one_wins() {
        let mut map = BTreeMap::new();
        map.insert(
            "metallb.universe.tf/address-pool".to_string(),
            "old".to_string(),
        );
        assert_eq!(get(Some(&map), ADDRESS_POOL), Some("old"));
        map.insert("metallb.io/address-pool".to_string(), "new".to_string());
        assert_eq!(get(Some(&map), ADDRESS_POOL), Some("new"));
        assert_eq!(get(None, ADDRESS_POOL), None);
    }
}
