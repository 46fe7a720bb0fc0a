//! Fixed byte strings for the BGP codec, written by hand from the RFC layouts (RFC 4271 §4,
//! RFC 5492 capabilities, RFC 6793 4-octet AS, RFC 4724 graceful restart, RFC 4760
//! MP_REACH/MP_UNREACH, RFC 2545 IPv6 next hops, RFC 1997 communities, RFC 8092 large
//! communities). Each valid vector is checked both ways: the encoder writes exactly these bytes
//! for the value, and the decoder reads these bytes into the value. A bug shared by encoder and
//! decoder passes the round trips in `tests.rs`; it does not pass these.
//!
//! Values used throughout: AS 65001 = 0xfde9, AS 65002 = 0xfdea, AS 4200000001 = 0xfa56ea01,
//! AS_TRANS 23456 = 0x5ba0, router id 198.18.0.11 = c6 12 00 0b.

use std::net::{IpAddr, Ipv4Addr};

use super::*;

/// The 16-octet all-ones marker (RFC 4271 §4.1).
const MARKER: [u8; 16] = [0xff; 16];

/// Marker, then the rest of the message as written in the vector.
fn message(rest: &[u8]) -> Vec<u8> {
    let mut out = MARKER.to_vec();
    out.extend_from_slice(rest);
    out
}

fn prefix(addr: &str, len: u8) -> Prefix {
    Prefix::new(addr.parse().unwrap(), len).unwrap()
}

fn ip(addr: &str) -> IpAddr {
    addr.parse().unwrap()
}

/// Both directions: `value` encodes to exactly `bytes`, and `bytes` decodes to `value`,
/// consuming all of them.
fn both_ways(value: Message, bytes: &[u8]) {
    assert_eq!(encode(&value), bytes, "encoding {value:?}");
    assert_eq!(
        decode(bytes),
        Ok((value, bytes.len())),
        "decoding {bytes:02x?}"
    );
}

fn notification(code: u8, subcode: u8, data: &[u8]) -> DecodeError {
    DecodeError::Malformed(Notification {
        code,
        subcode,
        data: data.to_vec(),
    })
}

#[test]
fn keepalive() {
    both_ways(
        Message::Keepalive,
        &message(&[
            0x00, 0x13, // 16: length 19 (header only)
            0x04, // 18: type 4 KEEPALIVE
        ]),
    );
}

#[test]
fn open_two_octet_as_with_every_capability_we_know() {
    let bytes = message(&[
        0x00, 0x43, // 16: length 67 = 29 + 38
        0x01, // 18: type 1 OPEN
        0x04, // 19: version 4
        0xfd, 0xe9, // 20: my AS 65001
        0x00, 0x5a, // 22: hold time 90
        0xc6, 0x12, 0x00, 0x0b, // 24: BGP identifier 198.18.0.11
        0x26, // 28: optional parameters length 38 = 8 + 8 + 4 + 10 + 8
        // 29: parameter 2 (capabilities), length 6: capability 1 (multiprotocol), length 4,
        //     AFI 1 (IPv4), reserved 0, SAFI 1 (unicast)
        0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x01,
        // 37: the same for AFI 2 (IPv6), SAFI 1
        0x02, 0x06, 0x01, 0x04, 0x00, 0x02, 0x00, 0x01,
        // 45: parameter 2, length 2: capability 2 (route refresh, RFC 2918), length 0
        0x02, 0x02, 0x02, 0x00,
        // 49: parameter 2, length 8: capability 64 (graceful restart), length 6:
        //     restart flags 0 (R clear) + restart time 120 = 0x0078, then
        //     AFI 1, SAFI 1, AF flags 0x80 (F: forwarding state preserved)
        0x02, 0x08, 0x40, 0x06, 0x00, 0x78, 0x00, 0x01, 0x01, 0x80,
        // 59: parameter 2, length 6: capability 65 (4-octet AS), length 4, AS 65001
        0x02, 0x06, 0x41, 0x04, 0x00, 0x00, 0xfd, 0xe9,
    ]);
    assert_eq!(bytes.len(), 67);
    both_ways(
        Message::Open(Open {
            asn: 65001,
            hold_time: 90,
            router_id: Ipv4Addr::new(198, 18, 0, 11),
            capabilities: vec![
                Capability::Multiprotocol {
                    afi: AFI_IPV4,
                    safi: SAFI_UNICAST,
                },
                Capability::Multiprotocol {
                    afi: AFI_IPV6,
                    safi: SAFI_UNICAST,
                },
                Capability::RouteRefresh,
                Capability::GracefulRestart {
                    restarting: false,
                    restart_time: 120,
                    families: vec![(AFI_IPV4, SAFI_UNICAST, true)],
                },
                Capability::FourOctetAs(65001),
            ],
        }),
        &bytes,
    );
}

