//! Fuzz target: the BFD control packet decoder never panics, and every packet it accepts
//! encodes to bytes that decode to the same packet.

#![no_main]

use libfuzzer_sys::fuzz_target;
use metallb_core::bfd::Packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = Packet::decode(data) {
        let again = Packet::decode(&packet.encode());
        assert_eq!(again, Ok(packet), "re-encoding changed the packet");
    }
});
