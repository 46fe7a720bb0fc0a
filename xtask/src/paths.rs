//! Where the project keeps its files: the workspace root and the cache outside the clone.

use std::path::PathBuf;

/// The workspace root: the nearest directory at or above the working directory whose
/// `Cargo.toml` declares `[workspace]` and has an `xtask` folder (cargo runs `cargo xtask` from
/// anywhere inside the workspace); else the parent of this crate's source folder.
pub fn workspace_root() -> PathBuf {
    let is_root = |dir: &std::path::Path| {
        dir.join("xtask").is_dir()
            && std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|t| t.contains("[workspace]"))
    };
    let cwd = std::env::current_dir().ok();
    if let Some(root) = cwd
        .as_deref()
        .and_then(|c| c.ancestors().find(|d| is_root(d)))
    {
        return root.to_path_buf();
    }
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// The project's cache folder, outside the clone so it survives between CI runs:
/// `$METALLB_RS_CACHE`, else `$XDG_CACHE_HOME/metallb-rs`, else `$HOME/.cache/metallb-rs`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("METALLB_RS_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("metallb-rs");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("metallb-rs")
}
