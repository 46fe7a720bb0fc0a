//! Strict decoding of BGP messages. AS numbers in AS_PATH are read as 4 octets: the speaker
//! always offers the 4-octet AS capability and every peer it is tested with accepts it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::encode::EXTENDED;
use super::{
    AFI_IPV4, AFI_IPV6, AS_TRANS, Attribute, Capability, HEADER_LEN, MAX_MESSAGE_LEN, Message,
    Notification, Open, Prefix, Update,
};

/// Why a buffer did not yield a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer holds only part of a message: read more.
    Incomplete,
    /// The message is malformed: send this NOTIFICATION and close the session.
    Malformed(Notification),
}

fn malformed(code: u8, subcode: u8, data: &[u8]) -> DecodeError {
    DecodeError::Malformed(Notification {
        code,
        subcode,
        data: data.to_vec(),
    })
}

// Error codes (RFC 4271 section 4.5) and the subcodes used here.
const HEADER: u8 = 1;
const OPEN: u8 = 2;
const UPDATE: u8 = 3;
/// Attribute flag bits (RFC 4271 §4.3).
const OPTIONAL: u8 = 0x80;
const TRANSITIVE: u8 = 0x40;
const PARTIAL: u8 = 0x20;

/// A cursor over a message body; running out of bytes is the given error.
struct Reader<'a> {
    bytes: &'a [u8],
    short: (u8, u8),
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], short: (u8, u8)) -> Self {
        Reader { bytes, short }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(malformed(self.short.0, self.short.1, &[]));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Decodes the first message in `buf`; returns it with the number of bytes it used.
pub fn decode(buf: &[u8]) -> Result<(Message, usize), DecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::Incomplete);
    }
    if buf[..16].iter().any(|b| *b != 0xff) {
        return Err(malformed(HEADER, 1, &[]));
    }
    let length = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
    let kind = buf[18];
    let bad_length = || malformed(HEADER, 2, &buf[16..18]);
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&length) {
        return Err(bad_length());
    }
    let minimum = match kind {
        1 => 29,
        2 => 23,
        3 => 21,
        4 => 19,
        _ => return Err(malformed(HEADER, 3, &[kind])),
    };
    if length < minimum || (kind == 4 && length != HEADER_LEN) {
        return Err(bad_length());
    }
    if buf.len() < length {
        return Err(DecodeError::Incomplete);
    }
    let body = &buf[HEADER_LEN..length];
    let message = match kind {
        1 => Message::Open(open(body)?),
        2 => Message::Update(update(body)?),
        3 => Message::Notification(Notification {
            code: body[0],
            subcode: body[1],
            data: body[2..].to_vec(),
        }),
        _ => Message::Keepalive,
    };
    Ok((message, length))
}

fn open(body: &[u8]) -> Result<Open, DecodeError> {
    let mut r = Reader::new(body, (OPEN, 0));
    let version = r.u8()?;
    if version != 4 {
        return Err(malformed(OPEN, 1, &[0, 4]));
    }
    let two_octet_as = r.u16()?;
    let hold_time = r.u16()?;
    if hold_time == 1 || hold_time == 2 {
        return Err(malformed(OPEN, 6, &[]));
    }
    let id = r.take(4)?;
    let router_id = Ipv4Addr::new(id[0], id[1], id[2], id[3]);
    if router_id.is_unspecified() {
        return Err(malformed(OPEN, 3, &[]));
    }
    let params_len = usize::from(r.u8()?);
    let params = r.take(params_len)?;
    if !r.is_empty() {
        return Err(malformed(OPEN, 0, &[]));
    }
    let mut capabilities = Vec::new();
    let mut p = Reader::new(params, (OPEN, 0));
    while !p.is_empty() {
        let kind = p.u8()?;
        let len = usize::from(p.u8()?);
        let value = p.take(len)?;
        if kind != 2 {
            return Err(malformed(OPEN, 4, &[]));
        }
        let mut c = Reader::new(value, (OPEN, 0));
        while !c.is_empty() {
            let code = c.u8()?;
            let len = usize::from(c.u8()?);
            capabilities.push(capability(code, c.take(len)?)?);
        }
    }
    let four = capabilities.iter().find_map(|c| match c {
        Capability::FourOctetAs(asn) => Some(*asn),
        _ => None,
    });
    let asn = match four {
        Some(asn) => asn,
        None if two_octet_as == AS_TRANS || two_octet_as == 0 => {
            return Err(malformed(OPEN, 2, &[]));
        }
        None => u32::from(two_octet_as),
    };
    Ok(Open {
        asn,
        hold_time,
        router_id,
        capabilities,
    })
}

