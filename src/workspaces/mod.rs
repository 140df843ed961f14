//! Workspaces, members and invitations: `/api/workspaces[/:id[/members[/:user_id]]]`,
//! `/api/workspaces/:id/invitations/:id`, `/api/users/workspaces`,
//! `/api/invitations/accept`.
//!
//! - [`handlers`]: HTTP only (parse, authorise, call the service, answer a view).
//! - [`service`]: the workspaces themselves: slugs, listing, create, rename, delete.
//! - [`members`]: the members list, role changes and removals under the last-admin rule
//!   (and the lock that makes it hold under concurrency).
//! - [`invites`]: inviting, revoking, and accepting (also inside sign-up and sign-in).
//!
//! Every write is one [`crate::events::UnitOfWork`].
//! - [`access`]: workspace scoping — every workspace-owned resource is reached through
//!   [`access::membership`].
//! - [`views`]: request and response bodies.

pub mod access;
pub mod handlers;
pub mod invites;
pub mod members;
pub mod service;
pub mod views;

use actix_web::web;

pub use views::{InvitationView, MemberView, WorkspaceView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers::*;
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
