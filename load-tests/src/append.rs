//! The update a writer sends: one string item appended to the caption, encoded directly.
//!
//! `yrs::Text::insert(len, ..)` finds the position by walking every block from the start;
//! in a 1 MB document with thousands of items that walk made the generator the bottleneck.
//! A writer only ever appends after its own previous marker, so it knows the left origin
//! and can write the Yjs v1 update itself (the unit tests check it byte for byte against
//! what yrs produces). The writer still applies the update to its yrs document, which
//! integrates it by origin id (a binary search, not a walk) and keeps the document true.

use crate::proto::{write_var_string, write_var_uint};

/// Yjs content ref of a string item.
const CONTENT_STRING: u8 = 4;
/// Item info bit: a left origin id follows.
const HAS_ORIGIN: u8 = 0x80;

/// The Yjs v1 update inserting `text` as one item of client `client` at `clock`, right after
/// the item `origin` (client, clock), or — with no origin — at the start of the root type
/// named `root`. `text` must be ASCII (Yjs counts UTF-16 units; ASCII makes that its length).
pub fn encode(client: u64, clock: u32, origin: Option<(u64, u32)>, root: &str, text: &str) -> Vec<u8> {
    debug_assert!(text.is_ascii());
    let mut b = Vec::with_capacity(text.len() + root.len() + 24);
    write_var_uint(&mut b, 1); // one client with structs
    write_var_uint(&mut b, 1); // one struct
    write_var_uint(&mut b, client);
    write_var_uint(&mut b, u64::from(clock));
    match origin {
        Some((oc, ok)) => {
            b.push(CONTENT_STRING | HAS_ORIGIN);
            write_var_uint(&mut b, oc);
            write_var_uint(&mut b, u64::from(ok));
        }
        None => {
            b.push(CONTENT_STRING);
            write_var_uint(&mut b, 1); // parent is a root type, named by key
            write_var_string(&mut b, root);
        }
    }
    write_var_string(&mut b, text);
    write_var_uint(&mut b, 0); // empty delete set
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

    fn yrs_append(doc: &Doc, s: &str) -> Vec<u8> {
        let text = doc.get_or_insert_text("caption");
        let mut txn = doc.transact_mut();
        let len = text.len(&txn);
        text.insert(&mut txn, len, s);
        txn.encode_update_v1()
    }

    #[test]
    fn matches_yrs_for_first_and_following_appends() {
        let doc = Doc::with_client_id(77);
        assert_eq!(yrs_append(&doc, "hello"), encode(77, 0, None, "caption", "hello"));
        assert_eq!(yrs_append(&doc, "world"), encode(77, 5, Some((77, 4)), "caption", "world"));
        // After another client's item.
        let other = Doc::with_client_id(3_000_000_000);
        other
            .transact_mut()
            .apply_update(Update::decode_v1(&doc.transact().encode_state_as_update_v1(&Default::default())).unwrap())
            .unwrap();
        assert_eq!(yrs_append(&other, "!"), encode(3_000_000_000, 0, Some((77, 9)), "caption", "!"));
    }

    #[test]
    fn applies_after_a_prefilled_text() {
        let a = Doc::with_client_id(1);
        let ta = a.get_or_insert_text("caption");
        {
            let mut txn = a.transact_mut();
            for i in 0..200u32 {
                let len = ta.len(&txn);
                ta.insert(&mut txn, (i * 7919) % (len + 1), "chunk ");
            }
        }
        let full = a.transact().encode_state_as_update_v1(&Default::default());
        let b = Doc::with_client_id(2);
        b.transact_mut().apply_update(Update::decode_v1(&full).unwrap()).unwrap();
        // The last character's id, as the writer finds it.
        let last = {
            use yrs::{Assoc, IndexedSequence};
            let tb = b.get_or_insert_text("caption");
            let txn = b.transact();
            let len = tb.len(&txn);
            let id = *tb.sticky_index(&txn, len - 1, Assoc::After).unwrap().id().unwrap();
            (id.client.get(), id.clock)
        };
        let u1 = encode(2, 0, Some(last), "caption", "XY");
        let u2 = encode(2, 2, Some((2, 1)), "caption", "Z");
        for u in [&u1, &u2] {
            a.transact_mut().apply_update(Update::decode_v1(u).unwrap()).unwrap();
        }
        let s = ta.get_string(&a.transact());
        assert!(s.ends_with("XYZ"), "{}", &s[s.len() - 10..]);
        assert_eq!(s.len(), 200 * 6 + 3);
    }
}