fn capability(code: u8, value: &[u8]) -> Result<Capability, DecodeError> {
    let mut r = Reader::new(value, (OPEN, 0));
    let capability = match code {
        1 if value.len() == 4 => {
            let afi = r.u16()?;
            let _reserved = r.u8()?;
            Capability::Multiprotocol { afi, safi: r.u8()? }
        }
        2 if value.is_empty() => Capability::RouteRefresh,
        64 if value.len() >= 2 && (value.len() - 2).is_multiple_of(4) => {
            let flags_time = r.u16()?;
            let mut families = Vec::new();
            while !r.is_empty() {
                let afi = r.u16()?;
                let safi = r.u8()?;
                families.push((afi, safi, r.u8()? & 0x80 != 0));
            }
            Capability::GracefulRestart {
                restarting: flags_time & 0x8000 != 0,
                restart_time: flags_time & 0x0fff,
                families,
            }
        }
        65 if value.len() == 4 => Capability::FourOctetAs(r.u32()?),
        1 | 2 | 64 | 65 => return Err(malformed(OPEN, 0, &[])),
        _ => Capability::Unknown {
            code,
            value: value.to_vec(),
        },
    };
    Ok(capability)
}

fn prefix(r: &mut Reader<'_>, ipv6: bool) -> Result<Prefix, DecodeError> {
    let len = r.u8()?;
    let width = if ipv6 { 128 } else { 32 };
    if len > width {
        return Err(malformed(UPDATE, 10, &[]));
    }
    let n = usize::from(len).div_ceil(8);
    let mut octets = [0u8; 16];
    octets[..n].copy_from_slice(r.take(n)?);
    // The trailing bits of the last octet are irrelevant (RFC 4271 §4.3): clear them, so the
    // address is the network's.
    if len % 8 != 0 {
        octets[n - 1] &= 0xff << (8 - len % 8);
    }
    let addr = if ipv6 {
        IpAddr::V6(Ipv6Addr::from(octets))
    } else {
        IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
    };
    Ok(Prefix { addr, len })
}

fn prefixes(bytes: &[u8], ipv6: bool) -> Result<Vec<Prefix>, DecodeError> {
    // A truncated prefix is an invalid network field.
    let mut r = Reader::new(bytes, (UPDATE, 10));
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(prefix(&mut r, ipv6)?);
    }
    Ok(out)
}

fn family_is_ipv6(afi: u16) -> Result<bool, DecodeError> {
    match afi {
        AFI_IPV4 => Ok(false),
        AFI_IPV6 => Ok(true),
        _ => Err(malformed(UPDATE, 9, &[])),
    }
}

