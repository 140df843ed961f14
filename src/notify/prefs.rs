//! Preferences: per type and channel (rows only for overrides of the defaults), and the
//! user's email digest setting (`notification_settings`).

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, FromQueryResult};
use serde_json::Value;
use uuid::Uuid;

use super::types::{Channels, NotificationType, DIGEST_DAILY, DIGEST_OFF};
use super::views::{PreferenceView, Preferences};
use crate::error::ApiError;
use crate::jobs::store::stmt;

#[derive(FromQueryResult)]
struct Row {
    kind: String,
    in_app: bool,
    email: bool,
    push: bool,
}

#[derive(FromQueryResult)]
struct DigestRow {
    email_digest: String,
}

/// Every type's channels for `user` (defaults with their overrides applied).
pub async fn channels<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
) -> Result<HashMap<NotificationType, Channels>, ApiError> {
    let rows = Row::find_by_statement(stmt(
        db,
        "SELECT \"type\" AS kind, in_app, email, push FROM notification_preferences WHERE user_id = $1",
        vec![user.into()],
    ))
    .all(db)
    .await?;
    let mut out: HashMap<_, _> = NotificationType::ALL
        .into_iter()
        .map(|t| (t, t.defaults()))
        .collect();
    for r in rows {
        if let Some(t) = NotificationType::parse(&r.kind) {
            out.insert(
                t,
                Channels {
                    in_app: r.in_app,
                    email: r.email,
                    push: r.push,
                },
            );
        }
    }
    Ok(out)
}

/// `off` or `daily`.
pub async fn digest<C: ConnectionTrait>(db: &C, user: Uuid) -> Result<String, ApiError> {
    let row = DigestRow::find_by_statement(stmt(
        db,
        "SELECT email_digest FROM notification_settings WHERE user_id = $1",
        vec![user.into()],
    ))
    .one(db)
    .await?;
    Ok(row.map_or_else(|| DIGEST_OFF.to_string(), |r| r.email_digest))
}

pub async fn view<C: ConnectionTrait>(db: &C, user: Uuid) -> Result<Preferences, ApiError> {
    let ch = channels(db, user).await?;
    Ok(Preferences {
        types: NotificationType::ALL
            .into_iter()
            .map(|t| {
                let c = ch[&t];
                PreferenceView {
                    kind: t,
                    label: t.label().to_string(),
                    in_app: c.in_app,
                    email: c.email,
                    push: c.push,
                }
            })
            .collect(),
        email_digest: digest(db, user).await?,
    })
}

fn unprocessable(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(code, msg.into())
}

/// A parsed `PUT /api/notifications/preferences` body: the channels to change per type and
/// the digest setting, both optional.
pub struct Update {
    pub types: Vec<(NotificationType, [Option<bool>; 3])>,
    pub email_digest: Option<String>,
}

/// Parses the body by hand so that an unknown type or channel answers 422 naming it (serde
/// would answer a generic 400).
pub fn parse_update(body: &Value) -> Result<Update, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("invalid_body", "expected a JSON object".into()))?;
    let mut update = Update {
        types: Vec::new(),
        email_digest: None,
    };
    for (k, v) in obj {
        match k.as_str() {
            _ if v.is_null() => {} // null: unchanged
            "types" => {
                let items = v.as_array().ok_or_else(|| {
                    unprocessable("invalid_preferences", "types: must be an array")
                })?;
                for item in items {
                    update.types.push(parse_item(item)?);
                }
            }
            "email_digest" => match v.as_str() {
                Some(d @ (DIGEST_OFF | DIGEST_DAILY)) => update.email_digest = Some(d.into()),
                _ => {
                    return Err(unprocessable(
                        "invalid_email_digest",
                        "email_digest: must be off or daily",
                    ))
                }
            },
            other => {
                return Err(unprocessable(
                    "unknown_field",
                    format!("{other:?} is not a preference (types, email_digest)"),
                ))
            }
        }
    }
    Ok(update)
}

