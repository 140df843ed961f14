//! Approvals (issue 9): the workspace's approval mode, workflows, approval rounds with their
//! steps and decisions, and review links for people without an account.
//!
//! A round (`approval_requests`) freezes its workflow's steps at submit time
//! (`approval_steps`), so editing a workflow never changes a round in flight. At most one
//! round per post is open at a time: `open_post_id` is the post's id while the round is
//! pending or approved and NULL once it ended — a unique column, so two concurrent submits
//! cannot both open one (NULLs never collide, on SQLite and PostgreSQL alike).
//! A decision is unique per step and decider (`decider_key`: `user:<id>` or
//! `link:<id>:<name>`), so two clicks or two nodes can never count one person twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn tstz(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone(name)
}

fn tstz_null(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone_null(name)
}

fn fk(from: &'static str, col: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, col)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(table: &'static str, name: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(*c);
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("workspaces")
                .add_column(string("approval_mode").default("optional"))
                .to_owned(),
        )
        .await?;

        // Comments by review-link guests: a name and the link, no account.
        m.alter_table(
            Table::alter()
                .table("comments")
                .add_column(string_null("guest_name"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("comments")
                .add_column(uuid_null("share_link_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("approval_workflows")
                .col(pk_uuid("id"))
                .col(uuid("workspace_id"))
                .col(string("name"))
                .col(boolean("is_default").default(false))
                .col(json("conditions"))
                .col(json("steps"))
                .col(uuid_null("created_by"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .foreign_key(&mut fk("approval_workflows", "workspace_id", "workspaces"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "approval_workflows",
            "idx_approval_workflows_workspace",
            &["workspace_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("approval_requests")
                .col(pk_uuid("id"))
                .col(uuid("workspace_id"))
                .col(uuid("post_id"))
                .col(uuid_null("open_post_id").unique_key())
                .col(integer("round"))
                .col(string("status"))
                .col(uuid_null("workflow_id"))
                .col(string("workflow_name"))
                .col(string("content_hash"))
                .col(uuid_null("version_id"))
                .col(uuid_null("approved_version_id"))
                .col(uuid_null("submitted_by"))
                .col(text_null("submit_comment"))
                .col(tstz("submitted_at"))
                .col(tstz_null("decided_at"))
                .col(tstz("updated_at"))
                .foreign_key(&mut fk("approval_requests", "post_id", "posts"))
                .foreign_key(&mut fk("approval_requests", "workspace_id", "workspaces"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "approval_requests",
            "idx_approval_requests_post",
            &["post_id", "round"],
        ))
        .await?;
        m.create_index(index(
            "approval_requests",
            "idx_approval_requests_workspace_status",
            &["workspace_id", "status"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("approval_steps")
                .col(pk_uuid("id"))
                .col(uuid("request_id"))
                .col(integer("position"))
                .col(integer("step_order"))
                .col(string("name"))
                .col(string("status"))
                .col(json("approver_users"))
                .col(json("approver_roles"))
                .col(integer_null("required"))
                .col(boolean("auto_approve").default(false))
                .col(integer_null("deadline_hours"))
                .col(string("on_deadline"))
                .col(uuid_null("backup_user_id"))
                .col(integer("approvals").default(0))
                .col(tstz_null("started_at"))
                .col(tstz_null("deadline_at"))
                .col(tstz_null("reminded_at"))
                .col(tstz_null("deadline_handled_at"))
                .col(tstz_null("finished_at"))
                .foreign_key(&mut fk("approval_steps", "request_id", "approval_requests"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "approval_steps",
            "idx_approval_steps_request",
            &["request_id", "position"],
        ))
        .await?;
        m.create_index(index(
            "approval_steps",
            "idx_approval_steps_deadline",
            &["status", "deadline_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("approval_decisions")
                .col(pk_uuid("id"))
                .col(uuid("request_id"))
                .col(uuid("step_id"))
                .col(uuid("post_id"))
                .col(string("decider_key"))
                .col(uuid_null("user_id"))
                .col(uuid_null("share_link_id"))
                .col(string("decider_name"))
                .col(string("decision"))
                .col(text_null("comment"))
                .col(string("content_hash"))
                .col(tstz("created_at"))
                .foreign_key(&mut fk(
                    "approval_decisions",
                    "request_id",
                    "approval_requests",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "approval_decisions",
                "uq_approval_decisions_step_decider",
                &["step_id", "decider_key"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "approval_decisions",
            "idx_approval_decisions_request",
            &["request_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("share_links")
                .col(pk_uuid("id"))
                .col(uuid("workspace_id"))
                .col(string_null("label"))
                .col(json("post_ids"))
                .col(json("permissions"))
                .col(tstz("expires_at"))
                .col(tstz_null("revoked_at"))
                .col(uuid_null("created_by"))
                .col(tstz("created_at"))
                .foreign_key(&mut fk("share_links", "workspace_id", "workspaces"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "share_links",
            "idx_share_links_workspace",
            &["workspace_id"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "share_links",
            "approval_decisions",
            "approval_steps",
            "approval_requests",
            "approval_workflows",
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        for col in ["guest_name", "share_link_id"] {
            m.alter_table(Table::alter().table("comments").drop_column(col).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table("workspaces")
                .drop_column("approval_mode")
                .to_owned(),
        )
        .await
    }
}
