//! The post document's layout and the plain-content view of it, kept free of any actor or
//! transport so it can be tested alone.
//!
//! One Yjs doc per post: a `Y.Map` "meta" (`title`), a `Y.Text` "caption", one `Y.Text`
//! per platform override named `content:<platform>` (empty = use the caption) and a
//! `Y.Array` "media" of plain objects. Offsets are UTF-16, as in Yjs in the browser.

use std::collections::BTreeMap;

use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, Doc, GetString, Map, OffsetKind, Options, Out, ReadTxn, StateVector, Text,
    Transact, Update,
};

use crate::ports::DocContent;

pub const META: &str = "meta";
pub const TITLE: &str = "title";
pub const CAPTION: &str = "caption";
pub const MEDIA: &str = "media";
pub const OVERRIDE_PREFIX: &str = "content:";

/// A document with the options every Copydesk doc uses.
pub fn new_doc(client_id: Option<u64>) -> Doc {
    let mut opts = Options {
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    };
    if let Some(id) = client_id {
        opts.client_id = yrs::block::ClientID::new(id);
    }
    Doc::with_options(opts)
}

/// Applies a v1 update; malformed updates are an error, never a panic.
pub fn apply(doc: &Doc, update: &[u8]) -> Result<(), String> {
    let u = Update::decode_v1(update).map_err(|e| e.to_string())?;
    doc.transact_mut()
        .apply_update(u)
        .map_err(|e| e.to_string())
}

/// What `doc` has beyond `sv`, as one update, plus its whole delete set.
///
/// Never `encode_state_as_update_v1`: in yrs 0.28 it folds the document's pending
/// (not yet integrable) items in with `merge_updates`, which renumbers items after a gap in a
/// client's clocks — a corrupt update (found by `actors/tests/model.rs`). Pending items are
/// sent when they integrate instead (see `PostSession::send_released`).
pub fn diff(doc: &Doc, sv: &StateVector) -> Vec<u8> {
    doc.transact().encode_diff_v1(sv)
}

/// The whole (integrated) document as one update.
pub fn full_state(doc: &Doc) -> Vec<u8> {
    diff(doc, &StateVector::default())
}

/// Whether `doc` holds items or deletions it could not integrate yet.
pub fn has_pending(doc: &Doc) -> bool {
    doc.transact().has_missing_updates()
}

fn override_names(doc: &Doc) -> Vec<String> {
    let txn = doc.transact();
    txn.root_refs()
        .map(|(name, _)| name.to_string())
        .filter(|n| n.starts_with(OVERRIDE_PREFIX))
        .collect()
}

/// The document's content as plain values.
pub fn read_content(doc: &Doc) -> DocContent {
    // Root types that arrived in an update are typed on first use, outside a transaction.
    let names = override_names(doc);
    let texts: Vec<_> = names
        .iter()
        .map(|n| (n.clone(), doc.get_or_insert_text(n.as_str())))
        .collect();
    let caption = doc.get_or_insert_text(CAPTION);
    let meta = doc.get_or_insert_map(META);
    let media = doc.get_or_insert_array(MEDIA);
    let txn = doc.transact();
    let title = match meta.get(&txn, TITLE) {
        Some(Out::Any(Any::String(s))) => s.to_string(),
        _ => String::new(),
    };
    let overrides = texts
        .into_iter()
        .map(|(n, t)| (n[OVERRIDE_PREFIX.len()..].to_string(), t.get_string(&txn)))
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let media = media
        .iter(&txn)
        .map(|v| serde_json::to_value(v.to_json(&txn)).unwrap_or(serde_json::Value::Null))
        .collect();
    DocContent {
        title,
        caption: caption.get_string(&txn),
        overrides,
        media,
    }
}

/// A change to some of the content; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ContentEdit {
    pub title: Option<String>,
    pub caption: Option<String>,
    /// Platform → new override text (empty clears the override).
    pub overrides: BTreeMap<String, String>,
    pub media: Option<Vec<serde_json::Value>>,
}

impl ContentEdit {
    /// The edit that turns the current content into `target` entirely.
    pub fn to_match(current: &DocContent, target: &DocContent) -> Self {
        let mut overrides: BTreeMap<String, String> = current
            .overrides
            .keys()
            .map(|k| (k.clone(), String::new()))
            .collect();
        overrides.extend(target.overrides.clone());
        Self {
            title: Some(target.title.clone()),
            caption: Some(target.caption.clone()),
            overrides,
            media: Some(target.media.clone()),
        }
    }
}