#[test]
fn open_four_octet_as_goes_as_as_trans_and_restarting_bit() {
    let bytes = message(&[
        0x00, 0x37, // 16: length 55 = 29 + 26
        0x01, // 18: OPEN
        0x04, // 19: version 4
        0x5b, 0xa0, // 20: my AS = AS_TRANS 23456 (the real one does not fit, RFC 6793 §4.1)
        0x00, 0xb4, // 22: hold time 180
        0xc6, 0x12, 0x00, 0x0c, // 24: identifier 198.18.0.12
        0x1a, // 28: optional parameters length 26 = 8 + 10 + 8
        // 29: multiprotocol AFI 2 (IPv6) SAFI 1
        0x02, 0x06, 0x01, 0x04, 0x00, 0x02, 0x00, 0x01,
        // 37: graceful restart, length 6: 0x812c = R bit (0x8000) + restart time 300 (0x12c);
        //     AFI 2, SAFI 1, AF flags 0 (forwarding state not preserved)
        0x02, 0x08, 0x40, 0x06, 0x81, 0x2c, 0x00, 0x02, 0x01, 0x00,
        // 47: 4-octet AS 4200000001 = 0xfa56ea01
        0x02, 0x06, 0x41, 0x04, 0xfa, 0x56, 0xea, 0x01,
    ]);
    assert_eq!(bytes.len(), 55);
    both_ways(
        Message::Open(Open {
            asn: 4_200_000_001,
            hold_time: 180,
            router_id: Ipv4Addr::new(198, 18, 0, 12),
            capabilities: vec![
                Capability::Multiprotocol {
                    afi: AFI_IPV6,
                    safi: SAFI_UNICAST,
                },
                Capability::GracefulRestart {
                    restarting: true,
                    restart_time: 300,
                    families: vec![(AFI_IPV6, SAFI_UNICAST, false)],
                },
                Capability::FourOctetAs(4_200_000_001),
            ],
        }),
        &bytes,
    );
}

