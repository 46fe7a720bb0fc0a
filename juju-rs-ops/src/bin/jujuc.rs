//! `jujuc`: the hook-tool client `juju-sim` links every hook tool to, as Juju links its tools
//! to its own `jujuc`. Invoked as `config-get`, `status-set`, ..., it forwards the call to the
//! running unit agent (see [`juju_ops::sim::jujuc`]).

use std::process::ExitCode;

use juju_ops::sim::jujuc::invoked_as;

fn main() -> ExitCode {
    let mut args = std::env::args();
    let name = invoked_as(&args.next().unwrap_or_default());
    let code = juju_ops::sim::jujuc::tool_main(&name, args.collect());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