fn attribute(flags: u8, code: u8, value: &[u8], whole: &[u8]) -> Result<Attribute, DecodeError> {
    let length_error = || malformed(UPDATE, 5, whole);
    let four = |v: &[u8]| -> Result<u32, DecodeError> {
        let b: [u8; 4] = v.try_into().map_err(|_| length_error())?;
        Ok(u32::from_be_bytes(b))
    };
    let attribute = match code {
        1 => match value {
            [o] if *o <= 2 => Attribute::Origin(*o),
            [_] => return Err(malformed(UPDATE, 6, whole)),
            _ => return Err(length_error()),
        },
        2 => {
            let mut r = Reader::new(value, (UPDATE, 11));
            let mut path = Vec::new();
            while !r.is_empty() {
                let kind = r.u8()?;
                let count = usize::from(r.u8()?);
                if !(1..=4).contains(&kind) || count == 0 {
                    return Err(malformed(UPDATE, 11, &[]));
                }
                for _ in 0..count {
                    path.push(r.u32()?);
                }
            }
            Attribute::AsPath(path)
        }
        3 => {
            let b: [u8; 4] = value.try_into().map_err(|_| length_error())?;
            Attribute::NextHop(Ipv4Addr::from(b))
        }
        4 => Attribute::Med(four(value)?),
        5 => Attribute::LocalPref(four(value)?),
        8 => {
            if !value.len().is_multiple_of(4) {
                return Err(length_error());
            }
            Attribute::Communities(
                value
                    .chunks(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        32 => {
            if !value.len().is_multiple_of(12) || value.is_empty() {
                return Err(length_error());
            }
            Attribute::LargeCommunities(
                value
                    .chunks(12)
                    .map(|c| {
                        let n = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                        (n(0), n(4), n(8))
                    })
                    .collect(),
            )
        }
        14 => {
            let mut r = Reader::new(value, (UPDATE, 5));
            let afi = r.u16()?;
            let safi = r.u8()?;
            let ipv6 = family_is_ipv6(afi)?;
            let hop_len = usize::from(r.u8()?);
            let hops = r.take(hop_len)?;
            let next_hops = match (ipv6, hop_len) {
                (false, 4) => vec![IpAddr::V4(Ipv4Addr::new(
                    hops[0], hops[1], hops[2], hops[3],
                ))],
                (true, 16) | (true, 32) => hops
                    .chunks(16)
                    .map(|c| {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(c);
                        IpAddr::V6(Ipv6Addr::from(o))
                    })
                    .collect(),
                // RFC 5549 IPv4 over IPv6 next hops and others are not supported.
                _ => return Err(malformed(UPDATE, 9, whole)),
            };
            let _reserved = r.u8()?;
            Attribute::MpReach {
                afi,
                safi,
                next_hops,
                nlri: prefixes(r.bytes, ipv6)?,
            }
        }
        15 => {
            let mut r = Reader::new(value, (UPDATE, 5));
            let afi = r.u16()?;
            let safi = r.u8()?;
            let ipv6 = family_is_ipv6(afi)?;
            Attribute::MpUnreach {
                afi,
                safi,
                withdrawn: prefixes(r.bytes, ipv6)?,
            }
        }
        // An attribute we do not know must be optional (RFC 4271 §6.3).
        _ if flags & OPTIONAL == 0 => return Err(malformed(UPDATE, 2, whole)),
        // Only the optional, transitive and partial bits mean anything once decoded: the
        // length form is the encoder's choice and the low four bits are ignored on receipt.
        _ => Attribute::Unknown {
            flags: flags & (OPTIONAL | TRANSITIVE | PARTIAL),
            code,
            value: value.to_vec(),
        },
    };
    Ok(attribute)
}

fn update(body: &[u8]) -> Result<Update, DecodeError> {
    let mut r = Reader::new(body, (UPDATE, 1));
    let withdrawn_len = usize::from(r.u16()?);
    let withdrawn = prefixes(r.take(withdrawn_len)?, false)?;
    let attributes_len = usize::from(r.u16()?);
    let mut a = Reader::new(r.take(attributes_len)?, (UPDATE, 1));
    let nlri = prefixes(r.bytes, false)?;
    let mut attributes = Vec::new();
    let mut seen = [false; 256];
    while !a.is_empty() {
        let start = a.bytes;
        let flags = a.u8()?;
        let code = a.u8()?;
        let len = if flags & EXTENDED != 0 {
            usize::from(a.u16()?)
        } else {
            usize::from(a.u8()?)
        };
        let value = a.take(len)?;
        let whole = &start[..start.len() - a.bytes.len()];
        if std::mem::replace(&mut seen[usize::from(code)], true) {
            return Err(malformed(UPDATE, 1, &[]));
        }
        attributes.push(attribute(flags, code, value, whole)?);
    }
    if !nlri.is_empty() {
        for code in [1u8, 2, 3] {
            if !seen[usize::from(code)] {
                return Err(malformed(UPDATE, 3, &[code]));
            }
        }
    }
    Ok(Update {
        withdrawn,
        attributes,
        nlri,
    })
}
