//! What a client's document update may write: the socket's version of REST validation.
//!
//! REST refuses an unknown platform, a title over 200 characters, a media URL that is not
//! http(s) or `media:`; an editor's socket must not be a way around that. Checking the
//! resulting document would mean applying the update first, and a Yjs update cannot be
//! taken back — so instead each update is scanned, item by item, before it is logged:
//!
//! - an item that names its parent names a root of the post layout (`meta`, `caption`,
//!   `media`, `content:<known platform>`); items placed next to an existing item inherit
//!   that item's parent, which was checked when it was written;
//! - no nested shared types, sub-documents or binary blobs (the layout has none);
//! - plain values: strings (the title is the only one) within the title limit, objects
//!   (media refs) with an http(s)/`media:` URL and bounded alt text;
//! - one text insertion within the text limit.
//!
//! The scan reads the v1 encoding with yrs's own decoders, so what it sees is exactly what
//! `apply_update` would apply.

use yrs::block::ItemContent;
use yrs::encoding::read::{Cursor, Read};
use yrs::updates::decoder::{Decoder, DecoderV1};
use yrs::Any;

use crate::doc::{CAPTION, MEDIA, META, OVERRIDE_PREFIX, TITLE};

const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;
const BLOCK_GC: u8 = 0;
const BLOCK_SKIP: u8 = 10;

#[derive(Clone, Debug)]
pub struct EditRules {
    /// Platforms that may have a `content:<platform>` override.
    pub platforms: Vec<String>,
    pub max_title_chars: usize,
    pub max_text_chars: usize,
    pub max_url_bytes: usize,
    pub max_alt_text_chars: usize,
}

impl Default for EditRules {
    fn default() -> Self {
        Self {
            platforms: Vec::new(),
            max_title_chars: 200,
            max_text_chars: 100_000,
            max_url_bytes: 2048,
            max_alt_text_chars: 1_500,
        }
    }
}

impl EditRules {
    fn root_allowed(&self, name: &str) -> bool {
        match name {
            META | CAPTION | MEDIA => true,
            n => n
                .strip_prefix(OVERRIDE_PREFIX)
                .is_some_and(|p| self.platforms.iter().any(|k| k == p)),
        }
    }

    fn check_value(&self, v: &Any) -> Result<(), String> {
        match v {
            Any::String(s) if s.chars().count() > self.max_title_chars => Err(format!(
                "{TITLE} must be at most {} characters",
                self.max_title_chars
            )),
            Any::Map(m) => {
                let url_ok = match m.get("url") {
                    Some(Any::String(u)) => {
                        (u.starts_with("https://")
                            || u.starts_with("http://")
                            || u.starts_with("media:"))
                            && u.len() <= self.max_url_bytes
                    }
                    _ => false,
                };
                if !url_ok {
                    return Err("media url must be an http(s) URL or a media: reference".into());
                }
                match m.get("alt_text") {
                    None | Some(Any::Null) | Some(Any::Undefined) => {}
                    Some(Any::String(a)) if a.chars().count() <= self.max_alt_text_chars => {}
                    Some(_) => {
                        return Err(format!(
                            "media alt_text must be at most {} characters",
                            self.max_alt_text_chars
                        ))
                    }
                }
                if m.len() > 8 {
                    return Err("media entries have url, kind and alt_text".into());
                }
                Ok(())
            }
            Any::Buffer(_) => Err("binary values are not part of a post document".into()),
            _ => Ok(()),
        }
    }

    fn check_content(&self, c: &ItemContent) -> Result<(), String> {
        match c {
            ItemContent::Type(_) | ItemContent::Doc(..) => {
                Err("nested shared types are not part of a post document".into())
            }
            ItemContent::Binary(_) => Err("binary values are not part of a post document".into()),
            ItemContent::String(s) if s.as_str().chars().count() > self.max_text_chars => Err(
                format!("a text must be at most {} characters", self.max_text_chars),
            ),
            ItemContent::Any(values) => values.iter().try_for_each(|v| self.check_value(v)),
            ItemContent::Embed(v) => self.check_value(v),
            _ => Ok(()),
        }
    }

