//! The hook environment, built from scratch as Juju's `HookVars` does (nothing inherited),
//! with the relation (`JUJU_RELATION*`, `JUJU_REMOTE_*`, `JUJU_DEPARTING_UNIT`) and secret
//! (`JUJU_SECRET_*`) variables of relation and secret hooks.

use std::collections::BTreeMap;
use std::path::Path;

use super::agent::{HookKind, HookSession};
use super::state::ModelState;

/// Builds the complete environment of a dispatch on the session's unit. `tools_dir` is
/// prepended to `base_path`; `socket` is the agent's hook-tool socket; `extra` holds the
/// simulator's documented additions (for example `KUBECONFIG`).
pub fn hook_environment(
    state: &ModelState,
    session: &HookSession,
    tools_dir: &Path,
    socket: &Path,
    base_path: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let charm_dir = state.app.charm_dir.display().to_string();
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set("CHARM_DIR", charm_dir.clone());
    set("JUJU_CHARM_DIR", charm_dir);
    set("JUJU_CONTEXT_ID", session.context_id.clone());
    set("JUJU_AGENT_SOCKET_ADDRESS", socket.display().to_string());
    set("JUJU_AGENT_SOCKET_NETWORK", "unix".into());
    set("JUJU_UNIT_NAME", state.unit_name(session.unit));
    set("JUJU_MODEL_UUID", state.model_uuid.clone());
    set("JUJU_MODEL_NAME", state.model_name.clone());
    set("JUJU_API_ADDRESSES", "127.0.0.1:17070".into());
    set("JUJU_SLA", "unsupported".into());
    set("JUJU_MACHINE_ID", String::new());
    set("JUJU_PRINCIPAL_UNIT", String::new());
    set("JUJU_AVAILABILITY_ZONE", String::new());
    set("JUJU_VERSION", state.juju_version.clone());
    set("CLOUD_API_VERSION", String::new());
    for proxy in ["HTTP", "HTTPS", "FTP", "NO"] {
        set(&format!("JUJU_CHARM_{proxy}_PROXY"), String::new());
    }
    set("APT_LISTCHANGES_FRONTEND", "none".into());
    set("DEBIAN_FRONTEND", "noninteractive".into());
    set("LANG", "C.UTF-8".into());
    set("TERM", "tmux-256color".into());
    set("PATH", format!("{}:{base_path}", tools_dir.display()));
    match &session.kind {
        HookKind::Hook(hook) => {
            set("JUJU_HOOK_NAME", hook.clone());
            set("JUJU_DISPATCH_PATH", format!("hooks/{hook}"));
            if let Some(rel) = &session.context.relation {
                let (endpoint, remote_app) = state
                    .relation(rel.id)
                    .map(|r| (r.endpoint.clone(), r.remote_app.clone()))
                    .unwrap_or_default();
                set("JUJU_RELATION", endpoint.clone());
                set("JUJU_RELATION_ID", format!("{endpoint}:{}", rel.id));
                // Present but empty for -created, -broken and application-data -changed.
                set(
                    "JUJU_REMOTE_UNIT",
                    rel.remote_unit.clone().unwrap_or_default(),
                );
                set("JUJU_REMOTE_APP", remote_app);
                if let Some(departing) = &rel.departing_unit {
                    set("JUJU_DEPARTING_UNIT", departing.clone());
                }
            }
            if let Some(secret) = &session.context.secret {
                set("JUJU_SECRET_ID", secret.uri.clone());
                // Always exported, possibly empty; the revision only when there is one.
                set(
                    "JUJU_SECRET_LABEL",
                    secret.label.clone().unwrap_or_default(),
                );
                if let Some(revision) = secret.revision.filter(|r| *r > 0) {
                    set("JUJU_SECRET_REVISION", revision.to_string());
                }
            }
        }
        HookKind::Action(run) => {
            set("JUJU_HOOK_NAME", String::new());
            set("JUJU_ACTION_NAME", run.name.clone());
            set("JUJU_ACTION_UUID", run.id.clone());
            set("JUJU_ACTION_TAG", format!("action-{}", run.id));
            set("JUJU_DISPATCH_PATH", format!("actions/{}", run.name));
        }
    }
    for (k, v) in extra {
        set(k, v.clone());
    }
    env
}
