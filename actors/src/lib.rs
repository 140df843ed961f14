//! Copydesk's actor system and the ports it runs on.
//!
//! The actors (workspace hubs, post sessions, publishers, cron) depend only on the traits in
//! [`ports`]; the server crate implements them with sea-orm, Redis and reqwest. In-memory
//! implementations (here) make actor tests fast and give the single-node mode for free.
//!
//! - [`ports`]: `Bus` (cluster pub/sub), `Clock`.
//! - [`memory_bus`]: the in-process `Bus` used when no Redis is configured.

pub mod memory_bus;
pub mod ports;
