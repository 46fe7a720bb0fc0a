//! BGP passwords from Juju secrets: each `bgp-peers` entry that names a secret gets the
//! secret's `password`. A secret that is missing, not granted, or without a usable password is
//! a configuration problem naming the entry (the charm blocks and changes nothing); the
//! password itself never appears in a message.

use juju_ops::{Context, FailureKind, ModelError, SecretRead, SecretRef};

use crate::config::{BgpConfig, ConfigProblem, Password};

/// The key of the secret that holds the password.
pub const PASSWORD_KEY: &str = "password";

/// How a `password=` reference names its secret: a `secret:` URI, else a label.
pub fn secret_ref(reference: &str) -> SecretRef {
    if reference.starts_with("secret:") {
        SecretRef::Id(reference.to_string())
    } else {
        SecretRef::Label(reference.to_string())
    }
}

/// Reads the password of every peer that names a secret (always the latest revision: a
/// rotated password reaches the routers on the `secret-changed` that announces it).
pub fn resolve_passwords(
    ctx: &Context<'_>,
    bgp: &mut BgpConfig,
    app: &str,
) -> Result<Result<(), ConfigProblem>, ModelError> {
    for peer in &mut bgp.peers {
        let Some(reference) = peer.password_secret.clone() else {
            continue;
        };
        let item = peer_item(peer.address, peer.asn, peer.port, &reference);
        let content = match ctx.secret_read(&secret_ref(&reference), SecretRead::Refresh) {
            Ok(content) => content,
            Err(ModelError::SecretNotFound { kind, .. }) => {
                return Ok(Err(unavailable(&item, &reference, kind, app)));
            }
            Err(other) => return Err(other),
        };
        let Some(value) = content.get(PASSWORD_KEY) else {
            return Ok(Err(ConfigProblem {
                option: "bgp-peers",
                item,
                reason: format!(
                    "secret {reference} has no key {PASSWORD_KEY:?}: add it with `juju update-secret {reference} {PASSWORD_KEY}=...`"
                ),
                missing: false,
            }));
        };
        match Password::new(value.clone(), &item, &reference) {
            Ok(password) => peer.password = Some(password),
            Err(problem) => return Ok(Err(problem)),
        }
    }
    Ok(Ok(()))
}

/// The entry as the user typed it (for messages).
fn peer_item(address: std::net::IpAddr, asn: u32, port: Option<u16>, reference: &str) -> String {
    let host = match address {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    match port {
        Some(port) => format!("{host}:{asn}:{port} password={reference}"),
        None => format!("{host}:{asn} password={reference}"),
    }
}

fn unavailable(item: &str, reference: &str, kind: FailureKind, app: &str) -> ConfigProblem {
    let reason = match kind {
        FailureKind::PermissionDenied => format!(
            "secret {reference} is not granted to this application: run `juju grant-secret {reference} {app}`"
        ),
        _ if !reference.starts_with("secret:") => format!(
            "no secret labelled {reference} is known to this application (Juju resolves a label only for secrets the charm labelled, not a user secret's name): name it by its URI, which `juju secrets` shows"
        ),
        _ => format!(
            "no secret {reference}: create it with `juju add-secret <name> {PASSWORD_KEY}=...` and grant it with `juju grant-secret <name> {app}`"
        ),
    };
    ConfigProblem {
        option: "bgp-peers",
        item: item.to_string(),
        reason,
        missing: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_uris_or_labels() {
        assert_eq!(
            secret_ref("secret:cs2ke7rmp25c7ahmeq0g"),
            SecretRef::Id("secret:cs2ke7rmp25c7ahmeq0g".into())
        );
        assert_eq!(secret_ref("router-a"), SecretRef::Label("router-a".into()));
    }

    #[test]
    fn messages_say_what_to_run() {
        let denied = unavailable("i", "secret:x", FailureKind::PermissionDenied, "metallb");
        assert!(
            denied
                .to_string()
                .contains("juju grant-secret secret:x metallb"),
            "{denied}"
        );
        let missing = unavailable("i", "secret:x", FailureKind::NotFound, "metallb");
        assert!(
            missing.to_string().contains("no secret secret:x"),
            "{missing}"
        );
        assert_eq!(
            peer_item("2001:db8::1".parse().unwrap(), 64513, Some(1179), "s"),
            "[2001:db8::1]:64513:1179 password=s"
        );
    }
}
