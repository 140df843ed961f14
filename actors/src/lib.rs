//! Copydesk's actor system and the ports it runs on.
//!
//! The actors depend only on the traits in [`ports`]; the server crate implements them with
//! sea-orm, Redis and reqwest. In-memory implementations make actor tests fast and give the
//! single-node mode for free.
//!
//! - [`ports`]: `Bus` (cluster pub/sub), `DocStore` (update log + snapshots), `DocHooks`,
//!   `Clock`.
//! - [`memory_bus`]: the in-process `Bus` used when no Redis is configured.
//! - [`protocol`]: the y-websocket wire protocol, transport-free.
//! - [`doc`]: the post document's layout and its plain-content view.
//! - [`edit_rules`]: what a client's update may write (REST validation, on the socket).
//! - [`post_session`]: `PostSession`, one actor per open post.
//! - [`workspace_hub`]: `WorkspaceHub`, one actor per active workspace (sessions, presence,
//!   event fan-out).
//! - [`collab`]: `Collab`, the registry the server talks to.

pub mod collab;
pub mod doc;
pub mod edit_rules;
pub mod memory_bus;
pub mod ports;
pub mod post_session;
pub mod protocol;
pub mod workspace_hub;
