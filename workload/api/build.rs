//! Converts the committed CRDs (`crds/metallb.io.yaml`, kept equal to the Rust types by a test)
//! to one JSON array in `OUT_DIR`, which [`crds_prebuilt`] reads: generating the schemas from
//! the types at run time costs the charm about 10 ms of every hook.

use std::path::PathBuf;

use serde::Deserialize;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = "crds/metallb.io.yaml";
    println!("cargo::rerun-if-changed={source}");
    let text = std::fs::read_to_string(source)?;
    let mut crds = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = serde_json::Value::deserialize(document)?;
        if !value.is_null() {
            crds.push(value);
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("crds.json");
    std::fs::write(out, serde_json::to_string(&crds)?)?;
    Ok(())
}
