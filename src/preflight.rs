//! Checks of the cluster that decide whether MetalLB's announcements can work, each with the
//! exact fix. Pure decisions; `k8s.rs` reads what they look at.
//!
//! kube-proxy in IPVS mode puts every LoadBalancer address on its `kube-ipvs0` interface of every
//! node; unless `strictARP` is on, every node then answers ARP for every Service address and
//! Layer 2 failover means nothing (clients reach whichever node answered last). kubeadm keeps
//! kube-proxy's configuration in the `kube-proxy` ConfigMap of `kube-system`; Charmed Kubernetes
//! sets it with the `proxy-extra-config` option of its charms.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// The namespace and name of the ConfigMap that holds kube-proxy's configuration (kubeadm).
pub const KUBE_PROXY_CONFIG_MAP: (&str, &str) = ("kube-system", "kube-proxy");

/// The fields of a `KubeProxyConfiguration` this check reads.
#[derive(Debug, Default, Deserialize)]
struct KubeProxyConfiguration {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    ipvs: Option<Ipvs>,
}

#[derive(Debug, Default, Deserialize)]
struct Ipvs {
    #[serde(default, rename = "strictARP")]
    strict_arp: Option<bool>,
}

/// Why Layer 2 announcements cannot work with this kube-proxy configuration (the `data` of the
/// `kube-proxy` ConfigMap), with the fix; None when they can, or when no entry reads as a
/// kube-proxy configuration (nothing is concluded from what cannot be read).
pub fn kube_proxy_problem(data: &BTreeMap<String, String>) -> Option<String> {
    let ipvs_without_strict_arp = data
        .values()
        .filter_map(|text| serde_yaml::from_str::<KubeProxyConfiguration>(text).ok())
        .filter(|c| c.kind.as_deref() == Some("KubeProxyConfiguration"))
        .any(|c| {
            c.mode
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("ipvs"))
                && c.ipvs.and_then(|i| i.strict_arp) != Some(true)
        });
    ipvs_without_strict_arp.then(|| {
        "kube-proxy runs in IPVS mode without strictARP, so every node answers ARP for every \
         Service address: set `ipvs: {strictARP: true}` in the kube-proxy ConfigMap of \
         kube-system and restart kube-proxy (Charmed Kubernetes: `juju config \
         kubernetes-control-plane proxy-extra-config='{mode: ipvs, ipvs: {strictARP: true}}'`, \
         and the same for kubernetes-worker)"
            .to_string()
    })
}

/// The pool warnings every speaker agrees on: `reports` holds, for each speaker that reports
/// the `layer2PoolsReachable` condition, its lines (none when the condition is true). A line
/// is kept only when every speaker reports it, so a speaker whose view lags does not raise (or
/// keep) a warning the others do not share.
pub fn unreachable_pools(reports: &[Vec<String>]) -> Vec<String> {
    let Some((first, rest)) = reports.split_first() else {
        return Vec::new();
    };
    let mut common: BTreeSet<&String> = first.iter().collect();
    for report in rest {
        common.retain(|line| report.contains(line));
    }
    common.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(conf: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("config.conf".to_string(), conf.to_string()),
            (
                "kubeconfig.conf".to_string(),
                "apiVersion: v1\nkind: Config\n".to_string(),
            ),
        ])
    }

    const HEAD: &str =
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";

    #[test]
    fn ipvs_without_strict_arp_is_a_problem_with_the_fix() {
        for ipvs in [
            "",
            "ipvs:\n  strictARP: false\n",
            "ipvs:\n  scheduler: rr\n",
        ] {
            let problem = kube_proxy_problem(&data(&format!("{HEAD}mode: ipvs\n{ipvs}")));
            let problem = problem.unwrap_or_default();
            assert!(problem.contains("strictARP: true"), "{ipvs:?}: {problem}");
            assert!(problem.contains("proxy-extra-config"), "{problem}");
        }
    }

    #[test]
    fn other_modes_strict_arp_and_unreadable_configurations_are_not() {
        for conf in [
            format!("{HEAD}mode: ipvs\nipvs:\n  strictARP: true\n"),
            format!("{HEAD}mode: iptables\n"),
            format!("{HEAD}mode: \"\"\n"),
            format!("{HEAD}mode: nftables\n"),
            "mode: ipvs\n".to_string(),
            "{not yaml".to_string(),
        ] {
            assert_eq!(kube_proxy_problem(&data(&conf)), None, "{conf}");
        }
        assert_eq!(kube_proxy_problem(&BTreeMap::new()), None);
    }

    #[test]
    fn a_pool_warning_needs_every_speaker() {
        let far = "IPAddressPool far: no node has an interface in the network of 198.19.250.0/28";
        let other =
            "IPAddressPool other: no node has an interface in the network of 198.19.251.0/28";
        assert!(unreachable_pools(&[]).is_empty());
        let both = vec![far.to_string(), other.to_string()];
        assert_eq!(
            unreachable_pools(&[both.clone(), vec![far.to_string()]]),
            [far]
        );
        assert!(unreachable_pools(&[both, Vec::new()]).is_empty());
    }
}
