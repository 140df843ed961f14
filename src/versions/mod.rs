//! Version history: `/api/posts/{id}/versions[/{vid}[/diff|/restore]]`.
//!
//! A version is the post document's full state at a moment (automatic every N minutes of
//! editing, named by a person, or taken before a restore). Restoring is a new edit on the
//! live document — computed as the change from the current content to the version's — so
//! editors who are connected follow it, and the history is never rewritten.

//! - [`handlers`]: HTTP only (parse, authorise, call the service, answer a view).
//! - [`service`]: storing and reading versions, saving a named one, restoring one — each
//!   write one [`crate::events::UnitOfWork`] with its event.
//! - [`diff`]: word-level diffs.
//! - [`views`]: request and response bodies.

pub mod diff;
pub mod handlers;
pub mod service;
pub mod views;

use actix_web::web;

pub use diff::diff_words;
pub use service::{insert, state_of, version_event};
pub use views::*;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers::*;
    cfg.service(
        web::resource("/posts/{id}/versions")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .route("/posts/{id}/versions/{version_id}", web::get().to(get))
    .route(
        "/posts/{id}/versions/{version_id}/diff",
        web::get().to(diff),
    )
    .route(
        "/posts/{id}/versions/{version_id}/restore",
        web::post().to(restore),
    );
}
