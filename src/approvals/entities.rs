//! The approval tables (see `migrations/src/m20261202_000011_approvals.rs`).

pub mod workflows {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_workflows")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub name: String,
        pub is_default: bool,
        /// `{"platforms": [...], "tags": [...], "campaign": null | "…"}`.
        pub conditions: Json,
        /// The steps as `StepSpec`s (validated on write).
        pub steps: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod requests {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub post_id: Uuid,
        /// The post's id while the round is open (pending or approved); unique.
        pub open_post_id: Option<Uuid>,
        pub round: i32,
        pub status: String,
        pub workflow_id: Option<Uuid>,
        pub workflow_name: String,
        pub content_hash: String,
        pub version_id: Option<Uuid>,
        pub approved_version_id: Option<Uuid>,
        pub submitted_by: Option<Uuid>,
        pub submit_comment: Option<String>,
        pub submitted_at: DateTimeUtc,
        pub decided_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod steps {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_steps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub request_id: Uuid,
        /// Index in the workflow's list of steps.
        pub position: i32,
        /// Steps with the same order run in parallel.
        pub step_order: i32,
        pub name: String,
        pub status: String,
        /// User ids (JSON array) who may decide, besides `approver_roles`.
        pub approver_users: Json,
        pub approver_roles: Json,
        /// Approvals needed; `None`: every listed user (or 1 when only roles are listed).
        pub required: Option<i32>,
        pub auto_approve: bool,
        pub deadline_hours: Option<i32>,
        pub on_deadline: String,
        pub backup_user_id: Option<Uuid>,
        pub approvals: i32,
        pub started_at: Option<DateTimeUtc>,
        pub deadline_at: Option<DateTimeUtc>,
        pub reminded_at: Option<DateTimeUtc>,
        pub deadline_handled_at: Option<DateTimeUtc>,
        pub finished_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod decisions {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_decisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub request_id: Uuid,
        pub step_id: Uuid,
        pub post_id: Uuid,
        /// `user:<id>` or `link:<id>:<name>`: one decision per person per step.
        pub decider_key: String,
        pub user_id: Option<Uuid>,
        pub share_link_id: Option<Uuid>,
        pub decider_name: String,
        pub decision: String,
        pub comment: Option<String>,
        pub content_hash: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod share_links {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "share_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: Uuid,
        pub label: Option<String>,
        pub post_ids: Json,
        pub permissions: Json,
        pub expires_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
