//! BGP aggregation lengths: a BGPAdvertisement announces each Service address as the prefix of
//! `aggregationLength` (IPv4) or `aggregationLengthV6` (IPv6) bits that contains it. A length
//! shorter than a prefix of the pool would announce addresses outside the pool, so it is
//! refused, as upstream MetalLB refuses it (`internal/config`, `validateBGPAdvPerPool`).
//!
//! The rule: every range of the pool is summarised into CIDRs first (`A-B` ranges become their
//! minimal CIDR list, [`IpRange::cidrs`]); a CIDR whose prefix is longer than the aggregation
//! length of its family is an error. Upstream checks only the widest CIDR of each range, so it
//! accepts `10.0.0.1-10.0.0.6` with length 31, which announces `10.0.0.0/31` (one address
//! outside the pool); here every CIDR is checked, so an accepted length never announces an
//! address outside the pool.

use crate::iprange::{Cidr, IpRange};

/// The aggregation lengths of one advertisement (`32` and `128` mean no aggregation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregationLengths {
    /// `aggregationLength`, for IPv4 addresses.
    pub v4: u8,
    /// `aggregationLengthV6`, for IPv6 addresses.
    pub v6: u8,
}

impl Default for AggregationLengths {
    /// No aggregation: each address is announced alone (`/32`, `/128`).
    fn default() -> Self {
        AggregationLengths { v4: 32, v6: 128 }
    }
}

/// Why an aggregation length is refused for a pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregationError {
    /// The length is longer than the family allows (above 32 or 128).
    #[error("aggregation length {length} is longer than an {family} address ({bits} bits)")]
    TooLong {
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// The length given.
        length: u8,
        /// The address size of the family.
        bits: u8,
    },
    /// A prefix of the pool is more specific than the length: addresses outside the pool would
    /// be announced.
    #[error(
        "aggregation length {length} is shorter than the prefix {cidr} of {range}: it would \
         announce {announced}, addresses outside the pool"
    )]
    ShorterThanPool {
        /// The range of the pool, as written.
        range: String,
        /// The CIDR of that range that is more specific than `length`.
        cidr: Cidr,
        /// The aggregation length of the CIDR's family.
        length: u8,
        /// The prefix that would be announced for the CIDR's first address.
        announced: Cidr,
    },
}

/// Checks that aggregating the addresses of `ranges` (the ranges of the pools an advertisement
/// selects) with `lengths` announces nothing outside them; the first offending CIDR otherwise.
pub fn check_aggregation(
    ranges: &[IpRange],
    lengths: AggregationLengths,
) -> Result<(), AggregationError> {
    for (family, length, bits) in [("IPv4", lengths.v4, 32), ("IPv6", lengths.v6, 128)] {
        if length > bits {
            return Err(AggregationError::TooLong {
                family,
                length,
                bits,
            });
        }
    }
    for range in ranges {
        let length = if range.is_ipv4() {
            lengths.v4
        } else {
            lengths.v6
        };
        for cidr in range.cidrs() {
            if cidr.prefix_len() > length {
                let announced = Cidr::new(cidr.network(), length).unwrap_or(cidr);
                return Err(AggregationError::ShorterThanPool {
                    range: range.to_string(),
                    cidr,
                    length,
                    announced,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|r| IpRange::parse(r).unwrap()).collect()
    }

    fn lengths(v4: u8, v6: u8) -> AggregationLengths {
        AggregationLengths { v4, v6 }
    }

    #[test]
    fn lengths_at_most_as_long_as_every_prefix_are_accepted() {
        let pool = ranges(&["198.18.100.0/24", "2001:db8::64:0/112"]);
        for (v4, v6) in [(24, 112), (32, 128), (28, 120)] {
            assert_eq!(
                check_aggregation(&pool, lengths(v4, v6)),
                Ok(()),
                "{v4} {v6}"
            );
        }
        assert_eq!(check_aggregation(&[], lengths(1, 1)), Ok(()));
    }

    #[test]
    fn a_length_shorter_than_the_pool_prefix_is_refused() {
        let pool = ranges(&["198.18.100.0/29"]);
        let err = check_aggregation(&pool, lengths(1, 128)).unwrap_err();
        assert_eq!(
            err,
            AggregationError::ShorterThanPool {
                range: "198.18.100.0/29".into(),
                cidr: Cidr::new("198.18.100.0".parse().unwrap(), 29).unwrap(),
                length: 1,
                announced: Cidr::new("128.0.0.0".parse().unwrap(), 1).unwrap(),
            }
        );
        assert!(err.to_string().contains("198.18.100.0/29"), "{err}");
        assert!(err.to_string().contains("128.0.0.0/1"), "{err}");
        assert!(check_aggregation(&pool, lengths(28, 128)).is_err());
        assert!(check_aggregation(&pool, lengths(29, 128)).is_ok());
        // The IPv6 length applies to IPv6 ranges only.
        let v6 = ranges(&["2001:db8::64:0/120"]);
        assert!(check_aggregation(&v6, lengths(1, 120)).is_ok());
        assert!(check_aggregation(&v6, lengths(32, 64)).is_err());
    }

    #[test]
    fn ranges_are_checked_cidr_by_cidr() {
        // .1-.6 is .1/32, .2/31, .4/31, .6/32: a /31 would announce .0 and .7.
        let pool = ranges(&["10.0.0.1-10.0.0.6"]);
        let err = check_aggregation(&pool, lengths(31, 128)).unwrap_err();
        assert!(
            matches!(&err, AggregationError::ShorterThanPool { cidr, .. } if cidr.to_string() == "10.0.0.1/32"),
            "{err}"
        );
        assert!(check_aggregation(&pool, lengths(32, 128)).is_ok());
        // .0-.7 is one /29.
        assert!(check_aggregation(&ranges(&["10.0.0.0-10.0.0.7"]), lengths(29, 128)).is_ok());
    }

    #[test]
    fn lengths_longer_than_the_family_are_refused() {
        assert!(matches!(
            check_aggregation(&[], lengths(33, 128)),
            Err(AggregationError::TooLong { length: 33, .. })
        ));
        assert!(matches!(
            check_aggregation(&[], lengths(32, 129)),
            Err(AggregationError::TooLong { length: 129, .. })
        ));
    }
}
