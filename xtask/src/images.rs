//! `cargo xtask images`: the controller and speaker as OCI image archives (`oci-archive`: a tar
//! of an OCI image layout), built directly: one gzip'd layer with the static binary, a config,
//! a manifest and an index. No container daemon. The archives are reproducible (fixed
//! timestamps), so their digests only change when the binaries do.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Options of `cargo xtask images`.
#[derive(Args)]
pub struct ImagesArgs {
    /// Output directory [default: build/images in the workspace].
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

impl ImagesArgs {
    /// Options that write the archives into `dir`.
    pub fn to(dir: PathBuf) -> Self {
        ImagesArgs { out_dir: Some(dir) }
    }
}

/// One image to build.
pub struct Image {
    /// Repository name (the charm's default image names: `controller`, `speaker`).
    name: &'static str,
    /// Binary and package.
    binary: (&'static str, &'static str),
    /// The user to run as (`None`: root, which the speaker needs for raw sockets).
    user: Option<&'static str>,
    /// Description label.
    description: &'static str,
}

/// The test nodes' pod sandbox ("pause") image: `kcp`'s static `pause` program, so that no node
/// ever pulls one.
pub const PAUSE: Image = Image {
    name: "pause",
    binary: ("pause", ""),
    user: Some("65535:65535"),
    description: "metallb-rs test nodes' pod sandbox: holds a pod's namespaces and reaps zombies",
};

const IMAGES: &[Image] = &[
    Image {
        name: "controller",
        binary: ("metallb-controller", "metallb-controller"),
        user: Some("65532:65532"),
        description: "metallb-rs controller: IP allocation for LoadBalancer Services",
    },
    Image {
        name: "speaker",
        binary: ("metallb-speaker", "metallb-speaker"),
        user: None,
        description: "metallb-rs speaker: ARP/NDP announcements (needs NET_RAW and host network)",
    },
];

/// Upstream MetalLB's controller and speaker as upstream's images hold them (`/controller`,
/// `/speaker`): test peers for the migration tests, never shipped.
const UPSTREAM_IMAGES: &[Image] = &[
    Image {
        name: "upstream-controller",
        binary: ("controller", ""),
        user: Some("65534:65534"),
        description: "upstream MetalLB controller, built from the Go module proxy (test peer)",
    },
    Image {
        name: "upstream-speaker",
        binary: ("speaker", ""),
        user: None,
        description: "upstream MetalLB speaker, built from the Go module proxy (test peer)",
    },
];

const VERSION: &str = env!("CARGO_PKG_VERSION");
const SOURCE: &str = "https://github.com/metallb-rs/metallb-rs";

fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// A tar with `file` at `/name`, mode 0755, owned by root, timestamp 0.
fn layer_tar(name: &str, file: &[u8]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(file.len() as u64);
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, name, file)
        .context("cannot add the binary to the layer")?;
    builder.into_inner().context("cannot finish the layer")
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// A blob with its descriptor.
struct Blob {
    media_type: &'static str,
    bytes: Vec<u8>,
}

impl Blob {
    fn json(media_type: &'static str, value: &Value) -> Result<Self> {
        Ok(Blob {
            media_type,
            bytes: serde_json::to_vec(value)?,
        })
    }

    fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": sha256(&self.bytes), "size": self.bytes.len()})
    }
}

/// Writes the `oci-archive` of `image` with `binary` as its only file; returns its path.
pub fn write_image(image: &Image, binary: &Path, out_dir: &Path) -> Result<PathBuf> {
    let bytes =
        std::fs::read(binary).with_context(|| format!("cannot read {}", binary.display()))?;
    let file_name = image.binary.0;
    let tar = layer_tar(file_name, &bytes)?;
    let diff_id = sha256(&tar);
    let layer = Blob {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
        bytes: gzip(&tar)?,
    };
    let labels = json!({
        "org.opencontainers.image.title": format!("metallb-rs {}", image.name),
        "org.opencontainers.image.description": image.description,
        "org.opencontainers.image.version": VERSION,
        "org.opencontainers.image.source": SOURCE,
        "org.opencontainers.image.licenses": "Apache-2.0",
    });
    let mut config = json!({
        "Entrypoint": [format!("/{file_name}")],
        "Env": ["PATH=/"],
        "Labels": labels,
    });
    if let Some(user) = image.user {
        config["User"] = json!(user);
    }
    let config = Blob::json(
        "application/vnd.oci.image.config.v1+json",
        &json!({
            "created": "1970-01-01T00:00:00Z",
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "cargo xtask images"}],
        }),
    )?;
    let manifest = Blob::json(
        "application/vnd.oci.image.manifest.v1+json",
        &json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
            "annotations": labels,
        }),
    )?;
    let mut manifest_descriptor = manifest.descriptor();
    manifest_descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": VERSION});
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [manifest_descriptor],
    });
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let out = out_dir.join(format!("{}.oci.tar", image.name));
    let mut archive = tar::Builder::new(
        std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    let mut add = |path: &str, data: &[u8]| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive
            .append_data(&mut header, path, data)
            .with_context(|| format!("cannot add {path}"))
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    add("index.json", &serde_json::to_vec(&index)?)?;
    for blob in [&layer, &config, &manifest] {
        let digest = sha256(&blob.bytes);
        let hex = digest.trim_start_matches("sha256:");
        add(&format!("blobs/sha256/{hex}"), &blob.bytes)?;
    }
    archive.finish().context("cannot finish the archive")?;
    Ok(out)
}

/// Builds the static binaries and writes both archives; returns their paths.
pub fn run(args: &ImagesArgs) -> Result<Vec<PathBuf>> {
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| crate::artifacts::build_dir().join("images"));
    let bins: Vec<(&str, &str)> = IMAGES.iter().map(|i| i.binary).collect();
    let built = crate::artifacts::build_static(&bins)?;
    let mut written = Vec::new();
    for (image, binary) in IMAGES.iter().zip(&built) {
        let out = write_image(image, binary, &out_dir)?;
        let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        println!("==> wrote {} ({:.1} MB)", out.display(), size as f64 / 1e6);
        written.push(out);
    }
    Ok(written)
}

/// Writes `upstream-<version>/upstream-controller.oci.tar` and `...-speaker.oci.tar` under
/// `out_dir` from upstream's binaries in `bin_dir` (`cargo xtask upstream build`); returns the
/// directory.
pub fn write_upstream(bin_dir: &Path, version: &str, out_dir: &Path) -> Result<PathBuf> {
    let dir = out_dir.join(format!("upstream-{version}"));
    for image in UPSTREAM_IMAGES {
        write_image(image, &bin_dir.join(image.binary.0), &dir)?;
    }
    Ok(dir)
}