    /// Whether `update` (v1) only writes what REST would accept; the reason if not.
    pub fn check_update(&self, update: &[u8]) -> Result<(), String> {
        let malformed = |e: yrs::encoding::read::Error| format!("malformed update: {e}");
        let mut d = DecoderV1::new(Cursor::new(update));
        let clients: u32 = d.read_var().map_err(malformed)?;
        for _ in 0..clients {
            let blocks: u32 = d.read_var().map_err(malformed)?;
            d.read_client().map_err(malformed)?;
            let _clock: u32 = d.read_var().map_err(malformed)?;
            for _ in 0..blocks {
                let info = d.read_info().map_err(malformed)?;
                match info {
                    BLOCK_SKIP => {
                        let _: u32 = d.read_var().map_err(malformed)?;
                    }
                    BLOCK_GC => {
                        d.read_len().map_err(malformed)?;
                    }
                    info => {
                        if info & HAS_ORIGIN != 0 {
                            d.read_left_id().map_err(malformed)?;
                        }
                        if info & HAS_RIGHT_ORIGIN != 0 {
                            d.read_right_id().map_err(malformed)?;
                        }
                        if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
                            if d.read_parent_info().map_err(malformed)? {
                                let name = d.read_string().map_err(malformed)?;
                                if !self.root_allowed(name) {
                                    return Err(format!("{name:?} is not part of a post document"));
                                }
                            } else {
                                // A parent that is itself an item: only nested types have
                                // children, and the layout has none.
                                return Err(
                                    "nested shared types are not part of a post document".into()
                                );
                            }
                            if info & HAS_PARENT_SUB != 0 {
                                d.read_string().map_err(malformed)?;
                            }
                        }
                        let content = ItemContent::decode(&mut d, info).map_err(malformed)?;
                        self.check_content(&content)?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Array, Doc, Map, ReadTxn, StateVector, Text, Transact};

    fn rules() -> EditRules {
        EditRules {
            platforms: vec!["x".into(), "linkedin".into()],
            ..EditRules::default()
        }
    }

    fn update_of(f: impl FnOnce(&Doc)) -> Vec<u8> {
        let doc = Doc::new();
        f(&doc);
        let u = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        u
    }

    #[test]
    fn the_layout_passes() {
        let u = update_of(|doc| {
            let meta = doc.get_or_insert_map(META);
            let cap = doc.get_or_insert_text(CAPTION);
            let x = doc.get_or_insert_text("content:x");
            let media = doc.get_or_insert_array(MEDIA);
            let mut t = doc.transact_mut();
            meta.insert(&mut t, TITLE, "Launch");
            cap.insert(&mut t, 0, "hello world");
            cap.insert(&mut t, 5, ",");
            x.insert(&mut t, 0, "short");
            media.insert(
                &mut t,
                0,
                Any::from_json(r#"{"url":"https://e.com/a.png","kind":"image","alt_text":"a"}"#)
                    .unwrap(),
            );
        });
        rules().check_update(&u).unwrap();
        // A second edit, placed next to existing items (parent implied), also passes.
        let doc = Doc::new();
        doc.transact_mut()
            .apply_update(yrs::Update::decode_v1(&u).unwrap())
            .unwrap();
        let sv = doc.transact().state_vector();
        let cap = doc.get_or_insert_text(CAPTION);
        cap.insert(&mut doc.transact_mut(), 3, "zzz");
        let diff = doc.transact().encode_state_as_update_v1(&sv);
        rules().check_update(&diff).unwrap();
    }

    use yrs::updates::decoder::Decode;

    #[test]
    fn what_rest_refuses_is_refused() {
        let unknown_platform = update_of(|doc| {
            let t = doc.get_or_insert_text("content:myspace");
            t.insert(&mut doc.transact_mut(), 0, "x");
        });
        let unknown_root = update_of(|doc| {
            let t = doc.get_or_insert_text("evil");
            t.insert(&mut doc.transact_mut(), 0, "x");
        });
        let long_title = update_of(|doc| {
            let m = doc.get_or_insert_map(META);
            m.insert(&mut doc.transact_mut(), TITLE, "t".repeat(201));
        });
        let bad_media = update_of(|doc| {
            let a = doc.get_or_insert_array(MEDIA);
            a.insert(
                &mut doc.transact_mut(),
                0,
                Any::from_json(r#"{"url":"javascript:alert(1)","kind":"image"}"#).unwrap(),
            );
        });
        let nested = update_of(|doc| {
            let m = doc.get_or_insert_map(META);
            m.insert(&mut doc.transact_mut(), "x", yrs::MapPrelim::default());
        });
        let huge_text = update_of(|doc| {
            let t = doc.get_or_insert_text(CAPTION);
            t.insert(&mut doc.transact_mut(), 0, &"a".repeat(100_001));
        });
        for (name, u) in [
            ("unknown platform", unknown_platform),
            ("unknown root", unknown_root),
            ("long title", long_title),
            ("bad media", bad_media),
            ("nested", nested),
            ("huge text", huge_text),
        ] {
            assert!(rules().check_update(&u).is_err(), "{name} passed");
        }
        assert!(rules().check_update(&[1, 2, 3]).is_err());
    }
}
