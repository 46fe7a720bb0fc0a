//! The charm's Kubernetes identity, made the way Juju makes it for a sidecar application:
//! ServiceAccount `<app>` in namespace `<model>`, Role `<app>` and ClusterRole `<model>-<app>`
//! with their bindings. Untrusted: get/list/patch pods and services (and create pods/exec) in
//! the model namespace, nothing cluster-wide. Trusted: every verb on every resource, in the
//! namespace and cluster-wide. The charm gets a kubeconfig with a token of that ServiceAccount
//! (a real unit reads the same token from its mounted service-account volume).

use std::path::Path;

use anyhow::{Context, Result};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

const FIELD_MANAGER: &str = "juju-sim";
const TOKEN_SECONDS: i64 = 7 * 24 * 3600;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn admin_client(admin: &Path) -> Result<(Client, Kubeconfig)> {
    let kubeconfig = Kubeconfig::read_from(admin)
        .with_context(|| format!("cannot read kubeconfig {}", admin.display()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
        .await
        .with_context(|| format!("bad kubeconfig {}", admin.display()))?;
    Ok((Client::try_from(config)?, kubeconfig))
}

async fn apply<K>(api: &Api<K>, name: &str, value: serde_json::Value) -> Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value)?;
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .with_context(|| format!("cannot apply {name}"))?;
    Ok(())
}

/// Creates or updates the application's identity and writes the charm's kubeconfig to `out`.
pub fn ensure_identity(
    admin: &Path,
    model: &str,
    app: &str,
    trusted: bool,
    out: &Path,
) -> Result<()> {
    runtime()?.block_on(async {
        let (client, admin_config) = admin_client(admin).await?;
        let cluster_role = format!("{model}-{app}");
        let labels = json!({"app.kubernetes.io/managed-by": "juju", "app.kubernetes.io/name": app});
        apply(
            &Api::<Namespace>::all(client.clone()),
            model,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": model, "labels": {"app.kubernetes.io/managed-by": "juju"}}}),
        )
        .await?;
        apply(
            &Api::<ServiceAccount>::namespaced(client.clone(), model),
            app,
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": app, "namespace": model, "labels": labels},
                   "automountServiceAccountToken": false}),
        )
        .await?;
        let (role_rules, cluster_rules) = if trusted {
            let all = json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]);
            (all.clone(), all)
        } else {
            (
                json!([
                    {"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "patch"]},
                    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}
                ]),
                json!([]),
            )
        };
        apply(
            &Api::<Role>::namespaced(client.clone(), model),
            app,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": {"name": app, "namespace": model, "labels": labels}, "rules": role_rules}),
        )
        .await?;
        let subject = json!([{"kind": "ServiceAccount", "name": app, "namespace": model}]);
        apply(
            &Api::<RoleBinding>::namespaced(client.clone(), model),
            app,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": app, "namespace": model, "labels": labels},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": app},
                   "subjects": subject}),
        )
        .await?;
        apply(
            &Api::<ClusterRole>::all(client.clone()),
            &cluster_role,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": cluster_role, "labels": labels}, "rules": cluster_rules}),
        )
        .await?;
        apply(
            &Api::<ClusterRoleBinding>::all(client.clone()),
            &cluster_role,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": cluster_role, "labels": labels},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
                   "subjects": subject}),
        )
        .await?;
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(TOKEN_SECONDS),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let token = Api::<ServiceAccount>::namespaced(client, model)
            .create_token_request(app, &PostParams::default(), &request)
            .await
            .context("cannot request a token for the application's service account")?
            .status
            .and_then(|s| s.token)
            .context("the token request returned no token")?;
        write_kubeconfig(&admin_config, model, app, &token, out)
    })
}

fn write_kubeconfig(
    admin: &Kubeconfig,
    model: &str,
    app: &str,
    token: &str,
    out: &Path,
) -> Result<()> {
    let context_name = admin
        .current_context
        .clone()
        .or_else(|| admin.contexts.first().map(|c| c.name.clone()))
        .context("the admin kubeconfig has no context")?;
    let cluster_name = admin
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .context("the admin kubeconfig's context has no cluster")?;
    let cluster = admin
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.clone())
        .context("the admin kubeconfig's cluster is missing")?;
    let user = format!("system:serviceaccount:{model}:{app}");
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "juju-sim", "cluster": serde_json::to_value(&cluster)?}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "juju-sim", "context": {"cluster": "juju-sim", "user": user, "namespace": model}}],
        "current-context": "juju-sim",
    });
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(out, serde_yaml::to_string(&doc)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    std::fs::set_permissions(out, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// Deletes the application's identity (Juju does this when the application is removed).
pub fn remove_identity(admin: &Path, model: &str, app: &str) -> Result<()> {
    runtime()?.block_on(async {
        let (client, _) = admin_client(admin).await?;
        let cluster_role = format!("{model}-{app}");
        let dp = DeleteParams::default();
        let ignore_missing = |r: Result<_, kube::Error>| match r {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        };
        ignore_missing(
            Api::<ClusterRoleBinding>::all(client.clone())
                .delete(&cluster_role, &dp)
                .await
                .map(drop),
        )?;
        ignore_missing(
            Api::<ClusterRole>::all(client.clone())
                .delete(&cluster_role, &dp)
                .await
                .map(drop),
        )?;
        ignore_missing(
            Api::<RoleBinding>::namespaced(client.clone(), model)
                .delete(app, &dp)
                .await
                .map(drop),
        )?;
        ignore_missing(
            Api::<Role>::namespaced(client.clone(), model)
                .delete(app, &dp)
                .await
                .map(drop),
        )?;
        ignore_missing(
            Api::<ServiceAccount>::namespaced(client, model)
                .delete(app, &dp)
                .await
                .map(drop),
        )?;
        Ok(())
    })
}
