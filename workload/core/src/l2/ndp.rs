//! NDP (IPv6): parsing Neighbor Solicitations, building solicited and unsolicited Neighbor
//! Advertisements.

use std::net::Ipv6Addr;

use etherparse::icmpv6::{
    NdpOptionSlice, NeighborAdvertisementHeader, NeighborSolicitationPayloadSlice,
};
use etherparse::{
    EtherType, Ethernet2Slice, Icmpv6Slice, Icmpv6Type, IpNumber, Ipv6Slice, PacketBuilder,
};

use super::{DropReason, Mac};

/// NDP messages must arrive with hop limit 255 (RFC 4861): anything else was routed.
const NDP_HOP_LIMIT: u8 = 255;

/// A Neighbor Solicitation worth answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solicitation {
    /// The asker's address (the advertisement goes there).
    pub source_ip: Ipv6Addr,
    /// The asker's link-layer address (from the source link-layer address option).
    pub source_mac: Mac,
    /// The address asked for.
    pub target: Ipv6Addr,
}

/// The solicited-node multicast group of `ip` (`ff02::1:ffXX:XXXX`).
pub fn solicited_node_group(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet multicast address of an IPv6 multicast group (`33:33:` + its last 4 bytes).
pub fn multicast_mac(group: Ipv6Addr) -> Mac {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// Parses an Ethernet frame: `Ok` for a valid Neighbor Solicitation that carries a source
/// link-layer address option, otherwise why it is ignored.
pub fn parse_solicitation(frame: &[u8]) -> Result<Solicitation, DropReason> {
    let ethernet =
        Ethernet2Slice::from_slice_without_fcs(frame).map_err(|_| DropReason::Malformed)?;
    if ethernet.ether_type() != EtherType::IPV6 {
        return Err(DropReason::NotARequest);
    }
    let ip = Ipv6Slice::from_slice(ethernet.payload_slice()).map_err(|_| DropReason::Malformed)?;
    let header = ip.header();
    if ip.payload().ip_number != IpNumber::IPV6_ICMP {
        return Err(DropReason::NotARequest);
    }
    let icmp = Icmpv6Slice::from_slice(ip.payload().payload).map_err(|_| DropReason::Malformed)?;
    if icmp.icmp_type() != Icmpv6Type::NeighborSolicitation {
        return Err(DropReason::NotARequest);
    }
    let source = header.source_addr();
    if header.hop_limit() != NDP_HOP_LIMIT
        || !icmp.is_checksum_valid(source.octets(), header.destination_addr().octets())
    {
        return Err(DropReason::Malformed);
    }
    let ns = NeighborSolicitationPayloadSlice::from_slice(icmp.payload())
        .map_err(|_| DropReason::Malformed)?;
    let mut source_mac = None;
    for option in ns.options_iterator() {
        match option.map_err(|_| DropReason::Malformed)? {
            NdpOptionSlice::SourceLinkLayerAddress(lla) => {
                source_mac = <Mac>::try_from(lla.link_layer_address()).ok();
            }
            _ => continue,
        }
    }
    // Solicitations from the unspecified address (DAD) carry no source option: not answered.
    let source_mac = source_mac.ok_or(DropReason::NoSourceLinkLayer)?;
    if source.is_unspecified() {
        return Err(DropReason::NoSourceLinkLayer);
    }
    Ok(Solicitation {
        source_ip: source,
        source_mac,
        target: ns.target_address(),
    })
}

/// The claim a Neighbor Advertisement makes: its target address is at the target link-layer
/// address (or, without that option, at the frame's source). `None` for anything else.
pub fn claim(frame: &[u8]) -> Option<(Ipv6Addr, Mac)> {
    let ethernet = Ethernet2Slice::from_slice_without_fcs(frame).ok()?;
    if ethernet.ether_type() != EtherType::IPV6 {
        return None;
    }
    let ip = Ipv6Slice::from_slice(ethernet.payload_slice()).ok()?;
    if ip.payload().ip_number != IpNumber::IPV6_ICMP || ip.header().hop_limit() != NDP_HOP_LIMIT {
        return None;
    }
    let icmp = Icmpv6Slice::from_slice(ip.payload().payload).ok()?;
    if !matches!(icmp.icmp_type(), Icmpv6Type::NeighborAdvertisement(_)) {
        return None;
    }
    let payload = icmp.payload();
    let target = Ipv6Addr::from(<[u8; 16]>::try_from(payload.get(..16)?).ok()?);
    // Options: type, length in units of 8 bytes, value. Type 2 is the target link-layer address.
    let mut options = payload.get(16..)?;
    let mut mac = ethernet.source();
    while let [kind, units, ..] = *options {
        let len = usize::from(units) * 8;
        if len == 0 || options.len() < len {
            break;
        }
        if kind == 2
            && let Some(lla) = options.get(2..8).and_then(|b| <Mac>::try_from(b).ok())
        {
            mac = lla;
        }
        options = &options[len..];
    }
    Some((target, mac))
}

fn advertisement(
    own_mac: Mac,
    from: Ipv6Addr,
    to: Ipv6Addr,
    to_mac: Mac,
    target: Ipv6Addr,
    solicited: bool,
) -> Vec<u8> {
    let header = NeighborAdvertisementHeader {
        router: false,
        solicited,
        r#override: !solicited,
    };
    let builder = PacketBuilder::ethernet2(own_mac, to_mac)
        .ipv6(from.octets(), to.octets(), NDP_HOP_LIMIT)
        .icmpv6(Icmpv6Type::NeighborAdvertisement(header));
    // Payload: the target address, then the target link-layer address option (type 2, 1 x 8 bytes).
    let mut payload = Vec::with_capacity(24);
    payload.extend_from_slice(&target.octets());
    payload.extend_from_slice(&[2, 1]);
    payload.extend_from_slice(&own_mac);
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    // Writing to a Vec cannot fail; the payload is far below the IPv6 length limit.
    let _ = builder.write(&mut out, &payload);
    out
}

/// The answer to `solicitation`: Solicited=1, Override=0, with our MAC as the target link-layer
/// address. Like Linux for its own addresses, the advertisement comes from the target address:
/// some clients (ndisc6) match a global target's answer by its source scope.
pub fn solicited_advertisement(own_mac: Mac, solicitation: &Solicitation) -> Vec<u8> {
    let target = solicitation.target;
    advertisement(
        own_mac,
        target,
        solicitation.source_ip,
        solicitation.source_mac,
        target,
        true,
    )
}

/// An unsolicited advertisement of `target` at `own_mac` to all nodes (`ff02::1`), Override=1,
/// from the target address.
pub fn unsolicited_advertisement(own_mac: Mac, target: Ipv6Addr) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    advertisement(
        own_mac,
        target,
        all_nodes,
        multicast_mac(all_nodes),
        target,
        false,
    )
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;
