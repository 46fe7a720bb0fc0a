//! Other Services on the Service's addresses, and whether the sharing rules
//! (`metallb.io/allow-shared-ip`: same key, same backend, no port twice) let them share. Each
//! pair is put to the allocator itself: the other Service holds the address in a one-address
//! pool, and this one asks for it.

use std::net::IpAddr;

use metallb_core::allocator::{AllocError, Allocator, Pool};
use metallb_core::iprange::IpRange;

use super::convert;
use super::{Inputs, OtherHolder, SharedAddress};

/// The addresses the Service holds (or, holding none, requests) that other Services hold.
pub(super) fn shared(inputs: &Inputs, world: &Allocator, current: &[IpAddr]) -> Vec<SharedAddress> {
    let service = &inputs.service;
    let target = convert::key(service);
    let addresses = if current.is_empty() {
        convert::requested_ips(service).unwrap_or_default()
    } else {
        current.to_vec()
    };
    let mine = convert::known_request(service);
    addresses
        .into_iter()
        .filter_map(|ip| {
            let mut others: Vec<OtherHolder> = world
                .users_of(ip)
                .into_iter()
                .filter(|k| *k != target)
                .map(|k| holder(inputs, &mine, ip, &k))
                .collect();
            others.extend(
                world
                    .foreign_users_of(ip)
                    .into_iter()
                    .filter(|k| *k != target)
                    .map(|k| foreign(inputs, &k)),
            );
            (!others.is_empty()).then(|| SharedAddress {
                ip: ip.to_string(),
                sharing_key: mine.sharing_key.clone(),
                others,
            })
        })
        .collect()
}

fn find<'a>(inputs: &'a Inputs, key: &str) -> Option<&'a k8s_openapi::api::core::v1::Service> {
    inputs.services.iter().find(|s| convert::key(s) == key)
}

/// Another Service of this MetalLB holding `ip`, and the allocator's verdict on sharing it.
fn holder(
    inputs: &Inputs,
    mine: &metallb_core::allocator::ServiceRequest,
    ip: IpAddr,
    key: &str,
) -> OtherHolder {
    let Some(other) = find(inputs, key) else {
        return OtherHolder {
            service: key.to_string(),
            sharing_key: None,
            ports: Vec::new(),
            may_share: false,
            reason: "holds it".into(),
        };
    };
    let theirs = convert::known_request(other);
    let mut probe = Allocator::new();
    let range = IpRange::from_bounds(ip, ip).into_iter().collect();
    probe.set_pools(vec![Pool::new("probe", range)]);
    let mut asking = mine.clone();
    asking.requested_pool = None;
    let verdict = probe
        .hold(&theirs, &[ip])
        .and_then(|_| probe.assign(&asking, &[ip]));
    let (may_share, reason) = match verdict {
        Ok(_) => (
            true,
            format!(
                "both set allow-shared-ip {:?}, with the same backend and no port in common",
                mine.sharing_key.clone().unwrap_or_default()
            ),
        ),
        Err(AllocError::Sharing(conflict)) => (false, conflict.to_string()),
        Err(other) => (false, other.to_string()),
    };
    OtherHolder {
        service: key.to_string(),
        sharing_key: theirs.sharing_key.clone(),
        ports: theirs.ports.iter().map(ToString::to_string).collect(),
        may_share,
        reason,
    }
}

/// A Service of another load balancer (another loadBalancerClass) holding the address.
fn foreign(inputs: &Inputs, key: &str) -> OtherHolder {
    let other = find(inputs, key);
    let class = other
        .and_then(convert::load_balancer_class)
        .map_or_else(|| "another".to_string(), |c| format!("{c:?}"));
    OtherHolder {
        service: key.to_string(),
        sharing_key: other.and_then(|o| convert::known_request(o).sharing_key),
        ports: other
            .map(|o| convert::ports(o).iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        may_share: false,
        reason: format!(
            "it belongs to loadBalancerClass {class}, another load balancer: never shared"
        ),
    }
}
