//! The document store under races (issue 8, bugs 1–3): appends, compactions from two
//! "nodes" and loads running at once never lose an update that was durably appended, and
//! every load is one consistent moment. Runs on SQLite and on PostgreSQL.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use copydesk::collab::store::DbDocStore;
use copydesk_actors::ports::DocStore;
use serde_json::json;
use uuid::Uuid;
use yrs::{GetString, ReadTxn, Text, Transact};

use crate::helpers::*;

async fn a_post(app: &TestApp) -> Uuid {
    let s = app.register_verified(&email("store"), "Store").await;
    let ws = app.create_workspace(&s, "Store").await;
    let post = app.create_post(&s, &ws, json!({"title": "T"})).await;
    post["id"].as_str().unwrap().parse().unwrap()
}

/// A client that appends markers `<name>:<i>;` to the caption, one update per marker.
struct Writer {
    doc: yrs::Doc,
    name: String,
    next: usize,
}

impl Writer {
    fn new(client_id: u64, name: &str) -> Self {
        Self {
            doc: copydesk_actors::doc::new_doc(Some(client_id)),
            name: name.to_string(),
            next: 0,
        }
    }

    fn edit(&mut self) -> (String, Vec<u8>) {
        let marker = format!("{}:{};", self.name, self.next);
        self.next += 1;
        let t = self.doc.get_or_insert_text("caption");
        let before = self.doc.transact().state_vector();
        {
            let mut txn = self.doc.transact_mut();
            let len = t.len(&txn);
            t.insert(&mut txn, len, &marker);
        }
        (
            marker,
            self.doc.transact().encode_state_as_update_v1(&before),
        )
    }
}

/// The caption of a loaded document.
fn caption_of(stored: &copydesk_actors::ports::StoredDoc) -> String {
    let d = copydesk_actors::doc::new_doc(None);
    for u in stored.snapshot.iter().chain(stored.updates.iter()) {
        copydesk_actors::doc::apply(&d, u).unwrap();
    }
    let t = d.get_or_insert_text("caption");
    let s = t.get_string(&d.transact());
    s
}

