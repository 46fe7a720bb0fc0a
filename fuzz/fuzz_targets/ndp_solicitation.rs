//! Fuzz target: the Neighbor Solicitation parser never panics, and the advertisement answering
//! every solicitation it accepts is a valid ICMPv6 Neighbor Advertisement (checksum, hop limit
//! 255) for the asked address, to the asker, that the parser does not take for a solicitation.
//!
//! Each input is parsed as it is, and again with its ICMPv6 checksum made right (when it is
//! long enough to hold one), so the fuzzer explores what lies behind the checksum check.

#![no_main]

use etherparse::{Icmpv6Type, Ipv6Slice, Ethernet2Slice, Icmpv6Slice};
use libfuzzer_sys::fuzz_target;
use metallb_core::l2::ndp;

const OURS: [u8; 6] = [2, 0, 0, 0, 0, 1];

/// Ethernet header, IPv6 header: where the ICMPv6 message starts.
const ICMP_AT: usize = 14 + 40;

/// `frame` with the checksum of the ICMPv6 message after the IPv6 header set right.
fn with_checksum(frame: &[u8]) -> Option<Vec<u8>> {
    if frame.len() < ICMP_AT + 4 {
        return None;
    }
    let mut out = frame.to_vec();
    out[ICMP_AT + 2] = 0;
    out[ICMP_AT + 3] = 0;
    let icmp = &out[ICMP_AT..];
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    };
    add(&frame[14 + 8..14 + 40]); // source and destination addresses
    add(&u32::try_from(icmp.len()).ok()?.to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(icmp);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let checksum = !(sum as u16);
    out[ICMP_AT + 2..ICMP_AT + 4].copy_from_slice(&checksum.to_be_bytes());
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = with_checksum(data) {
        check(&fixed);
    }
});

fn check(data: &[u8]) {
    let Ok(solicitation) = ndp::parse_solicitation(data) else {
        return;
    };
    let answer = ndp::solicited_advertisement(OURS, &solicitation);
    let ethernet = Ethernet2Slice::from_slice_without_fcs(&answer).expect("an Ethernet frame");
    assert_eq!(ethernet.destination(), solicitation.source_mac);
    let ip = Ipv6Slice::from_slice(ethernet.payload_slice()).expect("an IPv6 packet");
    let header = ip.header();
    assert_eq!(header.hop_limit(), 255);
    assert_eq!(header.source_addr(), solicitation.target);
    assert_eq!(header.destination_addr(), solicitation.source_ip);
    let icmp = Icmpv6Slice::from_slice(ip.payload().payload).expect("an ICMPv6 message");
    assert!(icmp.is_checksum_valid(
        header.source_addr().octets(),
        header.destination_addr().octets()
    ));
    assert!(matches!(
        icmp.icmp_type(),
        Icmpv6Type::NeighborAdvertisement(_)
    ));
    assert!(ndp::parse_solicitation(&answer).is_err());
}
