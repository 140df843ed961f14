//! How comments are shown: [`CommentView`] with authors' names and grouped reactions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::{Anchor, Visibility};
use crate::activity::{user_refs, UserRef};
use crate::error::ApiError;
use crate::store::entities::{comment_reactions, comments};

/// One emoji on a comment: how many people left it, and who.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReactionView {
    #[schema(example = "👍")]
    pub emoji: String,
    pub count: usize,
    pub user_ids: Vec<Uuid>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: Uuid,
    pub post_id: Uuid,
    pub workspace_id: Uuid,
    /// The thread's root; `null` for a root.
    pub parent_id: Option<Uuid>,
    /// `null` once the author's account is deleted, and for review-link guests.
    pub author: Option<UserRef>,
    /// A review-link guest's name (`author` is null then).
    pub guest_name: Option<String>,
    pub body: String,
    pub visibility: Visibility,
    pub anchor: Option<Anchor>,
    pub mentions: Vec<Uuid>,
    /// In order of first use.
    pub reactions: Vec<ReactionView>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub edited_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct CommentList {
    /// Oldest first; replies carry their root's id in `parent_id`.
    pub items: Vec<CommentView>,
}

pub(crate) fn uuids(v: &Value) -> Vec<Uuid> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

pub(crate) fn visibility_of(c: &comments::Model) -> Visibility {
    // Unknown values are treated as the stricter one.
    Visibility::parse(&c.visibility).unwrap_or(Visibility::Internal)
}

/// Comment rows as the API shows them: with authors' names and grouped reactions, loaded
/// in two queries whatever the number of rows.
pub async fn views<C: ConnectionTrait>(
    db: &C,
    rows: &[comments::Model],
) -> Result<Vec<CommentView>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let names = user_refs(db, rows.iter().filter_map(|c| c.author_id)).await?;
    let reactions = comment_reactions::Entity::find()
        .filter(comment_reactions::Column::CommentId.is_in(rows.iter().map(|c| c.id)))
        .order_by_asc(comment_reactions::Column::CreatedAt)
        .order_by_asc(comment_reactions::Column::Emoji)
        .order_by_asc(comment_reactions::Column::UserId)
        .all(db)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<ReactionView>> = HashMap::new();
    for r in reactions {
        let list = grouped.entry(r.comment_id).or_default();
        match list.iter_mut().find(|x| x.emoji == r.emoji) {
            Some(x) => {
                x.count += 1;
                x.user_ids.push(r.user_id);
            }
            None => list.push(ReactionView {
                emoji: r.emoji,
                count: 1,
                user_ids: vec![r.user_id],
            }),
        }
    }
    Ok(rows
        .iter()
        .map(|c| CommentView {
            id: c.id,
            post_id: c.post_id,
            workspace_id: c.workspace_id,
            parent_id: c.parent_id,
            author: c.author_id.and_then(|a| names.get(&a).cloned()),
            guest_name: c.guest_name.clone(),
            body: c.body.clone(),
            visibility: visibility_of(c),
            anchor: c
                .anchor
                .clone()
                .and_then(|a| serde_json::from_value(a).ok()),
            mentions: uuids(&c.mentions),
            reactions: grouped.remove(&c.id).unwrap_or_default(),
            resolved_at: c.resolved_at,
            resolved_by: c.resolved_by,
            edited_at: c.edited_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        })
        .collect())
}

pub async fn view<C: ConnectionTrait>(
    db: &C,
    c: &comments::Model,
) -> Result<CommentView, ApiError> {
    let mut v = views(db, std::slice::from_ref(c)).await?;
    v.pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("comment view missing")))
}