/// RFC 5492 allows several capabilities in one parameter (as some routers send them); we read
/// that form, keep an unknown capability as received, and write one parameter each.
#[test]
fn open_with_all_capabilities_in_one_parameter_and_an_unknown_one() {
    let one_parameter = message(&[
        0x00, 0x2d, // 16: length 45 = 29 + 16
        0x01, // 18: OPEN
        0x04, // 19: version 4
        0xfd, 0xea, // 20: my AS 65002
        0x00, 0x5a, // 22: hold time 90
        0xc6, 0x12, 0x00, 0x01, // 24: identifier 198.18.0.1
        0x10, // 28: optional parameters length 16
        0x02, 0x0e, // 29: parameter 2 (capabilities), length 14 = 6 + 2 + 6
        0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // 31: multiprotocol IPv4 unicast
        0x46, 0x00, // 37: capability 70 (enhanced route refresh, RFC 7313), length 0
        0x41, 0x04, 0x00, 0x00, 0xfd, 0xea, // 39: 4-octet AS 65002
    ]);
    let value = Message::Open(Open {
        asn: 65002,
        hold_time: 90,
        router_id: Ipv4Addr::new(198, 18, 0, 1),
        capabilities: vec![
            Capability::Multiprotocol {
                afi: AFI_IPV4,
                safi: SAFI_UNICAST,
            },
            Capability::Unknown {
                code: 70,
                value: vec![],
            },
            Capability::FourOctetAs(65002),
        ],
    });
    assert_eq!(decode(&one_parameter), Ok((value.clone(), 45)));
    let one_each = message(&[
        0x00, 0x31, // 16: length 49 = 29 + 20
        0x01, 0x04, 0xfd, 0xea, 0x00, 0x5a, 0xc6, 0x12, 0x00, 0x01, // 18: as above
        0x14, // 28: optional parameters length 20 = 8 + 4 + 8
        0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // 29: multiprotocol IPv4 unicast
        0x02, 0x02, 0x46, 0x00, // 37: capability 70, length 0
        0x02, 0x06, 0x41, 0x04, 0x00, 0x00, 0xfd, 0xea, // 41: 4-octet AS 65002
    ]);
    both_ways(value, &one_each);
}

#[test]
fn update_ipv4_announcement_with_med_and_communities() {
    let bytes = message(&[
        0x00, 0x46, // 16: length 70 = 19 + 2 + 2 + 38 + 9
        0x02, // 18: type 2 UPDATE
        0x00, 0x00, // 19: withdrawn routes length 0
        0x00, 0x26, // 21: total path attribute length 38 = 4 + 9 + 7 + 7 + 11
        0x40, 0x01, 0x01, 0x00, // 23: ORIGIN (well-known transitive), length 1: IGP
        // 27: AS_PATH (well-known transitive), length 6: AS_SEQUENCE (2) of 1 ASN: 65001
        0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9, //
        0x40, 0x03, 0x04, 0xc6, 0x12, 0x00, 0x0b, // 36: NEXT_HOP 198.18.0.11
        0x80, 0x04, 0x04, 0x00, 0x00, 0x00, 0x64, // 43: MULTI_EXIT_DISC (optional) 100
        // 50: COMMUNITIES (optional transitive), length 8: 65000:100 = 0xfde8_0064 and
        //     NO_EXPORT 0xffffff01 (RFC 1997)
        0xc0, 0x08, 0x08, 0xfd, 0xe8, 0x00, 0x64, 0xff, 0xff, 0xff, 0x01, //
        0x20, 0xc6, 0x12, 0x64, 0x0a, // 61: NLRI 198.18.100.10/32 (length 32, 4 octets)
        0x18, 0xc6, 0x12, 0x65, // 66: NLRI 198.18.101.0/24 (length 24, 3 octets)
    ]);
    assert_eq!(bytes.len(), 70);
    both_ways(
        Message::Update(Update {
            withdrawn: vec![],
            attributes: vec![
                Attribute::Origin(0),
                Attribute::AsPath(vec![65001]),
                Attribute::NextHop(Ipv4Addr::new(198, 18, 0, 11)),
                Attribute::Med(100),
                Attribute::Communities(vec![(65000 << 16) | 100, 0xffff_ff01]),
            ],
            nlri: vec![prefix("198.18.100.10", 32), prefix("198.18.101.0", 24)],
        }),
        &bytes,
    );
}

