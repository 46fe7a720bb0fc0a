//! Secrets in the simulated model: metadata (owner, label, revisions, grants, what each
//! consumer unit tracks) and, apart from it, the content of every revision.
//!
//! Juju's rules kept here: ids are 20-character xids (`secret:ID`); the owner (our application,
//! one of our units, a remote application, or the model for user secrets) always reads the
//! latest revision; anyone else must be granted access and then tracks the revision it first
//! read until it refreshes; content values are stored base64-encoded. The content lives in
//! [`SecretContents`], which is never serialised with the model: `juju-sim` keeps it in a
//! separate 0600 file and its `Debug` output shows no values.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::hooktools::valid_secret_key;

/// Who owns a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretOwnerState {
    /// An application (ours, or a simulated remote one): its leader manages it.
    Application(String),
    /// One unit (`app/n`).
    Unit(String),
    /// The model: a user secret (`juju add-secret`).
    Model,
}

impl SecretOwnerState {
    /// `application`, `unit` or `model`, as `secret-info-get` prints the owner kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Application(_) => "application",
            Self::Unit(_) => "unit",
            Self::Model => "model",
        }
    }
}

/// Access granted to an application or unit, optionally in the scope of a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretGrant {
    /// The application or unit name.
    pub target: String,
    /// The relation whose removal ends the grant (charm grants), if any.
    #[serde(default)]
    pub relation: Option<u64>,
}

/// What one consumer unit tracks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SecretConsumer {
    /// The label it gave the secret (empty when none).
    #[serde(default)]
    pub label: String,
    /// The revision it reads until it refreshes.
    pub current: u32,
}

/// One secret's metadata (never its content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretState {
    /// The bare id (20 characters).
    pub id: String,
    /// The owner.
    pub owner: SecretOwnerState,
    /// The owner's label (for user secrets, the name given to `add-secret`); empty when none.
    #[serde(default)]
    pub label: String,
    /// The description.
    #[serde(default)]
    pub description: String,
    /// The latest revision (revisions start at 1).
    pub revision: u32,
    /// Revisions that still exist.
    pub revisions: Vec<u32>,
    /// Rotation policy, if set.
    #[serde(default)]
    pub rotate: Option<String>,
    /// Expiry of the latest revision, as given.
    #[serde(default)]
    pub expire: Option<String>,
    /// Who else may read it.
    #[serde(default)]
    pub grants: Vec<SecretGrant>,
    /// Consumer units (`app/n`) and what they track.
    #[serde(default)]
    pub consumers: BTreeMap<String, SecretConsumer>,
    /// When it was created.
    pub created: String,
}

impl SecretState {
    /// `secret:ID`.
    pub fn uri(&self) -> String {
        format!("secret:{}", self.id)
    }

    /// Whether `unit` (of application `app`) owns the secret: it is owned by that unit or by
    /// its application (any unit of an owning application reads it as an owner).
    pub fn owned_by(&self, app: &str, unit: &str) -> bool {
        match &self.owner {
            SecretOwnerState::Application(a) => a == app,
            SecretOwnerState::Unit(u) => u == unit,
            SecretOwnerState::Model => false,
        }
    }

    /// Whether `unit` of `app` may read the secret (owner, or granted).
    pub fn readable_by(&self, app: &str, unit: &str) -> bool {
        self.owned_by(app, unit)
            || self
                .grants
                .iter()
                .any(|g| g.target == app || g.target == unit)
    }
}

/// Every revision's content: id -> revision -> key -> base64 value. Never serialised with the
/// model; its `Debug` shows counts only.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecretContents(BTreeMap<String, BTreeMap<u32, BTreeMap<String, String>>>);

impl std::fmt::Debug for SecretContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretContents({} secrets, values hidden)", self.0.len())
    }
}

impl SecretContents {
    /// The encoded content of a revision.
    pub fn get(&self, id: &str, revision: u32) -> Option<&BTreeMap<String, String>> {
        self.0.get(id)?.get(&revision)
    }

    /// Stores a revision's encoded content.
    pub fn insert(&mut self, id: &str, revision: u32, content: BTreeMap<String, String>) {
        self.0
            .entry(id.to_string())
            .or_default()
            .insert(revision, content);
    }

    /// Forgets a secret, or one revision.
    pub fn remove(&mut self, id: &str, revision: Option<u32>) {
        match revision {
            None => {
                self.0.remove(id);
            }
            Some(rev) => {
                if let Some(revs) = self.0.get_mut(id) {
                    revs.remove(&rev);
                }
            }
        }
    }

    /// Whether any content is stored.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Decodes base64 values for output; values that are not UTF-8 are shown lossily.
pub fn decode_content(content: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    content
        .iter()
        .map(|(k, v)| (k.clone(), decode_value(v)))
        .collect()
}

/// Decodes one base64 value (kept as is when it is not base64).
pub fn decode_value(value: &str) -> String {
    match STANDARD.decode(value) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => value.to_string(),
    }
}

/// The largest value and content Juju accepts, in bytes.
pub(crate) const MAX_CONTENT: usize = 1_000_000;

