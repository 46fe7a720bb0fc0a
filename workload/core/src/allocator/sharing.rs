//! The IP sharing rules (§3.5): who uses an address, and whether one more Service may.

use std::net::IpAddr;

use litemap::LiteMap;

use super::SharingConflict;
use super::request::{Port, ServiceRequest};

/// Who uses one address, and on which terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AddressUse {
    /// The sharing key in force (the first user's; every user has the same one).
    pub(super) sharing_key: Option<String>,
    /// The backend key in force.
    pub(super) backend_key: String,
    /// Service key -> its ports (a sorted vector: an address has one user or a few).
    pub(super) users: LiteMap<String, Vec<Port>>,
}

impl AddressUse {
    /// The terms of `svc`, with no users yet.
    pub(super) fn for_service(svc: &ServiceRequest) -> Self {
        Self {
            sharing_key: svc.shares().map(str::to_string),
            backend_key: svc.backend_key.clone(),
            users: LiteMap::with_capacity(1),
        }
    }

    /// The non-empty sharing key in force.
    pub(super) fn shares(&self) -> Option<&str> {
        self.sharing_key.as_deref().filter(|k| !k.is_empty())
    }

    /// Whether `svc` may use `ip` next to the current users; a Service that is the only user
    /// may change its terms in place. Two Services share iff both sharing keys are non-empty
    /// and equal, the backend keys are equal and no (protocol, port) is exposed twice.
    pub(super) fn check(&self, ip: IpAddr, svc: &ServiceRequest) -> Result<(), SharingConflict> {
        let mut others = self.users.iter().filter(|(k, _)| **k != svc.key).peekable();
        let Some((first_other, _)) = others.peek() else {
            return Ok(());
        };
        let same_key = matches!((svc.shares(), self.shares()), (Some(a), Some(b)) if a == b);
        if !same_key {
            return Err(SharingConflict::DifferentKey {
                ip,
                other: (*first_other).clone(),
            });
        }
        if self.backend_key != svc.backend_key {
            return Err(SharingConflict::DifferentBackend {
                ip,
                other: (*first_other).clone(),
            });
        }
        for (other, ports) in others {
            if let Some(port) = svc.ports.iter().find(|p| ports.contains(p)) {
                return Err(SharingConflict::PortInUse {
                    ip,
                    other: other.clone(),
                    port: port.clone(),
                });
            }
        }
        Ok(())
    }
}