#[test]
fn update_ibgp_with_empty_as_path_local_pref_and_large_community() {
    let bytes = message(&[
        0x00, 0x40, // 16: length 64 = 19 + 2 + 2 + 36 + 5
        0x02, // 18: UPDATE
        0x00, 0x00, // 19: no withdrawn routes
        0x00, 0x24, // 21: attributes length 36 = 4 + 3 + 7 + 7 + 15
        0x40, 0x01, 0x01, 0x00, // 23: ORIGIN IGP
        0x40, 0x02, 0x00, // 27: AS_PATH, length 0 (iBGP: the empty path)
        0x40, 0x03, 0x04, 0xc6, 0x12, 0x00, 0x0b, // 30: NEXT_HOP 198.18.0.11
        0x40, 0x05, 0x04, 0x00, 0x00, 0x00, 0x96, // 37: LOCAL_PREF 150
        // 44: LARGE_COMMUNITY (32, optional transitive), length 12 (RFC 8092):
        //     global administrator 4200000001, local data 1, local data 2
        0xc0, 0x20, 0x0c, 0xfa, 0x56, 0xea, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
        0x20, 0xc6, 0x12, 0x64, 0x0a, // 59: NLRI 198.18.100.10/32
    ]);
    assert_eq!(bytes.len(), 64);
    both_ways(
        Message::Update(Update {
            withdrawn: vec![],
            attributes: vec![
                Attribute::Origin(0),
                Attribute::AsPath(vec![]),
                Attribute::NextHop(Ipv4Addr::new(198, 18, 0, 11)),
                Attribute::LocalPref(150),
                Attribute::LargeCommunities(vec![(4_200_000_001, 1, 2)]),
            ],
            nlri: vec![prefix("198.18.100.10", 32)],
        }),
        &bytes,
    );
}

#[test]
fn update_ipv6_announcement_in_mp_reach_with_global_and_link_local_next_hops() {
    let bytes = message(&[
        0x00, 0x64, // 16: length 100 = 19 + 2 + 2 + 77
        0x02, // 18: UPDATE
        0x00, 0x00, // 19: no withdrawn routes
        0x00, 0x4d, // 21: attributes length 77 = 4 + 9 + 64
        0x40, 0x01, 0x01, 0x00, // 23: ORIGIN IGP
        0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9, // 27: AS_PATH [65001]
        // 36: MP_REACH_NLRI (14, optional non-transitive), length 61 = 3 + 1 + 32 + 1 + 17 + 7
        0x80, 0x0e, 0x3d, //
        0x00, 0x02, 0x01, // 39: AFI 2 (IPv6), SAFI 1 (unicast)
        0x20, // 42: next hop length 32: global then link-local (RFC 2545 §3)
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 43: 2001:db8::b
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, //
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 59: fe80::b
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, //
        0x00, // 75: reserved
        0x80, // 76: prefix length 128, then 16 octets: 2001:db8:100::a
        0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, //
        0x30, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x01, // 93: 2001:db8:101::/48 (6 octets)
    ]);
    assert_eq!(bytes.len(), 100);
    both_ways(
        Message::Update(Update {
            withdrawn: vec![],
            attributes: vec![
                Attribute::Origin(0),
                Attribute::AsPath(vec![65001]),
                Attribute::MpReach {
                    afi: AFI_IPV6,
                    safi: SAFI_UNICAST,
                    next_hops: vec![ip("2001:db8::b"), ip("fe80::b")],
                    nlri: vec![prefix("2001:db8:100::a", 128), prefix("2001:db8:101::", 48)],
                },
            ],
            nlri: vec![],
        }),
        &bytes,
    );
}

#[test]
fn update_ipv4_withdrawal() {
    both_ways(
        Message::Update(Update {
            withdrawn: vec![prefix("198.18.100.10", 32), prefix("198.18.101.0", 24)],
            attributes: vec![],
            nlri: vec![],
        }),
        &message(&[
            0x00, 0x20, // 16: length 32 = 19 + 2 + 9 + 2
            0x02, // 18: UPDATE
            0x00, 0x09, // 19: withdrawn routes length 9
            0x20, 0xc6, 0x12, 0x64, 0x0a, // 21: 198.18.100.10/32
            0x18, 0xc6, 0x12, 0x65, // 26: 198.18.101.0/24
            0x00, 0x00, // 30: no attributes, no NLRI
        ]),
    );
}