/// Parses secret content arguments as Juju's `secrets.CreateSecretData` does: `KEY=VALUE`,
/// `KEY#base64=B64`, `KEY#file=PATH` (read now; relative to `dir`). Returns base64-encoded
/// values. Errors are the message Juju prints after `ERROR`.
pub fn parse_content(args: &[String], dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut raw: BTreeMap<String, String> = BTreeMap::new();
    for arg in args {
        // Base64 padding never splits key from value.
        let stripped = arg.trim_end_matches('=');
        let idx = stripped.find('=').filter(|i| *i >= 1);
        let Some(idx) = idx else {
            return Err(format!("key value {arg:?} not valid"));
        };
        let (key, value) = (&arg[..idx], &arg[idx + 1..]);
        match key.strip_suffix("#file") {
            Some(key) => {
                let path = dir.join(value);
                let content = std::fs::read(&path)
                    .map_err(|e| format!("reading content for secret key {key:?}: {e}"))?;
                raw.insert(
                    key.to_string(),
                    String::from_utf8_lossy(&content).into_owned(),
                );
            }
            None => {
                raw.insert(key.to_string(), value.to_string());
            }
        }
    }
    encode_content(raw)
}

/// Reads a YAML or JSON map of secret values (`--file`), then encodes it like
/// [`parse_content`].
pub fn read_content_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let raw: BTreeMap<String, String> =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    encode_content(raw)
}

fn encode_content(raw: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut total = 0;
    for (key, value) in raw {
        if value.len() > MAX_CONTENT {
            return Err(format!(
                "secret content for key {key:?} too large: {} bytes",
                value.len()
            ));
        }
        total += value.len();
        let (key, encoded) = match key.strip_suffix("#base64") {
            Some(key) => (key.to_string(), value),
            None => (key.clone(), STANDARD.encode(value.as_bytes())),
        };
        if !valid_secret_key(&key) {
            return Err(format!("key {key:?} not valid"));
        }
        out.insert(key, encoded);
    }
    if total > MAX_CONTENT {
        return Err(format!("secret content too large: {total} bytes"));
    }
    Ok(out)
}

/// The id part of a secret URI (`secret:ID`, `secret://UUID/ID` or a bare `ID`); the error is
/// Juju's message.
pub fn parse_secret_uri(text: &str) -> Result<String, String> {
    let not_valid = || format!("secret URI {text:?} not valid");
    let rest = match text.split_once(':') {
        Some(("secret", rest)) => rest,
        Some((scheme, _)) => return Err(format!("secret URI scheme {scheme:?} not valid")),
        None => text,
    };
    let id = match rest.strip_prefix("//") {
        Some(path) => path
            .split_once('/')
            .map(|(_, id)| id)
            .ok_or_else(not_valid)?,
        None => rest,
    };
    let valid = id.len() == 20
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b));
    if valid {
        Ok(id.to_string())
    } else {
        Err(not_valid())
    }
}

const XID_ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// A new xid-shaped id: 12 bytes (time, a fixed machine part, a counter) in lowercase base32hex.
pub fn new_secret_id(counter: u64, seconds: u64) -> String {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&(seconds as u32).to_be_bytes());
    bytes[4..7].copy_from_slice(b"sim");
    bytes[9..12].copy_from_slice(&(counter as u32).to_be_bytes()[1..]);
    bytes[7..9].copy_from_slice(&((counter >> 24) as u16).to_be_bytes());
    let mut out = String::with_capacity(20);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(XID_ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(
            XID_ALPHABET[((acc << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// A secret a hook created (committed when it succeeds).
#[derive(Clone, PartialEq, Eq)]
pub struct PendingCreate {
    /// The new id.
    pub id: String,
    /// Its owner.
    pub owner: SecretOwnerState,
    /// The owner label (empty when none).
    pub label: String,
    /// The description.
    pub description: String,
    /// Rotation policy.
    pub rotate: Option<String>,
    /// Expiry.
    pub expire: Option<String>,
    /// Encoded content of revision 1.
    pub content: BTreeMap<String, String>,
}

/// An update a hook made to an owned secret (`None` leaves a field alone).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PendingUpdate {
    /// New encoded content (a new revision when it differs).
    pub content: Option<BTreeMap<String, String>>,
    /// New label.
    pub label: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New rotation policy.
    pub rotate: Option<String>,
    /// New expiry.
    pub expire: Option<String>,
}

/// The secret changes a hook staged, applied only if it succeeds. `Debug` shows no content.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PendingSecrets {
    /// New secrets.
    pub creates: Vec<PendingCreate>,
    /// Updates by id, in order.
    pub updates: Vec<(String, PendingUpdate)>,
    /// Grants by id.
    pub grants: Vec<(String, SecretGrant)>,
    /// Removals by id (one revision, or all).
    pub removes: Vec<(String, Option<u32>)>,
}

impl std::fmt::Debug for PendingSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let created: Vec<&str> = self.creates.iter().map(|c| c.id.as_str()).collect();
        let updated: Vec<&str> = self.updates.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("PendingSecrets")
            .field("creates", &created)
            .field("updates", &updated)
            .field("grants", &self.grants)
            .field("removes", &self.removes)
            .finish()
    }
}

impl PendingSecrets {
    /// A secret created earlier in this hook, by id.
    pub fn created(&self, id: &str) -> Option<&PendingCreate> {
        self.creates.iter().find(|c| c.id == id)
    }

    /// Whether the hook removed the whole secret.
    pub fn removed(&self, id: &str) -> bool {
        self.removes.iter().any(|(r, rev)| r == id && rev.is_none())
    }
}
