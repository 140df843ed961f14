//! Listing posts: filters for the list and the calendar, text search, and keyset
//! pagination.
//!
//! Pages are cut by the sort key plus the id (`(key, id) < (last_key, last_id)`), so a page
//! boundary never skips or repeats a post when others are created meanwhile, and deep pages
//! cost the same as the first. The cursor is opaque (base64url JSON) and bound to its sort.

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{LikeExpr, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::status::PostStatus;
use super::PostView;
use crate::auth::extract::AuthUser;
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::platforms::Platform;
use crate::roles::Action;
use crate::state::AppState;
use crate::store::entities::posts;
use crate::workspaces::access::membership;

/// `|a|b|` — lets `LIKE '%|a|%'` find one entry of a list portably (SQLite and PostgreSQL).
pub fn index_of<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::from("|");
    for i in items {
        s.push_str(&i.to_lowercase());
        s.push('|');
    }
    s
}

/// Escapes LIKE wildcards; used with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn like(col: posts::Column, pattern: String) -> SimpleExpr {
    col.like(LikeExpr::new(pattern).escape('\\'))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// One status or several, comma-separated.
    pub status: Option<String>,
    pub platform: Option<String>,
    pub tag: Option<String>,
    pub campaign: Option<String>,
    /// Text search over title, caption, per-platform text, hashtags, tags and campaign.
    pub q: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Calendar range (inclusive from, exclusive to).
    pub scheduled_from: Option<DateTime<Utc>>,
    pub scheduled_to: Option<DateTime<Utc>>,
    /// `created_at`, `updated_at`, `scheduled_at` or `title`; prefix `-` for descending.
    /// Default `-created_at`. Sorting by `scheduled_at` lists only scheduled posts.
    pub sort: Option<String>,
    /// 1–100, default 25.
    pub limit: Option<u64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PostPage {
    pub items: Vec<PostView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    s: String,
    v: String,
    id: Uuid,
}

#[derive(Clone, Copy, PartialEq)]
enum SortKey {
    Created,
    Updated,
    Scheduled,
    Title,
}

impl SortKey {
    fn parse(s: &str) -> Option<(SortKey, Order)> {
        let (name, order) = match s.strip_prefix('-') {
            Some(n) => (n, Order::Desc),
            None => (s, Order::Asc),
        };
        let key = match name {
            "created_at" => SortKey::Created,
            "updated_at" => SortKey::Updated,
            "scheduled_at" => SortKey::Scheduled,
            "title" => SortKey::Title,
            _ => return None,
        };
        Some((key, order))
    }

    fn column(self) -> posts::Column {
        match self {
            SortKey::Created => posts::Column::CreatedAt,
            SortKey::Updated => posts::Column::UpdatedAt,
            SortKey::Scheduled => posts::Column::ScheduledAt,
            SortKey::Title => posts::Column::Title,
        }
    }

    fn value_of(self, p: &posts::Model) -> String {
        match self {
            SortKey::Created => p.created_at.to_rfc3339(),
            SortKey::Updated => p.updated_at.to_rfc3339(),
            SortKey::Scheduled => p.scheduled_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            SortKey::Title => p.title.clone(),
        }
    }

    /// `(col, id)` strictly after the cursor in the given order.
    fn after(self, order: &Order, c: &Cursor) -> Result<Condition, ApiError> {
        let bad = || ApiError::BadRequest("invalid_cursor", "the cursor is malformed".into());
        let col = self.column();
        let (gt, eq): (SimpleExpr, SimpleExpr) = if self == SortKey::Title {
            let v = c.v.clone();
            match order {
                Order::Desc => (col.lt(v.clone()), col.eq(v)),
                _ => (col.gt(v.clone()), col.eq(v)),
            }
        } else {
            let v: DateTime<Utc> = DateTime::parse_from_rfc3339(&c.v)
                .map_err(|_| bad())?
                .with_timezone(&Utc);
            match order {
                Order::Desc => (col.lt(v), col.eq(v)),
                _ => (col.gt(v), col.eq(v)),
            }
        };
        let id_after = match order {
            Order::Desc => posts::Column::Id.lt(c.id),
            _ => posts::Column::Id.gt(c.id),
        };
        Ok(Condition::any()
            .add(gt)
            .add(Condition::all().add(eq).add(id_after)))
    }
}

