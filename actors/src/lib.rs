//! Copydesk's actor system and the ports it runs on.
//!
//! The actors depend only on the traits in [`ports`]; the server crate implements them with
//! sea-orm, Redis and reqwest. In-memory implementations make actor tests fast and give the
//! single-node mode for free.
//!
//! - [`ports`]: `Bus` (cluster pub/sub), `DocStore` (update log + snapshots), `DocHooks`,
//!   `Clock`, and for background work `JobQueue`, `Outbox`, `CronStore` with their handlers,
//!   `ApprovalDeadlines`.
//! - [`memory_bus`]: the in-process `Bus` used when no Redis is configured.
//! - [`memory_store`]: an in-memory `DocStore` (tests; gates and injected failures).
//! - [`protocol`]: the y-websocket wire protocol, transport-free.
//! - [`doc`]: the post document's layout and its plain-content view.
//! - [`edit_rules`]: what a client's update may write (REST validation, on the socket).
//! - [`post_session`]: `PostSession`, one actor per open post.
//! - [`workspace_hub`]: `WorkspaceHub`, one actor per active workspace (sessions, presence,
//!   event fan-out).
//! - [`collab`]: `Collab`, the registry the server talks to.
//! - [`job_runner`]: `JobRunner`, one per node: claims and runs durable jobs.
//! - [`outbox_consumer`]: `OutboxConsumer`, a named, leased, at-least-once outbox reader.
//! - [`cron`]: `CronActor`, periodic work with one leader per tick across nodes.
//! - [`approval_deadlines`]: `DeadlineKeeper`, one per node: wakes at approval reminders and
//!   deadlines (on the `Clock`) and has the `ApprovalDeadlines` store run them once.

pub mod approval_deadlines;
pub mod collab;
pub mod cron;
pub mod doc;
pub mod edit_rules;
pub mod job_runner;
pub mod memory_bus;
pub mod memory_store;
pub mod outbox_consumer;
pub mod ports;
pub mod post_session;
pub mod protocol;
pub mod workspace_hub;
