//! Awareness (cursors, selections, who is here): which client ids a peer may set, what a
//! starting node is told, and removal when peers leave or go quiet.

use std::collections::HashMap;
use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;

use super::bus::BUS_AWARENESS;
use super::{AwarenessEntry, ConnId, PostSession};
use crate::protocol::{self, AwarenessUpdate, AwarenessUpdateEntry};

impl PostSession {
    pub(super) fn full_awareness(&self) -> Option<Bytes> {
        self.awareness_of(|_| true)
    }

    /// The awareness states this node's own peers hold (what it answers another node's query
    /// with; states learnt from other nodes are theirs to tell).
    pub(super) fn local_awareness(&self) -> Option<Bytes> {
        self.awareness_of(|id| self.peers.values().any(|p| p.awareness_ids.contains(&id)))
    }

    pub(super) fn awareness_of(&self, keep: impl Fn(u64) -> bool) -> Option<Bytes> {
        let clients: HashMap<_, _> = self
            .awareness
            .iter()
            .filter(|(id, _)| keep(**id))
            .map(|(id, e)| {
                (
                    yrs::block::ClientID::new(*id),
                    AwarenessUpdateEntry {
                        clock: e.clock,
                        json: e.json.clone(),
                    },
                )
            })
            .collect();
        if clients.is_empty() {
            return None;
        }
        Some(Bytes::from(protocol::awareness(AwarenessUpdate {
            clients,
        })))
    }

    /// Applies an awareness update from a peer (`from`) or another node. A peer may only set
    /// states for client ids it owns: the first ids it uses, up to `max_awareness_ids`, and
    /// none that another connection holds. Returns the part that was accepted.
    pub(super) fn apply_awareness(
        &mut self,
        a: AwarenessUpdate,
        from: Option<ConnId>,
    ) -> AwarenessUpdate {
        let now = Instant::now();
        let max_ids = self.deps.config.max_awareness_ids;
        let mut accepted = HashMap::new();
        for (cid, e) in a.clients {
            let id = cid.get();
            if let Some(conn) = from {
                let owned_elsewhere = self
                    .peers
                    .iter()
                    .any(|(c, p)| *c != conn && p.awareness_ids.contains(&id));
                let Some(p) = self.peers.get(&conn) else {
                    continue;
                };
                if owned_elsewhere
                    || (!p.awareness_ids.contains(&id) && p.awareness_ids.len() >= max_ids)
                {
                    continue;
                }
            }
            if e.json.as_ref() == "null" {
                self.awareness.remove(&id);
                if let Some(p) = from.and_then(|c| self.peers.get_mut(&c)) {
                    p.awareness_ids.remove(&id);
                }
            } else {
                self.awareness.insert(
                    id,
                    AwarenessEntry {
                        clock: e.clock,
                        json: e.json.clone(),
                        renewed: now,
                    },
                );
                if let Some(p) = from.and_then(|c| self.peers.get_mut(&c)) {
                    p.awareness_ids.insert(id);
                }
            }
            accepted.insert(cid, e);
        }
        AwarenessUpdate { clients: accepted }
    }

    /// Removes awareness entries and tells everyone (locally and on the bus).
    pub(super) fn drop_awareness(&mut self, ids: Vec<u64>, ctx: &mut Context<Self>) {
        let clients: HashMap<_, _> = ids
            .into_iter()
            .filter_map(|id| {
                let e = self.awareness.remove(&id)?;
                Some((
                    yrs::block::ClientID::new(id),
                    AwarenessUpdateEntry {
                        clock: e.clock + 1,
                        json: "null".into(),
                    },
                ))
            })
            .collect();
        if clients.is_empty() {
            return;
        }
        let bytes = protocol::awareness(AwarenessUpdate { clients });
        self.publish(BUS_AWARENESS, &bytes, ctx);
        self.broadcast(Bytes::from(bytes), None);
    }
}
