use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn v4(s: &str, len: u8) -> Prefix {
    Prefix::new(s.parse().unwrap(), len).unwrap()
}

fn open(asn: u32) -> Open {
    Open {
        asn,
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
                restarting: true,
                restart_time: 120,
                families: vec![(AFI_IPV4, SAFI_UNICAST, true)],
            },
            Capability::FourOctetAs(asn),
        ],
    }
}

fn announcement() -> Update {
    Update {
        withdrawn: vec![v4("198.18.100.0", 24)],
        attributes: vec![
            Attribute::Origin(0),
            Attribute::AsPath(vec![4_200_000_001]),
            Attribute::NextHop(Ipv4Addr::new(198, 18, 0, 11)),
            Attribute::LocalPref(150),
            Attribute::Communities(vec![(65000 << 16) | 100]),
            Attribute::LargeCommunities(vec![(4_200_000_001, 1, 2)]),
            Attribute::MpReach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                next_hops: vec!["2001:db8::b".parse().unwrap()],
                nlri: vec![Prefix::new("2001:db8::64:a".parse().unwrap(), 128).unwrap()],
            },
        ],
        nlri: vec![v4("198.18.100.10", 32), v4("198.18.101.0", 24)],
    }
}

#[test]
fn keepalive_is_nineteen_bytes() {
    let bytes = encode(&Message::Keepalive);
    assert_eq!(bytes.len(), 19);
    assert!(bytes[..16].iter().all(|b| *b == 0xff));
    assert_eq!(&bytes[16..], &[0, 19, 4]);
    assert_eq!(decode(&bytes), Ok((Message::Keepalive, 19)));
}

#[test]
fn messages_round_trip() {
    for message in [
        Message::Open(open(65001)),
        Message::Open(open(4_200_000_001)),
        Message::Update(announcement()),
        Message::Update(Update::default()),
        Message::Notification(Notification {
            code: 6,
            subcode: 2,
            data: b"bye".to_vec(),
        }),
        Message::Keepalive,
    ] {
        let bytes = encode(&message);
        assert_eq!(
            decode(&bytes),
            Ok((message.clone(), bytes.len())),
            "{message:?}"
        );
    }
}

#[test]
fn large_asns_go_as_as_trans_in_the_open_field() {
    let bytes = encode(&Message::Open(open(4_200_000_001)));
    assert_eq!(&bytes[20..22], &AS_TRANS.to_be_bytes());
    let small = encode(&Message::Open(open(65001)));
    assert_eq!(&small[20..22], &65001u16.to_be_bytes());
}

#[test]
fn header_errors_get_the_rfc_notifications() {
    let mut bytes = encode(&Message::Keepalive);
    bytes[0] = 0;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::Malformed(Notification {
            code: 1,
            subcode: 1,
            data: vec![]
        }))
    );
    let mut bytes = encode(&Message::Keepalive);
    bytes[17] = 18;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::Malformed(Notification {
            code: 1,
            subcode: 2,
            data: vec![0, 18]
        }))
    );
    let mut bytes = encode(&Message::Keepalive);
    bytes[18] = 9;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::Malformed(Notification {
            code: 1,
            subcode: 3,
            data: vec![9]
        }))
    );
    let mut too_long = encode(&Message::Keepalive);
    too_long[16..18].copy_from_slice(&4097u16.to_be_bytes());
    assert!(matches!(
        decode(&too_long),
        Err(DecodeError::Malformed(Notification {
            code: 1,
            subcode: 2,
            ..
        }))
    ));
}

#[test]
fn open_errors_get_the_rfc_notifications() {
    let good = encode(&Message::Open(open(65001)));
    let mut version = good.clone();
    version[19] = 3;
    assert_eq!(
        decode(&version),
        Err(DecodeError::Malformed(Notification {
            code: 2,
            subcode: 1,
            data: vec![0, 4]
        }))
    );
    let mut hold = good.clone();
    hold[22..24].copy_from_slice(&2u16.to_be_bytes());
    assert!(matches!(
        decode(&hold),
        Err(DecodeError::Malformed(Notification {
            code: 2,
            subcode: 6,
            ..
        }))
    ));
    let mut id = good.clone();
    id[24..28].copy_from_slice(&[0, 0, 0, 0]);
    assert!(matches!(
        decode(&id),
        Err(DecodeError::Malformed(Notification {
            code: 2,
            subcode: 3,
            ..
        }))
    ));
}

#[test]
fn update_errors_get_the_rfc_notifications() {
    let missing_next_hop = Update {
        withdrawn: vec![],
        attributes: vec![Attribute::Origin(0), Attribute::AsPath(vec![65001])],
        nlri: vec![v4("198.18.100.10", 32)],
    };
    assert_eq!(
        decode(&encode(&Message::Update(missing_next_hop))),
        Err(DecodeError::Malformed(Notification {
            code: 3,
            subcode: 3,
            data: vec![3]
        }))
    );
    let bad_origin = Update {
        attributes: vec![Attribute::Origin(7)],
        ..Update::default()
    };
    assert!(matches!(
        decode(&encode(&Message::Update(bad_origin))),
        Err(DecodeError::Malformed(Notification {
            code: 3,
            subcode: 6,
            ..
        }))
    ));
    let twice = Update {
        attributes: vec![Attribute::Med(1), Attribute::Med(2)],
        ..Update::default()
    };
    assert!(matches!(
        decode(&encode(&Message::Update(twice))),
        Err(DecodeError::Malformed(Notification {
            code: 3,
            subcode: 1,
            ..
        }))
    ));
    let mut long_prefix = encode(&Message::Update(Update {
        withdrawn: vec![v4("198.18.0.0", 16)],
        ..Update::default()
    }));
    long_prefix[21] = 33; // the withdrawn prefix's length
    assert!(matches!(
        decode(&long_prefix),
        Err(DecodeError::Malformed(Notification {
            code: 3,
            subcode: 10,
            ..
        }))
    ));
}

