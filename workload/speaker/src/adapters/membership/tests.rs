use super::*;

use metallb_core::membership::Rejected;

const NOW: u64 = 1_700_000_000_000;

fn sealer(secret: &[u8], epoch: u64) -> Sealer {
    Sealer::new(secret, epoch).unwrap()
}

#[test]
fn packets_open_only_with_the_same_key_and_untouched() {
    let mut a = sealer(b"secret-one", 1);
    let mut same_key = sealer(b"secret-one", 2);
    let mut other_key = sealer(b"secret-two", 3);
    let packet = a.seal(b"hello", NOW, [7; 12]).unwrap();
    assert_eq!(other_key.open(&packet, NOW), Err(Dropped::Unauthenticated));
    let mut tampered = packet.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(same_key.open(&tampered, NOW), Err(Dropped::Unauthenticated));
    for len in 0..packet.len() {
        assert_eq!(
            same_key.open(&packet[..len], NOW),
            Err(Dropped::Unauthenticated)
        );
    }
    assert_eq!(same_key.open(&packet, NOW).as_deref(), Ok(&b"hello"[..]));
    assert_eq!(Dropped::Unauthenticated.label(), "unauthenticated");
}

#[test]
fn a_replayed_packet_is_dropped() {
    let mut sender = sealer(b"secret", 1);
    let mut receiver = sealer(b"secret", 2);
    let captured = sender.seal(b"alive", NOW, [1; 12]).unwrap();
    assert!(receiver.open(&captured, NOW).is_ok());
    let replayed = receiver.open(&captured, NOW + 10);
    assert_eq!(
        replayed,
        Err(Dropped::Rejected(Rejected::Replayed {
            epoch: 1,
            counter: 0
        }))
    );
    assert_eq!(replayed.unwrap_err().label(), "replayed");
    // Later packets still pass, and a capture replayed after the skew is stale.
    let next = sender.seal(b"alive", NOW + 1, [2; 12]).unwrap();
    assert!(receiver.open(&next, NOW + 1).is_ok());
    let late = NOW + u64::try_from(MAX_CLOCK_SKEW.as_millis()).unwrap() + 1;
    assert!(matches!(
        receiver.open(&captured, late),
        Err(Dropped::Rejected(Rejected::Stale { .. }))
    ));
}

#[test]
fn a_restarted_sender_is_heard_again() {
    let mut receiver = sealer(b"secret", 9);
    let mut first_run = sealer(b"secret", 1);
    for i in 0..5 {
        let packet = first_run.seal(b"x", NOW + i, [i as u8; 12]).unwrap();
        assert!(receiver.open(&packet, NOW + i).is_ok());
    }
    // The restarted process counts from 0 again, under a new random epoch.
    let mut second_run = sealer(b"secret", 2);
    let packet = second_run.seal(b"x", NOW + 100, [9; 12]).unwrap();
    assert!(receiver.open(&packet, NOW + 100).is_ok());
}

#[test]
fn a_packet_from_a_skewed_clock_is_dropped() {
    let mut sender = sealer(b"secret", 1);
    let mut receiver = sealer(b"secret", 2);
    let ahead = sender.seal(b"x", NOW + 31_000, [3; 12]).unwrap();
    let dropped = receiver.open(&ahead, NOW).unwrap_err();
    assert_eq!(
        dropped,
        Dropped::Rejected(Rejected::Future { ahead_ms: 31_000 })
    );
    assert_eq!(dropped.label(), "clock_skew");
}

#[test]
fn an_empty_key_is_refused() {
    for empty in [&b""[..], b"  \n"] {
        assert_eq!(Sealer::new(empty, 1).err(), Some(KeyError::Empty));
        assert_eq!(derive_key(empty), Err(KeyError::Empty));
    }
    assert_ne!(derive_key(b"a").unwrap(), derive_key(b"b").unwrap());
}

#[tokio::test]
async fn the_membership_does_not_start_with_an_empty_key() {
    let settings = Settings {
        node: "node-a".into(),
        addr: "127.0.0.1:0".parse().unwrap(),
        secret: Vec::new(),
        timings: Timings::default(),
    };
    let err = Membership::start(settings, crate::metrics::speaker_metrics())
        .await
        .err()
        .expect("an empty key must be refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("refusing to run the membership without a key")
            && text.contains("the membership key is empty"),
        "{text}"
    );
}
