//! `jujuc`: the hook-tool client `juju-sim` links every hook tool to, as Juju links its tools
//! to its own `jujuc`. Invoked as `config-get`, `status-set`, ..., it forwards the call to the
//! running unit agent (see [`juju_ops::sim::jujuc`]).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let code = juju_ops::sim::jujuc::tool_main(&name, args.collect());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
