//! Fixed NDP frames written by hand from RFC 4861 (Neighbor Solicitation §4.3, Neighbor
//! Advertisement §4.4, link-layer address options §4.6.1), RFC 8200 (the IPv6 header) and
//! RFC 4443 §2.3 (the ICMPv6 checksum over the pseudo-header of RFC 8200 §8.1). What we write is
//! compared octet for octet; what we read is decoded into the expected value. Every checksum is
//! worked out in the comments and checked again by [`checksum`], a few lines independent of the
//! code under test.
//!
//! Frame layout:
//!
//! ```text
//!  0: destination MAC   6: source MAC   12: EtherType 0x86dd (IPv6)
//! 14: version 6, traffic class 0, flow label 0 (60 00 00 00)
//! 18: payload length   20: next header 58 (ICMPv6)   21: hop limit (255 for NDP)
//! 22: source address   38: destination address
//! 54: ICMPv6 type      55: code 0    56: checksum
//! 58: NS: reserved (4); NA: R 0x80 | S 0x40 | O 0x20, then reserved (3 + 24 bits)
//! 62: target address
//! 78: option: type (1 source, 2 target link-layer address), length 1 (x 8 octets), MAC
//! ```
//!
//! Hosts: us 02:00:00:00:00:01 for the service 2001:db8:100::a; a client 02:00:00:00:00:09 at
//! 2001:db8::9. Pseudo-header sums used below (16-bit words, before folding):
//!
//! ```text
//! 2001:db8::9                  0x2001 + 0x0db8 + 0x0009          = 0x2dc2
//! 2001:db8:100::a              0x2001 + 0x0db8 + 0x0100 + 0x000a = 0x2ec3
//! ff02::1:ff00:a               0xff02 + 0x0001 + 0xff00 + 0x000a = 0x1fe0d
//! ff02::1                      0xff02 + 0x0001                   = 0xff03
//! length 32, next header 58    0x0020 + 0x003a                   = 0x5a
//! ```

use super::*;

const OURS: Mac = [0x02, 0, 0, 0, 0, 0x01];
const CLIENT: Mac = [0x02, 0, 0, 0, 0, 0x09];

fn service() -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0xa)
}

fn client() -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x9)
}

/// The ICMPv6 checksum (RFC 4443 §2.3): the one's complement of the one's complement sum of
/// the pseudo-header (source, destination, 32-bit length, 3 zero octets, next header 58) and
/// the message with its checksum field taken as zero.
fn checksum(source: Ipv6Addr, destination: Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut message = icmp.to_vec();
    message[2..4].copy_from_slice(&[0, 0]);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&source.octets());
    bytes.extend_from_slice(&destination.octets());
    bytes.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 58]);
    bytes.extend_from_slice(&message);
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Asserts the frame's ICMPv6 checksum (at 56) is right for its addresses.
fn assert_checksum(frame: &[u8]) {
    let address = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&frame[at..at + 16]).unwrap());
    let stated = u16::from_be_bytes([frame[56], frame[57]]);
    assert_eq!(checksum(address(22), address(38), &frame[54..]), stated);
}

/// The client asks for 2001:db8:100::a at its solicited-node group.
///
/// ```text
/// pseudo-header  0x2dc2 + 0x1fe0d + 0x5a
/// message        0x8700 + 0x2ec3 (target) + 0x0101 + 0x0200 + 0x0009 (option) = 0xb8cd
/// total          0x2e4f6, folded 0xe4f6 + 0x2 = 0xe4f8, complemented 0x1b07
/// ```
fn solicitation() -> Vec<u8> {
    vec![
        0x33, 0x33, 0xff, 0x00, 0x00, 0x0a, // 0: to 33:33 + the group's last 4 octets
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // 6: from the client
        0x86, 0xdd, // 12: IPv6
        0x60, 0x00, 0x00, 0x00, // 14: version 6
        0x00, 0x20, 0x3a, 0xff, // 18: payload length 32, ICMPv6, hop limit 255
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 22: source 2001:db8::9
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, //
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 38: destination ff02::1:ff00:a
        0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x0a, //
        0x87, 0x00, 0x1b, 0x07, // 54: type 135 (NS), code 0, checksum 0x1b07
        0x00, 0x00, 0x00, 0x00, // 58: reserved
        0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00, // 62: target 2001:db8:100::a
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, //
        0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // 78: source link-layer address
    ]
}

#[test]
fn solicitation_is_read() {
    let frame = solicitation();
    assert_eq!(frame.len(), 86);
    assert_checksum(&frame);
    assert_eq!(
        parse_solicitation(&frame),
        Ok(Solicitation {
            source_ip: client(),
            source_mac: CLIENT,
            target: service(),
        })
    );
    // As received from a switch that pads or a driver that appends: the IPv6 payload length
    // bounds what is read.
    let mut padded = frame;
    padded.extend_from_slice(&[0; 4]);
    assert!(parse_solicitation(&padded).is_ok());
}