/// Four writers append while two stores (two nodes) compact in a loop and a reader loads:
/// every load holds every marker whose append finished before it started (a load is one
/// moment, bug 3), and the final document holds all of them (compaction never folds a
/// stale snapshot or deletes what it did not fold, bugs 1 and 2).
#[actix_web::test]
async fn appends_compactions_and_loads_race_without_losing_an_update() {
    let app = spawn_app().await;
    let post = a_post(&app).await;
    let node_a = Arc::new(DbDocStore::new(app.db.clone()));
    let node_b = Arc::new(DbDocStore::new(app.db.clone()));
    // Seed first so the writers' updates stand alone.
    node_a.load(post).await.unwrap();

    let done: Arc<Mutex<HashSet<String>>> = Arc::default();
    let writing = Arc::new(std::sync::atomic::AtomicUsize::new(4));
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let store = if w % 2 == 0 {
            node_a.clone()
        } else {
            node_b.clone()
        };
        let (done, writing) = (done.clone(), writing.clone());
        tasks.push(tokio::spawn(async move {
            let mut writer = Writer::new(1000 + w, &format!("w{w}"));
            for round in 0..40 {
                // Batches of 1–3 updates, as a session's group commit makes them.
                let (markers, batch): (Vec<String>, Vec<Vec<u8>>) =
                    (0..1 + round % 3).map(|_| writer.edit()).unzip();
                store.append(post, &batch).await.unwrap();
                done.lock().unwrap().extend(markers);
                // Let the compactors and the reader in between appends.
                tokio::task::yield_now().await;
            }
            writing.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }));
    }
    let mut compactors = Vec::new();
    for store in [node_a.clone(), node_b.clone()] {
        let writing = writing.clone();
        compactors.push(tokio::spawn(async move {
            let mut runs = 0;
            while writing.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                store.compact(post).await.unwrap();
                runs += 1;
            }
            runs
        }));
    }
    let reader = {
        let (done, writing, store) = (done.clone(), writing.clone(), node_b.clone());
        tokio::spawn(async move {
            let mut loads = 0;
            while writing.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                let before: Vec<String> = done.lock().unwrap().iter().cloned().collect();
                let caption = caption_of(&store.load(post).await.unwrap());
                for m in &before {
                    assert!(
                        caption.contains(m.as_str()),
                        "a load missed {m}, appended before it began"
                    );
                }
                loads += 1;
            }
            loads
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    let runs: usize = {
        let mut n = 0;
        for c in compactors {
            n += c.await.unwrap();
        }
        n
    };
    let loads = reader.await.unwrap();
    assert!(
        runs >= 4 && loads > 0,
        "the race ran ({runs} compactions, {loads} loads)"
    );

    node_a.compact(post).await.unwrap();
    let caption = caption_of(&node_b.load(post).await.unwrap());
    let done = done.lock().unwrap();
    assert_eq!(done.len(), (0..40).map(|r| 1 + r % 3).sum::<usize>() * 4);
    for m in done.iter() {
        assert!(caption.contains(m.as_str()), "{m} was lost");
    }
}

/// An append whose transaction is still open when a later append commits and a compaction
/// runs: positions are handed out in commit order, so the compaction cannot cover the
/// late one's position without it (bug 2: with a global sequence the late row got a lower
/// id than the compaction's `upto`, committed after it, and was never loaded again).
#[actix_web::test]
async fn a_slow_append_is_never_skipped_by_a_compaction() {
    let app = spawn_app().await;
    let post = a_post(&app).await;
    let store = Arc::new(DbDocStore::new(app.db.clone()));
    store.load(post).await.unwrap();
    let mut slow = Writer::new(501, "slow");
    let mut fast = Writer::new(502, "fast");
    let (slow_marker, slow_update) = slow.edit();
    let (fast_marker, fast_update) = fast.edit();

    // The slow append takes its position and holds its transaction open.
    let txn = copydesk::store::begin(&app.db).await.unwrap();
    DbDocStore::append_in(&txn, post, &[slow_update])
        .await
        .unwrap();
    // Meanwhile a second append and a compaction start. The append waits for the slow one's
    // head row on PostgreSQL (for the write lock on SQLite); the compaction may fold what
    // has committed meanwhile, which cannot include a position after the slow one's.
    let fast_append = {
        let store = store.clone();
        tokio::spawn(async move { store.append(post, &[fast_update]).await })
    };
    let compaction = {
        let store = store.clone();
        tokio::spawn(async move { store.compact(post).await })
    };
    if is_postgres() {
        // The second append is really waiting on the slow append's row lock.
        wait_for_lock_waiters(&app, 1).await;
    }
    txn.commit().await.unwrap();
    fast_append.await.unwrap().unwrap();
    compaction.await.unwrap().unwrap();
    store.compact(post).await.unwrap();

    let caption = caption_of(&store.load(post).await.unwrap());
    assert!(
        caption.contains(&slow_marker),
        "the slow append was lost: {caption:?}"
    );
    assert!(
        caption.contains(&fast_marker),
        "the fast append was lost: {caption:?}"
    );
}

/// Waits (bounded) until `n` sessions of this database wait on a lock.
async fn wait_for_lock_waiters(app: &TestApp, n: i64) {
    use sea_orm::{ConnectionTrait, Statement};
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND datname = current_database()",
            ))
            .await
            .unwrap()
            .unwrap();
        let waiting: i64 = row.try_get("", "n").unwrap();
        if waiting >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {waiting} of {n} waiters"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Appends of several documents share one transaction on SQLite (group commit across
/// documents); one that fails (here: a document that does not exist) fails alone.
#[actix_web::test]
async fn a_failing_append_does_not_take_others_with_it() {
    let app = spawn_app().await;
    let post = a_post(&app).await;
    let store = DbDocStore::new(app.db.clone());
    store.load(post).await.unwrap();
    let (marker, update) = Writer::new(77, "ok").edit();
    let (_, stray) = Writer::new(78, "stray").edit();
    let (good, bad) = tokio::join!(
        store.append(post, std::slice::from_ref(&update)),
        store.append(Uuid::new_v4(), std::slice::from_ref(&stray)),
    );
    good.unwrap();
    assert!(bad.is_err(), "an append to a missing document must fail");
    assert!(caption_of(&store.load(post).await.unwrap()).contains(&marker));
}
