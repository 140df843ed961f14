//! The OpenAPI 3.1 document at `/api/openapi.json`, generated from the handlers'
//! annotations and the request/response types, so it cannot drift from the code.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::activity;
use crate::auth::handlers as auth;
use crate::comments::{handlers as cm, input as cmi, views as cmv};
use crate::error::{ErrorBody, ErrorDetail};
use crate::http::health;
use crate::posts::{content, handlers as posts, listing, status, views as pv};
use crate::roles::Role;
use crate::versions::{self, handlers as vh};
use crate::workspaces::{handlers as ws, views as wsv};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

use super::contract::Contract;

#[derive(OpenApi)]
#[openapi(
    info(title = "Copydesk API", description = "Collaboration server for social-media content teams. \
        Errors are always `{\"error\": {\"code\", \"message\", \"details\"?}}`. \
        WebSockets (not described by OpenAPI) take a single-use `?ticket=` from `POST /api/auth/ws-ticket`: \
        `GET /api/collab/{post_id}?ticket=` speaks the y-websocket protocol; \
        `GET /api/events?ticket=[&since=<event id>]` streams JSON events. Sockets close 4401 when the access token \
        behind them expires (renew in band) or the user's sessions end, 4403 when access is lost."),
    modifiers(&BearerAuth, &Contract),
    paths(
        auth::register, auth::verify_email, auth::login, auth::refresh, auth::logout,
        auth::forgot_password, auth::reset_password, auth::get_profile, auth::update_profile,
        auth::ws_ticket, auth::setup_status, auth::setup,
        ws::my_workspaces, ws::list_workspaces, ws::create_workspace, ws::get_workspace, ws::update_workspace,
        ws::delete_workspace, ws::list_members, ws::add_member, ws::update_member, ws::remove_member,
        ws::revoke_invitation, ws::accept_invitation,
        listing::list_posts, posts::create_post, posts::validate_post, posts::get_post, posts::update_post,
        posts::delete_post, posts::duplicate_post, posts::list_platforms,
        cm::list_comments, cm::create_comment, cm::update_comment, cm::delete_comment, cm::resolve_comment,
        cm::reopen_comment, cm::add_reaction, cm::remove_reaction, activity::list_activity,
        health::health, health::live, health::ready,
        vh::list, vh::create, vh::get, vh::diff, vh::restore,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Role,
        auth::UserView, auth::AuthResponse, auth::MessageResponse, auth::ProfileResponse, auth::VerifyRequest,
        auth::TicketResponse, auth::SetupStatus, auth::SetupRequest,
        wsv::WorkspaceView, wsv::MemberView, wsv::InvitationView, wsv::MembersResponse, wsv::MemberAddResponse,
        pv::PostView, pv::PostInput, pv::ValidationResponse, status::PostStatus, listing::PostPage,
        content::PlatformContent, content::MediaRef, health::Health, health::Check,
        versions::VersionView, versions::VersionDetail, versions::VersionList, versions::VersionCreate,
        versions::VersionDiff, versions::FieldDiff, versions::DiffOp, versions::VersionContent, versions::Author,
        cmv::CommentView, cmv::CommentList, cmv::ReactionView, cmi::CommentCreate, cmi::CommentUpdate, cmi::Anchor,
        cmi::Visibility, activity::UserRef, activity::ActivityItem, activity::ActivityPage,
    )),
    tags(
        (name = "auth", description = "Sign-up, sign-in, sessions and password reset"),
        (name = "users", description = "The signed-in user"),
        (name = "setup", description = "The first super admin of a fresh instance"),
        (name = "workspaces"), (name = "members", description = "Members, roles and invitations"),
        (name = "posts", description = "Posts, per-platform content and validation"),
        (name = "comments", description = "Comment threads, mentions, reactions"),
        (name = "activity", description = "The workspace activity feed"),
        (name = "versions", description = "Version history of a post's document"),
        (name = "health"),
    )
)]
pub struct ApiDoc;

/// The document as JSON, built once (the contract's tables run in its modifier).
pub fn document_json() -> &'static serde_json::Value {
    static DOC: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises")
    });
    &DOC
}

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document_json())
}
