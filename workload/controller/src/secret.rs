//! The memberlist Secret: created by the controller when absent (as upstream does), with 16
//! random bytes as unpadded base64 under `secretkey`, owned by the controller Deployment so it
//! goes with MetalLB. An existing Secret is never changed.

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};

/// A fresh key: 16 random bytes, unpadded base64 (22 characters).
pub fn new_key() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    STANDARD_NO_PAD.encode(bytes)
}

/// Creates Secret `name` in `namespace` unless it exists; owned by Deployment `deployment` when
/// that exists. Returns whether it was created.
pub async fn ensure_memberlist_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    deployment: Option<&str>,
) -> Result<bool> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if secrets
        .get_opt(name)
        .await
        .with_context(|| format!("cannot read Secret {namespace}/{name}"))?
        .is_some()
    {
        return Ok(false);
    }
    let owner = match deployment {
        Some(d) => Api::<Deployment>::namespaced(client.clone(), namespace)
            .get_opt(d)
            .await
            .with_context(|| format!("cannot read Deployment {namespace}/{d}"))?
            .and_then(|d| {
                Some(OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    name: d.metadata.name?,
                    uid: d.metadata.uid?,
                    ..Default::default()
                })
            }),
        None => None,
    };
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        string_data: Some([("secretkey".to_string(), new_key())].into()),
        ..Default::default()
    };
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => {
            tracing::info!(secret = %name, "created the memberlist Secret");
            Ok(true)
        }
        // Created meanwhile (by the charm or another replica): fine.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create Secret {namespace}/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_22_unpadded_base64_characters_and_differ() {
        let (a, b) = (new_key(), new_key());
        assert_eq!(a.len(), 22);
        assert!(!a.contains('='));
        assert_eq!(STANDARD_NO_PAD.decode(&a).unwrap().len(), 16);
        assert_ne!(a, b);
    }
}
