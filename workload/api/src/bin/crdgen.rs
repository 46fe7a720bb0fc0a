//! Prints every metallb.io CRD as YAML (`cargo xtask crds` writes it to `crds/metallb.io.yaml`).

fn main() -> std::process::ExitCode {
    match metallb_api::crds_yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: cannot render the CRDs: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