#[test]
fn update_ipv6_withdrawal_in_mp_unreach() {
    both_ways(
        Message::Update(Update {
            withdrawn: vec![],
            attributes: vec![Attribute::MpUnreach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                withdrawn: vec![prefix("2001:db8:100::a", 128)],
            }],
            nlri: vec![],
        }),
        &message(&[
            0x00, 0x2e, // 16: length 46 = 19 + 2 + 2 + 23
            0x02, // 18: UPDATE
            0x00, 0x00, // 19: no withdrawn IPv4 routes
            0x00, 0x17, // 21: attributes length 23
            0x80, 0x0f, 0x14, // 23: MP_UNREACH_NLRI (15, optional), length 20 = 3 + 17
            0x00, 0x02, 0x01, // 26: AFI 2, SAFI 1
            0x80, // 29: length 128, then 2001:db8:100::a
            0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00, //
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
        ]),
    );
}

/// End-of-RIB markers (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an UPDATE with only an
/// empty MP_UNREACH_NLRI for any other family.
#[test]
fn end_of_rib_markers() {
    both_ways(
        Message::Update(Update::default()),
        &message(&[
            0x00, 0x17, // 16: length 23, the shortest UPDATE
            0x02, // 18: UPDATE
            0x00, 0x00, 0x00, 0x00, // 19: withdrawn length 0, attributes length 0
        ]),
    );
    both_ways(
        Message::Update(Update {
            withdrawn: vec![],
            attributes: vec![Attribute::MpUnreach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                withdrawn: vec![],
            }],
            nlri: vec![],
        }),
        &message(&[
            0x00, 0x1d, // 16: length 29 = 19 + 4 + 6
            0x02, // 18: UPDATE
            0x00, 0x00, 0x00, 0x06, // 19: no withdrawn routes, attributes length 6
            // 23: MP_UNREACH_NLRI, length 3: AFI 2, SAFI 1
            0x80, 0x0f, 0x03, 0x00, 0x02, 0x01,
        ]),
    );
}

/// An attribute longer than 255 octets takes the Extended Length bit (0x10) and a 2-octet
/// length (RFC 4271 §4.3); a short one may take it too, and reads the same.
#[test]
fn extended_length_attributes() {
    // 64 communities 65000:0 .. 65000:63 = 256 octets.
    let communities: Vec<u32> = (0..64).map(|n| (65000 << 16) | n).collect();
    let mut bytes = message(&[
        0x01, 0x1b, // 16: length 283 = 19 + 2 + 2 + 260
        0x02, // 18: UPDATE
        0x00, 0x00, // 19: no withdrawn routes
        0x01, 0x04, // 21: attributes length 260 = 4 + 256
        0xd0, 0x08, // 23: flags optional + transitive + extended length, COMMUNITIES
        0x01, 0x00, // 25: attribute length 256
    ]);
    for n in 0..64u8 {
        bytes.extend_from_slice(&[0xfd, 0xe8, 0x00, n]); // 27 + 4n: 65000:n
    }
    assert_eq!(bytes.len(), 283);
    both_ways(
        Message::Update(Update {
            withdrawn: vec![],
            attributes: vec![Attribute::Communities(communities)],
            nlri: vec![],
        }),
        &bytes,
    );

    let short_but_extended = message(&[
        0x00, 0x1c, // 16: length 28 = 19 + 4 + 5
        0x02, 0x00, 0x00, 0x00, 0x05, // 18: UPDATE, no withdrawn routes, attributes length 5
        0x50, 0x01, 0x00, 0x01, 0x02, // 23: ORIGIN with extended length 1: INCOMPLETE
    ]);
    let value = Message::Update(Update {
        withdrawn: vec![],
        attributes: vec![Attribute::Origin(2)],
        nlri: vec![],
    });
    assert_eq!(decode(&short_but_extended), Ok((value.clone(), 28)));
    // We write the short form.
    both_ways(
        value,
        &message(&[
            0x00, 0x1b, 0x02, 0x00, 0x00, 0x00, 0x04, // 16: length 27, attributes length 4
            0x40, 0x01, 0x01, 0x02, // 23: ORIGIN INCOMPLETE
        ]),
    );
}

