//! Posts: `/api/workspaces/:id/posts`, `/api/posts/:id[/duplicate]`, `/api/platforms`.
//!
//! - [`handlers`]: HTTP only (parse, authorise, call the service, answer a view).
//! - [`service`]: loading what the caller may see, the boundary to the live document (read,
//!   edit, the one writer of the row's derived fields), and the writes.
//! - [`draft`]: a post's editable fields, every input check, what is derived from them.
//! - [`status`]: [`PostStatus`] and the table of transitions between statuses.
//! - [`content`]: the content model (caption, per-platform overrides, media).
//! - [`views`]: request and response bodies.
//! - [`listing`]: filters and keyset pagination.
//!
//! Each platform's rules, counting and validation live in [`crate::platforms`].

pub mod content;
pub mod derived;
pub mod draft;
pub mod handlers;
pub mod listing;
pub mod service;
pub mod status;
pub mod views;

use actix_web::web;

pub use crate::platforms::Platform;
pub use service::{
    current_content, live_content, live_edit, live_session, live_snapshot, load_visible, lock_row,
    post_event, view_with, write_doc_content, write_doc_content_on,
};
pub(crate) use service::{load_post, visible_to};
pub use status::{can_transition, PostStatus, Transition};
pub use views::{PostInput, PostView, ValidationResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers::*;
    cfg.route("/platforms", web::get().to(list_platforms))
        .service(
            web::resource("/workspaces/{id}/posts")
                .route(web::get().to(listing::list_posts))
                .route(web::post().to(create_post)),
        )
        .route(
            "/workspaces/{id}/posts/validate",
            web::post().to(validate_post),
        )
        .service(
            web::resource("/posts/{id}")
                .route(web::get().to(get_post))
                .route(web::put().to(update_post))
                .route(web::delete().to(delete_post)),
        )
        .route("/posts/{id}/duplicate", web::post().to(duplicate_post));
}
