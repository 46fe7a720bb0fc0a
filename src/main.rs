//! The metallb charm binary: this program is the charm's `dispatch` file.

fn main() -> std::process::ExitCode {
    juju_ops::main(|_| metallb_charm::charm::MetallbCharm::default())
}
