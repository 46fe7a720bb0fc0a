//! The allocation replay: the controller's allocator (`metallb_core::allocator`) fed with the
//! pools and every other Service as the controller would feed it, then asked about this one,
//! pool by pool.

use std::net::IpAddr;

use metallb_core::allocator::{AllocError, Allocation, Allocator, Family, Pool, ServiceRequest};
use metallb_core::config::ConfigError;
use metallb_core::selector::any_matches;

use super::convert;
use super::{Inputs, PoolVerdict, Reason};

/// What the replay found.
pub(super) struct AllocationView {
    /// One line for the explanation's summary.
    pub(super) summary: String,
    /// Every pool's verdict, by name.
    pub(super) pools: Vec<PoolVerdict>,
    /// A problem of the pools as a whole.
    pub(super) config_problem: Option<String>,
    /// The pool the Service's current addresses belong to.
    pub(super) pool_of_current: Option<String>,
    /// The allocator holding every other Service (not the one explained).
    pub(super) world: Allocator,
}

/// The pools, converted; a pool that cannot be read comes back as its error.
fn converted(inputs: &Inputs) -> Vec<(String, Vec<String>, Result<Pool, ConfigError>)> {
    let mut objects: Vec<_> = inputs.pools.iter().collect();
    objects.sort_by_key(|p| convert::name_of(&p.metadata));
    objects
        .into_iter()
        .map(|p| {
            (
                convert::name_of(&p.metadata),
                p.spec.addresses.clone(),
                convert::pool(p, &inputs.namespaces),
            )
        })
        .collect()
}

/// The allocator with the pools and every Service but `target` that holds addresses:
/// restored (most addresses first, as the controller does after a restart), or recorded as
/// held elsewhere when another load balancer serves it.
fn world(inputs: &Inputs, pools: Vec<Pool>, target: &str) -> (Allocator, Option<String>) {
    let mut allocator = Allocator::new();
    let problem = match allocator.try_set_pools(pools.clone()) {
        Ok(_) => None,
        Err(e) => {
            allocator.set_pools(pools);
            Some(format!(
                "{e}; the controller refuses these pools and keeps the ones it accepted before"
            ))
        }
    };
    let mut holders: Vec<_> = inputs
        .services
        .iter()
        .filter(|s| convert::is_load_balancer(s) && convert::key(s) != target)
        .map(|s| (s, convert::current_ips(s)))
        .filter(|(_, ips)| !ips.is_empty())
        .collect();
    holders.sort_by(|(a, ia), (b, ib)| {
        ib.len()
            .cmp(&ia.len())
            .then_with(|| convert::key(a).cmp(&convert::key(b)))
    });
    for (service, ips) in holders {
        if !convert::handled(service, None) {
            allocator.reserve(&convert::key(service), &ips);
            continue;
        }
        // A Service the controller would clear keeps nothing here either.
        let _ = match convert::request(service) {
            Ok(request) => allocator.restore(&request, &ips),
            Err(_) => allocator.hold(&convert::known_request(service), &ips),
        };
    }
    (allocator, problem)
}

