//! Copydesk: a self-hostable collaboration server for social-media content teams.
//!
//! Map of the crate. A domain module (`auth`, `workspaces`, `posts`, `comments`,
//! `versions`) keeps HTTP in `handlers` (parse, authorise, call, answer), its rules and
//! queries in services, and its request and response bodies in `views`; every write is one
//! [`events::UnitOfWork`].
//!
//! - [`startup::Application`] builds everything from [`config::Settings`].
//! - [`error::ApiError`]: the one error type and its HTTP mapping.
//! - [`auth`]: accounts, sessions, tokens, WebSocket tickets, throttling.
//! - [`setup`]: the first super admin (`copydesk admin create`, the setup token).
//! - [`access`]: access changes announced on the bus; open sockets re-check and close.
//! - [`workspaces`]: workspaces, members, invitations, and workspace scoping.
//! - [`roles`]: roles and the permission table.
//! - [`posts`]: posts, their content model, their status and its transition table, the
//!   boundary to their live documents (on SQLite their derived fields are written on the
//!   update log's thread: `posts::derived`), listing.
//! - [`platforms`]: the networks a post goes to: `Platform`, the rules table, how each
//!   counts characters, validation of a draft.
//! - [`comments`]: comment threads on posts, mentions, reactions.
//! - [`events`]: the typed event catalogue, the one write path (`UnitOfWork`), the
//!   commit-ordered outbox, its live tail and its durable consumers.
//! - [`jobs`]: durable jobs, outbox consumers and cron on every node; maintenance; the admin view.
//! - [`collab`]: live co-editing (`/api/collab`, y-websocket) and the event stream
//!   (`/api/events`), on the actors of `copydesk_actors`; on SQLite the update log's appends
//!   run on a thread and connection of their own (`collab::sqlite_log`).
//! - [`versions`]: version history of post documents (save, restore, diff).
//! - [`activity`]: the workspace activity feed, read from the outbox.
//! - [`store`]: database connection (a pooled SQLite connection handed back inside a
//!   transaction is closed, not reused), migrations, entities.
//! - [`bus`]: the Redis implementation of the cluster bus port (`copydesk_actors::ports`).
//! - [`mail`]: SMTP (or the file outbox).
//! - [`approvals`]: approval mode, workflows, rounds bound to a content hash, decisions,
//!   deadlines (the `DeadlineKeeper` actor's store), review links for guests.
//! - [`webhooks`]: outgoing webhooks (Standard Webhooks): endpoints, signing, delivery.
//! - [`outbound`]: the SSRF guard every request to a user-supplied URL goes through.
//! - [`notify`]: notifications — in-app, email (with digest and one-click unsubscribe) and
//!   Web Push; the `notifier` outbox consumer and its delivery jobs.
//! - [`http`]: health, metrics, OpenAPI, static files, middleware; WebSocket upgrades that
//!   hand the connection's stream to a lean socket (`http::upgrade`, `http::websocket`).
//! - [`rt`]: tasks and requests on actix threads, dropped inside a runtime when cut off.

pub mod access;
pub mod activity;
pub mod approvals;
pub mod auth;
pub mod bus;
pub mod collab;
pub mod comments;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod mail;
pub mod notify;
pub mod outbound;
pub mod platforms;
pub mod posts;
pub mod roles;
pub mod rt;
pub mod setup;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod versions;
pub mod webhooks;
pub mod workspaces;
