//! Kubernetes objects in, this node's BGP plan out: the peers to keep sessions with (BGPPeers
//! whose node selectors match this node) and the routes to announce to each (Services whose
//! pool a BGPAdvertisement selects, with the announce rules: serving endpoints, and for
//! `externalTrafficPolicy: Local` one on this node). No I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_api::bgp_peer::v1beta2::DynamicAsn;
use metallb_api::{BFDProfile, BGPAdvertisement, BGPPeer, BGPPeerSpec, Community, IPAddressPool};
use metallb_controller::convert::{current_ips, handled, selector};
use metallb_core::bfd::session::Config as BfdConfig;
use metallb_core::bgp::Prefix;
use metallb_core::bgp::fsm::PeerAs;
use metallb_core::iprange::IpRange;
use metallb_core::selector::any_matches;

/// A peer this node keeps a session with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peer {
    /// BGPPeer name.
    pub name: String,
    /// The peer's address and port.
    pub address: IpAddr,
    /// The peer's port.
    pub port: u16,
    /// Our AS on this session (`localASN`, else `myASN`).
    pub local_as: u32,
    /// The AS the peer must open with (`peerASN`, or any internal/external AS with
    /// `dynamicASN`).
    pub peer_as: PeerAs,
    /// Proposed hold time in seconds.
    pub hold_time: u16,
    /// Keepalive interval in seconds (default: a third of the hold time).
    pub keepalive_time: Option<u16>,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// TCP MD5 password (`password`, else the `passwordSecret`'s).
    pub password: Option<String>,
    /// Local address to connect from.
    pub source_address: Option<IpAddr>,
    /// eBGP peer more than one hop away (TTL 255 instead of 1).
    pub ebgp_multi_hop: bool,
    /// Graceful restart (RFC 4724): the peer keeps our routes while we restart.
    pub graceful_restart: bool,
    /// BFD with the settings of the referenced BFDProfile.
    pub bfd: Option<BfdSettings>,
    /// Both address families on the session (`dualStackAddressFamily`): IPv6 routes over an
    /// IPv4 session and the reverse, with this node's address of the other family as next hop.
    pub dual_stack: bool,
}

/// BFD settings of a session, from its BFDProfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BfdSettings {
    /// Timers, multiplier, passive mode.
    pub config: BfdConfig,
    /// The lowest TTL a multihop session accepts (`minimumTtl`, default 254).
    pub minimum_ttl: u8,
}

/// A route with its attributes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// The prefix.
    pub prefix: Prefix,
    /// LOCAL_PREF (sent to iBGP peers only).
    pub local_pref: Option<u32>,
    /// Standard communities.
    pub communities: Vec<u32>,
    /// Large communities.
    pub large_communities: Vec<(u32, u32, u32)>,
}

/// A Service by namespace and name.
pub type ServiceKey = (String, String);

/// What this node advertises of one Service, and to which peers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advertised {
    /// The Service's addresses that are advertised.
    pub ips: BTreeSet<IpAddr>,
    /// BGPPeer names they are advertised to.
    pub peers: BTreeSet<String>,
}

/// The plan: peers, and the routes for each peer (by peer name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Peers of this node.
    pub peers: Vec<Peer>,
    /// Routes per peer name.
    pub routes: BTreeMap<String, BTreeSet<Route>>,
    /// The Services advertised, for their status objects, events and metrics.
    pub services: BTreeMap<ServiceKey, Advertised>,
}

/// What the plan is computed from.
pub struct BgpInputs<'a> {
    /// This node.
    pub local_node: &'a Node,
    /// Only Services of this loadBalancerClass.
    pub lb_class: Option<&'a str>,
    /// Every Service.
    pub services: &'a [Arc<Service>],
    /// Every EndpointSlice.
    pub slices: &'a [Arc<EndpointSlice>],
    /// IPAddressPools.
    pub pools: &'a [Arc<IPAddressPool>],
    /// BGPPeers.
    pub peers: &'a [Arc<BGPPeer>],
    /// BGPAdvertisements.
    pub advertisements: &'a [Arc<BGPAdvertisement>],
    /// Community aliases.
    pub communities: &'a [Arc<Community>],
    /// Secrets of the MetalLB namespace (BGPPeer `passwordSecret`).
    pub secrets: &'a [Arc<Secret>],
    /// BFDProfiles.
    pub bfd_profiles: &'a [Arc<BFDProfile>],
}

/// The key of the password in a `passwordSecret` (of type `kubernetes.io/basic-auth`).
const PASSWORD_KEY: &str = "password";

