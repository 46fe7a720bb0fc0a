//! Membership packets on the wire: a speaker's identity in the gossip, and sealing and opening
//! of packets. A packet is `nonce (12 bytes) ++ AES-256-GCM(header ++ gossip)`, the key derived
//! from the memberlist Secret; the header ([`metallb_core::membership`]) makes each packet
//! unique and fresh, so a captured packet sent again is dropped.
//!
//! This file uses no other module of the speaker: the membership fuzz target compiles it too.

use std::net::SocketAddr;
use std::time::Duration;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use metallb_core::membership::{self as envelope, HeaderError, Rejected, ReplayGuard, Sequencer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How far a sender's clock may be from the receiver's (packets sent earlier are stale).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);

/// A speaker's identity in the membership: its node name, its address, and a generation that
/// makes a restarted speaker a new member.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SpeakerId {
    /// Node name.
    pub node: String,
    /// Address peers reach this speaker at.
    pub addr: SocketAddr,
    /// Generation: start time in milliseconds, bumped on renewal.
    pub generation: u64,
}

impl std::fmt::Debug for SpeakerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}#{}", self.node, self.addr, self.generation)
    }
}

impl foca::Identity for SpeakerId {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(SpeakerId {
            generation: self.generation.wrapping_add(1),
            ..self.clone()
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}

/// Why the membership key cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The Secret's key is empty (or only whitespace).
    #[error("the membership key is empty")]
    Empty,
}

/// Derives the AES-256 key from the Secret's bytes; an empty secret is refused.
pub fn derive_key(secret: &[u8]) -> Result<[u8; 32], KeyError> {
    if secret.trim_ascii().is_empty() {
        return Err(KeyError::Empty);
    }
    let mut hasher = Sha256::new();
    hasher.update(b"metallb-rs memberlist v1\0");
    hasher.update(secret);
    Ok(hasher.finalize().into())
}

const NONCE_LEN: usize = 12;

/// Why a received packet is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    /// Not sealed with our key (another key, tampered, truncated, or not sealed at all).
    #[error("not sealed with this cluster's key")]
    Unauthenticated,
    /// Sealed with our key, but not a membership packet of this version.
    #[error("malformed: {0}")]
    Malformed(HeaderError),
    /// Replayed, or sent outside the allowed clock skew.
    #[error("{0}")]
    Rejected(Rejected),
}

impl Dropped {
    /// A short metric label.
    pub fn label(self) -> &'static str {
        match self {
            Dropped::Unauthenticated => "unauthenticated",
            Dropped::Malformed(_) => "malformed",
            Dropped::Rejected(r) => r.label(),
        }
    }
}

/// Seals outgoing packets and opens incoming ones, refusing replays.
pub struct Sealer {
    cipher: Aes256Gcm,
    sequencer: Sequencer,
    guard: ReplayGuard,
}

impl Sealer {
    /// A sealer with the key derived from `secret`, numbering its packets under `epoch` (a
    /// fresh random number per process).
    pub fn new(secret: &[u8], epoch: u64) -> Result<Self, KeyError> {
        let key = derive_key(secret)?;
        Ok(Sealer {
            cipher: Aes256Gcm::new(&key.into()),
            sequencer: Sequencer::new(epoch),
            guard: ReplayGuard::new(MAX_CLOCK_SKEW),
        })
    }

    /// The packet carrying `gossip`, sent at `now_ms` (milliseconds since the Unix epoch), with
    /// a fresh random `nonce`.
    pub fn seal(&mut self, gossip: &[u8], now_ms: u64, nonce: [u8; NONCE_LEN]) -> Option<Vec<u8>> {
        let header = self.sequencer.next(now_ms);
        let plaintext = envelope::encode(&header, gossip);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_slice())
            .ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// The gossip of a received `packet` at `now_ms`, or why it is dropped. A packet is
    /// accepted at most once.
    pub fn open(&mut self, packet: &[u8], now_ms: u64) -> Result<Vec<u8>, Dropped> {
        if packet.len() < NONCE_LEN {
            return Err(Dropped::Unauthenticated);
        }
        let (nonce, sealed) = packet.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| Dropped::Unauthenticated)?;
        let (header, gossip) = envelope::decode(&plaintext).map_err(Dropped::Malformed)?;
        self.guard
            .check(&header, now_ms)
            .map_err(Dropped::Rejected)?;
        Ok(gossip.to_vec())
    }
}
