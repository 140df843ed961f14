//! The activity feed: `GET /api/workspaces/:id/activity`, read straight from the `events`
//! outbox — the same rows the live stream and webhooks are fed from, so the feed can never
//! show something that did not commit, nor miss something that did.
//!
//! Newest first, keyset-paginated by the outbox's `seq` (`seq < cursor`), so events written
//! while someone pages are never repeated or skipped. Account-level events (`session.*`,
//! `user.*`) are not workspace activity and never appear. Only the team sees the feed
//! (`Action::ActivityView`); clients get 403, which also keeps internal comments — whose
//! events carry the whole comment — away from them.

use std::collections::{HashMap, HashSet};

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::extract::AuthUser;
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::roles::Action;
use crate::state::AppState;
use crate::store::entities::{events, users};
use crate::workspaces::access::membership;

/// A person as other people see them: who wrote, who acted.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserRef {
    pub id: Uuid,
    pub name: String,
}

/// Names for a set of user ids, in one query. Ids of deleted accounts are absent.
pub async fn user_refs<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, UserRef>, ApiError> {
    let ids: HashSet<Uuid> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|u| {
            (
                u.id,
                UserRef {
                    id: u.id,
                    name: u.name,
                },
            )
        })
        .collect())
}

/// Event type prefixes that are about accounts, not workspaces; never shown in a feed.
const HIDDEN_PREFIXES: [&str; 3] = ["session.", "user.", "notification."];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// 1–100, default 50.
    pub limit: Option<u64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    /// An exact event type (`comment.created`) or a prefix ending in `.*` (`post.*`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only events about this post (their `data.post_id`).
    pub post_id: Option<Uuid>,
}

/// One entry of the feed: an outbox event with its actor's name.
#[derive(Serialize, ToSchema)]
pub struct ActivityItem {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[schema(rename = "type", example = "comment.created")]
    pub event_type: String,
    pub workspace_id: Option<Uuid>,
    /// Who did it; `null` for the system or a deleted account.
    pub actor: Option<UserRef>,
    /// The event's payload, as delivered live and to webhooks.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ActivityPage {
    pub items: Vec<ActivityItem>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Checks a `type` filter: lowercase names with dots and underscores, optionally ending in
/// `.*`. Returns the condition it stands for.
fn type_filter(raw: &str) -> Option<Condition> {
    let (name, prefix) = match raw.strip_suffix(".*") {
        Some(p) => (p, true),
        None => (raw, false),
    };
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        && !name.starts_with('.')
        && !name.ends_with('.');
    if !ok {
        return None;
    }
    let col = events::Column::EventType;
    Some(if prefix {
        // `_` is a LIKE wildcard; escape it so `post_x.*` means exactly that.
        let pattern = format!("{}.%", name.replace('_', "\\_"));
        Condition::all().add(col.like(LikeExpr::new(pattern).escape('\\')))
    } else {
        Condition::all().add(col.eq(name))
    })
}

/// `data.post_id = <id>`, in each backend's JSON dialect (the column is `json` on
/// PostgreSQL and JSON text on SQLite).
fn about_post(backend: DbBackend, post_id: Uuid) -> Expr {
    let sql = match backend {
        DbBackend::Postgres => r#"("events"."data" ->> 'post_id') = $1"#,
        _ => r#"json_extract("events"."data", '$.post_id') = ?"#,
    };
    Expr::cust_with_values(sql, [post_id.to_string()])
}

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(seq.to_string())
}

fn decode_cursor(raw: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

#[utoipa::path(get, path = "/api/workspaces/{id}/activity", tag = "activity", security(("bearer" = [])),
    params(("id" = Uuid, Path), ActivityQuery),
    responses((status = 200, body = ActivityPage, description = "Newest first"), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_activity(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::ActivityView)?;
    let q = query.into_inner();
    let mut errs = FieldErrors::default();
    let limit = q.limit.unwrap_or(50);
    errs.check(
        (1..=100).contains(&limit),
        "limit",
        "must be between 1 and 100",
    );
    let mut cond = Condition::all().add(events::Column::WorkspaceId.eq(m.workspace.id));
    for p in HIDDEN_PREFIXES {
        cond = cond.add(events::Column::EventType.not_like(format!("{p}%")));
    }
    if let Some(t) = q.event_type.as_deref().filter(|s| !s.is_empty()) {
        match type_filter(t) {
            Some(c) => cond = cond.add(c),
            None => errs.add(
                "type",
                "use an event type such as comment.created, or a prefix such as post.*",
            ),
        }
    }
    if let Some(pid) = q.post_id {
        cond = cond.add(about_post(state.db.get_database_backend(), pid));
    }
    if let Some(raw) = &q.cursor {
        match decode_cursor(raw) {
            Some(seq) => cond = cond.add(events::Column::Seq.lt(seq)),
            None => errs.add("cursor", "is malformed"),
        }
    }
    errs.into_result()?;

    let mut rows = events::Entity::find()
        .filter(cond)
        .order_by_desc(events::Column::Seq)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|e| encode_cursor(e.seq))
    } else {
        None
    };
    let names = user_refs(&state.db, rows.iter().filter_map(|e| e.actor_id)).await?;
    let items = rows
        .into_iter()
        .map(|e| ActivityItem {
            id: e.id,
            actor: e.actor_id.and_then(|a| names.get(&a).cloned()),
            event_type: e.event_type,
            workspace_id: e.workspace_id,
            data: e.data,
            at: e.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ActivityPage { items, next_cursor }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{id}/activity", web::get().to(list_activity));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters() {
        assert!(type_filter("post.created").is_some());
        assert!(type_filter("post.*").is_some());
        assert!(type_filter("comment.reaction_added").is_some());
        for bad in [
            "",
            ".*",
            "post.",
            "Post.created",
            "post.%",
            "post;drop",
            "*",
            "a.*.*",
        ] {
            assert!(type_filter(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("%%%"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("x")), None);
    }
}
