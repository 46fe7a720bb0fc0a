//! Fuzz target: everything the speaker's membership decodes from the network.
//!
//! The input is used as a received packet (it must be dropped as unauthenticated: only a holder
//! of the key can make one), then as the gossip inside a packet sealed with the key, which is
//! opened and handed to the SWIM implementation (`foca`'s decoder and state machine) as an
//! authenticated peer's packet would be: the input itself, and a real announce from another
//! member with the input's bytes written over it (pairs of position and value), so that the
//! decoder is explored past its first checks. Nothing may panic.

#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use foca::{AccumulatingRuntime, Config, Foca, PostcardCodec};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;

#[path = "../../workload/speaker/src/adapters/membership/wire.rs"]
#[allow(dead_code)]
mod wire;

use wire::{Dropped, Sealer, SpeakerId};

const NOW: u64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    let mut receiver = Sealer::new(b"fuzz-key", 1).expect("a key");
    assert_eq!(
        receiver.open(data, NOW),
        Err(Dropped::Unauthenticated),
        "an unsealed packet was accepted"
    );
    let mut sender = Sealer::new(b"fuzz-key", 2).expect("a key");
    let packet = sender.seal(data, NOW, [0; 12]).expect("sealed");
    let gossip = receiver.open(&packet, NOW).expect("opens");
    assert_eq!(gossip, data);
    let mut member = speaker("node-a", 11);
    let mut runtime = AccumulatingRuntime::new();
    let _ = member.handle_data(&gossip, &mut runtime);
    // Whatever it produced can be sealed and sent.
    while let Some((_, out)) = runtime.to_send() {
        let _ = sender.seal(&out, NOW, [1; 12]);
    }

    // A genuine announce from another member, overwritten where the input says.
    let mut other = speaker("node-b", 12);
    let mut other_runtime = AccumulatingRuntime::new();
    if other
        .announce(member.identity().clone(), &mut other_runtime)
        .is_err()
    {
        return;
    }
    let Some((_, announce)) = other_runtime.to_send() else {
        return;
    };
    let mut announce = announce.to_vec();
    if announce.is_empty() {
        return;
    }
    for pair in data.chunks_exact(2) {
        let at = usize::from(pair[0]) % announce.len();
        announce[at] = pair[1];
    }
    let _ = member.handle_data(&announce, &mut runtime);
});

type Member = Foca<SpeakerId, PostcardCodec, rand::rngs::StdRng, foca::NoCustomBroadcast>;

fn speaker(node: &str, host: u8) -> Member {
    let addr = SocketAddr::from(([198, 18, 0, host], 7946));
    let identity = SpeakerId {
        node: node.into(),
        addr,
        generation: 1,
    };
    let mut config = Config::simple();
    config.probe_period = Duration::from_millis(250);
    Foca::new(
        identity,
        config,
        rand::rngs::StdRng::seed_from_u64(u64::from(host)),
        PostcardCodec,
    )
}
