//! The workload images (`cargo xtask images`, which `cargo xtask test` runs first and names in
//! `METALLB_RS_IMAGES_DIR`): `skopeo` reads them as OCI archives with the expected metadata, and
//! the binary inside runs.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn images_dir() -> PathBuf {
    std::env::var_os("METALLB_RS_IMAGES_DIR")
        .map(PathBuf::from)
        .expect("METALLB_RS_IMAGES_DIR is not set: run `cargo xtask test` (it builds the images)")
}

fn skopeo(args: &[&str]) -> Value {
    let output = Command::new("skopeo")
        .args(args)
        .output()
        .expect("cannot run skopeo (cargo xtask test installs it)");
    assert!(
        output.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
#[ignore = "needs root and the control plane: cargo xtask test"]
fn images_are_oci_archives_with_entrypoint_user_and_labels() {
    for (name, binary, user) in [
        ("controller", "metallb-controller", "65532:65532"),
        ("speaker", "metallb-speaker", ""),
    ] {
        let archive = images_dir().join(format!("{name}.oci.tar"));
        let reference = format!("oci-archive:{}", archive.display());
        let inspect = skopeo(&["inspect", &reference]);
        assert_eq!(inspect["Architecture"], "amd64", "{inspect}");
        assert_eq!(inspect["Os"], "linux");
        assert_eq!(
            inspect["Labels"]["org.opencontainers.image.version"],
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(inspect["Layers"].as_array().map(Vec::len), Some(1));
        let config = skopeo(&["inspect", "--config", &reference]);
        assert_eq!(
            config["config"]["Entrypoint"][0],
            format!("/{binary}"),
            "{config}"
        );
        assert_eq!(config["config"]["User"].as_str().unwrap_or(""), user);
        let size = std::fs::metadata(&archive).unwrap().len();
        eprintln!("{name}: {:.1} MB", size as f64 / 1e6);
        assert!(size < 15_000_000, "{name} image is {size} bytes");

        // The layer's binary runs on its own (static).
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        let status = Command::new("skopeo")
            .args(["copy", &reference])
            .arg(format!("dir:{}", layout.display()))
            .status()
            .unwrap();
        assert!(status.success());
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(layout.join("manifest.json")).unwrap()).unwrap();
        let digest = manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let status = Command::new("tar")
            .arg("-xzf")
            .arg(layout.join(digest))
            .arg("-C")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let version = Command::new(dir.path().join(binary))
            .arg("--version")
            .output()
            .unwrap();
        assert!(version.status.success(), "{binary} --version failed");
        assert!(String::from_utf8_lossy(&version.stdout).contains(binary));
    }
}