/// The password of a `passwordSecret` reference, from the Secrets of the MetalLB namespace.
fn secret_password(
    reference: &metallb_api::bgp_peer::v1beta2::SecretReference,
    secrets: &[Arc<Secret>],
) -> Option<String> {
    let name = reference.name.as_deref()?;
    let secret = secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))?;
    let bytes = secret.data.as_ref()?.get(PASSWORD_KEY)?;
    String::from_utf8(bytes.0.clone())
        .ok()
        .filter(|p| !p.is_empty())
}

/// The BFD settings of profile `name` (upstream defaults for unset fields); `None` when there
/// is no such profile.
fn bfd_config(name: &str, profiles: &[Arc<BFDProfile>]) -> Option<BfdSettings> {
    let profile = profiles
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(name))?;
    let spec = &profile.spec;
    let defaults = BfdConfig::default();
    let ms = |v: Option<u32>, default: std::time::Duration| {
        v.map_or(default, |v| std::time::Duration::from_millis(u64::from(v)))
    };
    Some(BfdSettings {
        config: BfdConfig {
            desired_min_tx: ms(spec.transmit_interval, defaults.desired_min_tx),
            required_min_rx: ms(spec.receive_interval, defaults.required_min_rx),
            detect_mult: spec
                .detect_multiplier
                .map_or(defaults.detect_mult, |m| u8::try_from(m).unwrap_or(u8::MAX)),
            passive: spec.passive_mode.unwrap_or(false),
        },
        minimum_ttl: spec
            .minimum_ttl
            .map_or(254, |t| u8::try_from(t).unwrap_or(u8::MAX)),
    })
}

/// A community of a BGPAdvertisement: a literal, or the name of an alias in a Community object.
fn resolve_community(
    text: &str,
    aliases: &[Arc<Community>],
) -> Option<Result<u32, (u32, u32, u32)>> {
    parse_community(text).or_else(|| {
        aliases
            .iter()
            .flat_map(|c| &c.spec.communities)
            .find(|alias| alias.name == text)
            .and_then(|alias| parse_community(&alias.value))
    })
}

/// `"65000:100"` as a standard community, `"large:1:2:3"` as a large one.
pub fn parse_community(text: &str) -> Option<Result<u32, (u32, u32, u32)>> {
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [a, b] => Some(Ok(
            (u32::from(a.parse::<u16>().ok()?) << 16) | u32::from(b.parse::<u16>().ok()?)
        )),
        ["large", a, b, c] => Some(Err((a.parse().ok()?, b.parse().ok()?, c.parse().ok()?))),
        _ => None,
    }
}

fn hold_seconds(text: Option<&str>) -> u16 {
    text.map_or(Some(90), duration_seconds).unwrap_or(90)
}

/// A Go duration as upstream writes them ("90s", "1m30s"), in seconds; `None` if malformed.
fn duration_seconds(text: &str) -> Option<u16> {
    let mut total = 0u64;
    let mut number = String::new();
    for ch in text.chars() {
        match ch {
            '0'..='9' => number.push(ch),
            'h' | 'm' | 's' => {
                let n: u64 = number.parse().unwrap_or(0);
                total += n * match ch {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                number.clear();
            }
            _ => return None,
        }
    }
    if !number.is_empty() {
        return None;
    }
    Some(u16::try_from(total).unwrap_or(u16::MAX))
}

fn node_ipv4(node: &Node) -> Option<Ipv4Addr> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .filter(|a| a.type_ == "InternalIP")
        .find_map(|a| a.address.parse().ok())
}

fn selects_pool(ad: &BGPAdvertisement, pool: &IPAddressPool) -> bool {
    let (names, selectors) = (
        &ad.spec.ip_address_pools,
        &ad.spec.ip_address_pool_selectors,
    );
    if names.is_empty() && selectors.is_empty() {
        return true;
    }
    let labels = pool.metadata.labels.clone().unwrap_or_default();
    names
        .iter()
        .any(|n| Some(n.as_str()) == pool.metadata.name.as_deref())
        || selectors
            .iter()
            .filter_map(selector)
            .any(|s| s.matches(&labels))
}

fn matches_all(list: &[metallb_api::LabelSelector], labels: &BTreeMap<String, String>) -> bool {
    if list.is_empty() {
        return true;
    }
    let selectors: Vec<_> = list.iter().filter_map(selector).collect();
    any_matches(&selectors, labels)
}

