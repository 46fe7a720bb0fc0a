//! Where the project keeps its files: the workspace root and the cache outside the clone.

use std::path::PathBuf;

/// The workspace root (the parent of the `xtask` crate).
pub fn workspace_root() -> PathBuf {
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
