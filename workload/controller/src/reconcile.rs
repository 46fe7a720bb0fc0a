//! One allocation pass over every Service (behaviour reference §3.2, §3.9): Services that
//! already hold addresses are processed first, so they re-claim them before any pending Service
//! is served; the result is the list of Services whose status must change.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use metallb_api::annotations;
use metallb_core::allocator::Allocator;

use crate::convert::{current_ips, handled, key, request};

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

/// Runs one pass; returns the changes to write.
pub fn pass(
    allocator: &mut Allocator,
    services: &[Arc<Service>],
    lb_class: Option<&str>,
) -> Vec<Change> {
    pass_with_events(allocator, services, lb_class).0
}

/// Runs one pass; returns the changes to write and the events to record.
pub fn pass_with_events(
    allocator: &mut Allocator,
    services: &[Arc<Service>],
    lb_class: Option<&str>,
) -> (Vec<Change>, Vec<ServiceEvent>) {
    let mut events = Vec::new();
    let wanted: BTreeSet<String> = services
        .iter()
        .filter(|s| handled(s, lb_class))
        .map(|s| key(s))
        .collect();
    for holder in allocator.holders() {
        if !wanted.contains(&holder) {
            allocator.release(&holder);
        }
    }
    let mut ordered: Vec<&Arc<Service>> = services.iter().collect();
    ordered.sort_by_key(|s| (std::cmp::Reverse(current_ips(s).len()), key(s)));
    let mut changes = Vec::new();
    for service in ordered {
        let class_matches = service
            .spec
            .as_ref()
            .and_then(|s| s.load_balancer_class.as_deref())
            == lb_class;
        if !class_matches {
            continue;
        }
        let current = current_ips(service);
        let current_pool = annotations::get(
            service.metadata.annotations.as_ref(),
            annotations::IP_ALLOCATED_FROM_POOL,
        )
        .map(str::to_string);
        let event = |warning: bool, reason: &'static str, note: String| ServiceEvent {
            namespace: service.metadata.namespace.clone().unwrap_or_default(),
            name: service.metadata.name.clone().unwrap_or_default(),
            warning,
            reason,
            note,
        };
        let change = |ips: Vec<IpAddr>, pool: Option<String>, reason: String| Change {
            namespace: service.metadata.namespace.clone().unwrap_or_default(),
            name: service.metadata.name.clone().unwrap_or_default(),
            ips,
            pool,
            reason,
        };
        if !handled(service, lb_class) {
            allocator.release(&key(service));
            if !current.is_empty() || current_pool.is_some() {
                changes.push(change(vec![], None, "not a LoadBalancer any more".into()));
            }
            continue;
        }
        let req = match request(service) {
            Ok(req) => req,
            Err(reason) => {
                tracing::warn!(service = %key(service), "{reason}");
                events.push(event(true, "AllocationFailed", reason));
                continue;
            }
        };
        // Services holding addresses re-claim them (restart safety); a held address that is no
        // longer valid (family, requested IPs or pool changed, pool shrunk) is released here.
        let mut kept = None;
        if !current.is_empty() {
            match allocator.restore(&req, &current) {
                Ok(allocation) => kept = Some(allocation),
                Err(err) => {
                    tracing::info!(service = %req.key, "clearing assignment: {err}");
                    let reason = err.event_reason();
                    let note = format!("current IP not allowed by config, clearing: {err}");
                    events.push(event(reason != "ClearAssignment", reason, note));
                }
            }
        }
        // PreferDualStack Services holding one family get the other from the same pool when it
        // has one.
        if kept.is_some() {
            match allocator.add_missing_family(&req) {
                Ok(Some(upgraded)) => kept = Some(upgraded),
                Ok(None) => {}
                Err(err) => tracing::debug!(service = %req.key, "no additional family: {err}"),
            }
        }
        let (allocation, reason) = match kept {
            Some(a) => (Some(a), String::new()),
            None => match allocator.allocate(&req) {
                Ok(a) => {
                    let reason = format!(
                        "Assigned IP {:?}",
                        a.ips.iter().map(ToString::to_string).collect::<Vec<_>>()
                    );
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
        let (ips, pool) = match allocation {
            Some(a) => (a.ips, Some(a.pool)),
            None => (vec![], None),
        };
        if ips != current || pool != current_pool {
            changes.push(change(ips, pool, reason));
        }
    }
    (changes, events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use metallb_core::allocator::Pool;
    use metallb_core::iprange::IpRange;

    fn service(name: &str, kind: &str, extra: serde_json::Value) -> Arc<Service> {
        let mut value = serde_json::json!({
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"type": kind, "clusterIPs": ["198.19.224.10"], "ports": [{"port": 80}]},
        });
        if let (Some(target), serde_json::Value::Object(fields)) =
            (value["spec"].as_object_mut(), extra)
        {
            target.extend(fields);
        }
        Arc::new(serde_json::from_value(value).unwrap())
    }

    fn allocator() -> Allocator {
        let mut a = Allocator::new();
        a.set_pools(vec![Pool::new(
            "p",
            vec![IpRange::parse("198.18.0.0/30").unwrap()],
        )]);
        a
    }

    #[test]
    fn allocates_and_skips_other_types_and_classes() {
        let mut a = allocator();
        let services = vec![
            service("lb", "LoadBalancer", serde_json::json!({})),
            service("plain", "ClusterIP", serde_json::json!({})),
            service(
                "other-class",
                "LoadBalancer",
                serde_json::json!({"loadBalancerClass": "other"}),
            ),
        ];
        let changes = pass(&mut a, &services, None);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].name, "lb");
        assert_eq!(
            changes[0].ips,
            vec!["198.18.0.0".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(changes[0].pool.as_deref(), Some("p"));
    }

    #[test]
    fn unchanged_services_are_not_written_and_type_changes_clear() {
        let mut a = allocator();
        let mut held =
            serde_json::to_value(&*service("lb", "LoadBalancer", serde_json::json!({}))).unwrap();
        held["status"] = serde_json::json!({"loadBalancer": {"ingress": [{"ip": "198.18.0.2"}]}});
        held["metadata"]["annotations"] =
            serde_json::json!({"metallb.io/ip-allocated-from-pool": "p"});
        let held: Arc<Service> = Arc::new(serde_json::from_value(held.clone()).unwrap());
        assert!(
            pass(&mut a, std::slice::from_ref(&held), None).is_empty(),
            "kept as is: no write"
        );
        let mut changed = (*held).clone();
        if let Some(spec) = changed.spec.as_mut() {
            spec.type_ = Some("ClusterIP".into());
        }
        let changes = pass(&mut a, &[Arc::new(changed)], None);
        assert_eq!(changes.len(), 1);
        assert!(changes[0].ips.is_empty() && changes[0].pool.is_none());
    }

    #[test]
    fn prefer_dual_stack_gains_the_missing_family_and_stale_addresses_are_replaced() {
        let mut a = Allocator::new();
        a.set_pools(vec![Pool::new(
            "p",
            vec![
                IpRange::parse("198.18.0.0/30").unwrap(),
                IpRange::parse("2001:db8::/126").unwrap(),
            ],
        )]);
        let mut dual = serde_json::to_value(&*service(
            "dual",
            "LoadBalancer",
            serde_json::json!({"clusterIPs": ["198.19.0.10", "2001:db8:5e::10"], "ipFamilyPolicy": "PreferDualStack"}),
        ))
        .unwrap();
        dual["status"] = serde_json::json!({"loadBalancer": {"ingress": [{"ip": "198.18.0.1"}]}});
        dual["metadata"]["annotations"] =
            serde_json::json!({"metallb.io/ip-allocated-from-pool": "p"});
        let mut stale =
            serde_json::to_value(&*service("stale", "LoadBalancer", serde_json::json!({})))
                .unwrap();
        stale["status"] = serde_json::json!({"loadBalancer": {"ingress": [{"ip": "198.18.9.9"}]}});
        let services: Vec<Arc<Service>> = vec![
            Arc::new(serde_json::from_value(dual).unwrap()),
            Arc::new(serde_json::from_value(stale).unwrap()),
        ];
        let changes = pass(&mut a, &services, None);
        let by_name = |n: &str| changes.iter().find(|c| c.name == n).unwrap().ips.clone();
        assert_eq!(
            by_name("dual"),
            vec![
                "198.18.0.1".parse::<IpAddr>().unwrap(),
                "2001:db8::".parse().unwrap()
            ],
            "keeps its IPv4 address and gains IPv6 from the same pool"
        );
        assert_eq!(
            by_name("stale"),
            vec!["198.18.0.0".parse::<IpAddr>().unwrap()],
            "an address outside every pool is replaced"
        );
    }

    #[test]
    fn a_bad_request_is_skipped_not_fatal() {
        let mut a = allocator();
        let services = vec![
            service(
                "bad",
                "LoadBalancer",
                serde_json::json!({"loadBalancerIP": "not-an-ip"}),
            ),
            service("good", "LoadBalancer", serde_json::json!({})),
        ];
        let changes = pass(&mut a, &services, None);
        assert_eq!(
            changes.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["good"]
        );
    }
}