/// The plan for this node.
pub fn plan(inputs: &BgpInputs<'_>) -> Plan {
    let node_name = inputs.local_node.metadata.name.clone().unwrap_or_default();
    let node_labels = inputs
        .local_node
        .metadata
        .labels
        .clone()
        .unwrap_or_default();
    let mut plan = Plan::default();
    for peer in inputs.peers {
        let spec = &peer.spec;
        if !matches_all(&spec.node_selectors, &node_labels) {
            continue;
        }
        let Some(peer_as) = peer_as(spec) else {
            continue;
        };
        let Some(address) = spec.peer_address.as_deref().and_then(|a| a.parse().ok()) else {
            continue;
        };
        let router_id = spec
            .router_id
            .as_deref()
            .and_then(|r| r.parse().ok())
            .or_else(|| node_ipv4(inputs.local_node))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let name = peer.metadata.name.clone().unwrap_or_default();
        // A referenced Secret or BFDProfile not (yet) in the cache: wait for it rather than
        // open the session without it and reset it a moment later (upstream treats both as
        // transient errors too).
        let password = match (
            spec.password.as_deref().filter(|p| !p.is_empty()),
            &spec.password_secret,
        ) {
            (Some(password), _) => Some(password.to_string()),
            (None, Some(reference)) => match secret_password(reference, inputs.secrets) {
                Some(password) => Some(password),
                None => {
                    tracing::debug!(peer = %name, "waiting for its passwordSecret");
                    continue;
                }
            },
            (None, None) => None,
        };
        let bfd = match spec.bfd_profile.as_deref().filter(|n| !n.is_empty()) {
            Some(profile) => match bfd_config(profile, inputs.bfd_profiles) {
                Some(config) => Some(config),
                None => {
                    tracing::debug!(peer = %name, %profile, "waiting for its BFDProfile");
                    continue;
                }
            },
            None => None,
        };
        plan.peers.push(Peer {
            name,
            address,
            port: spec.peer_port.unwrap_or(179),
            // `localASN` replaces myASN on this session (FRR's `local-as N no-prepend
            // replace-as`): the peer sees only it, in the OPEN and the AS path.
            local_as: spec.local_asn.unwrap_or(spec.my_asn),
            peer_as,
            hold_time: hold_seconds(spec.hold_time.as_deref()),
            keepalive_time: spec.keepalive_time.as_deref().and_then(duration_seconds),
            router_id,
            password,
            source_address: spec.source_address.as_deref().and_then(|a| a.parse().ok()),
            ebgp_multi_hop: spec.ebgp_multi_hop.unwrap_or(false),
            graceful_restart: spec.enable_graceful_restart.unwrap_or(false),
            bfd,
            dual_stack: spec.dual_stack_address_family.unwrap_or(false),
        });
    }
    plan.peers.sort();
    for service in inputs.services {
        if !handled(service, inputs.lb_class) {
            continue;
        }
        let (any, nodes) = crate::reconcile::serving(service, inputs.slices);
        let local = nodes.contains(&node_name);
        let local_policy = service
            .spec
            .as_ref()
            .and_then(|s| s.external_traffic_policy.as_deref())
            == Some("Local");
        if !any || (local_policy && !local) {
            continue;
        }
        let service_labels = service.metadata.labels.clone().unwrap_or_default();
        for ip in current_ips(service) {
            let Some(pool) = inputs.pools.iter().find(|p| {
                p.spec
                    .addresses
                    .iter()
                    .any(|a| IpRange::parse(a).is_ok_and(|r| r.contains(ip)))
            }) else {
                continue;
            };
            for ad in inputs.advertisements {
                if !selects_pool(ad, pool)
                    || !matches_all(&ad.spec.node_selectors, &node_labels)
                    || !matches_all(&ad.spec.service_selectors, &service_labels)
                {
                    continue;
                }
                let full = if ip.is_ipv4() { 32 } else { 128 };
                let len = if ip.is_ipv4() {
                    ad.spec.aggregation_length
                } else {
                    ad.spec.aggregation_length_v6
                };
                let len = len
                    .and_then(|l| u8::try_from(l).ok())
                    .filter(|l| *l <= full)
                    .unwrap_or(full);
                let network = IpRange::parse(&format!("{ip}/{len}"))
                    .map(|r| r.first())
                    .unwrap_or(ip);
                let Some(prefix) = Prefix::new(network, len) else {
                    continue;
                };
                let (mut communities, mut large) = (Vec::new(), Vec::new());
                for c in &ad.spec.communities {
                    match resolve_community(c, inputs.communities) {
                        Some(Ok(n)) => communities.push(n),
                        Some(Err(l)) => large.push(l),
                        None => {}
                    }
                }
                let route = Route {
                    prefix,
                    local_pref: ad.spec.local_pref,
                    communities,
                    large_communities: large,
                };
                for peer in &plan.peers {
                    if ad.spec.peers.is_empty() || ad.spec.peers.contains(&peer.name) {
                        plan.routes
                            .entry(peer.name.clone())
                            .or_default()
                            .insert(route.clone());
                        let key = (
                            service.metadata.namespace.clone().unwrap_or_default(),
                            service.metadata.name.clone().unwrap_or_default(),
                        );
                        let advertised = plan.services.entry(key).or_default();
                        advertised.ips.insert(ip);
                        advertised.peers.insert(peer.name.clone());
                    }
                }
            }
        }
    }
    plan
}

