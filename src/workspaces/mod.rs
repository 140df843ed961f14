//! Workspaces, members and invitations: `/api/workspaces[/:id[/members[/:user_id]]]`,
//! `/api/users/workspaces`, `/api/invitations/accept`.

pub mod access;
pub mod invites;

use actix_web::{web, HttpResponse};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::{self as live_access, AccessChange};
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::auth::{accounts, normalize_email, tokens};
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::events::{self, Change};
use crate::mail::Email;
use crate::roles::{Action, Role};
use crate::state::AppState;
use crate::store::entities::{invitations, users, workspace_members, workspaces};
use access::{membership, Membership};

#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// The caller's role here.
    pub role: Role,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl WorkspaceView {
    fn new(w: &workspaces::Model, role: Role) -> Self {
        Self {
            id: w.id,
            name: w.name.clone(),
            slug: w.slug.clone(),
            role,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct WorkspaceCreate {
    pub name: String,
    /// Lowercase letters, digits and dashes; derived from the name when absent.
    pub slug: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct WorkspaceUpdate {
    pub name: Option<String>,
    pub slug: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: chrono::DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub expires_at: chrono::DateTime<Utc>,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<&invitations::Model> for InvitationView {
    fn from(i: &invitations::Model) -> Self {
        Self {
            id: i.id,
            email: i.email.clone(),
            role: Role::parse(&i.role).unwrap_or(Role::Client),
            expires_at: i.expires_at,
            created_at: i.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MembersResponse {
    pub members: Vec<MemberView>,
    /// Pending invitations (shown to those who manage members).
    pub invitations: Vec<InvitationView>,
}

#[derive(Deserialize, ToSchema)]
pub struct MemberAdd {
    pub email: String,
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
pub struct MemberRoleUpdate {
    pub role: Role,
}

/// Always `invited`: an invitation was emailed (whether or not the address has an account).
#[derive(Serialize, ToSchema)]
pub struct MemberAddResponse {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InvitationView>,
}

#[derive(Deserialize, ToSchema)]
pub struct InvitationAccept {
    pub token: String,
}

/// Lowercase ASCII letters, digits and single dashes; 2–63 characters.
fn valid_slug(s: &str) -> bool {
    (2..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn slugify(name: &str) -> String {
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

fn check_name(errs: &mut FieldErrors, name: &str) {
    let n = name.trim();
    errs.check(
        !n.is_empty() && n.chars().count() <= 100,
        "name",
        "must be 1–100 characters",
    );
}

async fn slug_taken(state: &AppState, slug: &str, except: Option<Uuid>) -> Result<bool, ApiError> {
    let mut q = workspaces::Entity::find().filter(workspaces::Column::Slug.eq(slug));
    if let Some(id) = except {
        q = q.filter(workspaces::Column::Id.ne(id));
    }
    Ok(q.count(&state.db).await? > 0)
}

async fn list_for(
    state: &AppState,
    user: &users::Model,
    all_for_admin: bool,
) -> Result<Vec<WorkspaceView>, ApiError> {
    if user.is_super_admin && all_for_admin {
        let all = workspaces::Entity::find()
            .order_by_asc(workspaces::Column::Name)
            .all(&state.db)
            .await?;
        return Ok(all
            .iter()
            .map(|w| WorkspaceView::new(w, Role::SuperAdmin))
            .collect());
    }
    let members = workspace_members::Entity::find()
        .filter(workspace_members::Column::UserId.eq(user.id))
        .all(&state.db)
        .await?;
    let ids: Vec<Uuid> = members.iter().map(|m| m.workspace_id).collect();
    let list = workspaces::Entity::find()
        .filter(workspaces::Column::Id.is_in(ids))
        .order_by_asc(workspaces::Column::Name)
        .all(&state.db)
        .await?;
    Ok(list
        .iter()
        .map(|w| {
            let role = members
                .iter()
                .find(|m| m.workspace_id == w.id)
                .and_then(|m| Role::parse(&m.role))
                .unwrap_or(Role::Client);
            WorkspaceView::new(
                w,
                if user.is_super_admin {
                    Role::SuperAdmin
                } else {
                    role
                },
            )
        })
        .collect())
}

#[utoipa::path(get, path = "/api/workspaces", tag = "workspaces", security(("bearer" = [])),
    responses((status = 200, body = [WorkspaceView], description = "Your workspaces (all of them for a super admin)")))]
pub async fn list_workspaces(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(list_for(&state, &user.0, true).await?))
}

#[utoipa::path(get, path = "/api/users/workspaces", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [WorkspaceView], description = "The workspaces you are a member of")))]
pub async fn my_workspaces(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(list_for(&state, &user.0, false).await?))
}

#[utoipa::path(post, path = "/api/workspaces", tag = "workspaces", security(("bearer" = [])), request_body = WorkspaceCreate,
    responses((status = 201, body = WorkspaceView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_workspace(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    body: web::Json<WorkspaceCreate>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let mut errs = FieldErrors::default();
    check_name(&mut errs, &req.name);
    if let Some(s) = &req.slug {
        errs.check(
            valid_slug(s),
            "slug",
            "use 2–63 lowercase letters, digits and single dashes",
        );
    }
    errs.into_result()?;
    let slug = match req.slug {
        Some(s) => {
            if slug_taken(&state, &s, None).await? {
                return Err(ApiError::Conflict(
                    "slug_taken",
                    format!("the slug {s:?} is taken"),
                ));
            }
            s
        }
        None => {
            let base = slugify(&req.name);
            if slug_taken(&state, &base, None).await? {
                format!("{base}-{}", &Uuid::new_v4().simple().to_string()[..6])
            } else {
                base
            }
        }
    };
    let now = Utc::now();
    let txn = crate::store::begin(&state.db).await?;
    let ws = workspaces::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(req.name.trim().to_string()),
        slug: Set(slug),
        created_by: Set(Some(user.id())),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| match ApiError::from(e) {
        ApiError::Conflict(..) => ApiError::Conflict("slug_taken", "that slug is taken".into()),
        other => other,
    })?;
    workspace_members::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws.id),
        user_id: Set(user.id()),
        role: Set(Role::WorkspaceAdmin.as_str().into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let ev = events::record(
        &txn,
        Change {
            workspace_id: Some(ws.id),
            actor_id: Some(user.id()),
            event_type: "workspace.created",
            target_type: "workspace",
            target_id: Some(ws.id.to_string()),
            data: json!({ "workspace_id": ws.id, "name": ws.name, "slug": ws.slug }),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    Ok(HttpResponse::Created().json(WorkspaceView::new(&ws, Role::WorkspaceAdmin)))
}

#[utoipa::path(get, path = "/api/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = WorkspaceView), (status = 404, body = ErrorBody)))]
pub async fn get_workspace(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::WorkspaceView)?;
    Ok(HttpResponse::Ok().json(WorkspaceView::new(&m.workspace, m.role)))
}

#[utoipa::path(put, path = "/api/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = WorkspaceUpdate,
    responses((status = 200, body = WorkspaceView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_workspace(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<WorkspaceUpdate>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::WorkspaceUpdate)?;
    let req = body.into_inner();
    let mut errs = FieldErrors::default();
    if let Some(n) = &req.name {
        check_name(&mut errs, n);
    }
    if let Some(s) = &req.slug {
        errs.check(
            valid_slug(s),
            "slug",
            "use 2–63 lowercase letters, digits and single dashes",
        );
    }
    errs.into_result()?;
    if let Some(s) = &req.slug {
        if slug_taken(&state, s, Some(m.workspace.id)).await? {
            return Err(ApiError::Conflict(
                "slug_taken",
                format!("the slug {s:?} is taken"),
            ));
        }
    }
    let txn = crate::store::begin(&state.db).await?;
    let mut active = m.workspace.clone().into_active_model();
    if let Some(n) = req.name {
        active.name = Set(n.trim().to_string());
    }
    if let Some(s) = req.slug {
        active.slug = Set(s);
    }
    active.updated_at = Set(Utc::now());
    let ws = active.update(&txn).await?;
    let ev = events::record(
        &txn,
        Change {
            workspace_id: Some(ws.id),
            actor_id: Some(user.id()),
            event_type: "workspace.updated",
            target_type: "workspace",
            target_id: Some(ws.id.to_string()),
            data: json!({ "workspace_id": ws.id, "name": ws.name, "slug": ws.slug }),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    Ok(HttpResponse::Ok().json(WorkspaceView::new(&ws, m.role)))
}

#[utoipa::path(delete, path = "/api/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted with its posts, members and invitations"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_workspace(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::WorkspaceDelete)?;
    let txn = crate::store::begin(&state.db).await?;
    workspaces::Entity::delete_by_id(m.workspace.id)
        .exec(&txn)
        .await?;
    let ev = events::record(
        &txn,
        Change {
            workspace_id: Some(m.workspace.id),
            actor_id: Some(user.id()),
            event_type: "workspace.deleted",
            target_type: "workspace",
            target_id: Some(m.workspace.id.to_string()),
            data: json!({ "workspace_id": m.workspace.id, "name": m.workspace.name }),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    // Live documents close and every open socket on the workspace re-checks (and loses it).
    live_access::announce(
        state.bus.as_ref(),
        AccessChange::Workspace {
            workspace_id: m.workspace.id,
        },
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/workspaces/{id}/members", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MembersResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::MembersView)?;
    let rows = workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(m.workspace.id))
        .order_by_asc(workspace_members::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let people = users::Entity::find()
        .filter(users::Column::Id.is_in(rows.iter().map(|r| r.user_id).collect::<Vec<_>>()))
        .all(&state.db)
        .await?;
    let members = rows
        .iter()
        .filter_map(|r| {
            let u = people.iter().find(|u| u.id == r.user_id)?;
            Some(member_view(r, u))
        })
        .collect();
    let invitations = if m.can(Action::MembersManage) {
        invitations::Entity::find()
            .filter(invitations::Column::WorkspaceId.eq(m.workspace.id))
            .filter(invitations::Column::AcceptedAt.is_null())
            .filter(invitations::Column::RevokedAt.is_null())
            .filter(invitations::Column::ExpiresAt.gt(state.clock.now()))
            .order_by_asc(invitations::Column::CreatedAt)
            .all(&state.db)
            .await?
            .iter()
            .map(InvitationView::from)
            .collect()
    } else {
        Vec::new()
    };
    Ok(HttpResponse::Ok().json(MembersResponse {
        members,
        invitations,
    }))
}

fn member_view(r: &workspace_members::Model, u: &users::Model) -> MemberView {
    MemberView {
        user_id: u.id,
        email: u.email.clone(),
        name: u.name.clone(),
        role: Role::parse(&r.role).unwrap_or(Role::Client),
        joined_at: r.created_at,
    }
}

fn assignable(role: Role, m: &Membership) -> Result<(), ApiError> {
    if !role.is_assignable() {
        return Err(ApiError::validation(
            "role",
            "super_admin is an instance role and cannot be assigned in a workspace",
        ));
    }
    m.require(Action::MembersManage)
}

#[utoipa::path(post, path = "/api/workspaces/{id}/members", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = MemberAdd,
    responses((status = 201, body = MemberAddResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_member(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<MemberAdd>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    let req = body.into_inner();
    assignable(req.role, &m)?;
    let email = normalize_email(&req.email)
        .ok_or_else(|| ApiError::validation("email", "must be a valid email address"))?;
    // Always an invitation the person accepts — never a silent add — and the same answer
    // whether or not the address has an account (or is already a member).
    let cfg = &state.settings.auth;
    accounts::throttle(
        &state,
        &format!("invite:by:{}", user.id()),
        cfg.invitations_per_inviter,
        cfg.email_window_secs,
    )
    .await?;
    accounts::throttle(
        &state,
        &format!("invite:to:{email}"),
        cfg.invitations_per_recipient,
        cfg.email_window_secs,
    )
    .await?;
    let now = state.clock.now();
    let txn = crate::store::begin(&state.db).await?;
    // One pending invitation per address and workspace; a new one replaces it.
    invitations::Entity::update_many()
        .col_expr(
            invitations::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(invitations::Column::WorkspaceId.eq(m.workspace.id))
        .filter(invitations::Column::Email.eq(&email))
        .filter(invitations::Column::AcceptedAt.is_null())
        .filter(invitations::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    let (token, hash) = tokens::opaque();
    let inv = invitations::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(m.workspace.id),
        email: Set(email.clone()),
        role: Set(req.role.as_str().into()),
        token_hash: Set(hash),
        invited_by: Set(Some(user.id())),
        expires_at: Set(now + Duration::seconds(state.settings.auth.invitation_ttl_secs as i64)),
        accepted_at: Set(None),
        accepted_by: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    // The event goes to every team member's activity feed: no email in it.
    let ev = events::record(
        &txn,
        Change {
            workspace_id: Some(m.workspace.id),
            actor_id: Some(user.id()),
            event_type: "member.invited",
            target_type: "invitation",
            target_id: Some(inv.id.to_string()),
            data: json!({ "invitation_id": inv.id, "role": req.role }),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    state.mailer.send_later(Email {
        to: email,
        subject: format!("{} invited you to {} on Copydesk", user.0.name, m.workspace.name),
        body: format!(
            "{} invited you to join the workspace \"{}\" on Copydesk as {}.\n\nAccept the invitation:\n\n{}/invite?token={}\n\n\
             The link works once and expires in {} days.",
            user.0.name,
            m.workspace.name,
            req.role.as_str(),
            state.public_url,
            token,
            state.settings.auth.invitation_ttl_secs / 86400
        ),
    });
    Ok(HttpResponse::Created().json(MemberAddResponse {
        status: "invited",
        member: None,
        invitation: Some((&inv).into()),
    }))
}

async fn find_member(
    state: &AppState,
    ws: Uuid,
    user_id: Uuid,
) -> Result<workspace_members::Model, ApiError> {
    workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(ws))
        .filter(workspace_members::Column::UserId.eq(user_id))
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("member"))
}

/// Serialises changes to a workspace's admins: on PostgreSQL the workspace row is locked
/// for the rest of the transaction; on SQLite the guarded statement that follows is the
/// transaction's first write, which takes the database's single write lock.
async fn lock_workspace<C: sea_orm::ConnectionTrait>(conn: &C, ws: Uuid) -> Result<(), ApiError> {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        workspaces::Entity::find_by_id(ws)
            .lock_exclusive()
            .one(conn)
            .await?;
    }
    Ok(())
}

/// "Another admin remains": the condition every demotion or removal of an admin carries in
/// its own statement, so two admins removing each other at once cannot both succeed.
fn another_admin_remains(ws: Uuid, user_id: Uuid) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Expr, Query};
    Expr::exists(
        Query::select()
            .column(workspace_members::Column::Id)
            .from(workspace_members::Entity)
            .and_where(workspace_members::Column::WorkspaceId.eq(ws))
            .and_where(workspace_members::Column::Role.eq(Role::WorkspaceAdmin.as_str()))
            .and_where(workspace_members::Column::UserId.ne(user_id))
            .to_owned(),
    )
}

fn last_admin() -> ApiError {
    ApiError::Conflict(
        "last_admin",
        "a workspace needs at least one workspace_admin".into(),
    )
}

#[utoipa::path(put, path = "/api/workspaces/{id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = MemberRoleUpdate,
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_member(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<MemberRoleUpdate>,
) -> Result<HttpResponse, ApiError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let (ws_id, member_id) = path.into_inner();
    let m = membership(&state.db, &user.0, ws_id).await?;
    assignable(body.role, &m)?;
    let row = find_member(&state, ws_id, member_id).await?;
    let now = state.clock.now();
    let txn = crate::store::begin(&state.db).await?;
    lock_workspace(&txn, ws_id).await?;
    let mut guard = workspace_members::Column::Role
        .ne(Role::WorkspaceAdmin.as_str())
        .or(another_admin_remains(ws_id, member_id));
    if body.role == Role::WorkspaceAdmin {
        guard = Expr::value(true).into();
    }
    let changed = workspace_members::Entity::update_many()
        .col_expr(
            workspace_members::Column::Role,
            Expr::value(body.role.as_str()),
        )
        .col_expr(workspace_members::Column::UpdatedAt, Expr::value(now))
        .filter(workspace_members::Column::Id.eq(row.id))
        .filter(guard)
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !changed {
        let still = workspace_members::Entity::find_by_id(row.id)
            .one(&txn)
            .await?;
        return Err(if still.is_some() {
            last_admin()
        } else {
            ApiError::NotFound("member")
        });
    }
    let ev = events::record(
        &txn,
        Change {
            workspace_id: Some(ws_id),
            actor_id: Some(user.id()),
            event_type: "member.role_changed",
            target_type: "member",
            target_id: Some(member_id.to_string()),
            data: json!({ "user_id": member_id, "role": body.role }),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    live_access::announce(
        state.bus.as_ref(),
        AccessChange::Membership {
            workspace_id: ws_id,
            user_id: member_id,
        },
    )
    .await;
    let row = find_member(&state, ws_id, member_id).await?;
    let u = users::Entity::find_by_id(member_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    Ok(HttpResponse::Ok().json(member_view(&row, &u)))
}

#[utoipa::path(delete, path = "/api/workspaces/{id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204, description = "Removed (members may also remove themselves)"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    use sea_orm::sea_query::ExprTrait;
    let (ws_id, member_id) = path.into_inner();
    let m = membership(&state.db, &user.0, ws_id).await?;
    if member_id != user.id() {
        m.require(Action::MembersManage)?;
    }
    let row = find_member(&state, ws_id, member_id).await?;
    let txn = crate::store::begin(&state.db).await?;
    lock_workspace(&txn, ws_id).await?;
    let removed = workspace_members::Entity::delete_many()
        .filter(workspace_members::Column::Id.eq(row.id))
        .filter(
            workspace_members::Column::Role
                .ne(Role::WorkspaceAdmin.as_str())
                .or(another_admin_remains(ws_id, member_id)),
        )
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !removed {
        let still = workspace_members::Entity::find_by_id(row.id)
            .one(&txn)
            .await?;
        return Err(if still.is_some() {
            last_admin()
        } else {
            ApiError::NotFound("member")
        });
    }
    let ev = events::record(
        &txn,
        Change {
            workspace_id: Some(ws_id),
            actor_id: Some(user.id()),
            event_type: "member.removed",
            target_type: "member",
            target_id: Some(member_id.to_string()),
            data: json!({ "user_id": member_id }),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    live_access::announce(
        state.bus.as_ref(),
        AccessChange::Membership {
            workspace_id: ws_id,
            user_id: member_id,
        },
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/api/workspaces/{id}/invitations/{invitation_id}", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path)),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws_id, inv_id) = path.into_inner();
    let m = membership(&state.db, &user.0, ws_id).await?;
    m.require(Action::MembersManage)?;
    let inv = invitations::Entity::find_by_id(inv_id)
        .filter(invitations::Column::WorkspaceId.eq(ws_id))
        .filter(invitations::Column::AcceptedAt.is_null())
        .filter(invitations::Column::RevokedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("invitation"))?;
    let txn = crate::store::begin(&state.db).await?;
    let mut active = inv.into_active_model();
    active.revoked_at = Set(Some(Utc::now()));
    active.update(&txn).await?;
    events::record(
        &txn,
        Change {
            workspace_id: Some(ws_id),
            actor_id: Some(user.id()),
            event_type: "member.invitation_revoked",
            target_type: "invitation",
            target_id: Some(inv_id.to_string()),
            data: json!({ "invitation_id": inv_id }),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/invitations/accept", tag = "members", security(("bearer" = [])), request_body = InvitationAccept,
    responses((status = 200, body = WorkspaceView), (status = 404, body = ErrorBody, description = "Unknown, used, expired, or for another address")))]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    body: web::Json<InvitationAccept>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let inv = invites::find_valid(&state.db, &body.token, now)
        .await?
        .filter(|i| i.email == user.0.email)
        .ok_or(ApiError::NotFound("invitation"))?;
    let txn = crate::store::begin(&state.db).await?;
    let ev = invites::accept(&txn, &inv, &user.0, &meta, now).await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    invites::announce_joined(&state, &inv, user.id()).await;
    let m = membership(&state.db, &user.0, inv.workspace_id).await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::new(&m.workspace, m.role)))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/workspaces", web::get().to(my_workspaces))
        .route("/invitations/accept", web::post().to(accept_invitation))
        .service(
            web::resource("/workspaces")
                .route(web::get().to(list_workspaces))
                .route(web::post().to(create_workspace)),
        )
        .service(
            web::resource("/workspaces/{id}")
                .route(web::get().to(get_workspace))
                .route(web::put().to(update_workspace))
                .route(web::delete().to(delete_workspace)),
        )
        .service(
            web::resource("/workspaces/{id}/members")
                .route(web::get().to(list_members))
                .route(web::post().to(add_member)),
        )
        .service(
            web::resource("/workspaces/{id}/members/{user_id}")
                .route(web::put().to(update_member))
                .route(web::delete().to(remove_member)),
        )
        .route(
            "/workspaces/{id}/invitations/{invitation_id}",
            web::delete().to(revoke_invitation),
        );
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
