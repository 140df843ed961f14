//! `DocHooks`: what a live document tells the rest of the server — its content changed
//! (write the derived fields onto the post row for lists, search and validation), or it
//! has been edited long enough for an automatic version.
//!
//! On SQLite the derived fields are written on the update log's writer thread
//! ([`crate::posts::derived`]), so they never hold the write lock against the log's appends.

use async_trait::async_trait;
use copydesk_actors::ports::{DocContent, DocHooks};
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::sqlite_log::LogWriter;
use crate::error::ApiError;
use crate::events::{Announcer, EventType, UnitOfWork, NO_REQUEST};
use crate::posts;
use crate::store::entities::posts as post_rows;
use crate::versions;

pub struct ServerHooks {
    db: DatabaseConnection,
    announcer: Announcer,
    keeper: crate::approvals::Keeper,
    /// SQLite: the update log's writer thread.
    writer: Option<LogWriter>,
}

impl ServerHooks {
    pub fn new(
        db: DatabaseConnection,
        announcer: Announcer,
        keeper: crate::approvals::Keeper,
    ) -> Self {
        Self {
            db,
            announcer,
            keeper,
            writer: None,
        }
    }

    /// Writes the derived fields on SQLite's log writer thread, if there is one.
    pub fn with_log_writer(mut self, writer: Option<LogWriter>) -> Self {
        self.writer = writer;
        self
    }

    /// Saves an automatic version and its `post.version_saved` event, in one unit of work.
    async fn save_auto_version(&self, post_id: Uuid, state: Vec<u8>) -> Result<(), ApiError> {
        let Some(post) = post_rows::Entity::find_by_id(post_id).one(&self.db).await? else {
            return Ok(());
        };
        let mut uow =
            UnitOfWork::begin_on(&self.db, self.announcer.clone(), None, &NO_REQUEST).await?;
        let saved = versions::insert(uow.txn(), &post, None, "auto", state, None).await?;
        uow.record(
            EventType::PostVersionSaved,
            Some(post.workspace_id),
            ("post", Some(post.id.to_string())),
            &versions::version_event(&post, &saved),
        )
        .await?;
        uow.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl DocHooks for ServerHooks {
    async fn content_changed(&self, post_id: Uuid, content: DocContent, editors: Vec<Uuid>) {
        let editor = editors.last().copied();
        if let Some(writer) = &self.writer {
            let written = writer
                .transaction(move |t| {
                    posts::derived::write_doc_content(t, post_id, &content, editor)
                })
                .await;
            match written {
                // Only a change can void an approval round, and only an open one.
                Ok(Some(w)) if w.changed && w.open_round => {}
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(%post_id, error = %e, "could not write derived fields");
                    return;
                }
            }
        } else if let Err(e) =
            posts::service::write_doc_content(&self.db, post_id, &content, editor).await
        {
            tracing::warn!(%post_id, error = %e, "could not write derived fields");
            return;
        }
        // An edit voids an approval of other content (a new round starts).
        if let Err(e) = crate::approvals::service::content_changed(
            &self.db,
            self.announcer.clone(),
            Some(&self.keeper),
            post_id,
        )
        .await
        {
            tracing::warn!(%post_id, error = %e, "could not check the post's approval");
        }
    }

    async fn auto_version(&self, post_id: Uuid, state: Vec<u8>) {
        if let Err(e) = self.save_auto_version(post_id, state).await {
            tracing::warn!(%post_id, error = %e, "could not save an automatic version");
        }
    }
}
