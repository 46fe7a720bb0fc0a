//! `cargo xtask pack`: the `.charm` file, a zip of the static charm binary as `dispatch`, the
//! charm's metadata, a charmcraft-style `manifest.yaml`, the README and the icon.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use zip::write::SimpleFileOptions;

use crate::paths::workspace_root;

/// Options of `cargo xtask pack`.
#[derive(Args)]
pub struct PackArgs {
    /// Output file [default: metallb_amd64.charm in the workspace root].
    #[arg(long)]
    out: Option<PathBuf>,
}

impl PackArgs {
    /// Options that write the charm to `out`.
    pub fn to(out: PathBuf) -> Self {
        PackArgs { out: Some(out) }
    }
}

/// The files copied from the workspace root into the charm, besides `dispatch`.
const FILES: &[&str] = &[
    "metadata.yaml",
    "config.yaml",
    "actions.yaml",
    "README.md",
    "icon.svg",
];

/// A manifest with charmcraft's fields.
pub fn manifest(started_at: &str) -> String {
    format!(
        "charmcraft-version: 4.0.0\n\
         charmcraft-started-at: '{started_at}'\n\
         bases:\n\
         - name: ubuntu\n  channel: '24.04'\n  architectures:\n  - amd64\n\
         analysis:\n  attributes:\n  - name: language\n    result: unknown\n  - name: framework\n    result: unknown\n"
    )
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Writes the charm zip from `dispatch` to `out`.
pub fn write_charm(dispatch: &Path, out: &Path) -> Result<()> {
    let root = workspace_root();
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let regular = SimpleFileOptions::default().unix_permissions(0o644);
    let executable = SimpleFileOptions::default().unix_permissions(0o755);
    zip.start_file("dispatch", executable)?;
    zip.write_all(
        &std::fs::read(dispatch).with_context(|| format!("cannot read {}", dispatch.display()))?,
    )?;
    for name in FILES {
        zip.start_file(*name, regular)?;
        zip.write_all(
            &std::fs::read(root.join(name)).with_context(|| format!("cannot read {name}"))?,
        )?;
    }
    zip.start_file("manifest.yaml", regular)?;
    zip.write_all(manifest(&now_rfc3339()).as_bytes())?;
    zip.finish().context("cannot finish the zip")?;
    Ok(())
}

/// Builds the static charm and writes the `.charm` file; returns its path.
pub fn run(args: &PackArgs) -> Result<PathBuf> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace_root().join("metallb_amd64.charm"));
    let bins = crate::artifacts::build_static(&[("metallb-charm", "metallb-charm")])?;
    let dispatch = bins.first().context("no charm binary")?;
    // charmcraft.yaml's dump plugin packs build/metallb-charm: keep it there too.
    let build = crate::artifacts::build_dir();
    std::fs::create_dir_all(&build)?;
    std::fs::copy(dispatch, build.join("metallb-charm"))
        .context("cannot copy the charm binary to build/")?;
    write_charm(dispatch, &out)?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!("==> wrote {} ({:.1} MB)", out.display(), size as f64 / 1e6);
    Ok(out)
}
