//! The update log: every update is appended before it is applied or sent (group commit, one
//! write in flight), then applied and sent once; bounded retries; compaction; derived
//! fields and auto-versions after a change; server edits computed against the live state.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use uuid::Uuid;
use yrs::{ReadTxn, StateVector, Transact};

use super::bus::BUS_UPDATE;
use super::{ConnId, EditError, Origin, Outbound, Pending, PostSession};
use crate::doc;
use crate::protocol::{self, close};

impl PostSession {
    /// Starts a log write for everything pending, unless one is already in flight.
    pub(super) fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.flushing || self.pending.is_empty() {
            return;
        }
        self.flushing = true;
        let batch = std::mem::take(&mut self.pending);
        let (datas, metas): (Vec<Vec<u8>>, Vec<Origin>) = batch
            .into_iter()
            .map(|p| (p.data, (p.from, p.done)))
            .unzip();
        let store = self.deps.store.clone();
        let id = self.post_id;
        ctx.spawn(
            async move {
                let res = store.append(id, &datas).await;
                (res, datas)
            }
            .into_actor(self)
            .map(move |(res, datas), act, ctx| {
                act.flushing = false;
                match res {
                    Ok(()) => {
                        act.append_failures = 0;
                        act.commit(datas, metas, ctx)
                    }
                    Err(e) => {
                        act.append_failures += 1;
                        if act.append_failures >= act.deps.config.max_append_failures {
                            // Give up: nothing of this batch was applied or sent, so no peer
                            // saw it; the authors resend it when they reconnect and resync.
                            tracing::error!(post_id = %act.post_id, error = %e, failures = act.append_failures, "update log keeps failing; closing the document");
                            for (_, done) in metas {
                                if let Some(done) = done {
                                    let _ = done.send(Err(EditError::Storage(e.to_string())));
                                }
                            }
                            for (_, done) in act.server_edits.drain(..) {
                                let _ = done.send(Err(EditError::Storage(e.to_string())));
                            }
                            act.close_all(close::SERVER_ERROR, "could not save the document; reconnect");
                            ctx.stop();
                            return;
                        }
                        // Nothing was applied or sent; retry the same batch first.
                        tracing::error!(post_id = %act.post_id, error = %e, "update log write failed; retrying");
                        let mut again: Vec<Pending> = datas
                            .into_iter()
                            .zip(metas)
                            .map(|(data, (from, done))| Pending { from, data, done })
                            .collect();
                        again.append(&mut act.pending);
                        act.pending = again;
                        ctx.run_later(Duration::from_millis(200), |act, ctx| act.flush(ctx));
                        return;
                    }
                }
                act.flush(ctx);
                act.maybe_finish_shutdown(ctx);
            }),
        );
    }

    /// The batch is durable: apply it, send it once, announce it.
    pub(super) fn commit(
        &mut self,
        datas: Vec<Vec<u8>>,
        metas: Vec<Origin>,
        ctx: &mut Context<Self>,
    ) {
        let mut applied: Vec<Vec<u8>> = Vec::with_capacity(datas.len());
        let mut contributors: HashSet<Option<ConnId>> = HashSet::new();
        let before = self.doc.transact().state_vector();
        let mut released = false;
        for (data, (from, done)) in datas.into_iter().zip(metas) {
            let res = doc::apply_noting(&self.doc, &data, &mut self.deleted).map(|r| {
                released |= r;
            });
            if let Err(e) = &res {
                tracing::warn!(post_id = %self.post_id, error = %e, "logged update did not apply");
                if let Some(c) = from {
                    if let Some(p) = self.remove_peer(c) {
                        let _ = p.tx.try_send(Outbound::Close(
                            close::INVALID_PAYLOAD,
                            "update could not be applied".into(),
                        ));
                    }
                }
            } else {
                contributors.insert(from);
                applied.push(data);
            }
            if let Some(done) = done {
                self.server_edit_in_flight = false;
                let _ = done.send(
                    res.map(|_| doc::read_content(&self.doc))
                        .map_err(EditError::Invalid),
                );
            }
        }
        self.next_server_edit(ctx);
        if applied.is_empty() {
            return;
        }
        let n = applied.len();
        self.logged_bytes += applied.iter().map(Vec::len).sum::<usize>();
        // Each update goes out as it came, one message per frame (stock y-websocket clients
        // read one message per frame). Not merged: yrs 0.28's `merge_updates_v1` renumbers
        // items after a gap in a client's clocks (found by tests/model.rs), and a gap is
        // exactly what a batch holds when some of an author's updates were lost with a node.
        let outgoing = applied;
        // A peer that was the only author of the batch already has all of it.
        let sole = match (contributors.len(), contributors.iter().next()) {
            (1, Some(Some(c))) => Some(*c),
            _ => None,
        };
        let frames: Vec<Bytes> = outgoing
            .iter()
            .map(|u| Bytes::from(protocol::update(u.clone())))
            .collect();
        self.broadcast_all(&frames, sole);
        for u in outgoing {
            self.publish(BUS_UPDATE, &u, ctx);
        }
        if released {
            self.send_released(before);
        }
        self.after_change(n, ctx);
    }

    /// Items an update depends on can arrive after it (a dropped bus message, a client's
    /// resync): yrs holds such an update back and integrates it later, when the missing
    /// piece comes — but only the piece is passed on, and a peer that joined in between got
    /// a SyncStep2 without the held items. When an apply integrates more than it carried
    /// ([`doc::apply_noting`]), send every peer everything integrated since `from`.
    /// Duplicates are harmless to Yjs.
    pub(super) fn send_released(&mut self, from: StateVector) {
        let diff = doc::diff(&self.doc, &from);
        if doc::changes(&diff, &from, &doc::Deletions::default()) {
            self.broadcast(Bytes::from(protocol::update(diff)), None);
        }
    }

    pub(super) fn after_change(&mut self, appended: usize, ctx: &mut Context<Self>) {
        self.appended_since_compaction += appended;
        let c = &self.deps.config;
        if self.appended_since_compaction >= c.compact_every
            || self.logged_bytes >= self.snapshot_bytes.max(c.compact_min_bytes)
        {
            self.compact(ctx);
        }
        let started = *self.editing_since_version.get_or_insert_with(Instant::now);
        if started.elapsed() >= self.deps.config.auto_version_every {
            self.editing_since_version = Some(Instant::now());
            let hooks = self.deps.hooks.clone();
            let (id, state) = (self.post_id, doc::full_state(&self.doc));
            ctx.spawn(async move { hooks.auto_version(id, state).await }.into_actor(self));
        }
        // Derived fields go onto the post row once editing pauses for `derive_debounce`, and
        // at least every `derive_max_delay` while it goes on — one write per document every
        // few seconds under continuous typing, not one per keystroke burst.
        let now = Instant::now();
        self.last_change = now;
        self.derive_since.get_or_insert(now);
        if !self.derive_scheduled {
            self.derive_scheduled = true;
            ctx.run_later(self.deps.config.derive_debounce, |act, ctx| {
                act.derive_when_due(ctx)
            });
        }
    }

    pub(super) fn derive_when_due(&mut self, ctx: &mut Context<Self>) {
        let c = &self.deps.config;
        let quiet = self.last_change.elapsed();
        let waited = self.derive_since.map_or(Duration::ZERO, |t| t.elapsed());
        if quiet < c.derive_debounce && waited < c.derive_max_delay {
            let next = (c.derive_debounce - quiet).min(c.derive_max_delay - waited);
            ctx.run_later(next, |act, ctx| act.derive_when_due(ctx));
            return;
        }
        self.derive_scheduled = false;
        self.derive_since = None;
        let hooks = self.deps.hooks.clone();
        let (id, content) = (self.post_id, doc::read_content(&self.doc));
        let editors: Vec<Uuid> = self.editors.drain().collect();
        ctx.spawn(
            async move { hooks.content_changed(id, content, editors).await }.into_actor(self),
        );
    }

    pub(super) fn compact(&mut self, ctx: &mut Context<Self>) {
        if self.compacting {
            return;
        }
        self.compacting = true;
        let (count, bytes) = (self.appended_since_compaction, self.logged_bytes);
        self.appended_since_compaction = 0;
        self.logged_bytes = 0;
        let store = self.deps.store.clone();
        let id = self.post_id;
        ctx.spawn(async move { store.compact(id).await }.into_actor(self).map(move |res, act, _| {
            act.compacting = false;
            match res {
                Ok(Some(size)) => act.snapshot_bytes = size,
                // Another node compacted first: its snapshot covers ours.
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(post_id = %act.post_id, error = %e, "compaction failed; will retry");
                    act.appended_since_compaction += count;
                    act.logged_bytes += bytes;
                }
            }
        }));
    }

    /// Computes the next queued server edit against the document as it is now — only when
    /// no other server edit is waiting to be applied — with a fresh client id, so no two
    /// server updates ever share a (client, clock).
    pub(super) fn next_server_edit(&mut self, ctx: &mut Context<Self>) {
        while !self.server_edit_in_flight {
            let Some((edit, done)) = self.server_edits.pop_front() else {
                return;
            };
            let client = loop {
                let c = (Uuid::new_v4().as_u128() as u64) & 0x3fff_ffff;
                if c != 0
                    && self
                        .doc
                        .transact()
                        .state_vector()
                        .get(&yrs::block::ClientID::new(c))
                        == 0
                {
                    break c;
                }
            };
            match doc::edit_update(&doc::full_state(&self.doc), client, &edit) {
                Ok(u) if doc::is_empty_update(&u) => {
                    let _ = done.send(Ok(doc::read_content(&self.doc)));
                }
                Ok(u) => {
                    self.server_edit_in_flight = true;
                    self.pending.push(Pending {
                        from: None,
                        data: u,
                        done: Some(done),
                    });
                    self.flush(ctx);
                }
                Err(e) => {
                    let _ = done.send(Err(EditError::Invalid(e)));
                }
            }
        }
    }
}
