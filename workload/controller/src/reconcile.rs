//! Allocation decisions for Services (behaviour reference §3.2, §3.9), made incrementally.
//!
//! The [`Reconciler`] keeps, per Service, only what allocation reads (a few hundred bytes, not
//! the Service object) and remembers which Services changed since the last pass. A pass looks at
//! the changed Services only, and at every Service when the pools changed or the watch was
//! re-listed, so a burst of N new Services costs O(N log N), not a full pass per batch.
//! Services that already hold addresses are processed first, so they re-claim them before any
//! pending Service is served. Services whose allocation failed are retried when addresses may
//! have become free (a Service released or changed what it holds).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use metallb_api::annotations;
use metallb_core::allocator::{Allocator, Pool, PoolsError, ServiceRequest};

use crate::convert::{RequestError, current_ips, key, known_request, request};

/// A status change for one Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The addresses it should have (empty: clear).
    pub ips: Vec<IpAddr>,
    /// The pool they come from.
    pub pool: Option<String>,
    /// Why, for logs and events.
    pub reason: String,
}

/// An event about a Service (upstream's reasons: `IPAllocated`, `AllocationFailed`,
/// `ClearAssignment`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEvent {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// A Warning (else Normal).
    pub warning: bool,
    /// The event reason.
    pub reason: &'static str,
    /// The message.
    pub note: String,
}

impl ServiceEvent {
    /// `namespace/name` of the Service.
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// A fingerprint of what the event says, to record the same thing only once.
    fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        (self.warning, self.reason, &self.note).hash(&mut hasher);
        hasher.finish()
    }
}

/// What a Service of this controller's class asks for.
// The large variant is the common one (and `Tracked` is boxed already): boxing it would cost an
// allocation per Service.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    /// No longer a LoadBalancer, but it still carries addresses or the pool annotation: clear.
    Clear,
    /// A LoadBalancer Service's allocation request.
    Valid(ServiceRequest),
    /// A LoadBalancer Service whose request cannot be parsed (boxed: rare, and the common case
    /// stays small).
    Invalid(Box<Invalid>),
}

/// A request that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Invalid {
    /// Why.
    reason: RequestError,
    /// What could be read (for keeping held addresses, [`Allocator::hold`]).
    known: ServiceRequest,
}

/// What is kept of one Service of this controller's class.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tracked {
    /// What it asks for.
    request: Request,
    /// The addresses in its `status.loadBalancer.ingress`.
    current_ips: Vec<IpAddr>,
    /// Its `ip-allocated-from-pool` annotation.
    current_pool: Option<String>,
    /// The fingerprint of the last event recorded for it.
    last_event: Option<u64>,
}

/// The controller's allocation state: the allocator, the Services it handles and what changed
/// since the last pass. Pure: fed with watch events, it returns the writes to make.
///
/// Safety rules (issue 14): no pass changes or allocates anything before a configuration is in
/// force ([`Self::is_configured`]); a Service whose request cannot be parsed keeps what it holds
/// ([`Allocator::hold`]); addresses held by Services of another class are never handed out
/// ([`Allocator::reserve`]).
#[derive(Debug)]
pub struct Reconciler {
    allocator: Allocator,
    lb_class: Option<String>,
    /// Boxed: the map's spare slots then cost a pointer, not a whole entry.
    services: HashMap<String, Box<Tracked>>,
    /// Changed since the last pass.
    dirty: BTreeSet<String>,
    /// Handled Services left without addresses by a failed allocation.
    failed: BTreeSet<String>,
    /// Addresses may have become free: retry the failed Services.
    retry_failed: bool,
    /// The next pass looks at every Service (first pass, pools changed, re-list).
    everything: bool,
    /// The keys seen since a re-list started.
    relist: Option<HashSet<String>>,
    /// Services processed by all passes so far.
    processed: u64,
}

impl Reconciler {
    /// A reconciler for Services of `lb_class` (None: Services without a class), with no pools.
    pub fn new(lb_class: Option<String>) -> Self {
        Self {
            allocator: Allocator::new(),
            lb_class,
            services: HashMap::new(),
            dirty: BTreeSet::new(),
            failed: BTreeSet::new(),
            retry_failed: false,
            everything: true,
            relist: None,
            processed: 0,
        }
    }

    /// The allocator (pools, counters, holdings).
    pub fn allocator(&self) -> &Allocator {
        &self.allocator
    }

