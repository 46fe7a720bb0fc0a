//! Fixed ARP frames written by hand from RFC 826 (Ethernet/IPv4 ARP) and RFC 5227 (probes and
//! announcements): what we write is compared octet for octet, what we read is decoded into the
//! expected value.
//!
//! Frame layout (42 octets before padding):
//!
//! ```text
//!  0: destination MAC           6: source MAC           12: EtherType 0x0806 (ARP)
//! 14: hardware type 1 (Ethernet)                        16: protocol type 0x0800 (IPv4)
//! 18: hardware length 6        19: protocol length 4    20: opcode (1 request, 2 reply)
//! 22: sender MAC               28: sender IPv4
//! 32: target MAC               38: target IPv4
//! ```
//!
//! Hosts: us 02:00:00:00:00:01 (the service 198.18.100.10 = c6 12 64 0a), a client
//! 02:00:00:00:00:09 at 198.18.0.9 = c6 12 00 09.

use std::net::Ipv4Addr;

use super::*;

const OURS: Mac = [0x02, 0, 0, 0, 0, 0x01];
const CLIENT: Mac = [0x02, 0, 0, 0, 0, 0x09];
const SERVICE: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 10);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 9);

/// The client asks who has 198.18.100.10, as received: padded to the 60-octet Ethernet minimum.
fn request() -> Vec<u8> {
    let mut frame = vec![
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0: to broadcast
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // 6: from the client
        0x08, 0x06, // 12: ARP
        0x00, 0x01, 0x08, 0x00, // 14: Ethernet, IPv4
        0x06, 0x04, // 18: lengths 6 and 4
        0x00, 0x01, // 20: request
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // 22: sender MAC: the client
        0xc6, 0x12, 0x00, 0x09, // 28: sender IP 198.18.0.9
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 32: target MAC unknown
        0xc6, 0x12, 0x64, 0x0a, // 38: target IP 198.18.100.10
    ];
    frame.resize(60, 0); // 42: 18 octets of padding
    frame
}

#[test]
fn request_is_read_and_claims_its_sender() {
    let frame = request();
    let expected = ArpRequest {
        sender_mac: CLIENT,
        sender_ip: CLIENT_IP,
        target_ip: SERVICE,
    };
    assert_eq!(parse_request(&frame, OURS), Ok(expected));
    assert_eq!(
        claim(&frame),
        Some(Claim {
            ip: CLIENT_IP,
            mac: CLIENT
        })
    );
}

#[test]
fn reply_to_the_request() {
    let expected = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // 0: to the client
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 6: from us
        0x08, 0x06, // 12: ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, // 14: Ethernet/IPv4, lengths 6 and 4
        0x00, 0x02, // 20: reply
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 22: sender MAC: us
        0xc6, 0x12, 0x64, 0x0a, // 28: sender IP: the address asked for
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // 32: target MAC: the client
        0xc6, 0x12, 0x00, 0x09, // 38: target IP: the client's
    ];
    let asked = ArpRequest {
        sender_mac: CLIENT,
        sender_ip: CLIENT_IP,
        target_ip: SERVICE,
    };
    assert_eq!(reply(OURS, &asked), expected);
    // Read back: a reply is no request, and it claims the service address at our MAC.
    assert_eq!(
        parse_request(&expected, CLIENT),
        Err(DropReason::NotARequest)
    );
    assert_eq!(
        claim(&expected),
        Some(Claim {
            ip: SERVICE,
            mac: OURS
        })
    );
}

/// RFC 5227 §2.1.1: a broadcast request with sender IP 0.0.0.0 and target MAC zero.
#[test]
fn probe_claims_nothing() {
    let expected = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0: to broadcast
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 6: from us
        0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, // 12: ARP, Ethernet/IPv4, 6, 4
        0x00, 0x01, // 20: request
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 22: sender MAC: us
        0x00, 0x00, 0x00, 0x00, // 28: sender IP 0.0.0.0: nothing is claimed
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 32: target MAC zero
        0xc6, 0x12, 0x64, 0x0a, // 38: the address probed
    ];
    assert_eq!(probe(OURS, SERVICE), expected);
    assert_eq!(
        parse_request(&expected, CLIENT),
        Ok(ArpRequest {
            sender_mac: OURS,
            sender_ip: Ipv4Addr::UNSPECIFIED,
            target_ip: SERVICE,
        })
    );
    assert_eq!(claim(&expected), None);
}

/// Gratuitous ARP: a broadcast request and reply with sender IP = target IP. Like upstream
/// MetalLB, the target MAC is broadcast (RFC 5227's announcement leaves it zero; receivers
/// ignore it either way).
#[test]
fn gratuitous_request_and_reply() {
    let frame = |opcode: u8| {
        [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0: to broadcast
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 6: from us
            0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, // 12: ARP, Ethernet/IPv4, 6, 4
            0x00, opcode, // 20: request or reply
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 22: sender MAC: us
            0xc6, 0x12, 0x64, 0x0a, // 28: sender IP: the service
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 32: target MAC broadcast
            0xc6, 0x12, 0x64, 0x0a, // 38: target IP: the service
        ]
    };
    let [request, answer] = gratuitous(OURS, SERVICE);
    assert_eq!(request, frame(1));
    assert_eq!(answer, frame(2));
    let ours = Some(Claim {
        ip: SERVICE,
        mac: OURS,
    });
    assert_eq!(claim(&frame(1)), ours);
    assert_eq!(claim(&frame(2)), ours);
}

#[test]
fn malformed_and_foreign_frames_are_dropped_with_the_reason() {
    let with = |at: usize, bytes: &[u8]| {
        let mut frame = request();
        frame[at..at + bytes.len()].copy_from_slice(bytes);
        frame
    };
    let cases: [(&str, Vec<u8>, DropReason); 7] = [
        (
            "cut inside the target IP (41 octets)",
            request()[..41].to_vec(),
            DropReason::Malformed,
        ),
        (
            "hardware type 6 (IEEE 802)",
            with(14, &[0x00, 0x06]),
            DropReason::Malformed,
        ),
        (
            "protocol length 16",
            with(19, &[0x10]),
            DropReason::Malformed,
        ),
        (
            "EtherType IPv4",
            with(12, &[0x08, 0x00]),
            DropReason::NotARequest,
        ),
        (
            "opcode 2 (reply)",
            with(20, &[0x00, 0x02]),
            DropReason::NotARequest,
        ),
        (
            "addressed to another MAC",
            with(0, &[0x02, 0x00, 0x00, 0x00, 0x00, 0x07]),
            DropReason::NotForUs,
        ),
        (
            "opcode 3 (RARP request)",
            with(20, &[0x00, 0x03]),
            DropReason::NotARequest,
        ),
    ];
    for (name, frame, reason) in cases {
        assert_eq!(parse_request(&frame, OURS), Err(reason), "{name}");
    }
    // Unicast to our MAC is read like broadcast.
    assert!(parse_request(&with(0, &OURS), OURS).is_ok());
}
