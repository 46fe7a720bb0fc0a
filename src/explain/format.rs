//! The plain-text form of an [`Explanation`]: a headline, then aligned tables like
//! `juju status`.

use std::fmt::Write as _;

use super::{AdvertisementMatch, Explanation};

/// Rows as columns padded to their widest cell (the last column is not padded).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// The explanation as plain text.
pub fn text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Service {}: {}", e.service, e.summary);
    let _ = writeln!(out, "Addresses:        {}", or_dash(&e.addresses));
    let _ = writeln!(out, "Requested IPs:    {}", or_dash(&e.requested_ips));
    if let Some(pool) = &e.requested_pool {
        let _ = writeln!(out, "Requested pool:   {pool}");
    }
    let _ = writeln!(
        out,
        "Allocated from:   {}",
        e.allocated_from_pool.as_deref().unwrap_or("-")
    );
    if let Some(class) = &e.load_balancer_class {
        let _ = writeln!(
            out,
            "LB class:         {class} (not served by this MetalLB)"
        );
    }
    if let Some(problem) = &e.config_problem {
        let _ = writeln!(out, "Configuration:    {problem}");
    }

    out.push('\n');
    if e.pools.is_empty() {
        out.push_str("Pools: none in the MetalLB namespace\n");
    } else {
        let rows: Vec<Vec<String>> = e
            .pools
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.addresses.join(","),
                    format!("{}/{}", p.in_use, p.size),
                    yes(p.auto_assign),
                    p.priority.map_or_else(|| "-".into(), |n| n.to_string()),
                    yes(p.used),
                    p.reasons
                        .iter()
                        .map(|r| r.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "Pool",
                "Addresses",
                "In use",
                "Auto",
                "Priority",
                "Used",
                "Why",
            ],
            &rows,
        ));
    }

    if !e.sharing.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = e
            .sharing
            .iter()
            .flat_map(|s| {
                s.others.iter().map(|o| {
                    vec![
                        s.ip.clone(),
                        o.service.clone(),
                        o.sharing_key.clone().unwrap_or_else(|| "-".into()),
                        or_dash(&o.ports),
                        yes(o.may_share),
                        o.reason.clone(),
                    ]
                })
            })
            .collect();
        out.push_str(&table(
            &["Shared", "Also held by", "Key", "Ports", "May share", "Why"],
            &rows,
        ));
    }

    out.push('\n');
    let l2 = &e.layer2;
    let _ = writeln!(out, "Layer 2 (pool {}):", l2.pool.as_deref().unwrap_or("-"));
    if l2.advertisements.is_empty() {
        out.push_str("  no L2Advertisement\n");
    } else {
        out.push_str(&advertisement_table("L2Advertisement", &l2.advertisements));
    }
    let _ = writeln!(out, "Speakers (Ready pods): {}", or_dash(&l2.speaker_nodes));
    let ranking: Vec<String> = l2
        .ranking
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mark = if l2.winner.as_deref() == Some(n.as_str()) {
                " (winner)"
            } else {
                ""
            };
            format!("{}. {n}{mark}", i + 1)
        })
        .collect();
    let _ = writeln!(
        out,
        "Election ranking (the API's view): {}",
        or_dash(&ranking)
    );
    if let Some(why) = &l2.nobody {
        let _ = writeln!(out, "Nobody announces: {why}");
    }
    for x in &l2.excluded {
        let _ = writeln!(out, "  not a candidate: {}: {}", x.node, x.reason);
    }
    let recorded = or_dash(&l2.recorded);
    let agree = match (&l2.winner, l2.recorded.as_slice()) {
        (Some(w), [r]) if w == r => "",
        (None, []) => "",
        _ => " (differs from the API's view: the speakers' membership decides)",
    };
    let _ = writeln!(
        out,
        "Announcing per the speakers (ServiceL2Status): {recorded}{agree}"
    );

    out.push('\n');
    if e.bgp.advertisements.is_empty() {
        out.push_str("BGP: no BGPAdvertisement\n");
    } else {
        out.push_str(&advertisement_table(
            "BGPAdvertisement",
            &e.bgp.advertisements,
        ));
        if e.bgp.peers.is_empty() {
            out.push_str("BGP peers: none receive the address\n");
        } else {
            let rows: Vec<Vec<String>> = e
                .bgp
                .peers
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.address.clone(),
                        p.asn.clone(),
                        or_dash(&p.nodes),
                        p.advertisements.join(", "),
                    ]
                })
                .collect();
            out.push_str(&table(
                &["BGPPeer", "Address", "ASN", "From nodes", "Via"],
                &rows,
            ));
        }
    }

    out.push('\n');
    if e.events.is_empty() {
        out.push_str("Events: none\n");
    } else {
        let rows: Vec<Vec<String>> = e
            .events
            .iter()
            .map(|ev| {
                vec![
                    ev.time.clone(),
                    ev.kind.clone(),
                    ev.reason.clone(),
                    ev.source.clone(),
                    if ev.count > 1 {
                        format!("{} (x{})", ev.message, ev.count)
                    } else {
                        ev.message.clone()
                    },
                ]
            })
            .collect();
        out.push_str(&table(
            &["Event time", "Type", "Reason", "From", "Message"],
            &rows,
        ));
    }
    out
}

/// One row per advertisement of `kind`: whether it applies, to which nodes, and why.
fn advertisement_table(kind: &str, advertisements: &[AdvertisementMatch]) -> String {
    let rows: Vec<Vec<String>> = advertisements
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                yes(a.applies),
                or_dash(&a.nodes),
                a.reason.clone(),
            ]
        })
        .collect();
    table(&[kind, "Applies", "Nodes", "Why"], &rows)
}
