//! The BGP configuration this speaker accepts, object by object (no I/O): the BGPPeers and
//! BGPAdvertisements that apply to this node, checked and converted once per pass, with the
//! Secrets, BFDProfiles, Communities and pools they refer to.
//!
//! Nothing is silently ignored. An object this speaker cannot honour is refused and reported
//! ([`Problem`]), and its last accepted version stays in force ([`InForce`]): a session keeps
//! running and routes stay announced as they were, until the object is fixed or deleted. A
//! field it can do without (BFD echo mode) is reported and the rest applies. Refused:
//! * BGPPeer `vrf` and `interface` (unnumbered BGP): no VRF or unnumbered support here, and
//!   opening the session in the default VRF or elsewhere could reach another router;
//! * a hold time of 1 or 2 s (RFC 4271: 0 or at least 3 s), a keepalive time above the hold
//!   time;
//! * a `passwordSecret` that is missing, not of type `kubernetes.io/basic-auth`, or has no
//!   `password`; a `bfdProfile` that does not exist (the session waits for them);
//! * a BGPAdvertisement whose aggregation length is shorter than a prefix of a pool it selects
//!   ([`metallb_core::bgp::check_aggregation`]), or whose community is neither `A:B`,
//!   `large:A:B:C` nor a Community alias.
//!
//! Honoured rather than reported: `connectTime` (a fixed reconnect interval instead of the
//! backoff) and `disableMP` (deprecated upstream; each address family already has its own
//! session unless `dualStackAddressFamily` is set, in which case `disableMP` is reported).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, ObjectReference, Secret};
use kube::Resource;
use metallb_api::bgp_peer::v1beta2::DynamicAsn;
use metallb_api::convert::{matches_any, selects_pool};
use metallb_api::{
    BFDProfile, BGPAdvertisement, BGPPeer, BGPPeerSpec, Community, IPAddressPool, LabelSelector,
};
use metallb_core::bfd::session::Config as BfdConfig;
use metallb_core::bgp::community::Community as BgpCommunity;
use metallb_core::bgp::fsm::PeerAs;
use metallb_core::bgp::{AggregationLengths, check_aggregation};
use metallb_core::iprange::IpRange;

use crate::bgp_peer::{BfdSettings, Peer};
use crate::duration::duration_seconds;

mod refusal;

pub use refusal::{AdvertisementError, Cause, Ignored, PeerError, SecretError};

/// A problem with one object, as this speaker sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The object (for events).
    pub object: ObjectReference,
    /// What is wrong.
    pub cause: Cause,
    /// What is wrong and what the speaker does about it, naming the object (the text of
    /// events and of the ConfigurationState).
    pub message: String,
}

impl Problem {
    /// A field of `object` is ignored.
    fn ignored<K: Resource<DynamicType = ()>>(object: &K, ignored: Ignored) -> Self {
        let message = ignored.to_string();
        Problem::new(object, ignored.into(), message)
    }

    /// `object` is refused; `kept`: its version accepted before stays in force, else `what`
    /// happens instead.
    fn refused<K: Resource<DynamicType = ()>>(
        object: &K,
        cause: Cause,
        kept: bool,
        what: &str,
    ) -> Self {
        let message = if kept {
            format!("{cause}; the version accepted before stays in force")
        } else {
            format!("{cause}; {what}")
        };
        Problem::new(object, cause, message)
    }

    fn new<K: Resource<DynamicType = ()>>(object: &K, cause: Cause, message: String) -> Self {
        let kind = K::kind(&());
        let name = object.meta().name.clone().unwrap_or_default();
        Problem {
            object: object.object_ref(&()),
            cause,
            message: format!("{kind} {name}: {message}"),
        }
    }
}

/// What the configuration is read from.
pub struct ConfigInputs<'a> {
    /// This node.
    pub local_node: &'a Node,
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