/// The trailing bits of an NLRI prefix are irrelevant (RFC 4271 §4.3): 198.18.111.0 sent as
/// /20 is the network 198.18.96.0/20 (0x6f & 0xf0 = 0x60 = 96).
#[test]
fn prefix_trailing_bits_are_ignored() {
    // In the withdrawn routes field, which needs no attributes.
    let bytes = message(&[
        0x00, 0x1b, // 16: length 27 = 19 + 2 + 4 + 2
        0x02, // 18: UPDATE
        0x00, 0x04, // 19: withdrawn routes length 4
        0x14, 0xc6, 0x12, 0x6f, // 21: length 20, octets 198.18.111 (low 4 bits set)
        0x00, 0x00, // 25: no attributes
    ]);
    assert_eq!(
        decode(&bytes),
        Ok((
            Message::Update(Update {
                withdrawn: vec![prefix("198.18.96.0", 20)],
                attributes: vec![],
                nlri: vec![],
            }),
            27
        ))
    );
}

#[test]
fn notifications() {
    both_ways(
        Message::Notification(Notification {
            code: 4,
            subcode: 0,
            data: vec![],
        }),
        &message(&[
            0x00, 0x15, // 16: length 21, the shortest NOTIFICATION
            0x03, // 18: type 3 NOTIFICATION
            0x04, 0x00, // 19: Hold Timer Expired, no subcode
        ]),
    );
    // Cease / Administrative Shutdown with a shutdown communication (RFC 9003): a length
    // octet, then UTF-8.
    let mut data = vec![11];
    data.extend_from_slice(b"maintenance");
    both_ways(
        Message::Notification(Notification {
            code: 6,
            subcode: 2,
            data,
        }),
        &message(&[
            0x00, 0x21, // 16: length 33 = 19 + 2 + 12
            0x03, // 18: NOTIFICATION
            0x06, 0x02, // 19: Cease, Administrative Shutdown
            0x0b, // 21: communication length 11
            b'm', b'a', b'i', b'n', b't', b'e', b'n', b'a', b'n', b'c', b'e', // 22
        ]),
    );
}

