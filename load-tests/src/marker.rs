//! Markers: the fixed-width text a writer inserts, `\u{1}W0012S00000123\u{2}` (writer 12,
//! sequence number 123). Yjs v1 updates store inserted strings verbatim (UTF-8, varString),
//! and items of one writer that the server merged still hold the markers back to back, so a
//! reader finds every marker by scanning the raw update bytes, without decoding the update.

pub const LEN: usize = 16;
const START: u8 = 0x01;
const END: u8 = 0x02;
/// Largest writer id a marker can carry; 9999 is reserved for the pre-fill sentinel.
pub const MAX_WRITER: u32 = 9998;
pub const SENTINEL_WRITER: u32 = 9999;
const MAX_SEQ: u64 = 99_999_999;

/// The marker text for `(writer, seq)`.
pub fn encode(writer: u32, seq: u64) -> String {
    debug_assert!(writer <= SENTINEL_WRITER && seq <= MAX_SEQ);
    format!("\u{1}W{writer:04}S{seq:08}\u{2}")
}

fn digits(b: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    Some(n)
}

/// Parses a marker starting at `b[0]`.
fn parse_at(b: &[u8]) -> Option<(u32, u64)> {
    let m = b.get(..LEN)?;
    if m[0] != START || m[1] != b'W' || m[6] != b'S' || m[15] != END {
        return None;
    }
    Some((digits(&m[2..6])? as u32, digits(&m[7..15])?))
}

/// Calls `f(writer, seq)` for every marker in `bytes`, in order. Returns how many it found.
pub fn scan(bytes: &[u8], mut f: impl FnMut(u32, u64)) -> usize {
    let mut found = 0;
    let mut from = 0;
    while let Some(i) = memchr::memchr(START, &bytes[from..]) {
        let at = from + i;
        if let Some((w, s)) = parse_at(&bytes[at..]) {
            f(w, s);
            found += 1;
            from = at + LEN;
        } else {
            from = at + 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

    #[test]
    fn encodes_fixed_width() {
        assert_eq!(encode(12, 123), "\u{1}W0012S00000123\u{2}");
        assert_eq!(encode(12, 123).len(), LEN);
    }

    #[test]
    fn scans_back_to_back_and_ignores_noise() {
        let mut b = b"xx\x01\x01W0001S0000000\x02".to_vec(); // broken marker
        b.extend(encode(3, 7).as_bytes());
        b.extend(encode(4, 99_999_999).as_bytes());
        b.extend(b"\x01W12");
        let mut got = Vec::new();
        assert_eq!(scan(&b, |w, s| got.push((w, s))), 2);
        assert_eq!(got, [(3, 7), (4, 99_999_999)]);
    }

    /// The premise of the scanner: markers survive in the bytes of real yrs updates, both a
    /// single transaction's update and a whole-document state where the items were merged.
    #[test]
    fn markers_are_visible_in_yrs_updates() {
        let doc = Doc::with_client_id(42);
        let text = doc.get_or_insert_text("caption");
        let mut single = Vec::new();
        for seq in 0..50u64 {
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, &encode(7, seq));
            single.push(txn.encode_update_v1());
        }
        for (seq, u) in single.iter().enumerate() {
            let mut got = Vec::new();
            scan(u, |w, s| got.push((w, s)));
            assert_eq!(got, [(7, seq as u64)]);
        }
        let full = doc.transact().encode_state_as_update_v1(&StateVector::default());
        let mut seqs = Vec::new();
        scan(&full, |_, s| seqs.push(s));
        assert_eq!(seqs, (0..50).collect::<Vec<_>>());
        // And a replica built from it holds the same text.
        let other = Doc::with_client_id(43);
        other.transact_mut().apply_update(Update::decode_v1(&full).unwrap()).unwrap();
        let t2 = other.get_or_insert_text("caption");
        assert_eq!(t2.get_string(&other.transact()), text.get_string(&doc.transact()));
    }
}
