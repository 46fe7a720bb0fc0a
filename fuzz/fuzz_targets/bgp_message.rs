//! Fuzz target: the BGP message decoder never panics, reports a length within the input, and
//! every message it accepts encodes to bytes that decode to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use metallb_core::bgp::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok((message, used)) = decode(data) {
        assert!(used <= data.len(), "decoded {used} bytes of {}", data.len());
        let bytes = encode(&message);
        let again = decode(&bytes).map(|(m, _)| m);
        assert_eq!(again, Ok(message), "re-encoding changed the message");
    }
});
