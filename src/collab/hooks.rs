//! `DocHooks`: what a live document tells the rest of the server — its content changed
//! (write the derived fields onto the post row for lists, search and validation), or it
//! has been edited long enough for an automatic version.

use async_trait::async_trait;
use copydesk_actors::ports::{DocContent, DocHooks};
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use crate::posts;
use crate::store::entities::posts as post_rows;
use crate::versions;

pub struct ServerHooks {
    db: DatabaseConnection,
}

impl ServerHooks {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl DocHooks for ServerHooks {
    async fn content_changed(&self, post_id: Uuid, content: DocContent, editors: Vec<Uuid>) {
        if let Err(e) =
            posts::write_doc_content(&self.db, post_id, &content, editors.last().copied()).await
        {
            tracing::warn!(%post_id, error = %e, "could not write derived fields");
        }
    }

    async fn auto_version(&self, post_id: Uuid, state: Vec<u8>) {
        let Ok(Some(post)) = post_rows::Entity::find_by_id(post_id).one(&self.db).await else {
            return;
        };
        if let Err(e) = versions::insert(&self.db, &post, None, "auto", state, None).await {
            tracing::warn!(%post_id, error = %e, "could not save an automatic version");
        }
    }
}
