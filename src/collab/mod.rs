//! Live collaboration, server side: the storage and hooks the actors run on, the
//! y-websocket socket `/api/collab/{post_id}`, and the event stream `/api/events`.
//!
//! - [`store`]: `DocStore` on sea-orm (update log, snapshots, seeding from the post row).
//! - [`sqlite_log`]: on SQLite, the log's appends on a thread and connection of their own.
//! - [`hooks`]: `DocHooks`: derived fields back onto the post row, automatic versions.
//! - [`socket`]: one task per collaboration connection, on its own TCP stream
//!   ([`crate::http::websocket`]).
//! - [`guard`]: a socket's access while open (tickets, expiry, re-checks, limits).
//! - [`events`]: the JSON event stream with `?since=` replay.

pub mod events;
pub mod guard;
pub mod hooks;
pub mod socket;
pub mod sqlite_log;
pub mod store;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/collab/{post_id}", web::get().to(socket::collab_socket))
        .route("/events", web::get().to(events::event_socket));
}