/// An accepted BGPAdvertisement, with what it was checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct Advertisement {
    /// BGPAdvertisement name.
    pub name: String,
    /// The ranges of the pools it selects.
    pub ranges: Vec<IpRange>,
    /// Aggregation lengths.
    pub lengths: AggregationLengths,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// Standard communities.
    pub communities: Vec<u32>,
    /// Large communities.
    pub large_communities: Vec<(u32, u32, u32)>,
    /// Only Services matching one of these are advertised (empty: every Service).
    pub service_selectors: Vec<LabelSelector>,
    /// BGPPeer names (empty: every peer).
    pub peers: Vec<String>,
}

/// The configuration in force for this pass.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    /// Peers of this node.
    pub peers: Vec<Peer>,
    /// Advertisements that apply to this node.
    pub advertisements: Vec<Advertisement>,
    /// Everything refused or ignored, one entry per problem.
    pub problems: Vec<Problem>,
}

/// The last accepted version of every object, kept across passes.
#[derive(Debug, Clone, Default)]
pub struct InForce {
    peers: BTreeMap<String, Peer>,
    advertisements: BTreeMap<String, Advertisement>,
}

/// The key of the password in a `passwordSecret` (of type `kubernetes.io/basic-auth`).
const PASSWORD_KEY: &str = "password";
/// The Secret type upstream requires for `passwordSecret`.
const BASIC_AUTH: &str = "kubernetes.io/basic-auth";

/// The password of a `passwordSecret` reference, from the Secrets of the MetalLB namespace.
fn secret_password(
    reference: &metallb_api::bgp_peer::v1beta2::SecretReference,
    secrets: &[Arc<Secret>],
) -> Result<String, SecretError> {
    let name = reference.name.as_deref().unwrap_or_default();
    let secret = secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .ok_or_else(|| SecretError::Missing { name: name.into() })?;
    let kind = secret.type_.as_deref().unwrap_or("Opaque");
    if kind != BASIC_AUTH {
        return Err(SecretError::WrongType {
            name: name.into(),
            kind: kind.into(),
            expected: BASIC_AUTH,
        });
    }
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(PASSWORD_KEY))
        .and_then(|bytes| String::from_utf8(bytes.0.clone()).ok())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| SecretError::NoPassword {
            name: name.into(),
            key: PASSWORD_KEY,
        })
}

/// The BFD settings of `profile` (upstream defaults for unset fields).
fn bfd_settings(profile: &BFDProfile) -> BfdSettings {
    let spec = &profile.spec;
    let defaults = BfdConfig::default();
    let ms = |v: Option<u32>, default: std::time::Duration| {
        v.map_or(default, |v| std::time::Duration::from_millis(u64::from(v)))
    };
    BfdSettings {
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
    }
}

/// What of `profile` is not honoured (its settings apply without it).
fn bfd_ignored(profile: &BFDProfile) -> Vec<Ignored> {
    let mut out = Vec::new();
    if profile.spec.echo_mode == Some(true) {
        out.push(Ignored::EchoMode);
    }
    if let Some(interval) = profile.spec.echo_interval {
        out.push(Ignored::EchoInterval(interval));
    }
    out
}