    /// How many Services all passes so far have processed (a Service counts once per pass that
    /// looked at it).
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// How many handled Services were left without an address by a failed allocation (they
    /// are retried when addresses may have become free).
    pub fn without_address(&self) -> usize {
        self.failed.len()
    }

    /// How many Services of this controller's class are tracked.
    pub fn tracked(&self) -> usize {
        self.services.len()
    }

    /// Whether a configuration is in force: valid pools were installed at least once. Until
    /// then no pass changes any Service (an invalid configuration at start, or no pool yet,
    /// must not clear a single address).
    pub fn is_configured(&self) -> bool {
        self.allocator.is_configured()
    }

    /// Installs `pools` when they differ from the ones in force; invalid pools leave the
    /// previous ones in force. A change makes the next pass look at every Service.
    ///
    /// An empty set is not a configuration to start from: before any configuration is in force
    /// it is ignored (a controller watching the wrong namespace, or started before its pools
    /// were created, would otherwise clear every address). Once one is in force, deleting every
    /// pool releases every address, as upstream does.
    pub fn set_pools(&mut self, pools: Vec<Pool>) -> Result<(), PoolsError> {
        if !self.allocator.is_configured() && pools.is_empty() {
            return Ok(());
        }
        if self.allocator.is_configured() && self.allocator.pools().eq(pools.iter()) {
            return Ok(());
        }
        self.allocator.try_set_pools(pools)?;
        self.everything = true;
        Ok(())
    }

    /// A Service was added or changed (or listed during a re-list). Returns whether anything
    /// allocation reads changed (the next pass looks at it).
    pub fn service_applied(&mut self, service: &Service) -> bool {
        let key = key(service);
        if let Some(seen) = self.relist.as_mut() {
            seen.insert(key.clone());
        }
        let spec = service.spec.as_ref();
        let ours = spec.and_then(|s| s.load_balancer_class.as_deref()) == self.lb_class.as_deref();
        let load_balancer = spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
        let current_ips = current_ips(service);
        if !ours {
            // Another controller's LoadBalancer: what it holds is never handed out. (Addresses
            // left in the status of a Service of another class that is no longer a
            // LoadBalancer are announced by nobody, and are not kept from anyone.)
            self.forget(&key);
            let held: &[IpAddr] = if load_balancer { &current_ips } else { &[] };
            if self.allocator.reserve(&key, held) {
                self.retry_failed = true;
            }
            return false;
        }
        if self.allocator.unreserve(&key) {
            self.retry_failed = true;
        }
        let current_pool = annotations::get(
            service.metadata.annotations.as_ref(),
            annotations::IP_ALLOCATED_FROM_POOL,
        )
        .map(str::to_string);
        let request = if load_balancer {
            match request(service) {
                Ok(request) => Request::Valid(request),
                Err(reason) => Request::Invalid(Box::new(Invalid {
                    reason,
                    known: known_request(service),
                })),
            }
        } else if !current_ips.is_empty() || current_pool.is_some() {
            Request::Clear
        } else {
            // Nothing of ours on it: nothing to keep.
            self.forget(&key);
            return false;
        };
        let previous = self.services.get(&key);
        if let Some(previous) = previous {
            if previous.request == request
                && previous.current_ips == current_ips
                && previous.current_pool == current_pool
            {
                return false;
            }
            // A holder whose request changed (ports, sharing key, type) may free addresses or
            // end a sharing conflict.
            if previous.request != request && self.allocator.allocation(&key).is_some() {
                self.retry_failed = true;
            }
        }
        let last_event = previous.and_then(|p| p.last_event);
        self.services.insert(
            key.clone(),
            Box::new(Tracked {
                request,
                current_ips,
                current_pool,
                last_event,
            }),
        );
        self.dirty.insert(key);
        true
    }

    /// A Service was deleted: what it held is free again.
    pub fn service_deleted(&mut self, service: &Service) {
        let key = key(service);
        self.forget(&key);
        if self.allocator.unreserve(&key) {
            self.retry_failed = true;
        }
    }

    /// The Service watch restarted: the Services applied until [`Self::relist_done`] replace
    /// every known one.
    pub fn relist_started(&mut self) {
        self.relist = Some(HashSet::new());
    }

