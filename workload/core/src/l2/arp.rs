//! ARP (IPv4): parsing requests, building replies and gratuitous announcements.

use std::net::Ipv4Addr;

use etherparse::{
    ArpEthIpv4Packet, ArpOperation, ArpPacket, EtherType, Ethernet2Slice, PacketBuilder,
};

use super::{DropReason, Mac};

/// The Ethernet broadcast address.
pub const BROADCAST: Mac = [0xff; 6];

/// An ARP request worth looking at: who asks, and for which address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRequest {
    /// The asker's hardware address.
    pub sender_mac: Mac,
    /// The asker's IPv4 address.
    pub sender_ip: Ipv4Addr,
    /// The address asked for.
    pub target_ip: Ipv4Addr,
}

/// Parses an Ethernet frame received on an interface whose MAC is `own_mac`: `Ok` for an ARP
/// request sent to broadcast or to `own_mac`, otherwise why it is ignored.
pub fn parse_request(frame: &[u8], own_mac: Mac) -> Result<ArpRequest, DropReason> {
    let ethernet =
        Ethernet2Slice::from_slice_without_fcs(frame).map_err(|_| DropReason::Malformed)?;
    if ethernet.ether_type() != EtherType::ARP {
        return Err(DropReason::NotARequest);
    }
    let destination = ethernet.destination();
    if destination != BROADCAST && destination != own_mac {
        return Err(DropReason::NotForUs);
    }
    let packet =
        ArpPacket::from_slice(ethernet.payload_slice()).map_err(|_| DropReason::Malformed)?;
    let packet = packet.try_eth_ipv4().map_err(|_| DropReason::Malformed)?;
    if packet.operation != ArpOperation::REQUEST {
        return Err(DropReason::NotARequest);
    }
    Ok(ArpRequest {
        sender_mac: packet.sender_mac,
        sender_ip: packet.sender_ipv4_addr(),
        target_ip: packet.target_ipv4_addr(),
    })
}

fn frame(destination: Mac, packet: ArpEthIpv4Packet) -> Vec<u8> {
    let builder =
        PacketBuilder::ethernet2(packet.sender_mac, destination).arp(ArpPacket::from(packet));
    let mut out = Vec::with_capacity(builder.size());
    // Writing to a Vec cannot fail.
    let _ = builder.write(&mut out);
    out
}

/// The reply to `request`: `target_ip` is at `own_mac`.
pub fn reply(own_mac: Mac, request: &ArpRequest) -> Vec<u8> {
    frame(
        request.sender_mac,
        ArpEthIpv4Packet {
            operation: ArpOperation::REPLY,
            sender_mac: own_mac,
            sender_ipv4: request.target_ip.octets(),
            target_mac: request.sender_mac,
            target_ipv4: request.sender_ip.octets(),
        },
    )
}

/// The two broadcast frames of a gratuitous announcement of `ip` at `own_mac`: a request and a
/// reply, both with sender = target = `ip` and target hardware address broadcast.
pub fn gratuitous(own_mac: Mac, ip: Ipv4Addr) -> [Vec<u8>; 2] {
    let packet = |operation| ArpEthIpv4Packet {
        operation,
        sender_mac: own_mac,
        sender_ipv4: ip.octets(),
        target_mac: BROADCAST,
        target_ipv4: ip.octets(),
    };
    [
        frame(BROADCAST, packet(ArpOperation::REQUEST)),
        frame(BROADCAST, packet(ArpOperation::REPLY)),
    ]
}

/// Another host's claim on an address: an ARP packet (request or reply, gratuitous or not)
/// whose sender says `ip` is at `mac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The address claimed.
    pub ip: Ipv4Addr,
    /// The hardware address it is claimed at.
    pub mac: Mac,
}

/// The claim an ARP frame makes: its sender address and hardware address. `None` for frames
/// that claim nothing (not ARP, malformed, or a probe with sender address 0.0.0.0).
pub fn claim(frame: &[u8]) -> Option<Claim> {
    let ethernet = Ethernet2Slice::from_slice_without_fcs(frame).ok()?;
    if ethernet.ether_type() != EtherType::ARP {
        return None;
    }
    let packet = ArpPacket::from_slice(ethernet.payload_slice()).ok()?;
    let packet = packet.try_eth_ipv4().ok()?;
    let ip = packet.sender_ipv4_addr();
    (!ip.is_unspecified()).then_some(Claim {
        ip,
        mac: packet.sender_mac,
    })
}

/// An ARP probe (RFC 5227) for `ip` from `own_mac`: a broadcast request with sender address
/// 0.0.0.0. Whoever holds `ip` answers it to `own_mac`, without learning anything from it.
pub fn probe(own_mac: Mac, ip: Ipv4Addr) -> Vec<u8> {
    frame(
        BROADCAST,
        ArpEthIpv4Packet {
            operation: ArpOperation::REQUEST,
            sender_mac: own_mac,
            sender_ipv4: [0; 4],
            target_mac: [0; 6],
            target_ipv4: ip.octets(),
        },
    )
}

