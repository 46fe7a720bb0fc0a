use super::*;

const OURS: Mac = [2, 0, 0, 0, 0, 1];
const CLIENT: Mac = [2, 0, 0, 0, 0, 9];

fn client_ip() -> Ipv6Addr {
    "2001:db8::9".parse().unwrap()
}

fn service_ip() -> Ipv6Addr {
    "2001:db8:100::a".parse().unwrap()
}

fn solicitation_frame(source: Ipv6Addr, hop_limit: u8, with_option: bool) -> Vec<u8> {
    let group = solicited_node_group(service_ip());
    let builder = PacketBuilder::ethernet2(CLIENT, multicast_mac(group))
        .ipv6(source.octets(), group.octets(), hop_limit)
        .icmpv6(Icmpv6Type::NeighborSolicitation);
    let mut payload = service_ip().octets().to_vec();
    if with_option {
        payload.extend_from_slice(&[1, 1]);
        payload.extend_from_slice(&CLIENT);
    }
    let mut out = Vec::new();
    builder.write(&mut out, &payload).unwrap();
    out
}

#[test]
fn solicited_node_group_and_its_mac() {
    let group = solicited_node_group("2001:db8:100::12:3456".parse().unwrap());
    assert_eq!(group, "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap());
    assert_eq!(multicast_mac(group), [0x33, 0x33, 0xff, 0x12, 0x34, 0x56]);
}

#[test]
fn a_solicitation_is_parsed_and_answered() {
    let ns = parse_solicitation(&solicitation_frame(client_ip(), 255, true)).unwrap();
    assert_eq!(
        ns,
        Solicitation {
            source_ip: client_ip(),
            source_mac: CLIENT,
            target: service_ip()
        }
    );

    let answer = solicited_advertisement(OURS, &ns);
    assert_eq!(&answer[0..6], &CLIENT);
    assert_eq!(&answer[6..12], &OURS);
    let ip = Ipv6Slice::from_slice(&answer[14..]).unwrap();
    assert_eq!(ip.header().source_addr(), service_ip());
    assert_eq!(ip.header().destination_addr(), client_ip());
    assert_eq!(ip.header().hop_limit(), 255);
    let icmp = Icmpv6Slice::from_slice(ip.payload().payload).unwrap();
    assert!(icmp.is_checksum_valid(service_ip().octets(), client_ip().octets()));
    assert_eq!(
        icmp.icmp_type(),
        Icmpv6Type::NeighborAdvertisement(NeighborAdvertisementHeader {
            router: false,
            solicited: true,
            r#override: false
        })
    );
    assert_eq!(&icmp.payload()[..16], &service_ip().octets());
    assert_eq!(&icmp.payload()[16..], &[2, 1, 2, 0, 0, 0, 0, 1]);
}

#[test]
fn unsolicited_advertisements_go_to_all_nodes_with_override() {
    let frame = unsolicited_advertisement(OURS, service_ip());
    assert_eq!(&frame[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
    let ip = Ipv6Slice::from_slice(&frame[14..]).unwrap();
    assert_eq!(
        ip.header().destination_addr(),
        "ff02::1".parse::<Ipv6Addr>().unwrap()
    );
    let icmp = Icmpv6Slice::from_slice(ip.payload().payload).unwrap();
    assert_eq!(
        icmp.icmp_type(),
        Icmpv6Type::NeighborAdvertisement(NeighborAdvertisementHeader {
            router: false,
            solicited: false,
            r#override: true
        })
    );
}

#[test]
fn probes_routed_packets_and_bad_checksums_are_dropped() {
    // Duplicate address detection: from ::, no source option.
    let dad = solicitation_frame(Ipv6Addr::UNSPECIFIED, 255, false);
    assert_eq!(parse_solicitation(&dad), Err(DropReason::NoSourceLinkLayer));
    let no_option = solicitation_frame(client_ip(), 255, false);
    assert_eq!(
        parse_solicitation(&no_option),
        Err(DropReason::NoSourceLinkLayer)
    );
    let routed = solicitation_frame(client_ip(), 64, true);
    assert_eq!(parse_solicitation(&routed), Err(DropReason::Malformed));
    let mut corrupted = solicitation_frame(client_ip(), 255, true);
    let last = corrupted.len() - 1;
    corrupted[last] ^= 0xff;
    assert_eq!(parse_solicitation(&corrupted), Err(DropReason::Malformed));
    // An advertisement is not a solicitation.
    let na = unsolicited_advertisement(OURS, service_ip());
    assert_eq!(parse_solicitation(&na), Err(DropReason::NotARequest));
}

#[test]
fn every_truncation_is_dropped_without_panic() {
    let full = solicitation_frame(client_ip(), 255, true);
    for len in 0..full.len() {
        assert!(
            parse_solicitation(&full[..len]).is_err(),
            "a {len}-byte prefix was accepted"
        );
    }
    // Arbitrary bytes after a valid Ethernet/IPv6 prefix never panic either.
    for fill in [0u8, 0x01, 0x7f, 0xff] {
        let mut junk = full.clone();
        for byte in junk.iter_mut().skip(54) {
            *byte = fill;
        }
        let _ = parse_solicitation(&junk);
    }
}

#[test]
fn advertisements_claim_their_target_at_the_target_link_layer_address() {
    let ours: Mac = [2, 0, 0, 0, 0, 1];
    let target: Ipv6Addr = "2001:db8::64:a".parse().unwrap();
    let frame = unsolicited_advertisement(ours, target);
    assert_eq!(claim(&frame), Some((target, ours)));
    assert_eq!(claim(&frame[..30]), None);
}