/// Advertisements naming pools that do not exist make the controller refuse the configuration.
fn advertisement_problem(inputs: &Inputs) -> Option<String> {
    inputs.l2_advertisements.iter().find_map(|ad| {
        ad.spec
            .ip_address_pools
            .iter()
            .find(|name| {
                !inputs
                    .pools
                    .iter()
                    .any(|p| p.metadata.name.as_deref() == Some(name.as_str()))
            })
            .map(|name| {
                format!(
                    "L2Advertisement {} references unknown IPAddressPool {name}; the controller keeps the configuration it accepted before",
                    convert::name_of(&ad.metadata)
                )
            })
    })
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The allocator's error in the words of the explanation.
pub(super) fn describe(err: &AllocError, metallb_namespace: &str) -> String {
    match err {
        AllocError::NotInConfig(ip) => format!(
            "the requested {ip} is in no IPAddressPool of namespace {metallb_namespace} (or is a .0/.255 of an avoidBuggyIPs pool)"
        ),
        AllocError::NoAvailableIps => {
            "no pool has a free address for it (see the pools below)".to_string()
        }
        other => other.to_string(),
    }
}

/// Replays the allocation of `inputs.service`; `class` is its loadBalancerClass.
pub(super) fn allocation(inputs: &Inputs, class: Option<&str>) -> AllocationView {
    let target = convert::key(&inputs.service);
    let current = convert::current_ips(&inputs.service);
    let pools = converted(inputs);
    let valid: Vec<Pool> = pools
        .iter()
        .filter_map(|(_, _, p)| p.as_ref().ok().cloned())
        .collect();
    let (world, mut config_problem) = world(inputs, valid, &target);
    if let Some((_, _, Err(message))) = pools.iter().find(|(_, _, p)| p.is_err()) {
        config_problem = Some(format!(
            "{message}; the controller refuses the pools and keeps the ones it accepted before"
        ));
    }
    config_problem = config_problem.or_else(|| advertisement_problem(inputs));
    let pool_of_current = current
        .first()
        .and_then(|ip| world.pool_of_ip(*ip))
        .map(str::to_string);
    let request = convert::request(&inputs.service).map_err(|e| convert::request_problem(&e));
    let mut trial = world.clone();
    // What the controller decides for the Service: keep what it holds, or allocate.
    let (summary, decision) = match (class, &request) {
        (Some(class), _) => (
            format!(
                "not served by this MetalLB: spec.loadBalancerClass is {class:?}, and MetalLB serves only Services without a loadBalancerClass"
            ),
            None,
        ),
        (None, Err(problem)) if current.is_empty() => (format!("has no address: {problem}"), None),
        (None, Err(problem)) => (
            format!(
                "keeps {} while its request cannot be read: {problem}",
                list(&current)
            ),
            None,
        ),
        (None, Ok(request)) if current.is_empty() => match trial.allocate(request) {
            Ok(a) => (
                format!(
                    "has no address yet, though pool {} has {} for it: is the controller running? (see the events)",
                    a.pool,
                    list(&a.ips)
                ),
                Some(Ok(a)),
            ),
            Err(e) => (
                format!(
                    "has no address: {}",
                    describe(&e, &inputs.metallb_namespace)
                ),
                Some(Err(e)),
            ),
        },
        (None, Ok(request)) => match trial.restore(request, &current) {
            Ok(a) => (
                format!("has {} from pool {}", list(&a.ips), a.pool),
                Some(Ok(a)),
            ),
            Err(e) => {
                let next = trial.allocate(request);
                let then = match &next {
                    Ok(a) => format!("; it would then get {} from pool {}", list(&a.ips), a.pool),
                    Err(e) => format!("; it would then get none: {e}"),
                };
                (
                    format!(
                        "has {}, but the controller takes it back: {}{then}",
                        list(&current),
                        describe(&e, &inputs.metallb_namespace)
                    ),
                    Some(next),
                )
            }
        },
    };
    let verdicts = pools
        .iter()
        .map(|(name, addresses, pool)| {
            let Ok(pool) = pool else {
                return PoolVerdict {
                    name: name.clone(),
                    addresses: addresses.clone(),
                    auto_assign: false,
                    priority: None,
                    in_use: 0,
                    size: 0,
                    used: false,
                    reasons: vec![Reason::new(
                        "invalid",
                        pool.as_ref()
                            .err()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    )],
                };
            };
            let counters = trial.counters(&pool.name).unwrap_or_default();
            let mut verdict = PoolVerdict {
                name: name.clone(),
                addresses: addresses.clone(),
                auto_assign: pool.auto_assign,
                priority: pool.allocation.as_ref().map(|a| a.priority),
                in_use: counters.in_use(),
                size: counters.total(),
                used: false,
                reasons: Vec::new(),
            };
            match (class, &request) {
                (Some(class), _) => verdict.reasons.push(Reason::new(
                    "otherClass",
                    format!("not considered: the Service has loadBalancerClass {class:?}"),
                )),
                (None, Err(problem)) => verdict.reasons.push(Reason::new(
                    "badRequest",
                    format!("not considered: {problem}"),
                )),
                (None, Ok(request)) => {
                    let chosen = decision.as_ref().and_then(|d| d.as_ref().ok());
                    verdict.used = chosen.is_some_and(|a| a.pool == pool.name);
                    verdict.reasons = reasons(
                        &world,
                        pool,
                        request,
                        &current,
                        decision.as_ref(),
                        &inputs.metallb_namespace,
                    );
                }
            }
            verdict
        })
        .collect();
    AllocationView {
        summary,
        pools: verdicts,
        config_problem,
        pool_of_current,
        world,
    }
}

/// Why the pool serves (or does not serve) `request`, given the controller's `decision`.
fn reasons(
    world: &Allocator,
    pool: &Pool,
    request: &ServiceRequest,
    current: &[IpAddr],
    decision: Option<&Result<Allocation, AllocError>>,
    metallb_namespace: &str,
) -> Vec<Reason> {
    let chosen = decision.and_then(|d| d.as_ref().ok());
    let failure = decision.and_then(|d| d.as_ref().err());
    if let Some(a) = chosen.filter(|a| a.pool == pool.name) {
        let held = !current.is_empty() && current.iter().all(|ip| a.ips.contains(ip));
        let verb = if held { "holds" } else { "would give it" };
        return vec![Reason::new("used", format!("{verb} {}", list(&a.ips)))];
    }
    if !request.requested_ips.is_empty() {
        return requested(pool, request, failure, metallb_namespace);
    }
    if let Some(asked) = &request.requested_pool {
        if *asked != pool.name {
            return vec![Reason::new(
                "otherPoolRequested",
                format!("the Service asks for pool {asked} (metallb.io/address-pool)"),
            )];
        }
        let mut out = incompatible(pool, request);
        if out.is_empty()
            && let Some(e) = failure
        {
            out.push(capacity_or(world, pool, e, metallb_namespace));
        }
        return out;
    }
    let mut out = Vec::new();
    if !pool.auto_assign {
        out.push(Reason::new(
            "autoAssignOff",
            "autoAssign: false: only Services that request its addresses or name it in metallb.io/address-pool get one",
        ));
    }
    out.extend(incompatible(pool, request));
    out.extend(family(pool, request));
    if !out.is_empty() {
        return out;
    }
    // Would the pool have an address for the Service if it were the only candidate?
    let mut alone = world.clone();
    let mut asking = request.clone();
    asking.requested_pool = Some(pool.name.clone());
    match alone.allocate(&asking) {
        Err(AllocError::PoolExhausted(_)) | Err(AllocError::NoAvailableIps) => {
            out.push(full(world, pool))
        }
        Err(e) => out.push(Reason::new(
            "refused",
            describe(&e, metallb_namespace),
        )),
        Ok(_) => match chosen {
            Some(a) if !current.is_empty() && a.ips.iter().all(|ip| current.contains(ip)) => {
                out.push(Reason::new(
                    "holdsOther",
                    format!("has room, but the Service keeps what it holds from pool {}", a.pool),
                ))
            }
            Some(a) => out.push(Reason::new(
                "notFirst",
                format!(
                    "has room, but pool {} comes first (pools with a serviceAllocation by priority, then the others by name)",
                    a.pool
                ),
            )),
            None => out.push(Reason::new(
                "unused",
                failure.map_or_else(
                    || "has room, but the Service is not allocated".to_string(),
                    |e| describe(e, metallb_namespace),
                ),
            )),
        },
    }
    out
}

/// Reasons about requested addresses (`loadBalancerIPs`), which ignore autoAssign.
fn requested(
    pool: &Pool,
    request: &ServiceRequest,
    failure: Option<&AllocError>,
    metallb_namespace: &str,
) -> Vec<Reason> {
    let inside: Vec<IpAddr> = request
        .requested_ips
        .iter()
        .copied()
        .filter(|ip| pool.contains(*ip))
        .collect();
    if inside.is_empty() {
        let ranges: Vec<String> = pool.ranges.iter().map(ToString::to_string).collect();
        return vec![Reason::new(
            "requestedOutside",
            format!(
                "the requested {} outside this pool ({})",
                match request.requested_ips.as_slice() {
                    [one] => format!("{one} is"),
                    many => format!("{} are", list(many)),
                },
                ranges.join(", ")
            ),
        )];
    }
    if let Some(ip) = inside.iter().find(|ip| pool.is_buggy(**ip)) {
        return vec![Reason::new(
            "buggyIp",
            format!("the requested {ip} ends in .0 or .255 and the pool has avoidBuggyIPs: true"),
        )];
    }
    let mut out = incompatible(pool, request);
    if out.is_empty()
        && let Some(e) = failure
    {
        let code = match e {
            AllocError::Sharing(_) | AllocError::HeldElsewhere { .. } => "sharing",
            AllocError::FamilyMismatch(_) => "familyMismatch",
            _ => "refused",
        };
        out.push(Reason::new(code, describe(e, metallb_namespace)));
    }
    out
}

/// Why the pool's serviceAllocation does not admit the Service (empty when it does).
fn incompatible(pool: &Pool, request: &ServiceRequest) -> Vec<Reason> {
    let Some(allocation) = &pool.allocation else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if allocation.namespace_restricted && !allocation.namespaces.contains(&request.namespace) {
        let admitted = if allocation.namespaces.is_empty() {
            "no namespace".to_string()
        } else {
            allocation
                .namespaces
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(Reason::new(
            "namespaceNotAllowed",
            format!(
                "serviceAllocation admits {admitted}, not namespace {}",
                request.namespace
            ),
        ));
    }
    if !allocation.service_selectors.is_empty()
        && !any_matches(&allocation.service_selectors, &request.labels)
    {
        out.push(Reason::new(
            "serviceSelectorMismatch",
            "serviceAllocation.serviceSelectors do not match the Service's labels",
        ));
    }
    out
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// Why the pool has no address of the families the Service wants (empty when it has).
fn family(pool: &Pool, request: &ServiceRequest) -> Vec<Reason> {
    let wanted = request.wanted_families();
    let missing: Vec<Family> = wanted
        .iter()
        .copied()
        .filter(|f| pool.ranges_of(*f).next().is_none())
        .collect();
    let fits = match request.policy {
        metallb_core::allocator::FamilyPolicy::PreferDualStack => missing.len() < wanted.len(),
        _ => missing.is_empty(),
    };
    if fits {
        return Vec::new();
    }
    let names: Vec<&str> = missing.iter().map(|f| family_name(*f)).collect();
    vec![Reason::new(
        "familyMismatch",
        format!(
            "the address family does not match: the Service wants {}, the pool has no {} range",
            wanted
                .iter()
                .map(|f| family_name(*f))
                .collect::<Vec<_>>()
                .join(" and "),
            names.join(" or ")
        ),
    )]
}

/// The pool is full for the Service: every address in use and none it may share.
fn full(world: &Allocator, pool: &Pool) -> Reason {
    let counters = world.counters(&pool.name).unwrap_or_default();
    Reason::new(
        "full",
        format!(
            "full: {} of {} addresses in use, none the Service may share",
            counters.in_use(),
            counters.total()
        ),
    )
}

/// The named pool's refusal: full, or the allocator's error.
fn capacity_or(world: &Allocator, pool: &Pool, e: &AllocError, metallb_namespace: &str) -> Reason {
    match e {
        AllocError::PoolExhausted(_) | AllocError::NoAvailableIps => full(world, pool),
        other => Reason::new("refused", describe(other, metallb_namespace)),
    }
}
