//! The metallb charm binary: this program is the charm's `dispatch` file.

mod charm;

fn main() -> std::process::ExitCode {
    juju_ops::main(|_| charm::MetallbCharm)
}
