//! Property-based fuzzing of the wire decoder: whatever bytes a client sends, parsing
//! returns messages or a close code — never a panic, never a hang.
//!
//! The fuzz targets call `parse_frame_unguarded`, the parser without the production
//! `catch_unwind` guard, so a panic anywhere in decoding fails the test (with the guard it
//! would turn into close code 1007 and pass). Each case runs on its own thread with a time
//! limit, so a hang fails too. The hand-made hostile frames in `tests/corpus/` seed the
//! fuzzer (mutated, truncated and spliced), and each has its expected outcome in
//! `tests/corpus/EXPECTED`. proptest keeps any failure it finds in
//! `fuzz_protocol.proptest-regressions`
//! so it is replayed on every run.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use copydesk_actors::protocol::{
    self, close, parse_frame, parse_frame_unguarded, Incoming, ProtocolError,
};
use proptest::prelude::*;
use yrs::{ReadTxn, StateVector, Text, Transact};

/// Longer than any frame of a few hundred bytes can take, even on a loaded machine.
const TIME_LIMIT: Duration = Duration::from_secs(2);

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}

/// Runs `f` on a thread of its own: a panic in it, or taking over `TIME_LIMIT`, fails the
/// caller with a message naming `what`.
fn run_limited<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("parse".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a parser thread");
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(r) => {
            let _ = worker.join();
            r
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what} took over {TIME_LIMIT:?}: a hang")
        }
        Err(RecvTimeoutError::Disconnected) => {
            let why = worker
                .join()
                .err()
                .map(|e| panic_message(e.as_ref()))
                .unwrap_or_default();
            panic!("{what} panicked: {why}")
        }
    }
}

/// Parses without the panic guard, time-limited: a panic or a hang fails.
fn parse_limited(frame: &[u8]) -> Result<Vec<Incoming>, ProtocolError> {
    let owned = frame.to_vec();
    run_limited(&format!("parsing {frame:?}"), move || {
        parse_frame_unguarded(&owned)
    })
}

/// The contract for any input: messages, or a close code meaning "bad payload" or
/// "unsupported"; and the guarded parser used in production says exactly the same.
fn check(frame: &[u8]) {
    let got = parse_limited(frame);
    match &got {
        Ok(msgs) => assert!(!msgs.is_empty(), "{frame:?} decoded to nothing"),
        Err(e) => assert!(
            [close::INVALID_PAYLOAD, close::UNSUPPORTED].contains(&e.code),
            "unexpected close code {} for {frame:?}",
            e.code
        ),
    }
    assert_eq!(
        parse_frame(frame),
        got,
        "guarded and unguarded parsers differ"
    );
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

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every seed frame, by file name.
fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn corpus() -> Vec<Vec<u8>> {
    corpus_files().into_iter().map(|(_, b)| b).collect()
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Ok(usize),
    Close(u16),
}

fn expected() -> Vec<(String, Outcome)> {
    let text = std::fs::read_to_string(corpus_dir().join("EXPECTED")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let file = parts.next().unwrap().to_string();
            let outcome = parts.next().unwrap_or_else(|| panic!("no outcome: {l}"));
            let outcome = match outcome.split_once(':') {
                Some(("ok", n)) => Outcome::Ok(n.parse().unwrap()),
                Some(("close", c)) => Outcome::Close(c.parse().unwrap()),
                _ => panic!("bad outcome in EXPECTED: {l}"),
            };
            (file, outcome)
        })
        .collect()
}

#[test]
fn corpus_frames_have_their_expected_outcome() {
    let files = corpus_files();
    let manifest = expected();
    assert!(files.len() >= 20, "the corpus is there");
    for (name, _) in &files {
        assert!(
            manifest.iter().any(|(f, _)| f == name),
            "{name} has no expected outcome in EXPECTED"
        );
    }
    for (name, outcome) in &manifest {
        let bytes = &files
            .iter()
            .find(|(f, _)| f == name)
            .unwrap_or_else(|| panic!("EXPECTED lists {name}, which is not in the corpus"))
            .1;
        check(bytes);
        let got = match parse_limited(bytes) {
            Ok(msgs) => Outcome::Ok(msgs.len()),
            Err(e) => Outcome::Close(e.code),
        };
        assert_eq!(&got, outcome, "{name}");
    }
}

#[test]
fn the_auth_token_seed_carries_its_token() {
    let bytes = std::fs::read(corpus_dir().join("auth-token.bin")).unwrap();
    assert_eq!(
        parse_limited(&bytes).unwrap(),
        vec![Incoming::AuthToken(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".into()
        )]
    );
    assert_eq!(
        parse_limited(&protocol::auth_token("a.b.c")).unwrap(),
        vec![Incoming::AuthToken("a.b.c".into())]
    );
}

/// Applies byte flips and insertions at positions taken modulo the length, then cuts.
fn mutate(
    mut frame: Vec<u8>,
    flips: &[(usize, u8)],
    inserts: &[(usize, u8)],
    cut: Option<usize>,
) -> Vec<u8> {
    for (i, b) in inserts {
        let at = i % (frame.len() + 1);
        frame.insert(at, *b);
    }
    if !frame.is_empty() {
        for (i, b) in flips {
            let len = frame.len();
            frame[i % len] ^= b;
        }
    }
    if let Some(c) = cut {
        frame.truncate(c % (frame.len() + 1));
    }
    frame
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_message_header_never_panic(tag in 0u8..4, sub in 0u8..4, bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut frame = vec![tag, sub];
        frame.extend(bytes);
        check(&frame);
    }

    #[test]
    fn mutated_corpus_frames_never_panic(
        seed in proptest::sample::select(corpus()),
        other in proptest::sample::select(corpus()),
        splice in any::<bool>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        inserts in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in proptest::option::of(any::<usize>()),
    ) {
        // The seed as is, joined with another seed (several messages in one frame), and
        // mutated.
        check(&seed);
        let mut frame = seed.clone();
        if splice {
            frame.extend_from_slice(&other);
            check(&frame);
        }
        check(&mutate(frame, &flips, &inserts, cut));
    }

    #[test]
    fn mutated_valid_frames_never_panic(text in "\\PC{0,40}", flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>()) {
        let frame = mutate(valid_frame(&text), &flips, &[], None);
        check(&frame);
        check(&mutate(frame, &[], &[], Some(cut)));
    }

    #[test]
    fn valid_frames_round_trip(text in "\\PC{0,60}") {
        let msgs = parse_limited(&valid_frame(&text)).unwrap();
        prop_assert_eq!(msgs.len(), 2);
        prop_assert!(matches!(msgs[0], Incoming::SyncStep1(_)));
        prop_assert!(matches!(msgs[1], Incoming::Update(_)));
    }
}

/// The harness itself: a panic or a hang in the code under test fails the case.
#[test]
fn the_runner_fails_on_a_panic_and_on_a_hang() {
    let ok = std::panic::catch_unwind(|| parse_limited(&[3]));
    assert_eq!(ok.unwrap().unwrap(), vec![Incoming::AwarenessQuery]);
    let panicked = std::panic::catch_unwind(|| {
        run_limited("a panicking decoder", || -> () { panic!("boom") })
    });
    let msg = panic_message(panicked.unwrap_err().as_ref());
    assert!(msg.contains("panicked: boom"), "{msg}");
    let hung = std::panic::catch_unwind(|| {
        run_limited("a hanging decoder", || std::thread::sleep(TIME_LIMIT * 3))
    });
    let msg = panic_message(hung.unwrap_err().as_ref());
    assert!(msg.contains("a hang"), "{msg}");
}