/// Our answer: from the target address to the asker, Solicited, not Override.
///
/// ```text
/// pseudo-header  0x2ec3 + 0x2dc2 + 0x5a
/// message        0x8800 + 0x4000 (S) + 0x2ec3 (target) + 0x0201 + 0x0200 + 0x0001 = 0xfac5
/// total          0x157a4, folded 0x57a4 + 0x1 = 0x57a5, complemented 0xa85a
/// ```
#[test]
fn solicited_advertisement_is_written() {
    let expected = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // 0: to the client
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 6: from us
        0x86, 0xdd, // 12: IPv6
        0x60, 0x00, 0x00, 0x00, // 14: version 6
        0x00, 0x20, 0x3a, 0xff, // 18: payload length 32, ICMPv6, hop limit 255
        0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00, // 22: source 2001:db8:100::a
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, //
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 38: destination 2001:db8::9
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, //
        0x88, 0x00, 0xa8, 0x5a, // 54: type 136 (NA), code 0, checksum 0xa85a
        0x40, 0x00, 0x00, 0x00, // 58: S
        0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00, // 62: target 2001:db8:100::a
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, //
        0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 78: target link-layer address: us
    ];
    assert_checksum(&expected);
    let asked = Solicitation {
        source_ip: client(),
        source_mac: CLIENT,
        target: service(),
    };
    assert_eq!(solicited_advertisement(OURS, &asked), expected);
    assert_eq!(claim(&expected), Some((service(), OURS)));
    assert_eq!(parse_solicitation(&expected), Err(DropReason::NotARequest));
}

/// Unsolicited: to all nodes, Override, not Solicited.
///
/// ```text
/// pseudo-header  0x2ec3 + 0xff03 + 0x5a
/// message        0x8800 + 0x2000 (O) + 0x2ec3 (target) + 0x0201 + 0x0200 + 0x0001 = 0xdac5
/// total          0x208e5, folded 0x08e5 + 0x2 = 0x08e7, complemented 0xf718
/// ```
#[test]
fn unsolicited_advertisement_is_written() {
    let expected = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, // 0: to 33:33:00:00:00:01 (ff02::1)
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 6: from us
        0x86, 0xdd, // 12: IPv6
        0x60, 0x00, 0x00, 0x00, // 14: version 6
        0x00, 0x20, 0x3a, 0xff, // 18: payload length 32, ICMPv6, hop limit 255
        0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00, // 22: source 2001:db8:100::a
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, //
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 38: destination ff02::1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0x88, 0x00, 0xf7, 0x18, // 54: NA, code 0, checksum 0xf718
        0x20, 0x00, 0x00, 0x00, // 58: O
        0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00, // 62: target 2001:db8:100::a
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, //
        0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 78: target link-layer address: us
    ];
    assert_checksum(&expected);
    assert_eq!(unsolicited_advertisement(OURS, service()), expected);
    assert_eq!(claim(&expected), Some((service(), OURS)));
}

/// Duplicate address detection (RFC 4862 §5.4.2): from ::, no source link-layer option; not
/// answered.
///
/// ```text
/// pseudo-header  0 (::) + 0x1fe0d + 0x18 (length 24) + 0x3a
/// message        0x8700 + 0x2ec3 (target) = 0xb5c3
/// total          0x2b422, folded 0xb422 + 0x2 = 0xb424, complemented 0x4bdb
/// ```
#[test]
fn duplicate_address_detection_is_not_answered() {
    let frame = [
        0x33, 0x33, 0xff, 0x00, 0x00, 0x0a, // 0: to the solicited-node group's MAC
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // 6: from the client
        0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, // 12: IPv6, version 6
        0x00, 0x18, 0x3a, 0xff, // 18: payload length 24, ICMPv6, hop limit 255
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 22: source ::
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 38: destination ff02::1:ff00:a
        0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x0a, //
        0x87, 0x00, 0x4b, 0xdb, // 54: NS, code 0, checksum 0x4bdb
        0x00, 0x00, 0x00, 0x00, // 58: reserved
        0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00, // 62: target 2001:db8:100::a
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, //
    ];
    assert_checksum(&frame);
    assert_eq!(
        parse_solicitation(&frame),
        Err(DropReason::NoSourceLinkLayer)
    );
}

/// Solicitations the receiver must discard (RFC 4861 §7.1.1), each a change of the valid one.
#[test]
fn malformed_solicitations_are_dropped_with_the_reason() {
    let with = |at: usize, bytes: &[u8]| {
        let mut frame = solicitation();
        frame[at..at + bytes.len()].copy_from_slice(bytes);
        frame
    };
    // Code 1 adds 1 to the sum: 0xe4f9, complemented 0x1b06 (a valid checksum, so only the
    // code is wrong). Option length 0 takes 1 from it: 0xe4f7, complemented 0x1b08.
    let code_1 = with(55, &[0x01, 0x1b, 0x06]);
    let option_length_0 = with(56, &[0x1b, 0x08]);
    let option_length_0 = {
        let mut frame = option_length_0;
        frame[79] = 0;
        frame
    };
    assert_checksum(&code_1);
    assert_checksum(&option_length_0);
    let cases: [(&str, Vec<u8>, DropReason); 6] = [
        (
            "checksum off by one",
            with(56, &[0x1b, 0x08]),
            DropReason::Malformed,
        ),
        (
            "hop limit 254: routed",
            with(21, &[0xfe]),
            DropReason::Malformed,
        ),
        ("ICMP code 1", code_1, DropReason::NotARequest),
        ("option length 0", option_length_0, DropReason::Malformed),
        (
            "payload length 40, beyond the frame",
            with(18, &[0x00, 0x28]),
            DropReason::Malformed,
        ),
        (
            "cut inside the option",
            solicitation()[..85].to_vec(),
            DropReason::Malformed,
        ),
    ];
    for (name, frame, reason) in cases {
        assert_eq!(parse_solicitation(&frame), Err(reason), "{name}");
    }
}
