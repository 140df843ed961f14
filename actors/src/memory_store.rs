//! An in-memory `DocStore`: for actor tests and for trying things without a database.
//!
//! Tests can hold appends at a gate (to see what happens while a write is in flight) and
//! make appends fail (to see what a session does when storage breaks).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::ports::{DocStore, StoreError, StoredDoc};

#[derive(Default)]
struct Doc {
    snapshot: Option<Vec<u8>>,
    log: Vec<Vec<u8>>,
}

#[derive(Clone, Default)]
pub struct MemoryDocStore {
    docs: Arc<Mutex<HashMap<Uuid, Doc>>>,
    /// When set, each append waits for a permit.
    gate: Arc<Mutex<Option<Arc<Semaphore>>>>,
    /// Appends to fail from now on (decremented per failure); usize::MAX = always.
    failures: Arc<AtomicUsize>,
    appends: Arc<AtomicUsize>,
}

impl MemoryDocStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds every append until [`MemoryDocStore::release`] gives it a permit.
    pub fn close_gate(&self) {
        *self.gate.lock().unwrap() = Some(Arc::new(Semaphore::new(0)));
    }

    /// Lets `n` held (or future) appends through.
    pub fn release(&self, n: usize) {
        if let Some(g) = self.gate.lock().unwrap().as_ref() {
            g.add_permits(n);
        }
    }

    /// The next `n` appends fail (`usize::MAX`: all of them).
    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    /// Successful appends so far.
    pub fn appends(&self) -> usize {
        self.appends.load(Ordering::SeqCst)
    }

    /// Every update logged for `doc` since its snapshot.
    pub fn log(&self, doc: Uuid) -> Vec<Vec<u8>> {
        self.docs
            .lock()
            .unwrap()
            .get(&doc)
            .map(|d| d.log.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl DocStore for MemoryDocStore {
    async fn load(&self, doc: Uuid) -> Result<StoredDoc, StoreError> {
        let docs = self.docs.lock().unwrap();
        Ok(docs
            .get(&doc)
            .map(|d| StoredDoc {
                snapshot: d.snapshot.clone(),
                updates: d.log.clone(),
            })
            .unwrap_or_default())
    }

    async fn append(&self, doc: Uuid, updates: &[Vec<u8>]) -> Result<(), StoreError> {
        let gate = self.gate.lock().unwrap().clone();
        if let Some(g) = gate {
            g.acquire()
                .await
                .map_err(|e| StoreError(e.to_string()))?
                .forget();
        }
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            if left != usize::MAX {
                self.failures.store(left - 1, Ordering::SeqCst);
            }
            return Err(StoreError("injected failure".into()));
        }
        self.docs
            .lock()
            .unwrap()
            .entry(doc)
            .or_default()
            .log
            .extend(updates.iter().cloned());
        self.appends.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn compact(&self, doc: Uuid) -> Result<Option<usize>, StoreError> {
        let mut docs = self.docs.lock().unwrap();
        let Some(d) = docs.get_mut(&doc) else {
            return Ok(None);
        };
        if d.log.is_empty() {
            return Ok(None);
        }
        let mut all: Vec<Vec<u8>> = d.snapshot.iter().cloned().collect();
        all.append(&mut d.log);
        // Folded by applying, as the database store does (`merge_updates_v1` renumbers
        // items after a gap in a client's clocks).
        let folded = crate::doc::new_doc(None);
        for u in &all {
            crate::doc::apply(&folded, u).map_err(StoreError)?;
        }
        if crate::doc::has_pending(&folded) {
            // A snapshot would drop what cannot be integrated yet: keep the log.
            d.log = all.split_off(usize::from(d.snapshot.is_some()));
            return Ok(None);
        }
        let merged = crate::doc::full_state(&folded);
        let size = merged.len();
        d.snapshot = Some(merged);
        Ok(Some(size))
    }
}