#[test]
fn capabilities_that_do_not_fit_one_parameter_each_share_one() {
    // Found by the fuzz target: 2 + 240 + 2 x (2 + 2) bytes as one parameter each would
    // overflow the 255-byte field.
    let mut open = open(65001);
    open.capabilities = vec![
        Capability::Unknown {
            code: 200,
            value: vec![7; 240],
        },
        Capability::RouteRefresh,
        Capability::RouteRefresh,
    ];
    let message = Message::Open(open);
    assert_eq!(decode(&encode(&message)).map(|(m, _)| m), Ok(message));
}

#[test]
fn unknown_attributes_must_be_optional_and_keep_only_meaningful_flags() {
    // Found by the fuzz target: a well-known attribute we do not know is an error...
    let unknown_well_known = Update {
        attributes: vec![Attribute::Unknown {
            flags: 0x40,
            code: 66,
            value: vec![],
        }],
        ..Update::default()
    };
    assert!(matches!(
        decode(&encode(&Message::Update(unknown_well_known))),
        Err(DecodeError::Malformed(Notification {
            code: 3,
            subcode: 2,
            ..
        }))
    ));
    // ...and an optional one keeps its optional/transitive/partial bits, not the length form
    // or the unused low bits, so re-encoding gives the same message.
    let mut bytes = encode(&Message::Update(Update {
        attributes: vec![Attribute::Unknown {
            flags: 0xc0,
            code: 99,
            value: vec![1, 2],
        }],
        ..Update::default()
    }));
    bytes[23] |= 0x0f; // the attribute's flags: set the unused bits
    let (message, _) = decode(&bytes).unwrap();
    let expected = Message::Update(Update {
        attributes: vec![Attribute::Unknown {
            flags: 0xc0,
            code: 99,
            value: vec![1, 2],
        }],
        ..Update::default()
    });
    assert_eq!(message, expected);
    assert_eq!(decode(&encode(&message)).map(|(m, _)| m), Ok(expected));
}

#[test]
fn every_truncation_and_corruption_is_rejected_without_panic() {
    for message in [
        Message::Open(open(4_200_000_001)),
        Message::Update(announcement()),
    ] {
        let bytes = encode(&message);
        for len in 0..bytes.len() {
            assert_eq!(
                decode(&bytes[..len]),
                Err(DecodeError::Incomplete),
                "prefix of {len} bytes"
            );
            // The same bytes with a header that claims they are complete.
            if len >= HEADER_LEN {
                let mut claimed = bytes[..len].to_vec();
                claimed[16..18].copy_from_slice(&(len as u16).to_be_bytes());
                let _ = decode(&claimed);
            }
        }
        for i in HEADER_LEN..bytes.len() {
            for value in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut corrupted = bytes.clone();
                corrupted[i] = value;
                let _ = decode(&corrupted);
            }
        }
    }
}

#[test]
fn ten_thousand_prefixes_pack_into_messages_within_the_limit() {
    let prefixes: Vec<Prefix> = (0..10_000u32)
        .map(|i| {
            let [_, b, c, d] = (0xc612_0000u32 | i).to_be_bytes();
            Prefix::new(IpAddr::V4(Ipv4Addr::new(198, 18 + (b & 1), c, d)), 32).unwrap()
        })
        .chain(
            (0..2_000u16)
                .map(|i| Prefix::new(format!("2001:db8::64:{i:x}").parse().unwrap(), 128).unwrap()),
        )
        .collect();
    let attributes = vec![
        Attribute::Origin(0),
        Attribute::AsPath(vec![65001]),
        Attribute::Communities(vec![1, 2, 3]),
    ];
    let next_hops: Vec<IpAddr> = vec!["2001:db8::b".parse().unwrap()];
    let updates = pack_announcements(
        &attributes,
        &prefixes,
        Some(Ipv4Addr::new(198, 18, 0, 11)),
        &next_hops,
    );
    let mut seen = Vec::new();
    for update in &updates {
        let bytes = encode(&Message::Update(update.clone()));
        assert!(bytes.len() <= MAX_MESSAGE_LEN, "{} bytes", bytes.len());
        let Ok((Message::Update(back), _)) = decode(&bytes) else {
            panic!("does not decode")
        };
        seen.extend(back.nlri);
        for a in back.attributes {
            if let Attribute::MpReach { nlri, .. } = a {
                seen.extend(nlri);
            }
        }
    }
    seen.sort();
    let mut expected = prefixes.clone();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(
        updates.len() < 30,
        "{} messages for 12,000 prefixes",
        updates.len()
    );
}
