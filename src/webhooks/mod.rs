//! Outgoing webhooks (Standard Webhooks, delivered the way Svix does):
//! `/api/workspaces/:id/webhooks[/:endpoint_id[/…]]`, workspace admins only.
//!
//! - [`handlers`]: HTTP only. [`service`]: endpoints and their rules (URL through the SSRF
//!   guard of [`crate::outbound`], event-type filters, headers, rate limit), secrets
//!   (reveal, rotate with a 24 h overlap). [`views`]: bodies.
//! - [`signing`]: `webhook-signature` (HMAC-SHA256, `v1,`), `whsec_` secrets, sealing them
//!   at rest with the instance encryption key.
//! - [`messages`]: one message per event and endpoint (its `msg_…` id is the `webhook-id`),
//!   the attempt log, replay, stats.
//! - [`sender`]: one attempt on the wire (vet, sign, POST, keep the answer).
//! - [`delivery`]: the `webhooks` outbox consumer (fan-out) and the `webhook.attempt` job
//!   (send, record, schedule the retry, disable on 410 or after 5 failing days).

pub mod delivery;
pub mod entities;
pub mod handlers;
pub mod messages;
pub mod sender;
pub mod service;
pub mod signing;
pub mod views;

use actix_web::web;
use serde::Deserialize;

/// `webhooks.*` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Request timeout of one attempt.
    pub timeout_secs: u64,
    /// Sends to one endpoint at once on one node (others step aside for other endpoints).
    pub max_in_flight_per_endpoint: usize,
    /// An endpoint failing without a single success this long is disabled.
    pub disable_after_days: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout_secs: 15,
            max_in_flight_per_endpoint: 2,
            disable_after_days: 5,
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers::*;
    cfg.service(
        web::resource("/workspaces/{id}/webhooks")
            .route(web::get().to(list_endpoints))
            .route(web::post().to(create_endpoint)),
    )
    .service(
        web::resource("/workspaces/{id}/webhooks/{endpoint_id}")
            .route(web::get().to(get_endpoint))
            .route(web::patch().to(update_endpoint))
            .route(web::delete().to(delete_endpoint)),
    )
    .route(
        "/workspaces/{id}/webhooks/{endpoint_id}/secret/reveal",
        web::post().to(reveal_secret),
    )
    .route(
        "/workspaces/{id}/webhooks/{endpoint_id}/secret/rotate",
        web::post().to(rotate_secret),
    )
    .route(
        "/workspaces/{id}/webhooks/{endpoint_id}/stats",
        web::get().to(endpoint_stats),
    )
    .route(
        "/workspaces/{id}/webhooks/{endpoint_id}/test",
        web::post().to(test_send),
    )
    .route(
        "/workspaces/{id}/webhooks/{endpoint_id}/replay",
        web::post().to(replay),
    )
    .route(
        "/workspaces/{id}/webhooks/{endpoint_id}/messages",
        web::get().to(list_messages),
    )
    .route(
        "/workspaces/{id}/webhooks/{endpoint_id}/messages/{message_id}/attempts",
        web::get().to(list_attempts),
    )
    .route(
        "/workspaces/{id}/webhooks/{endpoint_id}/messages/{message_id}/retry",
        web::post().to(retry_message),
    );
}

/// The operations and schemas of this module, merged into `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        handlers::list_endpoints, handlers::create_endpoint, handlers::get_endpoint,
        handlers::update_endpoint, handlers::delete_endpoint, handlers::reveal_secret,
        handlers::rotate_secret, handlers::endpoint_stats, handlers::list_messages,
        handlers::list_attempts, handlers::retry_message, handlers::replay, handlers::test_send,
    ),
    components(schemas(
        views::EndpointView, views::EndpointCreate, views::EndpointUpdate, views::SecretView,
        views::MessageView, views::MessagePage, views::AttemptView, views::AttemptList,
        views::ReplayRequest, views::ReplayResponse, views::EndpointStats, views::MessageStatus,
        crate::events::catalogue::WebhookEvent,
    )),
    tags((name = "webhooks", description = "Outgoing webhooks (Standard Webhooks): endpoints, secrets, the message and attempt log")),
)]
pub struct WebhooksDoc;
