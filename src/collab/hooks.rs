//! `DocHooks`: what a live document tells the rest of the server — its content changed
//! (write the derived fields onto the post row for lists, search and validation), or it
//! has been edited long enough for an automatic version.

use async_trait::async_trait;
use copydesk_actors::ports::{DocContent, DocHooks};
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use std::sync::Arc;

use copydesk_actors::ports::Bus;

use crate::auth::extract::RequestMeta;
use crate::events::{self, Change};
use crate::posts;
use crate::store::entities::posts as post_rows;
use crate::versions;

pub struct ServerHooks {
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
}

impl ServerHooks {
    pub fn new(db: DatabaseConnection, bus: Arc<dyn Bus>) -> Self {
        Self { db, bus }
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
        let saved = match versions::insert(&self.db, &post, None, "auto", state, None).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(%post_id, error = %e, "could not save an automatic version");
                return;
            }
        };
        let change = Change {
            workspace_id: Some(post.workspace_id),
            actor_id: None,
            event_type: "post.version_saved",
            target_type: "post",
            target_id: Some(post.id.to_string()),
            data: serde_json::json!({ "post_id": post.id, "version_id": saved.id, "kind": "auto", "client_visible": post.client_visible }),
            meta: &RequestMeta::default(),
        };
        if let Ok(ev) = events::record(&self.db, change).await {
            events::announce(self.bus.as_ref(), &[ev]).await;
        }
    }
}
