//! Link states spread over the membership: each speaker publishes its links (the interfaces that
//! can announce: up, with carrier, with their networks) as a custom broadcast of the gossip, so
//! every speaker leaves a node out of the election for the addresses it cannot announce any more
//! (`metallb_core::l2::election::ClusterView::links`). A newer publication of a node (higher
//! start time, then higher version) replaces the older one, which stops being gossiped.

use std::collections::BTreeMap;
use std::net::IpAddr;

use foca::{BroadcastHandler, Invalidates};
use metallb_core::iprange::Cidr;
use metallb_core::l2::election::LinkView;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// The links every node published, by node name.
pub type Links = BTreeMap<String, Vec<LinkView>>;

/// One node's links as gossiped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// Node name.
    pub node: String,
    /// When the publishing speaker started (milliseconds): a restarted speaker's news wins.
    pub started_ms: u64,
    /// Counts the publications of this run.
    pub version: u64,
    /// The links: interface name and networks (address, prefix length).
    pub links: Vec<(String, Vec<(IpAddr, u8)>)>,
}

impl Publication {
    /// The publication of `links` by `node`.
    pub fn new(node: &str, started_ms: u64, version: u64, links: &[LinkView]) -> Self {
        Publication {
            node: node.to_string(),
            started_ms,
            version,
            links: links
                .iter()
                .map(|l| {
                    let networks = l
                        .networks
                        .iter()
                        .map(|c| (c.network(), c.prefix_len()))
                        .collect();
                    (l.name.clone(), networks)
                })
                .collect(),
        }
    }

    /// The encoded form.
    pub fn encode(&self) -> Result<Vec<u8>, LinkError> {
        postcard::to_allocvec(self).map_err(|e| LinkError(e.to_string()))
    }

    fn decode(data: &[u8]) -> Result<Self, LinkError> {
        postcard::from_bytes(data).map_err(|e| LinkError(e.to_string()))
    }

    fn views(&self) -> Vec<LinkView> {
        self.links
            .iter()
            .map(|(name, networks)| LinkView {
                name: name.clone(),
                networks: networks
                    .iter()
                    .filter_map(|(ip, len)| Cidr::new(*ip, *len))
                    .collect(),
            })
            .collect()
    }

    fn stamp(&self) -> (u64, u64) {
        (self.started_ms, self.version)
    }
}

/// A link publication that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable link publication: {0}")]
pub struct LinkError(String);

/// Identifies a publication in the gossip backlog: a newer one of the same node replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    node: String,
    stamp: (u64, u64),
}

impl Invalidates for Key {
    fn invalidates(&self, other: &Self) -> bool {
        self.node == other.node && self.stamp >= other.stamp
    }
}

/// Receives publications (own and gossiped) and keeps the newest of each node.
pub struct LinkHandler {
    stamps: BTreeMap<String, (u64, u64)>,
    links: watch::Sender<Links>,
}

impl LinkHandler {
    /// A handler publishing what it learns on `links`.
    pub fn new(links: watch::Sender<Links>) -> Self {
        LinkHandler {
            stamps: BTreeMap::new(),
            links,
        }
    }
}

impl<T> BroadcastHandler<T> for LinkHandler {
    type Key = Key;
    type Error = LinkError;

    fn receive_item(&mut self, data: &[u8], _sender: Option<&T>) -> Result<Option<Key>, LinkError> {
        let publication = Publication::decode(data)?;
        let stamp = publication.stamp();
        if self
            .stamps
            .get(&publication.node)
            .is_some_and(|known| *known >= stamp)
        {
            return Ok(None);
        }
        self.stamps.insert(publication.node.clone(), stamp);
        let views = publication.views();
        tracing::debug!(node = %publication.node, version = publication.version, links = ?views, "links published");
        self.links.send_if_modified(|links| {
            let changed = links.get(&publication.node) != Some(&views);
            links.insert(publication.node.clone(), views);
            changed
        });
        Ok(Some(Key {
            node: publication.node,
            stamp,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str, ip: &str, len: u8) -> LinkView {
        LinkView {
            name: name.into(),
            networks: vec![Cidr::new(ip.parse().unwrap(), len).unwrap()],
        }
    }

    fn receive(handler: &mut LinkHandler, publication: &Publication) -> Option<Key> {
        BroadcastHandler::<()>::receive_item(handler, &publication.encode().unwrap(), None).unwrap()
    }

    #[test]
    fn the_newest_publication_of_a_node_wins_and_is_gossiped_once() {
        let (tx, rx) = watch::channel(Links::new());
        let mut handler = LinkHandler::new(tx);
        let up = vec![
            link("eth0", "198.18.0.0", 24),
            link("eth1", "2001:db8::", 64),
        ];
        let first = Publication::new("node-a", 10, 1, &up);
        assert!(receive(&mut handler, &first).is_some());
        assert_eq!(rx.borrow().get("node-a"), Some(&up));
        // The same news again is not new: not gossiped further.
        assert!(receive(&mut handler, &first).is_none());
        let down = vec![link("eth1", "2001:db8::", 64)];
        assert!(receive(&mut handler, &Publication::new("node-a", 10, 2, &down)).is_some());
        assert_eq!(rx.borrow().get("node-a"), Some(&down));
        // An older version arriving late changes nothing.
        assert!(receive(&mut handler, &Publication::new("node-a", 10, 1, &up)).is_none());
        assert_eq!(rx.borrow().get("node-a"), Some(&down));
        // A restarted speaker counts versions from 0 again, but starts later.
        assert!(receive(&mut handler, &Publication::new("node-a", 11, 0, &up)).is_some());
        assert_eq!(rx.borrow().get("node-a"), Some(&up));
    }

    #[test]
    fn newer_keys_replace_older_ones_of_the_same_node_only() {
        let key = |node: &str, stamp| Key {
            node: node.into(),
            stamp,
        };
        assert!(key("a", (1, 2)).invalidates(&key("a", (1, 1))));
        assert!(!key("a", (1, 1)).invalidates(&key("a", (1, 2))));
        assert!(!key("a", (2, 0)).invalidates(&key("b", (1, 0))));
    }

    #[test]
    fn garbage_is_refused() {
        let (tx, _rx) = watch::channel(Links::new());
        let mut handler = LinkHandler::new(tx);
        assert!(BroadcastHandler::<()>::receive_item(&mut handler, &[0xff; 3], None).is_err());
    }
}
