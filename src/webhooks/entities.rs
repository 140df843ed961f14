//! The webhook tables (see `migrations/src/m20261201_000010_webhooks.rs`).

pub mod endpoints {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_endpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub url: String,
        pub description: String,
        /// JSON array of catalogue names or `prefix.*` patterns; empty: every event.
        pub event_types: Json,
        pub enabled: bool,
        pub disabled_reason: Option<String>,
        /// Sends per second (cluster-wide); `None`: unlimited.
        pub rate_limit: Option<i32>,
        /// JSON object of extra request headers.
        pub headers: Json,
        pub secret_enc: String,
        pub old_secret_enc: Option<String>,
        pub old_secret_expires_at: Option<DateTimeUtc>,
        /// Set by the first failure after a success; cleared by a success.
        pub failing_since: Option<DateTimeUtc>,
        pub rate_next_ms: i64,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod messages {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_messages")]
    pub struct Model {
        /// `msg_…`: the `webhook-id` of every attempt.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub endpoint_id: Uuid,
        pub workspace_id: Uuid,
        pub event_id: Option<Uuid>,
        pub event_type: String,
        /// The exact body sent, the same on every attempt.
        pub payload: String,
        /// `pending`, `succeeded` or `failed`.
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod attempts {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_attempts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub message_id: String,
        pub endpoint_id: Uuid,
        pub attempt: i32,
        /// `succeeded` or `failed`.
        pub status: String,
        pub http_status: Option<i32>,
        /// The start of the response body (at most 1 KB).
        pub response: String,
        pub error: Option<String>,
        pub duration_ms: i64,
        pub next_attempt_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
