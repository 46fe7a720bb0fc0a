use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

fn texts(value: &str) -> Vec<String> {
    parse_ranges(value)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn err(value: &str) -> ListError {
    parse_ranges(value).unwrap_err()
}

fn item_err(value: &str) -> RangeErrorKind {
    match err(value) {
        ListError::Item(e) => e.kind,
        other => panic!("{value:?}: expected an item error, got {other}"),
    }
}

#[test]
fn ipv4_cidrs_and_ranges() {
    assert_eq!(texts("198.18.0.0/24"), ["198.18.0.0/24"]);
    assert_eq!(
        texts("198.18.0.240-198.18.0.247"),
        ["198.18.0.240-198.18.0.247"]
    );
    assert_eq!(texts("198.18.0.7/32"), ["198.18.0.7/32"]);
    assert_eq!(texts("198.18.0.7-198.18.0.7"), ["198.18.0.7-198.18.0.7"]);
    assert_eq!(texts("0.0.0.0/0"), ["0.0.0.0/0"]);
}

#[test]
fn ipv6_cidrs_and_ranges_in_canonical_form() {
    assert_eq!(texts("2001:db8::/64"), ["2001:db8::/64"]);
    assert_eq!(texts("2001:0db8:0000::/120"), ["2001:db8::/120"]);
    assert_eq!(
        texts("2001:db8::1 - 2001:db8::ff"),
        ["2001:db8::1-2001:db8::ff"]
    );
    assert_eq!(texts("::/0"), ["::/0"]);
}

#[test]
fn whitespace_and_empty_items_are_ignored() {
    assert_eq!(
        texts(" 198.18.0.240 - 198.18.0.247 ,2001:db8::/120,, 198.18.1.0 / 24 \t"),
        [
            "198.18.0.240-198.18.0.247",
            "2001:db8::/120",
            "198.18.1.0/24"
        ]
    );
    assert_eq!(
        texts("\n198.18.0.1-198.18.0.2\n"),
        ["198.18.0.1-198.18.0.2"]
    );
}

#[test]
fn host_bits_are_ignored_as_upstream() {
    assert_eq!(texts("198.18.0.5/24"), ["198.18.0.0/24"]);
    assert_eq!(texts("2001:db8::5/120"), ["2001:db8::/120"]);
    let r = IpRange::parse("198.18.0.5/24").unwrap();
    assert_eq!(
        (r.first(), r.last()),
        (ip("198.18.0.0"), ip("198.18.0.255"))
    );
}

#[test]
fn empty_value() {
    for value in ["", " ", " , ", ",,"] {
        assert_eq!(err(value), ListError::Empty, "{value:?}");
        assert!(err(value).to_string().contains("no addresses"));
        assert_eq!(err(value).item(), None);
    }
    assert_eq!(
        IpRange::parse("  ").unwrap_err().kind,
        RangeErrorKind::Empty
    );
}

#[test]
fn unparsable_items_name_the_item() {
    let e = err("198.18.0.0/28, 192.168.1.300-192.168.1.310");
    assert_eq!(
        e.to_string(),
        "\"192.168.1.300-192.168.1.310\": not an IP address range: \"192.168.1.300\" is not an IP address"
    );
    assert_eq!(e.item(), Some("192.168.1.300-192.168.1.310"));
    assert_eq!(
        item_err("198.18.0.1-banana"),
        RangeErrorKind::BadRangeEnd("banana".into())
    );
    assert_eq!(
        item_err("198.18.0.1-"),
        RangeErrorKind::BadRangeEnd("".into())
    );
    assert_eq!(
        item_err("198.18.0.0/-1"),
        RangeErrorKind::BadRangeEnd("198.18.0.0/".into()),
        "a dash makes it a range"
    );
    assert_eq!(item_err("banana"), RangeErrorKind::Unrecognised);
    assert_eq!(
        err("banana").to_string(),
        "\"banana\": not a CIDR (a.b.c.d/n) or a range (A-B)"
    );
    assert_eq!(
        item_err("198.18.0.256/24"),
        RangeErrorKind::BadCidrAddress("198.18.0.256".into())
    );
    assert_eq!(
        item_err("2001:db8::g/64"),
        RangeErrorKind::BadCidrAddress("2001:db8::g".into())
    );
    assert_eq!(
        item_err("198.18.00.1/32"),
        RangeErrorKind::BadCidrAddress("198.18.00.1".into()),
        "leading zeros are ambiguous (octal) and refused"
    );
    for (value, text, max) in [
        ("198.18.0.0/33", "33", 32),
        ("198.18.0.0/", "", 32),
        ("198.18.0.0/+24", "+24", 32),
        ("198.18.0.0/24/2", "24/2", 32),
        ("198.18.0.0/0024", "0024", 32),
        ("2001:db8::/129", "129", 128),
        ("2001:db8::/x", "x", 128),
    ] {
        assert_eq!(
            item_err(value),
            RangeErrorKind::BadPrefixLength {
                text: text.into(),
                max
            },
            "{value}"
        );
    }
    assert!(err("198.18.0.0/33").to_string().starts_with(
        "\"198.18.0.0/33\": not a CIDR: prefix length \"33\" must be a number from 0 to 32"
    ));
}

#[test]
fn bare_address_asks_for_a_prefix_length() {
    assert_eq!(
        err("198.18.0.7").to_string(),
        "\"198.18.0.7\": a single address needs a prefix length (198.18.0.7/32) or a range (198.18.0.7-198.18.0.7)"
    );
    assert_eq!(
        err(" 2001:db8::1 ").to_string(),
        "\"2001:db8::1\": a single address needs a prefix length (2001:db8::1/128) or a range (2001:db8::1-2001:db8::1)"
    );
}

#[test]
fn start_after_end() {
    assert_eq!(
        item_err("198.18.0.9-198.18.0.1"),
        RangeErrorKind::StartAfterEnd {
            start: ip("198.18.0.9"),
            end: ip("198.18.0.1")
        }
    );
    assert_eq!(
        err("198.18.0.9 - 198.18.0.1").to_string(),
        "\"198.18.0.9 - 198.18.0.1\": not an IP address range: start 198.18.0.9 is after end 198.18.0.1"
    );
    assert!(matches!(
        item_err("2001:db8::9-2001:db8::1"),
        RangeErrorKind::StartAfterEnd { .. }
    ));
}

#[test]
fn mixed_families() {
    assert_eq!(
        err("198.18.0.1-2001:db8::1").to_string(),
        "\"198.18.0.1-2001:db8::1\": not an IP address range: 198.18.0.1 and 2001:db8::1 mix IPv4 and IPv6"
    );
    assert!(matches!(
        item_err("2001:db8::1-198.18.0.1"),
        RangeErrorKind::MixedFamilies { .. }
    ));
}

#[test]
fn overlapping_items_name_both() {
    let e = err("198.18.0.0/24, 198.18.0.128-198.18.0.130");
    assert_eq!(
        e,
        ListError::Overlap {
            item: "198.18.0.128-198.18.0.130".into(),
            other: "198.18.0.0/24".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "\"198.18.0.128-198.18.0.130\" overlaps \"198.18.0.0/24\""
    );
    assert!(matches!(
        err("2001:db8::/64, 198.18.0.0/30, 2001:db8::5/128"),
        ListError::Overlap { ref item, ref other } if item == "2001:db8::5/128" && other == "2001:db8::/64"
    ));
    assert!(matches!(
        err("198.18.0.1/32,198.18.0.1/32"),
        ListError::Overlap { .. }
    ));
    // Touching is not overlapping; IPv4 and IPv6 never overlap.
    assert_eq!(
        texts("198.18.0.0/31, 198.18.0.2-198.18.0.3, ::ffff:c612:0/127").len(),
        3
    );
}

#[test]
fn size_membership_first_last() {
    let r = parse_ranges("198.18.0.0/28, 198.18.1.1-198.18.1.3, 2001:db8::/120").unwrap();
    assert_eq!(total_size(&r), 16 + 3 + 256);
    assert_eq!(r[1].first(), ip("198.18.1.1"));
    assert_eq!(r[1].last(), ip("198.18.1.3"));
    assert!(r[1].contains(ip("198.18.1.2")));
    assert!(!r[1].contains(ip("198.18.1.4")));
    assert!(!r[1].contains(ip("198.18.1.0")));
    assert!(!r[0].contains(ip("2001:db8::")));
    assert!(!r[2].contains(ip("0.0.0.0")));
    assert_eq!(IpRange::parse("::/0").unwrap().size(), u128::MAX);
    assert_eq!(IpRange::parse("0.0.0.0/0").unwrap().size(), 1 << 32);
    assert_eq!(IpRange::parse("2001:db8::/64").unwrap().size(), 1 << 64);
    assert_eq!(r[0].prefix_len(), Some(28));
    assert_eq!(r[1].prefix_len(), None);
}

#[test]
fn iteration_is_lazy_and_works_from_both_ends() {
    let r = IpRange::parse("198.18.0.254-198.18.1.1").unwrap();
    let all: Vec<String> = r.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        all,
        ["198.18.0.254", "198.18.0.255", "198.18.1.0", "198.18.1.1"]
    );
    assert_eq!(r.iter().next_back(), Some(ip("198.18.1.1")));
    assert_eq!(r.iter().size_hint(), (4, Some(4)));
    let mut it = r.iter();
    assert_eq!(it.nth(2), Some(ip("198.18.1.0")));
    assert_eq!(it.next_back(), Some(ip("198.18.1.1")));
    assert_eq!(it.next(), None);
    assert_eq!(it.next_back(), None);
    // A /64 and the whole IPv6 space: take a few without materialising.
    let huge = IpRange::parse("2001:db8::/64").unwrap();
    let last: Vec<IpAddr> = huge.iter().rev().take(2).collect();
    assert_eq!(
        last,
        [
            ip("2001:db8::ffff:ffff:ffff:ffff"),
            ip("2001:db8::ffff:ffff:ffff:fffe")
        ]
    );
    assert_eq!(huge.iter().nth(1 << 40), Some(ip("2001:db8::100:0:0")));
    let everything = IpRange::parse("::/0").unwrap();
    assert_eq!(everything.iter().size_hint().1, None);
    assert_eq!(
        everything.iter().next_back(),
        Some(IpAddr::V6(Ipv6Addr::from(u128::MAX)))
    );
    let one = IpRange::parse("198.18.0.1/32").unwrap();
    assert_eq!((&one).into_iter().count(), 1);
    let top = IpRange::parse("255.255.255.254/31").unwrap();
    assert_eq!(top.iter().count(), 2, "no overflow at the top of the space");
}

#[test]
fn ranges_summarise_to_minimal_cidrs() {
    let show = |t: &str| -> Vec<String> {
        IpRange::parse(t)
            .unwrap()
            .cidrs()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        show("198.18.0.1-198.18.0.6"),
        [
            "198.18.0.1/32",
            "198.18.0.2/31",
            "198.18.0.4/31",
            "198.18.0.6/32"
        ]
    );
    assert_eq!(show("198.18.0.0/24"), ["198.18.0.0/24"]);
    assert_eq!(show("198.18.0.0-198.18.1.255"), ["198.18.0.0/23"]);
    assert_eq!(show("0.0.0.0/0"), ["0.0.0.0/0"]);
    assert_eq!(show("255.255.255.255/32"), ["255.255.255.255/32"]);
    assert_eq!(show("::/0"), ["::/0"]);
    assert_eq!(
        show("2001:db8::-2001:db8::2"),
        ["2001:db8::/127", "2001:db8::2/128"]
    );
    let c = IpRange::parse("198.18.0.0/23").unwrap().cidrs()[0];
    assert_eq!(
        (c.prefix_len(), c.size(), c.last()),
        (23, 512, ip("198.18.1.255"))
    );
    assert!(c.contains(ip("198.18.1.7")) && !c.contains(ip("198.18.2.0")));
    assert_eq!(IpRange::from_cidr(c).to_string(), "198.18.0.0/23");
}

#[test]
fn from_bounds_and_from_str() {
    assert!(IpRange::from_bounds(ip("198.18.0.2"), ip("198.18.0.1")).is_none());
    assert!(IpRange::from_bounds(ip("198.18.0.2"), ip("::1")).is_none());
    let r: IpRange = "198.18.0.1 - 198.18.0.2".parse().unwrap();
    assert_eq!(r.size(), 2);
    assert!(Cidr::new(ip("198.18.0.0"), 33).is_none());
    assert_eq!(
        from_u128(ip("0.0.0.0"), u128::MAX),
        IpAddr::V4(Ipv4Addr::BROADCAST)
    );
}

#[test]
fn parse_list_renders_the_error() {
    assert!(
        parse_list("198.18.0.7")
            .unwrap_err()
            .contains("\"198.18.0.7\"")
    );
    assert_eq!(parse_list("198.18.0.0/30").unwrap().len(), 1);
}

proptest! {
    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,60}") {
        let _ = parse_ranges(&text);
        let _ = IpRange::parse(&text);
    }

    #[test]
    fn parsing_address_like_text_never_panics(text in "[0-9a-f:./, \\-]{0,50}") {
        if let Ok(ranges) = parse_ranges(&text) {
            for r in ranges {
                prop_assert!(to_u128(r.first()) <= to_u128(r.last()));
            }
        }
    }

    #[test]
    fn display_round_trips(a in any::<u32>(), b in any::<u32>(), len in 0u8..=32, v6 in any::<u128>(), len6 in 0u8..=128) {
        let (lo, hi) = (a.min(b), a.max(b));
        for text in [
            format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi)),
            format!("{}/{len}", Ipv4Addr::from(a)),
            format!("{}/{len6}", Ipv6Addr::from(v6)),
        ] {
            let r = IpRange::parse(&text).unwrap();
            prop_assert_eq!(IpRange::parse(&r.to_string()).unwrap(), r);
        }
    }

    #[test]
    fn cidrs_cover_the_range_exactly(a in any::<u128>(), b in any::<u128>(), v4 in any::<bool>()) {
        let (lo, hi) = if v4 {
            let (a, b) = (a as u32, b as u32);
            (u128::from(a.min(b)), u128::from(a.max(b)))
        } else {
            (a.min(b), a.max(b))
        };
        let like: IpAddr = if v4 { ip("0.0.0.0") } else { ip("::") };
        let range = IpRange::from_bounds(from_u128(like, lo), from_u128(like, hi)).unwrap();
        let cidrs = range.cidrs();
        prop_assert!(cidrs.len() <= 2 * family_bits(like) as usize);
        let mut next = Some(lo);
        for c in &cidrs {
            prop_assert_eq!(Some(to_u128(c.network())), next);
            // Each block is aligned: its network has no host bits.
            prop_assert_eq!(to_u128(c.network()) & span(c.host_bits()), 0);
            next = to_u128(c.last()).checked_add(1);
        }
        prop_assert_eq!(next, hi.checked_add(1));
        // Minimal: no two neighbours could merge into one aligned block.
        for pair in cidrs.windows(2) {
            let merged = pair[0].prefix_len() == pair[1].prefix_len()
                && pair[0].prefix_len() > 0
                && Cidr::new(pair[0].network(), pair[0].prefix_len() - 1).is_some_and(|m| m.network() == pair[0].network());
            prop_assert!(!merged, "{} and {} could merge", pair[0], pair[1]);
        }
    }
}
