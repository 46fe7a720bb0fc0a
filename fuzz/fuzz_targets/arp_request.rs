//! Fuzz target: the ARP request parser never panics, and the reply to every request it accepts
//! is a well-formed ARP reply from our MAC for the asked address, to the asker.

#![no_main]

use etherparse::{ArpOperation, ArpPacket, EtherType, Ethernet2Slice};
use libfuzzer_sys::fuzz_target;
use metallb_core::l2::arp;

const OURS: [u8; 6] = [2, 0, 0, 0, 0, 1];

fuzz_target!(|data: &[u8]| {
    let Ok(request) = arp::parse_request(data, OURS) else {
        return;
    };
    let reply = arp::reply(OURS, &request);
    let ethernet = Ethernet2Slice::from_slice_without_fcs(&reply).expect("an Ethernet frame");
    assert_eq!(ethernet.ether_type(), EtherType::ARP);
    assert_eq!(ethernet.destination(), request.sender_mac);
    let packet = ArpPacket::from_slice(ethernet.payload_slice())
        .expect("an ARP packet")
        .try_eth_ipv4()
        .expect("Ethernet/IPv4 ARP");
    assert_eq!(packet.operation, ArpOperation::REPLY);
    assert_eq!(packet.sender_mac, OURS);
    assert_eq!(packet.sender_ipv4_addr(), request.target_ip);
    assert_eq!(packet.target_ipv4_addr(), request.sender_ip);
    // Our own reply is never taken for a request.
    assert!(arp::parse_request(&reply, OURS).is_err());
});