/// A community of a BGPAdvertisement: a literal, or the name of an alias in a Community object.
pub fn resolve_community(text: &str, aliases: &[Arc<Community>]) -> Option<BgpCommunity> {
    text.parse().ok().or_else(|| {
        aliases
            .iter()
            .flat_map(|c| &c.spec.communities)
            .find(|alias| alias.name == text)
            .and_then(|alias| alias.value.parse().ok())
    })
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

/// The AS a BGPPeer's router must open with: `peerASN`, else any internal or external AS
/// (`dynamicASN`); `None` without either.
pub fn peer_as(spec: &BGPPeerSpec) -> Option<PeerAs> {
    match (spec.peer_asn, spec.dynamic_asn) {
        (Some(asn), _) => Some(PeerAs::Exact(asn)),
        (None, Some(DynamicAsn::Internal)) => Some(PeerAs::Internal),
        (None, Some(DynamicAsn::External)) => Some(PeerAs::External),
        (None, None) => None,
    }
}

/// The session with `object` on this node, or why it cannot be opened as written.
fn peer(
    object: &BGPPeer,
    inputs: &ConfigInputs<'_>,
    ignored: &mut Vec<Ignored>,
) -> Result<Peer, PeerError> {
    let spec = &object.spec;
    if let Some(vrf) = spec.vrf.as_deref().filter(|v| !v.is_empty()) {
        return Err(PeerError::Vrf(vrf.into()));
    }
    if let Some(interface) = spec.interface.as_deref().filter(|i| !i.is_empty()) {
        return Err(PeerError::Interface(interface.into()));
    }
    let peer_as = peer_as(spec).ok_or(PeerError::NoPeerAs)?;
    let address: IpAddr = spec
        .peer_address
        .as_deref()
        .and_then(|a| a.parse().ok())
        .ok_or(PeerError::PeerAddress)?;
    let hold_time = match spec.hold_time.as_deref() {
        None => 90,
        Some(text) => duration_seconds(text)
            .filter(|s| *s == 0 || *s >= 3)
            .ok_or_else(|| PeerError::HoldTime(text.into()))?,
    };
    let keepalive_time = match spec.keepalive_time.as_deref() {
        None => None,
        Some(text) => Some(
            duration_seconds(text)
                .filter(|k| *k <= hold_time)
                .ok_or_else(|| PeerError::KeepaliveTime(text.into()))?,
        ),
    };
    let connect_time = match spec.connect_time.as_deref() {
        None => None,
        Some(text) => Some(
            duration_seconds(text)
                .filter(|c| *c >= 1)
                .ok_or_else(|| PeerError::ConnectTime(text.into()))?,
        ),
    };
    let password = match (
        spec.password.as_deref().filter(|p| !p.is_empty()),
        &spec.password_secret,
    ) {
        (Some(password), _) => Some(password.to_string()),
        (None, Some(reference)) => Some(secret_password(reference, inputs.secrets)?),
        (None, None) => None,
    };
    let bfd = match spec.bfd_profile.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => {
            let profile = inputs
                .bfd_profiles
                .iter()
                .find(|p| p.metadata.name.as_deref() == Some(name))
                .ok_or_else(|| PeerError::MissingBfdProfile(name.into()))?;
            Some(bfd_settings(profile))
        }
        None => None,
    };
    let dual_stack = spec.dual_stack_address_family.unwrap_or(false);
    if dual_stack && spec.disable_mp == Some(true) {
        ignored.push(Ignored::DisableMp);
    }
    let router_id = spec
        .router_id
        .as_deref()
        .and_then(|r| r.parse().ok())
        .or_else(|| node_ipv4(inputs.local_node))
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    Ok(Peer {
        name: object.metadata.name.clone().unwrap_or_default(),
        address,
        port: spec.peer_port.unwrap_or(179),
        // `localASN` replaces myASN on this session (FRR's `local-as N no-prepend
        // replace-as`): the peer sees only it, in the OPEN and the AS path.
        local_as: spec.local_asn.unwrap_or(spec.my_asn),
        peer_as,
        hold_time,
        keepalive_time,
        connect_time,
        router_id,
        password,
        source_address: spec.source_address.as_deref().and_then(|a| a.parse().ok()),
        ebgp_multi_hop: spec.ebgp_multi_hop.unwrap_or(false),
        graceful_restart: spec.enable_graceful_restart.unwrap_or(false),
        bfd,
        dual_stack,
    })
}