    /// The re-list is complete: Services not listed are gone; the next pass looks at every
    /// Service.
    pub fn relist_done(&mut self) {
        let Some(seen) = self.relist.take() else {
            return;
        };
        let gone: Vec<String> = self
            .services
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        // Every holder is a tracked Service: forgetting the unlisted ones frees all they held.
        for key in gone {
            self.forget(&key);
        }
        let gone: Vec<String> = self
            .allocator
            .reservations()
            .map(|(k, _)| k)
            .filter(|k| !seen.contains(*k))
            .map(str::to_string)
            .collect();
        for key in gone {
            if self.allocator.unreserve(&key) {
                self.retry_failed = true;
            }
        }
        self.everything = true;
    }

    /// Whether `event` says something new for its Service (not what was recorded last).
    pub fn is_news(&self, event: &ServiceEvent) -> bool {
        self.services
            .get(&event.key())
            .is_none_or(|t| t.last_event != Some(event.fingerprint()))
    }

    /// Notes that `event` was recorded.
    pub fn recorded(&mut self, event: &ServiceEvent) {
        if let Some(tracked) = self.services.get_mut(&event.key()) {
            tracked.last_event = Some(event.fingerprint());
        }
    }

    /// Looks at a Service again in the next pass (its last write failed and its backoff is
    /// over).
    pub fn retry(&mut self, namespace: &str, name: &str) {
        let key = format!("{namespace}/{name}");
        if self.services.contains_key(&key) {
            self.dirty.insert(key);
        }
    }

    /// Drops a Service: releases what it held.
    fn forget(&mut self, key: &str) {
        self.services.remove(key);
        self.dirty.remove(key);
        self.failed.remove(key);
        if self.allocator.release(key) {
            self.retry_failed = true;
        }
    }