#[cfg(test)]
mod vectors;

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: Mac = [2, 0, 0, 0, 0, 1];
    const CLIENT: Mac = [2, 0, 0, 0, 0, 9];

    fn request_frame(destination: Mac) -> Vec<u8> {
        let mut frame = frame(
            destination,
            ArpEthIpv4Packet {
                operation: ArpOperation::REQUEST,
                sender_mac: CLIENT,
                sender_ipv4: [198, 18, 0, 9],
                target_mac: [0; 6],
                target_ipv4: [198, 18, 100, 10],
            },
        );
        frame.resize(60, 0); // minimum Ethernet frame: padded
        frame
    }

    #[test]
    fn a_broadcast_request_is_parsed_and_answered() {
        let request = parse_request(&request_frame(BROADCAST), OURS).unwrap();
        assert_eq!(request.target_ip, Ipv4Addr::new(198, 18, 100, 10));
        let answer = reply(OURS, &request);
        // Ethernet: to the asker, from us, type ARP.
        assert_eq!(&answer[0..6], &CLIENT);
        assert_eq!(&answer[6..12], &OURS);
        assert_eq!(&answer[12..14], &[0x08, 0x06]);
        // ARP: Ethernet/IPv4, opcode 2, sender = (our MAC, asked IP), target = the asker.
        assert_eq!(&answer[14..22], &[0, 1, 8, 0, 6, 4, 0, 2]);
        assert_eq!(&answer[22..28], &OURS);
        assert_eq!(&answer[28..32], &[198, 18, 100, 10]);
        assert_eq!(&answer[32..38], &CLIENT);
        assert_eq!(&answer[38..42], &[198, 18, 0, 9]);
    }

    #[test]
    fn frames_for_other_hosts_replies_and_other_protocols_are_dropped() {
        assert_eq!(
            parse_request(&request_frame(CLIENT), OURS),
            Err(DropReason::NotForUs)
        );
        assert!(parse_request(&request_frame(OURS), OURS).is_ok());
        let answer = reply(
            OURS,
            &parse_request(&request_frame(BROADCAST), OURS).unwrap(),
        );
        assert_eq!(parse_request(&answer, CLIENT), Err(DropReason::NotARequest));
        let mut ipv4 = request_frame(BROADCAST);
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(parse_request(&ipv4, OURS), Err(DropReason::NotARequest));
    }

    #[test]
    fn every_truncation_is_dropped_without_panic() {
        let full = request_frame(BROADCAST);
        for len in 0..42 {
            let result = parse_request(&full[..len], OURS);
            assert!(result.is_err(), "a {len}-byte frame was accepted");
        }
        let mut garbage = full.clone();
        garbage[14..16].copy_from_slice(&[0xde, 0xad]); // hardware type
        assert_eq!(parse_request(&garbage, OURS), Err(DropReason::Malformed));
    }

    #[test]
    fn gratuitous_frames_are_broadcast_request_and_reply() {
        let [request, answer] = gratuitous(OURS, Ipv4Addr::new(198, 18, 100, 10));
        for (frame, opcode) in [(&request, 1), (&answer, 2)] {
            assert_eq!(&frame[0..6], &BROADCAST);
            assert_eq!(frame[21], opcode);
            assert_eq!(&frame[22..28], &OURS);
            assert_eq!(&frame[28..32], &[198, 18, 100, 10]);
            assert_eq!(&frame[32..38], &BROADCAST);
            assert_eq!(&frame[38..42], &[198, 18, 100, 10]);
        }
    }

    #[test]
    fn claims_come_from_the_sender_fields_and_probes_claim_nothing() {
        let ip = Ipv4Addr::new(198, 18, 100, 10);
        let [gratuitous_request, gratuitous_reply] = gratuitous(CLIENT, ip);
        let expected = Some(Claim { ip, mac: CLIENT });
        assert_eq!(claim(&gratuitous_request), expected);
        assert_eq!(claim(&gratuitous_reply), expected);
        let request = parse_request(&request_frame(BROADCAST), OURS).unwrap();
        let answer = reply(OURS, &request);
        assert_eq!(claim(&answer), Some(Claim { ip, mac: OURS }));
        // A probe asks without claiming; answered, it becomes the holder's claim.
        let asked = probe(OURS, ip);
        assert_eq!(claim(&asked), None);
        let parsed = parse_request(&asked, CLIENT).unwrap();
        assert_eq!(parsed.target_ip, ip);
        assert_eq!(parsed.sender_ip, Ipv4Addr::UNSPECIFIED);
        assert_eq!(claim(&asked[..20]), None);
    }
}
