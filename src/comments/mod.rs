//! Comments on posts: `/api/posts/:id/comments`, `/api/comments/:id[/resolve|/reopen|
//! /reactions/:emoji]`.
//!
//! - A thread is a root comment and its replies, one level deep: a reply to a reply joins
//!   the root's thread. Lists are flat, ordered by creation, with `parent_id` to rebuild
//!   threads. Deleting a root deletes its replies.
//! - `visibility` is `internal` (the team) or `client` (clients too). Clients never see an
//!   internal comment — it answers 404 to them like anything else they may not see — and
//!   only post client-visible ones. A reply has its thread's visibility.
//! - A root may be anchored to a stretch of the post's text by Yjs relative positions
//!   ([`input::Anchor`]), stored opaquely.
//! - Access goes through the post ([`crate::posts::load_post`]): whoever cannot see the post
//!   cannot see its comments.
//! - Every change is one unit of work with its events; mentioning someone records
//!   `comment.mentioned` for them, the notification event.
//!
//! - [`handlers`]: HTTP only (parse, authorise, call the service, answer a view).
//! - [`service`]: who sees what, threads, mentions, reactions, and the writes.
//! - [`input`]: request bodies and the checks that need no database.
//! - [`views`]: comments as the API shows them.

pub mod handlers;
pub mod input;
pub mod service;
pub mod views;

use actix_web::web;

pub use views::{CommentList, CommentView, ReactionView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers::*;
    cfg.service(
        web::resource("/posts/{id}/comments")
            .route(web::get().to(list_comments))
            .route(web::post().to(create_comment)),
    )
    .service(
        web::resource("/comments/{id}")
            .route(web::put().to(update_comment))
            .route(web::delete().to(delete_comment)),
    )
    .route("/comments/{id}/resolve", web::post().to(resolve_comment))
    .route("/comments/{id}/reopen", web::post().to(reopen_comment))
    .service(
        web::resource("/comments/{id}/reactions/{emoji}")
            .route(web::put().to(add_reaction))
            .route(web::delete().to(remove_reaction)),
    );
}