    /// Runs one pass over the Services that need it; returns the status changes to write and
    /// the events to record (see [`Self::is_news`]). Before a configuration is in force it
    /// returns nothing and keeps every change for the first pass after.
    pub fn pass(&mut self) -> (Vec<Change>, Vec<ServiceEvent>) {
        if !self.is_configured() {
            return (vec![], vec![]);
        }
        let mut work = std::mem::take(&mut self.dirty);
        if std::mem::take(&mut self.everything) {
            work = self.services.keys().cloned().collect();
        }
        let mut changes = Vec::new();
        let mut events = Vec::new();
        // At most two rounds: the second serves failed Services with what the first freed
        // (a round of allocations alone frees nothing).
        for _ in 0..2 {
            if std::mem::take(&mut self.retry_failed) {
                work.extend(self.failed.iter().cloned());
            }
            if work.is_empty() {
                break;
            }
            self.process(std::mem::take(&mut work), &mut changes, &mut events);
        }
        // A Service looked at in both rounds is written once, with the later decision.
        let mut last: HashMap<(String, String), usize> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            last.insert((c.namespace.clone(), c.name.clone()), i);
        }
        let mut i = 0;
        changes.retain(|c| {
            i += 1;
            last.get(&(c.namespace.clone(), c.name.clone())) == Some(&(i - 1))
        });
        (changes, events)
    }

    /// Processes `work`, holders first.
    fn process(
        &mut self,
        work: BTreeSet<String>,
        changes: &mut Vec<Change>,
        events: &mut Vec<ServiceEvent>,
    ) {
        let mut ordered: Vec<(&String, &Tracked)> = work
            .iter()
            .filter_map(|k| Some((k, &**self.services.get(k)?)))
            .collect();
        ordered.sort_by_key(|(k, t)| (std::cmp::Reverse(t.current_ips.len()), *k));
        self.processed += ordered.len() as u64;
        for (key, tracked) in ordered {
            let (namespace, name) = key.split_once('/').unwrap_or(("", key));
            let event = |warning: bool, reason: &'static str, note: String| ServiceEvent {
                namespace: namespace.to_string(),
                name: name.to_string(),
                warning,
                reason,
                note,
            };
            let change = |ips: Vec<IpAddr>, pool: Option<String>, reason: String| Change {
                namespace: namespace.to_string(),
                name: name.to_string(),
                ips,
                pool,
                reason,
            };
            let current = &tracked.current_ips;
            let req = match &tracked.request {
                Request::Clear => {
                    if self.allocator.release(key) {
                        self.retry_failed = true;
                    }
                    changes.push(change(vec![], None, "not a LoadBalancer any more".into()));
                    continue;
                }
                Request::Invalid(invalid) => {
                    let (reason, known) = (&invalid.reason, &invalid.known);
                    tracing::warn!(service = %key, "{reason}");
                    self.failed.remove(key);
                    if current.is_empty() {
                        // Nothing held: nothing is allocated until the request is fixed.
                        if self.allocator.release(key) {
                            self.retry_failed = true;
                        }
                        events.push(event(true, "AllocationFailed", reason.to_string()));
                        continue;
                    }
                    // Held addresses stay claimed: never handed to another Service.
                    match self.allocator.hold(known, current) {
                        Ok(held) => {
                            let note = format!(
                                "invalid requested loadbalancer IPs: {reason}; keeping {}",
                                list(&held.ips)
                            );
                            events.push(event(true, "LoadBalancerFailed", note));
                            if tracked.current_pool.as_deref() != Some(held.pool.as_str()) {
                                changes.push(change(
                                    held.ips,
                                    Some(held.pool),
                                    "pool annotation".into(),
                                ));
                            }
                        }
                        Err(err) => {
                            self.retry_failed = true;
                            let note = format!(
                                "current IP not allowed by config, clearing: {err}; no new IP until the request is fixed: {reason}"
                            );
                            // Normal, as upstream's ClearAssignment; the AllocationFailed
                            // warning follows once the cleared status is back.
                            events.push(event(false, "ClearAssignment", note));
                            changes.push(change(vec![], None, format!("cleared: {err}")));
                        }
                    }
                    continue;
                }
                Request::Valid(req) => req,
            };
            // Services holding addresses re-claim them (restart safety); a held address that is
            // no longer valid (family, requested IPs or pool changed, pool shrunk) is released.
            let mut kept = None;
            if !current.is_empty() {
                match self.allocator.restore(req, current) {
                    Ok(allocation) => kept = Some(allocation),
                    Err(err) => {
                        tracing::info!(service = %key, "clearing assignment: {err}");
                        self.retry_failed = true;
                        let reason = err.event_reason();
                        let note = format!("current IP not allowed by config, clearing: {err}");
                        events.push(event(reason != "ClearAssignment", reason, note));
                    }
                }
            }
            if let Some(held) = &kept
                && let Some((ip, other)) = held.ips.iter().find_map(|ip| {
                    Some((
                        *ip,
                        self.allocator.foreign_users_of(*ip).into_iter().next()?,
                    ))
                })
            {
                let note = format!(
                    "{ip} is also held by {other}, a Service this controller does not handle; keeping it"
                );
                events.push(event(true, "IPConflict", note));
            }
            // PreferDualStack Services holding one family get the other from the same pool
            // when it has one.
            if kept.is_some() {
                match self.allocator.add_missing_family(req) {
                    Ok(Some(upgraded)) => kept = Some(upgraded),
                    Ok(None) => {}
                    Err(err) => tracing::debug!(service = %key, "no additional family: {err}"),
                }
            }
            let (allocation, reason) = match kept {
                Some(a) => (Some(a), String::new()),
                None => match self.allocator.allocate(req) {
                    Ok(a) => {
                        let reason = format!("Assigned IP {}", list(&a.ips));
                        events.push(event(false, "IPAllocated", reason.clone()));
                        (Some(a), reason)
                    }
                    Err(err) => {
                        let note = format!("Failed to allocate IP for {:?}: {err}", req.key);
                        events.push(event(true, err.event_reason(), note));
                        (None, format!("AllocationFailed: {err}"))
                    }
                },
            };
            if allocation.is_some() {
                self.failed.remove(key);
            } else {
                self.failed.insert(key.clone());
            }
            let (ips, pool) = match allocation {
                Some(a) => (a.ips, Some(a.pool)),
                None => (vec![], None),
            };
            if ips != *current || pool != tracked.current_pool {
                changes.push(change(ips, pool, reason));
            }
        }
    }
}

