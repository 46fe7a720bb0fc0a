//! Encoding of BGP messages.

use std::net::IpAddr;

use super::{AS_TRANS, Attribute, Capability, HEADER_LEN, Message, Prefix};

/// Attribute flag: optional.
pub(super) const OPTIONAL: u8 = 0x80;
/// Attribute flag: transitive.
pub(super) const TRANSITIVE: u8 = 0x40;
/// Attribute flag: extended (2-octet) length.
pub(super) const EXTENDED: u8 = 0x10;

/// Appends the NLRI encoding of `prefix`.
pub(super) fn put_prefix(out: &mut Vec<u8>, prefix: &Prefix) {
    out.push(prefix.len);
    let octets = match prefix.addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    out.extend_from_slice(&octets[..usize::from(prefix.len).div_ceil(8)]);
}

fn put_attribute(out: &mut Vec<u8>, flags: u8, code: u8, value: &[u8]) {
    if value.len() > 255 {
        out.push(flags | EXTENDED);
        out.push(code);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.push(flags & !EXTENDED);
        out.push(code);
        out.push(value.len() as u8);
    }
    out.extend_from_slice(value);
}

/// The encoded form of one attribute.
pub(super) fn attribute(out: &mut Vec<u8>, attribute: &Attribute) {
    let mut v = Vec::new();
    match attribute {
        Attribute::Origin(o) => put_attribute(out, TRANSITIVE, 1, &[*o]),
        Attribute::AsPath(path) => {
            if !path.is_empty() {
                // AS_SEQUENCE segments of at most 255 ASNs.
                for chunk in path.chunks(255) {
                    v.push(2);
                    v.push(chunk.len() as u8);
                    for asn in chunk {
                        v.extend_from_slice(&asn.to_be_bytes());
                    }
                }
            }
            put_attribute(out, TRANSITIVE, 2, &v);
        }
        Attribute::NextHop(a) => put_attribute(out, TRANSITIVE, 3, &a.octets()),
        Attribute::Med(m) => put_attribute(out, OPTIONAL, 4, &m.to_be_bytes()),
        Attribute::LocalPref(p) => put_attribute(out, TRANSITIVE, 5, &p.to_be_bytes()),
        Attribute::Communities(list) => {
            for c in list {
                v.extend_from_slice(&c.to_be_bytes());
            }
            put_attribute(out, OPTIONAL | TRANSITIVE, 8, &v);
        }
        Attribute::LargeCommunities(list) => {
            for (a, b, c) in list {
                v.extend_from_slice(&a.to_be_bytes());
                v.extend_from_slice(&b.to_be_bytes());
                v.extend_from_slice(&c.to_be_bytes());
            }
            put_attribute(out, OPTIONAL | TRANSITIVE, 32, &v);
        }
        Attribute::MpReach {
            afi,
            safi,
            next_hops,
            nlri,
        } => {
            v.extend_from_slice(&afi.to_be_bytes());
            v.push(*safi);
            let hops: Vec<u8> = next_hops
                .iter()
                .flat_map(|h| match h {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                })
                .collect();
            v.push(hops.len() as u8);
            v.extend_from_slice(&hops);
            v.push(0); // reserved
            for p in nlri {
                put_prefix(&mut v, p);
            }
            put_attribute(out, OPTIONAL, 14, &v);
        }
        Attribute::MpUnreach {
            afi,
            safi,
            withdrawn,
        } => {
            v.extend_from_slice(&afi.to_be_bytes());
            v.push(*safi);
            for p in withdrawn {
                put_prefix(&mut v, p);
            }
            put_attribute(out, OPTIONAL, 15, &v);
        }
        Attribute::Unknown { flags, code, value } => put_attribute(out, *flags, *code, value),
    }
}

/// The capability's code, length and value (without the optional parameter header).
fn capability(out: &mut Vec<u8>, capability: &Capability) {
    let (code, value): (u8, Vec<u8>) = match capability {
        Capability::Multiprotocol { afi, safi } => {
            let mut v = afi.to_be_bytes().to_vec();
            v.extend_from_slice(&[0, *safi]);
            (1, v)
        }
        Capability::RouteRefresh => (2, Vec::new()),
        Capability::GracefulRestart {
            restarting,
            restart_time,
            families,
        } => {
            let flags_time = (u16::from(*restarting) << 15) | (restart_time & 0x0fff);
            let mut v = flags_time.to_be_bytes().to_vec();
            for (afi, safi, preserved) in families {
                v.extend_from_slice(&afi.to_be_bytes());
                v.push(*safi);
                v.push(if *preserved { 0x80 } else { 0 });
            }
            (64, v)
        }
        Capability::FourOctetAs(asn) => (65, asn.to_be_bytes().to_vec()),
        Capability::Unknown { code, value } => (*code, value.clone()),
    };
    out.push(code);
    out.push(value.len() as u8);
    out.extend_from_slice(&value);
}

/// The optional parameters of an OPEN: one parameter (type 2) per capability, as most
/// implementations send them, unless that would not fit the 255-byte field; then all of them
/// in one parameter (RFC 5492 allows either).
fn optional_parameters(capabilities: &[Capability]) -> Vec<u8> {
    let encoded: Vec<Vec<u8>> = capabilities
        .iter()
        .map(|c| {
            let mut bytes = Vec::new();
            capability(&mut bytes, c);
            bytes
        })
        .collect();
    let one_each: usize = encoded.iter().map(|c| c.len() + 2).sum();
    let mut params = Vec::new();
    if one_each <= usize::from(u8::MAX) {
        for c in &encoded {
            params.extend_from_slice(&[2, c.len() as u8]);
            params.extend_from_slice(c);
        }
    } else {
        let all = encoded.concat();
        params.extend_from_slice(&[2, all.len() as u8]);
        params.extend_from_slice(&all);
    }
    params
}

/// Encodes `message` (header included).
pub fn encode(message: &Message) -> Vec<u8> {
    let mut body = Vec::new();
    let kind = match message {
        Message::Open(open) => {
            body.push(4);
            let two_octet = u16::try_from(open.asn).unwrap_or(AS_TRANS);
            body.extend_from_slice(&two_octet.to_be_bytes());
            body.extend_from_slice(&open.hold_time.to_be_bytes());
            body.extend_from_slice(&open.router_id.octets());
            let params = optional_parameters(&open.capabilities);
            body.push(params.len() as u8);
            body.extend_from_slice(&params);
            1
        }
        Message::Update(update) => {
            let mut withdrawn = Vec::new();
            for p in &update.withdrawn {
                put_prefix(&mut withdrawn, p);
            }
            body.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
            body.extend_from_slice(&withdrawn);
            let mut attributes = Vec::new();
            for a in &update.attributes {
                attribute(&mut attributes, a);
            }
            body.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
            body.extend_from_slice(&attributes);
            for p in &update.nlri {
                put_prefix(&mut body, p);
            }
            2
        }
        Message::Notification(n) => {
            body.push(n.code);
            body.push(n.subcode);
            body.extend_from_slice(&n.data);
            3
        }
        Message::Keepalive => 4,
    };
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(&body);
    out
}