#[utoipa::path(get, path = "/api/workspaces/{id}/posts", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path), ListQuery),
    responses((status = 200, body = PostPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_posts(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::PostViewShared)?;
    let q = query.into_inner();
    let mut errs = FieldErrors::default();
    let sort_raw = q.sort.clone().unwrap_or_else(|| "-created_at".into());
    let (key, order) = SortKey::parse(&sort_raw).unwrap_or_else(|| {
        errs.add(
            "sort",
            "use created_at, updated_at, scheduled_at or title, with - for descending",
        );
        (SortKey::Created, Order::Desc)
    });
    let limit = q.limit.unwrap_or(25);
    errs.check(
        (1..=100).contains(&limit),
        "limit",
        "must be between 1 and 100",
    );

    let mut cond = Condition::all().add(posts::Column::WorkspaceId.eq(m.workspace.id));
    if !m.can(Action::PostViewAll) {
        cond = cond.add(posts::Column::ClientVisible.eq(true));
    }
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        let list: Vec<String> = s.split(',').map(|x| x.trim().to_string()).collect();
        errs.check(
            list.iter().all(|x| PostStatus::parse(x).is_some()),
            "status",
            &format!("unknown status; use {}", PostStatus::list()),
        );
        cond = cond.add(posts::Column::Status.is_in(list));
    }
    if let Some(p) = q.platform.as_deref().filter(|s| !s.is_empty()) {
        errs.check(Platform::parse(p).is_some(), "platform", "unknown platform");
        cond = cond.add(like(
            posts::Column::PlatformsIndex,
            format!("%|{}|%", like_escape(&p.to_lowercase())),
        ));
    }
    if let Some(t) = q.tag.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(like(
            posts::Column::TagsIndex,
            format!("%|{}|%", like_escape(&t.trim().to_lowercase())),
        ));
    }
    if let Some(c) = q.campaign.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(posts::Column::Campaign.eq(c.trim()));
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        errs.check(
            text.chars().count() <= 200,
            "q",
            "must be at most 200 characters",
        );
        cond = cond.add(like(
            posts::Column::SearchText,
            format!("%{}%", like_escape(&text.to_lowercase())),
        ));
    }
    if let Some(t) = q.created_from {
        cond = cond.add(posts::Column::CreatedAt.gte(t));
    }
    if let Some(t) = q.created_to {
        cond = cond.add(posts::Column::CreatedAt.lt(t));
    }
    if let Some(t) = q.scheduled_from {
        cond = cond.add(posts::Column::ScheduledAt.gte(t));
    }
    if let Some(t) = q.scheduled_to {
        cond = cond.add(posts::Column::ScheduledAt.lt(t));
    }
    if key == SortKey::Scheduled {
        cond = cond.add(posts::Column::ScheduledAt.is_not_null());
    }
    if let Some(raw) = &q.cursor {
        let c: Option<Cursor> = URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        match c {
            Some(c) if c.s == sort_raw => cond = cond.add(key.after(&order, &c)?),
            Some(_) => errs.add(
                "cursor",
                "belongs to another sort order; start again without a cursor",
            ),
            None => errs.add("cursor", "is malformed"),
        }
    }
    errs.into_result()?;

    let mut rows = posts::Entity::find()
        .filter(cond)
        .order_by(key.column(), order.clone())
        .order_by(posts::Column::Id, order)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|last| {
            let c = Cursor {
                s: sort_raw.clone(),
                v: key.value_of(last),
                id: last.id,
            };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default())
        })
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(PostPage {
        items: rows.iter().map(PostView::from).collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_escape() {
        assert_eq!(index_of(["A", "b c"].into_iter()), "|a|b c|");
        assert_eq!(index_of(std::iter::empty()), "|");
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn sort_keys() {
        assert!(SortKey::parse("-created_at").is_some());
        assert!(SortKey::parse("title").is_some());
        assert!(SortKey::parse("password_hash").is_none());
    }
}