/// Malformed messages and the NOTIFICATION the decoder answers with (RFC 4271 §6.1-6.3).
#[test]
fn malformed_messages_get_the_rfc_notification() {
    let keepalive = [0x00, 0x13, 0x04];
    // A minimal valid OPEN: AS 65001, hold 90, id 198.18.0.11, no parameters.
    let open = |version: u8, asn: [u8; 2], hold: [u8; 2], params: &[u8]| {
        let mut rest = vec![0x00, 29 + params.len() as u8, 0x01, version];
        rest.extend_from_slice(&asn);
        rest.extend_from_slice(&hold);
        rest.extend_from_slice(&[0xc6, 0x12, 0x00, 0x0b, params.len() as u8]);
        rest.extend_from_slice(params);
        message(&rest)
    };
    // An UPDATE around an attribute list and NLRI.
    let update = |attributes: &[u8], nlri: &[u8]| {
        let length = (19 + 4 + attributes.len() + nlri.len()) as u8;
        let mut rest = vec![0x00, length, 0x02, 0x00, 0x00, 0x00, attributes.len() as u8];
        rest.extend_from_slice(attributes);
        rest.extend_from_slice(nlri);
        message(&rest)
    };
    let origin = [0x40, 0x01, 0x01, 0x00];
    let as_path = [0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9];
    let next_hop = [0x40, 0x03, 0x04, 0xc6, 0x12, 0x00, 0x0b];
    let nlri = [0x20, 0xc6, 0x12, 0x64, 0x0a];

    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        (
            "marker octet 0 is 0x00",
            {
                let mut b = message(&keepalive);
                b[0] = 0;
                b
            },
            notification(1, 1, &[]),
        ),
        (
            "KEEPALIVE of length 20",
            message(&[0x00, 0x14, 0x04, 0x00]),
            notification(1, 2, &[0x00, 0x14]),
        ),
        (
            "length 18, below the header",
            message(&[0x00, 0x12, 0x04]),
            notification(1, 2, &[0x00, 0x12]),
        ),
        (
            "OPEN of length 28, below its minimum 29",
            message(&[0x00, 0x1c, 0x01, 0x04, 0xfd, 0xe9, 0x00, 0x5a, 0xc6, 0x12]),
            notification(1, 2, &[0x00, 0x1c]),
        ),
        (
            "length 4097, above the maximum",
            message(&[0x10, 0x01, 0x02]),
            notification(1, 2, &[0x10, 0x01]),
        ),
        (
            "message type 7",
            message(&[0x00, 0x13, 0x07]),
            notification(1, 3, &[0x07]),
        ),
        (
            "UPDATE of length 23 with 2 octets of body",
            message(&[0x00, 0x17, 0x02, 0x00, 0x00]),
            DecodeError::Incomplete,
        ),
        (
            "OPEN version 3",
            open(3, [0xfd, 0xe9], [0x00, 0x5a], &[]),
            // Data: the largest version we support, 2 octets.
            notification(2, 1, &[0x00, 0x04]),
        ),
        (
            "OPEN hold time 2",
            open(4, [0xfd, 0xe9], [0x00, 0x02], &[]),
            notification(2, 6, &[]),
        ),
        (
            "OPEN AS_TRANS without the 4-octet AS capability",
            open(4, [0x5b, 0xa0], [0x00, 0x5a], &[]),
            notification(2, 2, &[]),
        ),
        (
            "OPEN optional parameter 1 (authentication, deprecated)",
            open(4, [0xfd, 0xe9], [0x00, 0x5a], &[0x01, 0x01, 0x00]),
            notification(2, 4, &[]),
        ),
        (
            "withdrawn routes length 5 with 2 octets left",
            message(&[0x00, 0x18, 0x02, 0x00, 0x05, 0x00, 0x00, 0x00]),
            notification(3, 1, &[]),
        ),
        (
            "NEXT_HOP of length 4 truncated by the attribute list after 2 octets",
            update(&[0x40, 0x03, 0x04, 0xc6, 0x12], &[]),
            notification(3, 1, &[]),
        ),
        (
            "ORIGIN of length 2",
            update(&[0x40, 0x01, 0x02, 0x00, 0x00], &[]),
            // Data: the attribute (flags, type, length, value).
            notification(3, 5, &[0x40, 0x01, 0x02, 0x00, 0x00]),
        ),
        (
            "ORIGIN 3",
            update(&[0x40, 0x01, 0x01, 0x03], &[]),
            notification(3, 6, &[0x40, 0x01, 0x01, 0x03]),
        ),
        (
            "ORIGIN twice",
            update(&[origin, origin].concat(), &[]),
            notification(3, 1, &[]),
        ),
        (
            "NLRI without NEXT_HOP",
            update(&[&origin[..], &as_path[..]].concat(), &nlri),
            // Data: the missing attribute's type code.
            notification(3, 3, &[0x03]),
        ),
        (
            "NLRI prefix length 33",
            update(
                &[&origin[..], &as_path[..], &next_hop[..]].concat(),
                &[0x21, 0xc6, 0x12, 0x64, 0x0a, 0x00],
            ),
            notification(3, 10, &[]),
        ),
    ];
    for (name, bytes, error) in cases {
        assert_eq!(decode(&bytes), Err(error), "{name}: {bytes:02x?}");
    }
}
