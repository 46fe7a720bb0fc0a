//! Packing announcements into UPDATEs that stay within the message size limit.

use std::net::IpAddr;

use super::encode::attribute;
use super::{AFI_IPV6, Attribute, HEADER_LEN, MAX_MESSAGE_LEN, Prefix, SAFI_UNICAST, Update};

/// Room the MP_REACH attribute needs besides its prefixes: flags, code, 2-octet length, AFI,
/// SAFI, next-hop length, two IPv6 next hops, reserved.
const MP_REACH_OVERHEAD: usize = 4 + 3 + 1 + 32 + 1;

/// UPDATEs announcing `prefixes` with `attributes` (ORIGIN, AS_PATH, LOCAL_PREF, communities,
/// ...; not NEXT_HOP or MP_REACH): IPv4 prefixes as NLRI with `next_hop_v4`, IPv6 prefixes in
/// MP_REACH with `next_hops_v6`. Each encoded message is at most [`MAX_MESSAGE_LEN`] bytes.
pub fn pack_announcements(
    attributes: &[Attribute],
    prefixes: &[Prefix],
    next_hop_v4: Option<std::net::Ipv4Addr>,
    next_hops_v6: &[IpAddr],
) -> Vec<Update> {
    let mut common = Vec::new();
    for a in attributes {
        attribute(&mut common, a);
    }
    // Header, withdrawn length, attributes length.
    let fixed = HEADER_LEN + 2 + 2 + common.len();
    let mut out = Vec::new();

    let v4: Vec<Prefix> = prefixes
        .iter()
        .copied()
        .filter(|p| p.addr.is_ipv4())
        .collect();
    if let Some(hop) = next_hop_v4 {
        let budget = MAX_MESSAGE_LEN - fixed - 7; // NEXT_HOP attribute
        for chunk in chunks(&v4, budget) {
            let mut attrs = attributes.to_vec();
            attrs.push(Attribute::NextHop(hop));
            out.push(Update {
                withdrawn: Vec::new(),
                attributes: attrs,
                nlri: chunk,
            });
        }
    }
    let v6: Vec<Prefix> = prefixes
        .iter()
        .copied()
        .filter(|p| p.addr.is_ipv6())
        .collect();
    if !next_hops_v6.is_empty() {
        let budget = MAX_MESSAGE_LEN - fixed - MP_REACH_OVERHEAD;
        for chunk in chunks(&v6, budget) {
            let mut attrs = attributes.to_vec();
            attrs.push(Attribute::MpReach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                next_hops: next_hops_v6.to_vec(),
                nlri: chunk,
            });
            out.push(Update {
                withdrawn: Vec::new(),
                attributes: attrs,
                nlri: Vec::new(),
            });
        }
    }
    out
}

/// Splits `prefixes` into runs whose NLRI encoding fits in `budget` bytes.
fn chunks(prefixes: &[Prefix], budget: usize) -> Vec<Vec<Prefix>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut used = 0;
    for p in prefixes {
        let size = p.encoded_len();
        if used + size > budget && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(*p);
        used += size;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}
