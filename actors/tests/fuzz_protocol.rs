//! Property-based fuzzing of the wire decoder: whatever bytes a client sends, parsing
//! returns messages or a close code — never a panic, never a hang. The seed corpus in
//! `tests/corpus/` holds hand-made hostile frames; proptest keeps any failure it finds in
//! `proptest-regressions/` so it is replayed on every run.

use copydesk_actors::protocol::{self, close, parse_frame, Incoming};
use proptest::prelude::*;
use yrs::{ReadTxn, StateVector, Text, Transact};

fn check(frame: &[u8]) {
    match parse_frame(frame) {
        Ok(msgs) => assert!(!msgs.is_empty()),
        Err(e) => assert!(
            [close::INVALID_PAYLOAD, close::UNSUPPORTED].contains(&e.code),
            "unexpected close code {}",
            e.code
        ),
    }
}

fn valid_frame(text: &str) -> Vec<u8> {
    let doc = yrs::Doc::new();
    doc.get_or_insert_text("caption")
        .insert(&mut doc.transact_mut(), 0, text);
    let mut f = protocol::sync_step1(&doc.transact().state_vector());
    let u = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    f.extend(protocol::update(u));
    f
}

#[test]
fn corpus_frames_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        check(&bytes);
        n += 1;
    }
    assert!(n >= 10, "the corpus is there");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_sync_header_never_panic(sub in 0u8..4, bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut frame = vec![0, sub];
        frame.extend(bytes);
        check(&frame);
    }

    #[test]
    fn mutated_valid_frames_never_panic(text in "\\PC{0,40}", flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>()) {
        let mut frame = valid_frame(&text);
        for (i, b) in flips {
            let len = frame.len();
            frame[i % len] ^= b;
        }
        check(&frame);
        frame.truncate(cut % (frame.len() + 1));
        check(&frame);
    }

    #[test]
    fn valid_frames_round_trip(text in "\\PC{0,60}") {
        let msgs = parse_frame(&valid_frame(&text)).unwrap();
        prop_assert_eq!(msgs.len(), 2);
        prop_assert!(matches!(msgs[0], Incoming::SyncStep1(_)));
        prop_assert!(matches!(msgs[1], Incoming::Update(_)));
    }
}
