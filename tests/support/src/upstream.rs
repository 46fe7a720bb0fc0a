//! Upstream MetalLB's own files, read at test time from the Go module cache: its CRDs
//! (`config/crd/bases/*.yaml`) and the example manifests of its documentation
//! (`configsamples/*.yaml` and the YAML blocks of `website/content/**/*.md`).
//!
//! `METALLB_RS_UPSTREAM_SRC` names the module's directory (`go.universe.tf/metallb@v0.16.2` in
//! `go env GOMODCACHE`); `cargo xtask test` sets it after `go mod download` of that one module
//! (the version is the one `tests/upstream/v0.16/go.mod` requires).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

/// The environment variable naming upstream's module directory.
pub const SRC_ENV: &str = "METALLB_RS_UPSTREAM_SRC";

/// Upstream's module directory, from [`SRC_ENV`].
pub fn module_dir() -> Result<PathBuf> {
    let dir = std::env::var_os(SRC_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .with_context(|| {
            format!(
                "{SRC_ENV} is not set: run the tests with `cargo xtask test`, or run \
                 `cargo xtask upstream src` and set {SRC_ENV} to the directory it prints"
            )
        })?;
    if !dir.join("config/crd/bases").is_dir() {
        bail!(
            "{SRC_ENV}={} has no config/crd/bases: it must be upstream MetalLB's module directory",
            dir.display()
        );
    }
    Ok(dir)
}

/// Every YAML document of `text` that is a mapping, as JSON values.
pub fn documents(text: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document)?;
        if value.is_object() {
            out.push(value);
        }
    }
    Ok(out)
}

/// The files in `dir` whose names end with `suffix`, sorted, searched recursively.
fn files(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Upstream's CRDs, one JSON value each.
pub fn crds(module: &Path) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for file in files(&module.join("config/crd/bases"), ".yaml")? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        out.extend(documents(&text).with_context(|| format!("cannot parse {}", file.display()))?);
    }
    if out.is_empty() {
        bail!("no CRD in {}/config/crd/bases", module.display());
    }
    Ok(out)
}

/// The fenced ```yaml blocks of a Markdown text.
pub fn yaml_blocks(markdown: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + "```yaml\n".len()..];
        let Some(end) = body.find("```") else {
            break;
        };
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    blocks
}

/// One example object of upstream's documentation, with where it came from.
pub struct Example {
    /// File (relative to the module) and position, for messages.
    pub origin: String,
    /// The object as written.
    pub object: Value,
}

/// Every `metallb.io` object of upstream's documentation set: the configuration samples and the
/// YAML blocks of the website's pages.
pub fn examples(module: &Path) -> Result<Vec<Example>> {
    let mut sources: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for file in files(&module.join("configsamples"), ".yaml")? {
        let text = std::fs::read_to_string(&file)?;
        sources.push((file, vec![text]));
    }
    for file in files(&module.join("website/content"), ".md")? {
        let text = std::fs::read_to_string(&file)?;
        let blocks = yaml_blocks(&text).into_iter().map(String::from).collect();
        sources.push((file, blocks));
    }
    let mut out = Vec::new();
    for (file, blocks) in sources {
        let name = file
            .strip_prefix(module)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (b, block) in blocks.iter().enumerate() {
            let is_metallb = block.contains("apiVersion: metallb.io/");
            let documents = match documents(block) {
                Ok(documents) => documents,
                // Some pages show fragments that are not YAML documents; only blocks with
                // MetalLB objects must parse.
                Err(err) if is_metallb => {
                    bail!("{name}: block {} does not parse: {err}", b + 1)
                }
                Err(_) => continue,
            };
            for (d, object) in documents.into_iter().enumerate() {
                let api_version = object["apiVersion"].as_str().unwrap_or("");
                if api_version.starts_with("metallb.io/") {
                    out.push(Example {
                        origin: format!("{name} (block {}, document {})", b + 1, d + 1),
                        object,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Upstream's installation manifest `name` (e.g. `metallb-native.yaml`) from its module.
pub fn manifest(name: &str) -> Result<String> {
    let path = module_dir()?.join("config/manifests").join(name);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}