/// Addresses as upstream's events print them: `["198.18.0.1"]`.
fn list(ips: &[IpAddr]) -> String {
    format!(
        "{:?}",
        ips.iter().map(ToString::to_string).collect::<Vec<_>>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use metallb_core::iprange::IpRange;
    use serde_json::json;

    fn service(name: &str, kind: &str, extra: serde_json::Value) -> Service {
        let mut value = json!({
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"type": kind, "clusterIPs": ["198.19.224.10"], "ports": [{"port": 80}]},
        });
        if let (Some(target), serde_json::Value::Object(fields)) =
            (value["spec"].as_object_mut(), extra)
        {
            target.extend(fields);
        }
        serde_json::from_value(value).unwrap()
    }

    /// `service` as the API server returns it after the controller wrote `change`.
    fn written(service: &Service, change: &Change) -> Service {
        let mut value = serde_json::to_value(service).unwrap();
        let ingress: Vec<_> = change.ips.iter().map(|ip| json!({"ip": ip})).collect();
        value["status"] = json!({"loadBalancer": {"ingress": ingress}});
        value["metadata"]["annotations"] = match &change.pool {
            Some(pool) => json!({"metallb.io/ip-allocated-from-pool": pool}),
            None => json!({}),
        };
        serde_json::from_value(value).unwrap()
    }

    fn pool(name: &str, ranges: &[&str]) -> Pool {
        Pool::new(
            name,
            ranges.iter().map(|r| IpRange::parse(r).unwrap()).collect(),
        )
    }

    fn reconciler(ranges: &[&str]) -> Reconciler {
        let mut r = Reconciler::new(None);
        r.set_pools(vec![pool("p", ranges)]).unwrap();
        r
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn names(changes: &[Change]) -> Vec<&str> {
        changes.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn allocates_and_skips_other_types_and_classes() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        r.service_applied(&service("lb", "LoadBalancer", json!({})));
        r.service_applied(&service("plain", "ClusterIP", json!({})));
        r.service_applied(&service(
            "other-class",
            "LoadBalancer",
            json!({"loadBalancerClass": "other"}),
        ));
        let (changes, events) = r.pass();
        assert_eq!(names(&changes), ["lb"]);
        assert_eq!(changes[0].ips, vec![ip("198.18.0.0")]);
        assert_eq!(changes[0].pool.as_deref(), Some("p"));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].reason, "IPAllocated");
        assert_eq!(
            r.tracked(),
            1,
            "Services of other types and classes are not kept"
        );
    }

    #[test]
    fn services_left_without_an_address_are_counted_until_served() {
        let mut r = reconciler(&["198.18.0.0/32"]);
        let first = service("first", "LoadBalancer", json!({}));
        let second = service("second", "LoadBalancer", json!({}));
        r.service_applied(&first);
        r.service_applied(&second);
        let (changes, _) = r.pass();
        let served = changes.iter().find(|c| !c.ips.is_empty()).unwrap();
        assert_eq!(r.without_address(), 1, "one address for two Services");
        let unserved = if served.name == "first" {
            &second
        } else {
            &first
        };
        let held = if served.name == "first" {
            &first
        } else {
            &second
        };
        r.service_deleted(&written(held, served));
        r.pass();
        assert_eq!(r.without_address(), 0, "served once the address is free");
        let name = unserved.metadata.name.clone().unwrap();
        assert!(r.allocator().holders().iter().any(|h| h.ends_with(&name)));
    }

    #[test]
    fn unchanged_services_are_not_written_and_type_changes_clear() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        let lb = service("lb", "LoadBalancer", json!({}));
        r.service_applied(&lb);
        let (changes, _) = r.pass();
        let held = written(&lb, &changes[0]);
        r.service_applied(&held);
        assert_eq!(r.pass(), (vec![], vec![]), "kept as is: no write");
        let mut changed = held.clone();
        if let Some(spec) = changed.spec.as_mut() {
            spec.type_ = Some("ClusterIP".into());
        }
        r.service_applied(&changed);
        let (changes, _) = r.pass();
        assert_eq!(names(&changes), ["lb"]);
        assert!(changes[0].ips.is_empty() && changes[0].pool.is_none());
        assert!(r.allocator().holders().is_empty());
        r.service_applied(&written(&changed, &changes[0]));
        assert_eq!(r.tracked(), 0, "a cleared ClusterIP Service is not kept");
    }

    #[test]
    fn a_restart_keeps_every_held_address() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        let pending = service("a-pending", "LoadBalancer", json!({}));
        let held = written(
            &service("z-held", "LoadBalancer", json!({})),
            &Change {
                namespace: "apps".into(),
                name: "z-held".into(),
                ips: vec![ip("198.18.0.0")],
                pool: Some("p".into()),
                reason: String::new(),
            },
        );
        r.relist_started();
        r.service_applied(&pending);
        r.service_applied(&held);
        r.relist_done();
        let (changes, _) = r.pass();
        assert_eq!(names(&changes), ["a-pending"]);
        assert_eq!(
            changes[0].ips,
            vec![ip("198.18.0.1")],
            "the held address is not handed out again"
        );
    }

    #[test]
    fn prefer_dual_stack_gains_the_missing_family_and_stale_addresses_are_replaced() {
        let mut r = reconciler(&["198.18.0.0/30", "2001:db8::/126"]);
        let dual = service(
            "dual",
            "LoadBalancer",
            json!({"clusterIPs": ["198.19.0.10", "2001:db8:5e::10"], "ipFamilyPolicy": "PreferDualStack"}),
        );
        let holding = |s: &Service, ips: &[&str], pool: Option<&str>| {
            written(
                s,
                &Change {
                    namespace: "apps".into(),
                    name: String::new(),
                    ips: ips.iter().map(|s| ip(s)).collect(),
                    pool: pool.map(str::to_string),
                    reason: String::new(),
                },
            )
        };
        r.service_applied(&holding(&dual, &["198.18.0.1"], Some("p")));
        let stale = service("stale", "LoadBalancer", json!({}));
        r.service_applied(&holding(&stale, &["198.18.9.9"], None));
        let (changes, _) = r.pass();
        let by_name = |n: &str| changes.iter().find(|c| c.name == n).unwrap().ips.clone();
        assert_eq!(
            by_name("dual"),
            vec![ip("198.18.0.1"), ip("2001:db8::")],
            "keeps its IPv4 address and gains IPv6 from the same pool"
        );
        assert_eq!(
            by_name("stale"),
            vec![ip("198.18.0.0")],
            "an address outside every pool is replaced"
        );
    }

    #[test]
    fn a_bad_request_is_skipped_not_fatal() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        r.service_applied(&service(
            "bad",
            "LoadBalancer",
            json!({"loadBalancerIP": "not-an-ip"}),
        ));
        r.service_applied(&service("good", "LoadBalancer", json!({})));
        let (changes, events) = r.pass();
        assert_eq!(names(&changes), ["good"]);
        assert!(
            events
                .iter()
                .any(|e| e.name == "bad" && e.reason == "AllocationFailed" && e.warning)
        );
    }

    #[test]
    fn a_pass_looks_only_at_what_changed() {
        let mut r = reconciler(&["198.18.0.0/22"]);
        let mut looked_at = 0;
        for i in 0..100 {
            let s = service(&format!("s{i:03}"), "LoadBalancer", json!({}));
            r.service_applied(&s);
            let (changes, _) = r.pass();
            assert_eq!(names(&changes), [format!("s{i:03}")]);
            looked_at += changes.len();
            // The status echo is looked at once and needs no write.
            r.service_applied(&written(&s, &changes[0]));
            assert_eq!(r.pass().0, vec![]);
        }
        assert_eq!(looked_at, 100);
        assert_eq!(r.allocator().holders().len(), 100);
        assert_eq!(
            r.processed(),
            200,
            "each Service was processed twice (creation, status echo), never once per pass"
        );
    }

    #[test]
    fn a_freed_address_goes_to_a_service_that_failed() {
        let mut r = reconciler(&["198.18.0.7/32"]);
        let first = service("first", "LoadBalancer", json!({}));
        r.service_applied(&first);
        let (changes, _) = r.pass();
        r.service_applied(&written(&first, &changes[0]));
        r.service_applied(&service("second", "LoadBalancer", json!({})));
        let (changes, events) = r.pass();
        assert!(changes.is_empty(), "nothing to write: it had nothing");
        assert_eq!(events[0].reason, "AllocationFailed");
        r.service_deleted(&first);
        let (changes, _) = r.pass();
        assert_eq!(names(&changes), ["second"]);
        assert_eq!(changes[0].ips, vec![ip("198.18.0.7")]);
    }

    #[test]
    fn a_shrunk_pool_reallocates_and_a_relist_forgets_the_vanished() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        let a = service("a", "LoadBalancer", json!({"loadBalancerIP": "198.18.0.3"}));
        let b = service("b", "LoadBalancer", json!({}));
        for s in [&a, &b] {
            r.service_applied(s);
        }
        let (changes, _) = r.pass();
        for c in &changes {
            let s = if c.name == "a" { &a } else { &b };
            r.service_applied(&written(s, c));
        }
        r.pass();
        r.set_pools(vec![pool("p", &["198.18.0.0/31"])]).unwrap();
        let (changes, events) = r.pass();
        assert_eq!(
            names(&changes),
            ["a"],
            "b's 198.18.0.0 is still in the pool"
        );
        assert!(changes[0].ips.is_empty());
        assert!(events.iter().any(|e| e.name == "a" && e.warning));
        r.relist_started();
        r.service_applied(&b);
        r.relist_done();
        assert_eq!(r.tracked(), 1);
        assert_eq!(r.allocator().holders(), ["apps/b"]);
    }

    #[test]
    fn an_event_is_news_once() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        r.service_applied(&service(
            "bad",
            "LoadBalancer",
            json!({"loadBalancerIP": "x"}),
        ));
        let (_, events) = r.pass();
        assert!(r.is_news(&events[0]));
        r.recorded(&events[0]);
        assert!(!r.is_news(&events[0]));
        r.service_applied(&service(
            "bad",
            "LoadBalancer",
            json!({"loadBalancerIP": "y"}),
        ));
        let (_, events) = r.pass();
        assert!(r.is_news(&events[0]), "a different message is news again");
    }

    /// `service` holding `ips` from pool `p`, as a previous run left it.
    fn holding(s: &Service, ips: &[&str]) -> Service {
        written(
            s,
            &Change {
                namespace: "apps".into(),
                name: String::new(),
                ips: ips.iter().map(|s| ip(s)).collect(),
                pool: Some("p".into()),
                reason: String::new(),
            },
        )
    }

    /// Feeds back what a pass wrote, as the watch would.
    fn echo(r: &mut Reconciler, services: &[&Service], changes: &[Change]) {
        for c in changes {
            if let Some(s) = services
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(&c.name))
            {
                r.service_applied(&written(s, c));
            }
        }
    }

    #[test]
    fn a_restart_with_an_invalid_configuration_keeps_every_address_and_allocates_nothing() {
        // A restart while an L2Advertisement names a missing pool: run.rs gets a ConfigError
        // and installs no pools, so the reconciler has no configuration in force.
        let mut r = Reconciler::new(None);
        let held = holding(&service("held", "LoadBalancer", json!({})), &["198.18.0.2"]);
        let plain = holding(&service("was-lb", "ClusterIP", json!({})), &["198.18.0.3"]);
        let pending = service("pending", "LoadBalancer", json!({}));
        r.relist_started();
        for s in [&held, &plain, &pending] {
            r.service_applied(s);
        }
        r.relist_done();
        for _ in 0..3 {
            assert!(!r.is_configured());
            assert_eq!(
                r.pass(),
                (vec![], vec![]),
                "nothing cleared, nothing allocated"
            );
        }
        // No pool at all is not a configuration to start from either.
        r.set_pools(vec![]).unwrap();
        assert!(!r.is_configured());
        assert_eq!(r.pass(), (vec![], vec![]));
        // Fixed: held addresses are kept, the pending Service gets a free one, and the
        // non-LoadBalancer is cleared only now.
        r.set_pools(vec![pool("p", &["198.18.0.0/30"])]).unwrap();
        assert!(r.is_configured());
        let (changes, _) = r.pass();
        let by_name = |n: &str| changes.iter().find(|c| c.name == n).map(|c| c.ips.clone());
        assert_eq!(by_name("held"), None, "kept as it is: no write");
        assert_eq!(by_name("pending"), Some(vec![ip("198.18.0.0")]));
        assert_eq!(by_name("was-lb"), Some(vec![]));
        assert_eq!(r.allocator().users_of(ip("198.18.0.2")), ["apps/held"]);
    }

    #[test]
    fn an_unparsable_request_keeps_its_address_reserved() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        let bad = holding(
            &service(
                "bad",
                "LoadBalancer",
                json!({"loadBalancerIP": "not-an-ip"}),
            ),
            &["198.18.0.0"],
        );
        let pending = service("pending", "LoadBalancer", json!({}));
        let wants = service(
            "wants",
            "LoadBalancer",
            json!({"loadBalancerIP": "198.18.0.0"}),
        );
        r.relist_started();
        for s in [&bad, &pending, &wants] {
            r.service_applied(s);
        }
        r.relist_done();
        let (changes, events) = r.pass();
        assert_eq!(names(&changes), ["pending"]);
        assert_eq!(changes[0].ips, vec![ip("198.18.0.1")], "not the bad one's");
        let bad_event = events.iter().find(|e| e.name == "bad").unwrap();
        assert_eq!(bad_event.reason, "LoadBalancerFailed");
        assert!(bad_event.warning && bad_event.note.contains("keeping"));
        assert!(
            events
                .iter()
                .any(|e| e.name == "wants" && e.reason == "AllocationFailed"),
            "an explicit request for the held address is refused"
        );
        assert_eq!(r.allocator().users_of(ip("198.18.0.0")), ["apps/bad"]);
        // Fixed: it keeps its address, nothing is written.
        let fixed = holding(&service("bad", "LoadBalancer", json!({})), &["198.18.0.0"]);
        r.service_applied(&fixed);
        assert_eq!(r.pass().0, vec![]);
        assert_eq!(r.allocator().users_of(ip("198.18.0.0")), ["apps/bad"]);
    }

    #[test]
    fn an_unparsable_request_outside_the_pools_is_cleared_with_an_event() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        let bad = holding(
            &service(
                "bad",
                "LoadBalancer",
                json!({"loadBalancerIP": "not-an-ip"}),
            ),
            &["198.18.9.9"],
        );
        r.service_applied(&bad);
        let (changes, events) = r.pass();
        assert_eq!(names(&changes), ["bad"]);
        assert!(changes[0].ips.is_empty());
        assert!(
            events
                .iter()
                .any(|e| e.reason == "ClearAssignment" && e.note.contains("not-an-ip"))
        );
        // Cleared, it is not given a new address until its request is fixed.
        r.service_applied(&written(&bad, &changes[0]));
        let (changes, events) = r.pass();
        assert!(changes.is_empty());
        assert_eq!(events[0].reason, "AllocationFailed");
        assert!(r.allocator().holders().is_empty());
    }

    #[test]
    fn addresses_held_by_services_of_another_class_are_never_handed_out() {
        let mut r = reconciler(&["198.18.0.0/31"]);
        let theirs = holding(
            &service(
                "theirs",
                "LoadBalancer",
                json!({"loadBalancerClass": "other"}),
            ),
            &["198.18.0.0"],
        );
        r.service_applied(&theirs);
        let a = service("a", "LoadBalancer", json!({}));
        let b = service("b", "LoadBalancer", json!({}));
        r.service_applied(&a);
        r.service_applied(&b);
        let (changes, events) = r.pass();
        assert_eq!(names(&changes), ["a"]);
        assert_eq!(changes[0].ips, vec![ip("198.18.0.1")]);
        assert!(
            events
                .iter()
                .any(|e| e.name == "b" && e.reason == "AllocationFailed")
        );
        echo(&mut r, &[&a], &changes);
        assert_eq!(r.tracked(), 2, "the other class's Service is not tracked");
        assert_eq!(r.allocator().counters("p").unwrap().v4_in_use, 2);
        // The other controller releases it: the waiting Service gets it.
        r.service_deleted(&theirs);
        let (changes, _) = r.pass();
        assert_eq!(names(&changes), ["b"]);
        assert_eq!(changes[0].ips, vec![ip("198.18.0.0")]);
        // Not a LoadBalancer any more: its stale addresses are not kept from anyone.
        let mut stale = theirs.clone();
        if let Some(spec) = stale.spec.as_mut() {
            spec.type_ = Some("ClusterIP".into());
        }
        let mut r2 = reconciler(&["198.18.0.0/31"]);
        r2.service_applied(&stale);
        assert_eq!(r2.allocator().reservations().count(), 0);
        // A re-list without it forgets its reservation too.
        let mut r = reconciler(&["198.18.0.0/31"]);
        r.service_applied(&theirs);
        r.relist_started();
        r.relist_done();
        assert_eq!(r.allocator().reservations().count(), 0);
    }

    #[test]
    fn an_address_also_held_by_another_class_is_kept_with_a_warning() {
        let mut r = reconciler(&["198.18.0.0/30"]);
        let mine = holding(&service("mine", "LoadBalancer", json!({})), &["198.18.0.1"]);
        let theirs = holding(
            &service(
                "theirs",
                "LoadBalancer",
                json!({"loadBalancerClass": "other"}),
            ),
            &["198.18.0.1"],
        );
        r.service_applied(&theirs);
        r.service_applied(&mine);
        let (changes, events) = r.pass();
        assert_eq!(changes, vec![], "nothing is taken away");
        assert!(
            events
                .iter()
                .any(|e| e.name == "mine" && e.reason == "IPConflict" && e.warning)
        );
    }
}
