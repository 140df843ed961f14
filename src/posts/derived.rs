//! On SQLite, the live document's derived fields go onto the post row on the update log's
//! writer thread ([`crate::collab::sqlite_log::LogWriter::transaction`]), in plain SQLite
//! calls: the same rule as [`super::service::write_doc_content_on`] (the text fields from
//! the document, everything computed from them, nothing written when nothing changed), so
//! this write never holds SQLite's one write lock while the log's appends wait for it.
//! Columns are read and written as sqlx stores them, so sea-orm reads them back unchanged:
//! UUIDs as 16-byte blobs, JSON as text, times as RFC 3339 text.

use chrono::{SecondsFormat, Utc};
use copydesk_actors::ports::DocContent;
use rusqlite::types::ValueRef;
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

use super::content::PostContent;
use super::draft::Draft;
use super::views::strings;
use crate::platforms::Platform;

/// What [`write_doc_content`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct DerivedWrite {
    /// The row's title or content changed.
    pub changed: bool,
    /// The post has an open approval round (which a change may void); only looked up when
    /// something changed.
    pub open_round: bool,
}

const READ: &str = "SELECT title, content, platforms, tags, campaign FROM posts WHERE id = ?1";
const WRITE: &str = "UPDATE posts SET title = ?2, content = ?3, validation = ?4, is_valid = ?5, \
     search_text = ?6, updated_by = COALESCE(?7, updated_by), updated_at = ?8 WHERE id = ?1";
const OPEN_ROUND: &str = "SELECT EXISTS (SELECT 1 FROM approval_requests WHERE open_post_id = ?1)";

/// Lays `c` over the post row's text fields and writes the row if that changed anything;
/// `None` if the post is gone.
pub fn write_doc_content(
    conn: &rusqlite::Connection,
    post_id: Uuid,
    c: &DocContent,
    editor: Option<Uuid>,
) -> rusqlite::Result<Option<DerivedWrite>> {
    let id = post_id.as_bytes().as_slice();
    let row = conn
        .prepare_cached(READ)?
        .query_row(params![id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                json(r.get_ref(1)?)?,
                json(r.get_ref(2)?)?,
                json(r.get_ref(3)?)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?;
    let Some((title, content, platforms, tags, campaign)) = row else {
        return Ok(None);
    };
    let before = PostContent::from_json(&content);
    let mut draft = Draft {
        title: title.clone(),
        content: before.clone(),
        platforms: strings(&platforms)
            .iter()
            .filter_map(|s| Platform::parse(s))
            .collect(),
        tags: strings(&tags),
        campaign,
        ..Draft::empty()
    };
    draft.overlay(c);
    if draft.content == before && draft.title == title {
        // Nothing changed, so no round can be voided: no need to look for one.
        return Ok(Some(DerivedWrite {
            changed: false,
            open_round: false,
        }));
    }
    let open_round = conn
        .prepare_cached(OPEN_ROUND)?
        .query_row(params![id], |r| r.get::<_, bool>(0))?;
    let d = draft.derived();
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::AutoSi, false);
    conn.prepare_cached(WRITE)?.execute(params![
        id,
        draft.title,
        draft.content.to_json().to_string(),
        d.validation.to_string(),
        d.is_valid,
        d.search_text,
        editor.map(|e| e.as_bytes().to_vec()),
        now,
    ])?;
    Ok(Some(DerivedWrite {
        changed: true,
        open_round,
    }))
}

/// A JSON column, stored as text (or, written by something else, as a blob).
fn json(v: ValueRef<'_>) -> rusqlite::Result<serde_json::Value> {
    let bytes = match v {
        ValueRef::Text(b) | ValueRef::Blob(b) => b,
        ValueRef::Null => return Ok(serde_json::Value::Null),
        other => {
            return Err(rusqlite::Error::InvalidColumnType(
                0,
                "json".into(),
                other.data_type(),
            ))
        }
    };
    serde_json::from_slice(bytes).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}