/// The AS a BGPPeer's router must open with: `peerASN`, else any internal or external AS
/// (`dynamicASN`); `None` without either.
fn peer_as(spec: &BGPPeerSpec) -> Option<PeerAs> {
    match (spec.peer_asn, spec.dynamic_asn) {
        (Some(asn), _) => Some(PeerAs::Exact(asn)),
        (None, Some(DynamicAsn::Internal)) => Some(PeerAs::Internal),
        (None, Some(DynamicAsn::External)) => Some(PeerAs::External),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_asn_or_dynamic_asn_give_the_expected_peer_as() {
        let spec = |extra: serde_json::Value| -> BGPPeerSpec {
            let mut value = serde_json::json!({"myASN": 64512, "peerAddress": "198.18.0.3"});
            if let (Some(target), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra)
            {
                target.extend(extra);
            }
            serde_json::from_value(value).unwrap()
        };
        assert_eq!(
            peer_as(&spec(serde_json::json!({"peerASN": 64513}))),
            Some(PeerAs::Exact(64513))
        );
        assert_eq!(
            peer_as(&spec(serde_json::json!({"dynamicASN": "internal"}))),
            Some(PeerAs::Internal)
        );
        assert_eq!(
            peer_as(&spec(serde_json::json!({"dynamicASN": "external"}))),
            Some(PeerAs::External)
        );
        assert_eq!(peer_as(&spec(serde_json::json!({}))), None);
    }

    #[test]
    fn community_aliases_and_password_secrets_resolve() {
        let aliases: Vec<Arc<Community>> = vec![Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "metallb.io/v1beta1", "kind": "Community",
                "metadata": {"name": "aliases"},
                "spec": {"communities": [{"name": "no-export", "value": "65535:65281"},
                    {"name": "big", "value": "large:1:2:3"}]},
            }))
            .unwrap(),
        )];
        assert_eq!(
            resolve_community("65000:1", &aliases),
            Some(Ok((65000 << 16) | 1))
        );
        assert_eq!(
            resolve_community("no-export", &aliases),
            Some(Ok((65535 << 16) | 65281))
        );
        assert_eq!(resolve_community("big", &aliases), Some(Err((1, 2, 3))));
        assert_eq!(resolve_community("unknown", &aliases), None);

        let secrets: Vec<Arc<Secret>> = vec![Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "bgp-auth"}, "type": "kubernetes.io/basic-auth",
                "data": {"password": "czNjcmV0"},
            }))
            .unwrap(),
        )];
        let reference = |name: &str| metallb_api::bgp_peer::v1beta2::SecretReference {
            name: Some(name.into()),
            namespace: None,
        };
        assert_eq!(
            secret_password(&reference("bgp-auth"), &secrets).as_deref(),
            Some("s3cret")
        );
        assert_eq!(secret_password(&reference("missing"), &secrets), None);
    }

    #[test]
    fn communities_and_hold_times_parse() {
        assert_eq!(parse_community("65000:100"), Some(Ok((65000 << 16) | 100)));
        assert_eq!(
            parse_community("large:4200000001:1:2"),
            Some(Err((4_200_000_001, 1, 2)))
        );
        assert_eq!(parse_community("70000:1"), None);
        assert_eq!(hold_seconds(Some("90s")), 90);
        assert_eq!(hold_seconds(Some("1m30s")), 90);
        assert_eq!(hold_seconds(Some("3s")), 3);
        assert_eq!(hold_seconds(None), 90);
        assert_eq!(hold_seconds(Some("bad")), 90);
        assert_eq!(duration_seconds("30s"), Some(30));
        assert_eq!(duration_seconds("30"), None);
    }
}
