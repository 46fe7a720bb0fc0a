//! Every example manifest of upstream MetalLB's documentation set (v0.16.2: `configsamples/` and
//! the YAML blocks of the website's pages, read from the Go module cache) applies to a real API
//! server with our CRDs unchanged: accepted, and with every field kept (nothing pruned).

use test_support::upstream;

use anyhow::{Context, Result};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;
use test_support::{TestNamespace, cluster};

/// The places in `written` whose value differs in `stored` (defaults may add fields, nothing
/// may go or change).
fn lost(written: &Value, stored: &Value, path: &str, out: &mut Vec<String>) {
    match (written, stored) {
        (Value::Object(w), Value::Object(s)) => {
            for (key, value) in w {
                let at = format!("{path}.{key}");
                match s.get(key) {
                    Some(kept) => lost(value, kept, &at, out),
                    None => out.push(format!("{at} was dropped")),
                }
            }
        }
        (Value::Array(w), Value::Array(s)) if w.len() == s.len() => {
            for (i, (value, kept)) in w.iter().zip(s).enumerate() {
                lost(value, kept, &format!("{path}[{i}]"), out);
            }
        }
        _ if written == stored => {}
        _ => out.push(format!("{path}: wrote {written}, stored {stored}")),
    }
}

fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None if lower.ends_with("status") => format!("{lower}es"),
        None => format!("{lower}s"),
    }
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn upstream_documentation_examples_apply_unchanged() -> Result<()> {
    let module = upstream::module_dir()?;
    let examples = upstream::examples(&module)?;
    assert!(
        examples.len() >= 40,
        "expected upstream's documentation to hold at least 40 MetalLB objects, found {}",
        examples.len()
    );
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let ns = TestNamespace::create(cluster, "examples").await?;

    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for example in &examples {
        let mut object = example.object.clone();
        object["metadata"]["namespace"] = Value::from(ns.name.clone());
        let api_version = object["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = object["kind"].as_str().unwrap_or("").to_string();
        let version = api_version.trim_start_matches("metallb.io/");
        kinds.insert(format!("{kind} {version}"));
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("metallb.io", version, &kind),
            &plural(&kind),
        );
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns.name, &resource);
        let typed: DynamicObject = serde_json::from_value(object.clone())
            .with_context(|| format!("{}: not an object", example.origin))?;
        // A dry run: validated, defaulted and pruned like a real create, and the examples reuse
        // names, so nothing is stored.
        let params = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        match api.create(&params, &typed).await {
            Ok(stored) => {
                let stored = serde_json::to_value(&stored)?;
                let mut dropped = Vec::new();
                lost(&object["spec"], &stored["spec"], ".spec", &mut dropped);
                if !dropped.is_empty() {
                    failures.push(format!(
                        "{} ({kind} {}): {}",
                        example.origin,
                        object["metadata"]["name"],
                        dropped.join("; ")
                    ));
                }
            }
            Err(err) => {
                let reason = match &err {
                    kube::Error::Api(status) => status.message.clone(),
                    other => other.to_string(),
                };
                failures.push(format!(
                    "{} ({kind} {}): refused: {reason}",
                    example.origin, object["metadata"]["name"]
                ))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} upstream examples do not apply unchanged:\n  {}",
        failures.len(),
        examples.len(),
        failures.join("\n  ")
    );
    println!(
        "{} upstream examples applied unchanged; kinds: {}",
        examples.len(),
        kinds.into_iter().collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

#[test]
fn yaml_blocks_are_found_in_markdown() {
    let page = "intro\n```yaml\na: 1\n```\ntext\n```bash\nls\n```\n```yaml\nb: 2\n---\nc: 3\n```\n";
    assert_eq!(
        upstream::yaml_blocks(page),
        vec!["a: 1\n", "b: 2\n---\nc: 3\n"]
    );
    assert_eq!(plural("BGPPeer"), "bgppeers");
    assert_eq!(plural("Community"), "communities");
    assert_eq!(plural("ServiceL2Status"), "servicel2statuses");
}