fn parse_item(item: &Value) -> Result<(NotificationType, [Option<bool>; 3]), ApiError> {
    let obj = item.as_object().ok_or_else(|| {
        unprocessable("invalid_preferences", "types: each entry must be an object")
    })?;
    let name = obj.get("type").and_then(Value::as_str).ok_or_else(|| {
        unprocessable("invalid_preferences", "types: each entry needs a \"type\"")
    })?;
    let t = NotificationType::parse(name).ok_or_else(|| {
        unprocessable(
            "unknown_notification_type",
            format!("{name:?} is not a notification type"),
        )
    })?;
    let mut channels = [None; 3];
    for (k, v) in obj {
        let slot = match k.as_str() {
            "type" => continue,
            // The GET shape may be sent back: its label is ignored, but must be text.
            "label" if v.is_string() || v.is_null() => continue,
            "label" => {
                return Err(unprocessable(
                    "invalid_preferences",
                    format!("{name}.label: must be text"),
                ))
            }
            _ if v.is_null() => continue,
            "in_app" => 0,
            "email" => 1,
            "push" => 2,
            other => {
                return Err(unprocessable(
                    "unknown_channel",
                    format!("{other:?} is not a channel (in_app, email, push)"),
                ))
            }
        };
        channels[slot] = Some(v.as_bool().ok_or_else(|| {
            unprocessable(
                "invalid_preferences",
                format!("{name}.{k}: must be true or false"),
            )
        })?);
    }
    Ok((t, channels))
}

/// Applies `u` for `user` (in the caller's transaction). A type whose channels end up equal
/// to its defaults loses its row.
pub async fn apply<C: ConnectionTrait>(db: &C, user: Uuid, u: &Update) -> Result<(), ApiError> {
    let current = channels(db, user).await?;
    for (t, [in_app, email, push]) in &u.types {
        let c = current[t];
        let next = Channels {
            in_app: in_app.unwrap_or(c.in_app),
            email: email.unwrap_or(c.email),
            push: push.unwrap_or(c.push),
        };
        db.execute_raw(stmt(
            db,
            "DELETE FROM notification_preferences WHERE user_id = $1 AND \"type\" = $2",
            vec![user.into(), t.as_str().into()],
        ))
        .await?;
        if next != t.defaults() {
            db.execute_raw(stmt(
                db,
                "INSERT INTO notification_preferences (user_id, \"type\", in_app, email, push) VALUES ($1, $2, $3, $4, $5)",
                vec![user.into(), t.as_str().into(), next.in_app.into(), next.email.into(), next.push.into()],
            ))
            .await?;
        }
    }
    if let Some(d) = &u.email_digest {
        set_digest(db, user, d).await?;
    }
    Ok(())
}

pub async fn set_digest<C: ConnectionTrait>(db: &C, user: Uuid, d: &str) -> Result<(), ApiError> {
    db.execute_raw(stmt(
        db,
        "INSERT INTO notification_settings (user_id, email_digest, last_digest_at) VALUES ($1, $2, NULL) \
         ON CONFLICT (user_id) DO UPDATE SET email_digest = excluded.email_digest",
        vec![user.into(), d.to_string().into()],
    ))
    .await?;
    Ok(())
}

/// Turns one channel of one type off (the unsubscribe link).
/// The digest's one-click unsubscribe: no more notification email at all — the digest off,
/// and every type's email off (turning the digest off alone would start single emails).
pub async fn turn_off_digest<C: ConnectionTrait>(db: &C, user: Uuid) -> Result<(), ApiError> {
    let u = Update {
        types: NotificationType::ALL
            .iter()
            .map(|t| (*t, [None, Some(false), None]))
            .collect(),
        email_digest: Some(DIGEST_OFF.into()),
    };
    apply(db, user, &u).await
}

pub async fn turn_off_email<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
    t: NotificationType,
) -> Result<(), ApiError> {
    let u = Update {
        types: vec![(t, [None, Some(false), None])],
        email_digest: None,
    };
    apply(db, user, &u).await
}
