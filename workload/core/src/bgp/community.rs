//! BGP communities as MetalLB writes them: `65000:100`, a standard community (RFC 1997: two
//! 16-bit halves), and `large:64512:1:2`, a large community (RFC 8092: three 32-bit parts). The
//! one grammar for the charm's `bgp-communities` option and the speaker's BGPAdvertisements.

use std::fmt;
use std::str::FromStr;

/// A community, as an UPDATE carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Community {
    /// A standard community: the high half (usually an AS number) and the low half.
    Standard(u32),
    /// A large community: global administrator, local data 1, local data 2.
    Large(u32, u32, u32),
}

/// Why a text is not a community.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a community: expected 65000:100 or large:64512:1:2")]
pub struct CommunityError {
    /// The text given.
    pub text: String,
}

impl FromStr for Community {
    type Err = CommunityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(':').collect();
        let parsed = match parts.as_slice() {
            [high, low] => high
                .parse::<u16>()
                .ok()
                .zip(low.parse::<u16>().ok())
                .map(|(h, l)| Community::Standard((u32::from(h) << 16) | u32::from(l))),
            ["large", a, b, c] => match (a.parse(), b.parse(), c.parse()) {
                (Ok(a), Ok(b), Ok(c)) => Some(Community::Large(a, b, c)),
                _ => None,
            },
            _ => None,
        };
        parsed.ok_or_else(|| CommunityError {
            text: text.to_string(),
        })
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Community::Standard(value) => write!(f, "{}:{}", value >> 16, value & 0xffff),
            Community::Large(a, b, c) => write!(f, "large:{a}:{b}:{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_and_print_back() {
        let standard: Community = "65000:100".parse().unwrap();
        assert_eq!(standard, Community::Standard((65000 << 16) | 100));
        assert_eq!(standard.to_string(), "65000:100");
        let large: Community = "large:4200000001:1:2".parse().unwrap();
        assert_eq!(large, Community::Large(4_200_000_001, 1, 2));
        assert_eq!(large.to_string(), "large:4200000001:1:2");
    }

    #[test]
    fn out_of_range_or_malformed_texts_are_refused_with_the_grammar() {
        for bad in [
            "70000:1",
            "1:70000",
            "65000",
            "65000:100:1",
            "large:1:2",
            "large:1:2:4294967296",
            "LARGE:1:2:3",
            "a:b",
            "",
            " 65000:100",
        ] {
            let err = bad.parse::<Community>().unwrap_err();
            assert!(err.to_string().contains("65000:100"), "{bad}: {err}");
        }
    }
}