/// The advertisement `object` as this node applies it, or why it is refused.
fn advertisement(
    object: &BGPAdvertisement,
    inputs: &ConfigInputs<'_>,
) -> Result<Advertisement, AdvertisementError> {
    let spec = &object.spec;
    let length = |value: Option<i32>, default: u8, field: &'static str| {
        value.map_or(Ok(default), |v| {
            u8::try_from(v)
                .ok()
                .filter(|l| *l <= default)
                .ok_or(AdvertisementError::Length {
                    field,
                    value: v,
                    max: default,
                })
        })
    };
    let lengths = AggregationLengths {
        v4: length(spec.aggregation_length, 32, "aggregationLength")?,
        v6: length(spec.aggregation_length_v6, 128, "aggregationLengthV6")?,
    };
    let mut ranges = Vec::new();
    for pool in inputs.pools.iter().filter(|p| {
        selects_pool(
            &object.spec.ip_address_pools,
            &object.spec.ip_address_pool_selectors,
            p,
        )
    }) {
        let pool_ranges: Vec<IpRange> = pool
            .spec
            .addresses
            .iter()
            .filter_map(|a| IpRange::parse(a).ok())
            .collect();
        check_aggregation(&pool_ranges, lengths).map_err(|error| {
            AdvertisementError::Aggregation {
                error,
                pool: pool.metadata.name.clone().unwrap_or_default(),
            }
        })?;
        ranges.extend(pool_ranges);
    }
    let (mut communities, mut large_communities) = (Vec::new(), Vec::new());
    for text in &spec.communities {
        match resolve_community(text, inputs.communities) {
            Some(BgpCommunity::Standard(c)) => communities.push(c),
            Some(BgpCommunity::Large(a, b, c)) => large_communities.push((a, b, c)),
            None => return Err(AdvertisementError::Community(text.clone())),
        }
    }
    Ok(Advertisement {
        name: object.metadata.name.clone().unwrap_or_default(),
        ranges,
        lengths,
        local_pref: spec.local_pref,
        communities,
        large_communities,
        service_selectors: spec.service_selectors.clone(),
        peers: spec.peers.clone(),
    })
}

/// The configuration of this node for this pass; refused objects keep the version in force.
pub fn accept(inputs: &ConfigInputs<'_>, in_force: &mut InForce) -> Accepted {
    let node_labels = inputs
        .local_node
        .metadata
        .labels
        .clone()
        .unwrap_or_default();
    let mut accepted = Accepted::default();
    let mut peers = BTreeMap::new();
    let mut profiles: BTreeSet<&str> = BTreeSet::new();
    for object in inputs.peers {
        if !matches_any(&object.spec.node_selectors, &node_labels) {
            continue;
        }
        let name = object.metadata.name.clone().unwrap_or_default();
        if let Some(profile) = object.spec.bfd_profile.as_deref() {
            profiles.insert(profile);
        }
        let mut ignored = Vec::new();
        match peer(object, inputs, &mut ignored) {
            Ok(peer) => {
                peers.insert(name, peer);
            }
            Err(reason) => {
                let kept = in_force.peers.get(&name).cloned();
                accepted.problems.push(Problem::refused(
                    object.as_ref(),
                    reason.into(),
                    kept.is_some(),
                    "the session is not opened",
                ));
                if let Some(kept) = kept {
                    peers.insert(name, kept);
                }
            }
        }
        for field in ignored {
            accepted
                .problems
                .push(Problem::ignored(object.as_ref(), field));
        }
    }
    for profile in inputs.bfd_profiles.iter().filter(|p| {
        p.metadata
            .name
            .as_deref()
            .is_some_and(|n| profiles.contains(n))
    }) {
        for field in bfd_ignored(profile) {
            accepted
                .problems
                .push(Problem::ignored(profile.as_ref(), field));
        }
    }
    let mut advertisements = BTreeMap::new();
    for object in inputs.advertisements {
        if !matches_any(&object.spec.node_selectors, &node_labels) {
            continue;
        }
        let name = object.metadata.name.clone().unwrap_or_default();
        match advertisement(object, inputs) {
            Ok(ad) => {
                advertisements.insert(name, ad);
            }
            Err(reason) => {
                let kept = in_force.advertisements.get(&name).cloned();
                accepted.problems.push(Problem::refused(
                    object.as_ref(),
                    reason.into(),
                    kept.is_some(),
                    "nothing is advertised for it",
                ));
                if let Some(kept) = kept {
                    advertisements.insert(name, kept);
                }
            }
        }
    }
    accepted.peers = peers.values().cloned().collect();
    accepted.advertisements = advertisements.values().cloned().collect();
    in_force.peers = peers;
    in_force.advertisements = advertisements;
    accepted
}

#[cfg(test)]
mod tests;
