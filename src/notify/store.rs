//! The `notifications` table: insert (once per event, user and type), list with a cursor,
//! count unread, mark read. Lists only show notifications of workspaces the user is still a
//! member of.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};
use uuid::Uuid;

use super::types::NotificationType;
use super::views::{NotificationActor, NotificationView};
use crate::error::ApiError;
use crate::jobs::store::stmt;

/// A notification to store.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub kind: NotificationType,
    pub title: String,
    pub body: String,
    pub url: String,
    pub post_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub event_id: Uuid,
    pub in_app: bool,
    pub created_at: DateTime<Utc>,
}

impl NewNotification {
    pub fn view(&self) -> NotificationView {
        NotificationView {
            id: self.id,
            kind: self.kind,
            workspace_id: self.workspace_id,
            post_id: self.post_id,
            title: self.title.clone(),
            body: self.body.clone(),
            url: self.url.clone(),
            read_at: None,
            created_at: self.created_at,
            actor: self.actor_name.clone().map(|name| NotificationActor {
                user_id: self.actor_user_id,
                name,
            }),
        }
    }
}

/// Stores `n` unless this event already notified this user of this type; whether it did.
pub async fn insert<C: ConnectionTrait>(db: &C, n: &NewNotification) -> Result<bool, ApiError> {
    // Kept only for email/push: already read, never listed.
    let read_at = (!n.in_app).then_some(n.created_at);
    let res = db
        .execute_raw(stmt(
            db,
            "INSERT INTO notifications (id, user_id, workspace_id, \"type\", title, body, url, post_id, \
             actor_user_id, actor_name, event_id, in_app, read_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (event_id, user_id, \"type\") DO NOTHING",
            vec![
                n.id.into(),
                n.user_id.into(),
                n.workspace_id.into(),
                n.kind.as_str().into(),
                n.title.clone().into(),
                n.body.clone().into(),
                n.url.clone().into(),
                n.post_id.into(),
                n.actor_user_id.into(),
                n.actor_name.clone().into(),
                n.event_id.into(),
                n.in_app.into(),
                read_at.into(),
                n.created_at.into(),
            ],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

#[derive(FromQueryResult, Clone, Debug)]
pub struct Row {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub url: String,
    pub post_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub in_app: bool,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub const COLUMNS: &str =
    "n.id, n.user_id, n.workspace_id, n.\"type\" AS kind, n.title, n.body, n.url, \
    n.post_id, n.actor_user_id, n.actor_name, n.in_app, n.read_at, n.created_at";

/// Listed: in-app, and of a workspace the user is still a member of.
const VISIBLE: &str =
    "n.user_id = $1 AND n.in_app = $2 AND EXISTS (SELECT 1 FROM workspace_members m \
    WHERE m.workspace_id = n.workspace_id AND m.user_id = n.user_id)";

impl Row {
    pub fn kind(&self) -> Option<NotificationType> {
        NotificationType::parse(&self.kind)
    }

    pub fn view(&self) -> Option<NotificationView> {
        Some(NotificationView {
            id: self.id,
            kind: self.kind()?,
            workspace_id: self.workspace_id,
            post_id: self.post_id,
            title: self.title.clone(),
            body: self.body.clone(),
            url: self.url.clone(),
            read_at: self.read_at,
            created_at: self.created_at,
            actor: self.actor_name.clone().map(|name| NotificationActor {
                user_id: self.actor_user_id,
                name,
            }),
        })
    }
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Row>, ApiError> {
    Ok(Row::find_by_statement(stmt(
        db,
        &format!("SELECT {COLUMNS} FROM notifications n WHERE n.id = $1"),
        vec![id.into()],
    ))
    .one(db)
    .await?)
}

/// A page cursor: the last row's time (µs) and id, base64url.
pub fn cursor(r: &Row) -> String {
    B64.encode(format!(
        "{}:{}",
        r.created_at.timestamp_micros(),
        r.id.simple()
    ))
}

pub fn parse_cursor(s: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let raw = String::from_utf8(B64.decode(s).ok()?).ok()?;
    let (t, id) = raw.split_once(':')?;
    Some((
        DateTime::from_timestamp_micros(t.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

/// Newest first; `limit + 1` rows are read to know whether there is a next page.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
    unread: bool,
    limit: u64,
    before: Option<(DateTime<Utc>, Uuid)>,
) -> Result<(Vec<Row>, bool), ApiError> {
    let mut sql = format!("SELECT {COLUMNS} FROM notifications n WHERE {VISIBLE}");
    let mut values: Vec<sea_orm::Value> = vec![user.into(), true.into()];
    if unread {
        sql.push_str(" AND n.read_at IS NULL");
    }
    if let Some((t, id)) = before {
        sql.push_str(" AND (n.created_at < $3 OR (n.created_at = $3 AND n.id < $4))");
        values.push(t.into());
        values.push(id.into());
    }
    sql.push_str(&format!(
        " ORDER BY n.created_at DESC, n.id DESC LIMIT {}",
        limit + 1
    ));
    let mut rows = Row::find_by_statement(stmt(db, &sql, values))
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

pub async fn unread_count<C: ConnectionTrait>(db: &C, user: Uuid) -> Result<i64, ApiError> {
    let c = Count::find_by_statement(stmt(
        db,
        &format!("SELECT COUNT(*) AS n FROM notifications n WHERE {VISIBLE} AND n.read_at IS NULL"),
        vec![user.into(), true.into()],
    ))
    .one(db)
    .await?;
    Ok(c.map_or(0, |c| c.n))
}

/// Marks one of the user's notifications read; 404 for anyone else's (or unknown) id.
pub async fn mark_read<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let found = Count::find_by_statement(stmt(
        db,
        &format!("SELECT COUNT(*) AS n FROM notifications n WHERE {VISIBLE} AND n.id = $3"),
        vec![user.into(), true.into(), id.into()],
    ))
    .one(db)
    .await?
    .is_some_and(|c| c.n == 1);
    if !found {
        return Err(ApiError::NotFound("notification"));
    }
    db.execute_raw(stmt(
        db,
        "UPDATE notifications SET read_at = $3 WHERE id = $1 AND user_id = $2 AND read_at IS NULL",
        vec![id.into(), user.into(), now.into()],
    ))
    .await?;
    Ok(())
}

/// Marks every unread notification of the user read; how many.
pub async fn mark_all_read<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<i64, ApiError> {
    let res = db
        .execute_raw(stmt(
            db,
            &format!(
                "UPDATE notifications SET read_at = $3 WHERE id IN \
                 (SELECT n.id FROM notifications n WHERE {VISIBLE} AND n.read_at IS NULL)"
            ),
            vec![user.into(), true.into(), now.into()],
        ))
        .await?;
    Ok(res.rows_affected() as i64)
}