fn utf16_len(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

/// Replaces the text of `t` with `new` by editing only the changed middle, so concurrent
/// edits elsewhere in the text and comment anchors outside the change survive.
fn set_text(t: &yrs::TextRef, txn: &mut yrs::TransactionMut, new: &str) {
    let old = t.get_string(txn);
    if old == new {
        return;
    }
    let (o, n): (Vec<char>, Vec<char>) = (old.chars().collect(), new.chars().collect());
    let prefix = o.iter().zip(&n).take_while(|(a, b)| a == b).count();
    let max_suffix = o.len().min(n.len()) - prefix;
    let suffix = o
        .iter()
        .rev()
        .zip(n.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let start: String = o[..prefix].iter().collect();
    let removed: String = o[prefix..o.len() - suffix].iter().collect();
    let inserted: String = n[prefix..n.len() - suffix].iter().collect();
    let at = utf16_len(&start);
    if !removed.is_empty() {
        t.remove_range(txn, at, utf16_len(&removed));
    }
    if !inserted.is_empty() {
        t.insert(txn, at, &inserted);
    }
}

fn json_to_any(v: &serde_json::Value) -> Any {
    serde_json::from_value(v.clone()).unwrap_or(Any::Null)
}

/// Makes `edit` on a scratch copy of `state` (authored as `client_id`) and returns the
/// update it produced, without touching any live document.
pub fn edit_update(state: &[u8], client_id: u64, edit: &ContentEdit) -> Result<Vec<u8>, String> {
    let doc = new_doc(Some(client_id));
    apply(&doc, state)?;
    let names: Vec<String> = edit
        .overrides
        .keys()
        .map(|p| format!("{OVERRIDE_PREFIX}{p}"))
        .collect();
    let texts: Vec<_> = names
        .iter()
        .map(|n| doc.get_or_insert_text(n.as_str()))
        .collect();
    let caption = doc.get_or_insert_text(CAPTION);
    let meta = doc.get_or_insert_map(META);
    let media = doc.get_or_insert_array(MEDIA);
    let before = doc.transact().state_vector();
    {
        let mut txn = doc.transact_mut();
        if let Some(title) = &edit.title {
            let same = matches!(meta.get(&txn, TITLE), Some(Out::Any(Any::String(s))) if s.as_ref() == title.as_str());
            if !same {
                meta.insert(&mut txn, TITLE, title.as_str());
            }
        }
        if let Some(c) = &edit.caption {
            set_text(&caption, &mut txn, c);
        }
        for (t, new) in texts.iter().zip(edit.overrides.values()) {
            set_text(t, &mut txn, new);
        }
        if let Some(items) = &edit.media {
            let current: Vec<serde_json::Value> = media
                .iter(&txn)
                .map(|v| serde_json::to_value(v.to_json(&txn)).unwrap_or_default())
                .collect();
            if &current != items {
                let len = media.len(&txn);
                if len > 0 {
                    media.remove_range(&mut txn, 0, len);
                }
                for (i, item) in items.iter().enumerate() {
                    media.insert(&mut txn, i as u32, json_to_any(item));
                }
            }
        }
    }
    let update = diff(&doc, &before);
    Ok(update)
}

/// What a document has deleted, kept up to date as updates are applied, so that "does this
/// update change anything?" never has to scan the document.
#[derive(Debug, Default, Clone)]
pub struct Deletions(yrs::IdSet);

impl Deletions {
    /// Everything `doc` has deleted so far (one scan, at load).
    pub fn of(doc: &Doc) -> Self {
        Self(doc.transact().snapshot().delete_set)
    }
}

/// Applies a v1 update and records what it deleted in `deleted`. Answers whether more was
/// integrated than the update itself carried: items yrs had held back (their dependency
/// arrived only now) that whoever received them earlier could not place either.
/// `has_missing_updates()` alone cannot tell (it has been seen to answer false while yrs
/// still held such items — `actors/tests/model.rs`, seed 5453), nor can the state vector's
/// growth alone (seed 2106): either one counts.
pub fn apply_noting(doc: &Doc, update: &[u8], deleted: &mut Deletions) -> Result<bool, String> {
    let u = Update::decode_v1(update).map_err(|e| e.to_string())?;
    let carried = u.insertions(true);
    let mut txn = doc.transact_mut();
    let before = txn.state_vector();
    let held = txn.has_missing_updates();
    txn.apply_update(u).map_err(|e| e.to_string())?;
    deleted.0.merge_with(txn.delete_set().clone());
    let after = txn.state_vector();
    Ok(held
        || after.iter().any(|(client, clock)| {
            let carried_to = carried
                .get(client)
                .and_then(|r| r.iter().map(|x| x.0.end).max())
                .unwrap_or(0);
            *clock > before.get(client) && *clock > carried_to
        }))
}

/// True when applying `update` to a document with state vector `sv` and deletions
/// `deleted` would change it: it carries an item the document lacks (or one it cannot place
/// yet), or deletes something not already deleted. A client's SyncStep2 after a reconnect
/// and the answer to a repair probe usually carry only deletions the document already has:
/// those are not changes, so they are neither logged nor broadcast. Malformed updates count
/// as changes (applying them fails loudly where it should).
pub fn changes(update: &[u8], sv: &StateVector, deleted: &Deletions) -> bool {
    let Ok(u) = Update::decode_v1(update) else {
        return true;
    };
    if u.extends(sv) {
        return true;
    }
    // Items after a gap in our state: yrs keeps them pending; they are still news.
    if u.state_vector_lower()
        .iter()
        .any(|(client, clock)| *clock > sv.get(client))
    {
        return true;
    }
    let ds = u.delete_set();
    !ds.is_empty() && ds.diff(&deleted.0).iter().any(|(_, left)| !left.is_empty())
}

/// True when an update carries no change (e.g. the empty SyncStep2 of a client that has
/// nothing the server lacks).
pub fn is_empty_update(update: &[u8]) -> bool {
    match Update::decode_v1(update) {
        Ok(u) => u.is_empty(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_with(edit: &ContentEdit) -> Doc {
        let doc = new_doc(None);
        let u = edit_update(&full_state(&doc), 7, edit).unwrap();
        apply(&doc, &u).unwrap();
        doc
    }

    #[test]
    fn edits_round_trip_through_updates() {
        let mut overrides = BTreeMap::new();
        overrides.insert("x".to_string(), "Short for X 🚀".to_string());
        let doc = doc_with(&ContentEdit {
            title: Some("Launch".into()),
            caption: Some("We launch today".into()),
            overrides,
            media: Some(vec![
                serde_json::json!({"url": "https://e.com/a.png", "kind": "image"}),
            ]),
        });
        let c = read_content(&doc);
        assert_eq!(c.title, "Launch");
        assert_eq!(c.caption, "We launch today");
        assert_eq!(c.overrides["x"], "Short for X 🚀");
        assert_eq!(c.media[0]["kind"], "image");
    }

    #[test]
    fn text_edits_touch_only_the_changed_middle() {
        let doc = doc_with(&ContentEdit {
            caption: Some("Hello 🌍 world".into()),
            ..Default::default()
        });
        // A concurrent edit at the end, made by someone else from the same state.
        let other = new_doc(Some(99));
        apply(&other, &full_state(&doc)).unwrap();
        let t = other.get_or_insert_text(CAPTION);
        let before = other.transact().state_vector();
        t.insert(&mut other.transact_mut(), utf16_len("Hello 🌍 world"), "!");
        let concurrent = other.transact().encode_state_as_update_v1(&before);

        let edit = edit_update(
            &full_state(&doc),
            7,
            &ContentEdit {
                caption: Some("Hello 🌍 big world".into()),
                ..Default::default()
            },
        )
        .unwrap();
        apply(&doc, &edit).unwrap();
        apply(&doc, &concurrent).unwrap();
        assert_eq!(read_content(&doc).caption, "Hello 🌍 big world!");
    }

    #[test]
    fn clearing_an_override_and_matching_a_target() {
        let mut overrides = BTreeMap::new();
        overrides.insert("x".to_string(), "X only".to_string());
        let doc = doc_with(&ContentEdit {
            caption: Some("v1".into()),
            overrides,
            ..Default::default()
        });
        let target = DocContent {
            title: "T".into(),
            caption: "v0".into(),
            ..Default::default()
        };
        let edit = ContentEdit::to_match(&read_content(&doc), &target);
        apply(&doc, &edit_update(&full_state(&doc), 7, &edit).unwrap()).unwrap();
        assert_eq!(read_content(&doc), target);
    }

    #[test]
    fn deletions_already_made_are_not_changes() {
        let server = new_doc(None);
        let mut deleted = Deletions::of(&server);
        let client = new_doc(Some(42));
        let t = client.get_or_insert_text(CAPTION);
        let sv0 = client.transact().state_vector();
        t.insert(&mut client.transact_mut(), 0, "hello world");
        let insert = client.transact().encode_state_as_update_v1(&sv0);
        let sv1 = client.transact().state_vector();
        t.remove_range(&mut client.transact_mut(), 0, 6);
        let delete = client.transact().encode_state_as_update_v1(&sv1);

        let sv = |d: &Doc| d.transact().state_vector();
        assert!(changes(&insert, &sv(&server), &deleted));
        apply_noting(&server, &insert, &mut deleted).unwrap();
        assert!(
            !changes(&insert, &sv(&server), &deleted),
            "a duplicate insert"
        );
        // A deletion with no new items is still a change the first time…
        assert!(changes(&delete, &sv(&server), &deleted));
        apply_noting(&server, &delete, &mut deleted).unwrap();
        // …and not the second, nor a reconnecting client's SyncStep2 carrying it.
        assert!(!changes(&delete, &sv(&server), &deleted));
        let step2 = client.transact().encode_state_as_update_v1(&sv(&server));
        assert!(!is_empty_update(&step2), "SyncStep2 carries the delete set");
        assert!(!changes(&step2, &sv(&server), &deleted));
        // A fresh scan agrees with the running record.
        assert!(!changes(&step2, &sv(&server), &Deletions::of(&server)));
        assert_eq!(read_content(&server).caption, "world");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let doc = new_doc(None);
        assert!(apply(&doc, &[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        use yrs::updates::encoder::Encode;
        assert!(is_empty_update(&yrs::Update::new().encode_v1()));
    }
}
