//! The rules and queries behind the workspaces themselves: slugs, the caller's list,
//! create, rename, delete — each write one [`UnitOfWork`]. Members are in
//! [`super::members`], invitations in [`super::invites`].

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::views::WorkspaceView;
use crate::access::AccessChange;
use crate::auth::extract::RequestMeta;
use crate::error::{ApiError, FieldErrors};
use crate::events::catalogue::WorkspaceEvent;
use crate::events::{EventType, UnitOfWork};
use crate::roles::Role;
use crate::state::AppState;
use crate::store::entities::{users, workspace_members, workspaces};

/// Lowercase ASCII letters, digits and single dashes; 2–63 characters.
pub fn valid_slug(s: &str) -> bool {
    (2..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut s: String = out.trim_end_matches('-').chars().take(50).collect();
    s = s.trim_end_matches('-').to_string();
    if s.len() < 2 {
        s = format!("workspace-{}", &Uuid::new_v4().simple().to_string()[..6]);
    }
    s
}

/// Checks a workspace's name and slug, whichever are given.
pub fn check_fields(name: Option<&str>, slug: Option<&str>) -> Result<(), ApiError> {
    let mut errs = FieldErrors::default();
    if let Some(n) = name.map(str::trim) {
        errs.check(
            !n.is_empty() && n.chars().count() <= 100,
            "name",
            "must be 1–100 characters",
        );
    }
    if let Some(s) = slug {
        errs.check(
            valid_slug(s),
            "slug",
            "use 2–63 lowercase letters, digits and single dashes",
        );
    }
    errs.into_result()
}

fn slug_conflict(s: &str) -> ApiError {
    ApiError::Conflict("slug_taken", format!("the slug {s:?} is taken"))
}

async fn slug_taken<C: ConnectionTrait>(
    db: &C,
    slug: &str,
    except: Option<Uuid>,
) -> Result<bool, ApiError> {
    let mut q = workspaces::Entity::find().filter(workspaces::Column::Slug.eq(slug));
    if let Some(id) = except {
        q = q.filter(workspaces::Column::Id.ne(id));
    }
    Ok(q.count(db).await? > 0)
}

fn workspace_event(ws: &workspaces::Model, with_slug: bool) -> WorkspaceEvent {
    WorkspaceEvent {
        workspace_id: ws.id,
        name: ws.name.clone(),
        slug: with_slug.then(|| ws.slug.clone()),
    }
}

fn workspace_target(id: Uuid) -> crate::events::Target {
    ("workspace", Some(id.to_string()))
}

/// The user's workspaces with their role in each; every workspace for a super admin when
/// `all_for_admin`.
pub async fn list_for<C: ConnectionTrait>(
    db: &C,
    user: &users::Model,
    all_for_admin: bool,
) -> Result<Vec<WorkspaceView>, ApiError> {
    if user.is_super_admin && all_for_admin {
        let all = workspaces::Entity::find()
            .order_by_asc(workspaces::Column::Name)
            .all(db)
            .await?;
        return Ok(all
            .iter()
            .map(|w| WorkspaceView::new(w, Role::SuperAdmin))
            .collect());
    }
    let members = workspace_members::Entity::find()
        .filter(workspace_members::Column::UserId.eq(user.id))
        .all(db)
        .await?;
    let ids: Vec<Uuid> = members.iter().map(|m| m.workspace_id).collect();
    let list = workspaces::Entity::find()
        .filter(workspaces::Column::Id.is_in(ids))
        .order_by_asc(workspaces::Column::Name)
        .all(db)
        .await?;
    Ok(list
        .iter()
        .map(|w| {
            let role = members
                .iter()
                .find(|m| m.workspace_id == w.id)
                .and_then(|m| Role::parse(&m.role))
                .unwrap_or(Role::Client);
            let role = if user.is_super_admin {
                Role::SuperAdmin
            } else {
                role
            };
            WorkspaceView::new(w, role)
        })
        .collect())
}

/// Creates a workspace with `user_id` as its admin (`workspace.created`). Without a slug,
/// one is derived from the name (made unique).
pub async fn create(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    name: &str,
    slug: Option<String>,
) -> Result<workspaces::Model, ApiError> {
    check_fields(Some(name), slug.as_deref())?;
    let slug = match slug {
        Some(s) if slug_taken(&state.db, &s, None).await? => return Err(slug_conflict(&s)),
        Some(s) => s,
        None => {
            let base = slugify(name);
            if slug_taken(&state.db, &base, None).await? {
                format!("{base}-{}", &Uuid::new_v4().simple().to_string()[..6])
            } else {
                base
            }
        }
    };
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let now = uow.now();
    let ws = workspaces::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.trim().to_string()),
        slug: Set(slug),
        approval_mode: Set("optional".into()),
        created_by: Set(Some(user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(uow.txn())
    .await
    .map_err(|e| match ApiError::from(e) {
        ApiError::Conflict(..) => ApiError::Conflict("slug_taken", "that slug is taken".into()),
        other => other,
    })?;
    workspace_members::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws.id),
        user_id: Set(user_id),
        role: Set(Role::WorkspaceAdmin.as_str().into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(uow.txn())
    .await?;
    uow.record(
        EventType::WorkspaceCreated,
        Some(ws.id),
        workspace_target(ws.id),
        &workspace_event(&ws, true),
    )
    .await?;
    uow.commit().await?;
    Ok(ws)
}

/// Renames the workspace or changes its slug (`workspace.updated`).
pub async fn update(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    ws: &workspaces::Model,
    name: Option<String>,
    slug: Option<String>,
    approval_mode: Option<crate::approvals::ApprovalMode>,
) -> Result<workspaces::Model, ApiError> {
    check_fields(name.as_deref(), slug.as_deref())?;
    if let Some(mode) = approval_mode {
        crate::approvals::workflow::check_mode(&state.db, ws.id, mode).await?;
    }
    if let Some(s) = &slug {
        if slug_taken(&state.db, s, Some(ws.id)).await? {
            return Err(slug_conflict(s));
        }
    }
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let mut active = ws.clone().into_active_model();
    if let Some(n) = name {
        active.name = Set(n.trim().to_string());
    }
    if let Some(s) = slug {
        active.slug = Set(s);
    }
    if let Some(mode) = approval_mode {
        active.approval_mode = Set(mode.as_str().into());
    }
    active.updated_at = Set(uow.now());
    let ws = active.update(uow.txn()).await?;
    uow.record(
        EventType::WorkspaceUpdated,
        Some(ws.id),
        workspace_target(ws.id),
        &workspace_event(&ws, true),
    )
    .await?;
    uow.commit().await?;
    Ok(ws)
}

/// Deletes the workspace with everything in it (`workspace.deleted`); live documents close
/// and every open socket on it re-checks (and loses it).
pub async fn delete(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    ws: &workspaces::Model,
) -> Result<(), ApiError> {
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    // The live documents' rows first, in an append's lock order (head, snapshot), as a post's
    // deletion does: the cascade from the workspace would lock the post rows first, and an
    // append holding its head row then waits on its post row (the log's foreign key) while
    // the cascade waits on the head row — a deadlock on PostgreSQL.
    for table in ["post_doc_heads", "post_doc_snapshots"] {
        uow.txn()
            .execute_raw(crate::jobs::store::stmt(
                uow.txn(),
                &format!(
                    "DELETE FROM {table} WHERE post_id IN (SELECT id FROM posts WHERE workspace_id = $1)"
                ),
                vec![ws.id.into()],
            ))
            .await?;
    }
    workspaces::Entity::delete_by_id(ws.id)
        .exec(uow.txn())
        .await?;
    uow.record(
        EventType::WorkspaceDeleted,
        Some(ws.id),
        workspace_target(ws.id),
        &workspace_event(ws, false),
    )
    .await?;
    uow.access_changed(AccessChange::Workspace {
        workspace_id: ws.id,
    });
    uow.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Acme Social — Q3!"), "acme-social-q3");
        assert!(valid_slug("acme-2"));
        assert!(!valid_slug("Acme"));
        assert!(!valid_slug("-a"));
        assert!(!valid_slug("a--b"));
        assert!(slugify("!!").starts_with("workspace-"));
    }
}
