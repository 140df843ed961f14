//! The `DocStore` port on sea-orm: `post_doc_updates` (append-only log) and
//! `post_doc_snapshots` (the log folded up to `upto_seq`).

use async_trait::async_trait;
use chrono::Utc;
use copydesk_actors::doc::{self, ContentEdit};
use copydesk_actors::ports::{DocContent, DocStore, StoreError, StoredDoc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, NotSet, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::posts::content::PostContent;
use crate::store::entities::{post_doc_snapshots as snapshots, post_doc_updates as updates, posts};

pub struct DbDocStore {
    db: DatabaseConnection,
}

impl DbDocStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// The client id that seeds a post's document from its row. Derived from the post id, so
/// two nodes seeding at once write the identical update, which Yjs applies once.
fn seed_client(post_id: Uuid) -> u64 {
    let b = post_id.as_bytes();
    u64::from(u32::from_le_bytes([b[12], b[13], b[14], b[15]]) | 1)
}

/// The document content a post row holds (posts created through REST start there).
pub fn row_content(p: &posts::Model) -> DocContent {
    let c = PostContent::from_json(&p.content);
    DocContent {
        title: p.title.clone(),
        caption: c.caption,
        overrides: c
            .platform_content
            .into_iter()
            .filter_map(|(k, v)| v.text.filter(|t| !t.is_empty()).map(|t| (k, t)))
            .collect(),
        media: c
            .media
            .iter()
            .map(|m| serde_json::to_value(m).unwrap_or_default())
            .collect(),
    }
}

#[async_trait]
impl DocStore for DbDocStore {
    async fn load(&self, doc_id: Uuid) -> Result<StoredDoc, StoreError> {
        let snapshot = snapshots::Entity::find_by_id(doc_id)
            .one(&self.db)
            .await
            .map_err(err)?;
        let after = snapshot.as_ref().map(|s| s.upto_seq).unwrap_or(0);
        let log: Vec<Vec<u8>> = updates::Entity::find()
            .filter(updates::Column::PostId.eq(doc_id))
            .filter(updates::Column::Seq.gt(after))
            .order_by_asc(updates::Column::Seq)
            .all(&self.db)
            .await
            .map_err(err)?
            .into_iter()
            .map(|u| u.data)
            .collect();
        if snapshot.is_none() && log.is_empty() {
            // First open: seed the document from the post row.
            let Some(post) = posts::Entity::find_by_id(doc_id)
                .one(&self.db)
                .await
                .map_err(err)?
            else {
                return Err(StoreError("post not found".into()));
            };
            let content = row_content(&post);
            let edit = ContentEdit::to_match(&DocContent::default(), &content);
            let empty = doc::full_state(&doc::new_doc(None));
            let seed = doc::edit_update(&empty, seed_client(doc_id), &edit).map_err(err)?;
            if !doc::is_empty_update(&seed) {
                self.append(doc_id, std::slice::from_ref(&seed)).await?;
                return Ok(StoredDoc {
                    snapshot: None,
                    updates: vec![seed],
                });
            }
        }
        Ok(StoredDoc {
            snapshot: snapshot.map(|s| s.data),
            updates: log,
        })
    }

    async fn append(&self, doc_id: Uuid, batch: &[Vec<u8>]) -> Result<(), StoreError> {
        let now = Utc::now();
        let rows = batch.iter().map(|d| updates::ActiveModel {
            seq: NotSet,
            post_id: Set(doc_id),
            data: Set(d.clone()),
            created_at: Set(now),
        });
        updates::Entity::insert_many(rows)
            .exec(&self.db)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn compact(&self, doc_id: Uuid) -> Result<(), StoreError> {
        let snapshot = snapshots::Entity::find_by_id(doc_id)
            .one(&self.db)
            .await
            .map_err(err)?;
        let after = snapshot.as_ref().map(|s| s.upto_seq).unwrap_or(0);
        let log = updates::Entity::find()
            .filter(updates::Column::PostId.eq(doc_id))
            .filter(updates::Column::Seq.gt(after))
            .order_by_asc(updates::Column::Seq)
            .limit(100_000)
            .all(&self.db)
            .await
            .map_err(err)?;
        let Some(upto) = log.last().map(|u| u.seq) else {
            return Ok(());
        };
        let base = snapshot.as_ref().map(|s| s.data.clone());
        // Rebuilding the state is proportional to the document: do it off the async
        // threads, never on a session's hot path.
        let data = tokio::task::spawn_blocking(move || {
            let d = doc::new_doc(None);
            for u in base.iter().chain(log.iter().map(|u| &u.data)) {
                let _ = doc::apply(&d, u);
            }
            doc::full_state(&d)
        })
        .await
        .map_err(err)?;
        let txn = crate::store::begin(&self.db).await.map_err(err)?;
        let replaced = match snapshot {
            Some(_) => {
                snapshots::Entity::update_many()
                    .col_expr(snapshots::Column::Data, Expr::value(data))
                    .col_expr(snapshots::Column::UptoSeq, Expr::value(upto))
                    .col_expr(snapshots::Column::UpdatedAt, Expr::value(Utc::now()))
                    .filter(snapshots::Column::PostId.eq(doc_id))
                    // Never replace a newer snapshot (another node may have compacted).
                    .filter(snapshots::Column::UptoSeq.lt(upto))
                    .exec(&txn)
                    .await
                    .map_err(err)?
                    .rows_affected
                    == 1
            }
            None => snapshots::ActiveModel {
                post_id: Set(doc_id),
                data: Set(data),
                upto_seq: Set(upto),
                updated_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await
            .is_ok(),
        };
        if !replaced {
            txn.rollback().await.map_err(err)?;
            return Ok(());
        }
        updates::Entity::delete_many()
            .filter(updates::Column::PostId.eq(doc_id))
            .filter(updates::Column::Seq.lte(upto))
            .exec(&txn)
            .await
            .map_err(err)?;
        txn.commit().await.map_err(err)?;
        Ok(())
    }
}
