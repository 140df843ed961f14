//! What goes between nodes on the bus: one topic per document; each message is a kind byte,
//! the sending node's id and a payload. Updates were logged by their origin and are only
//! applied here; state vectors ask for what a node misses (the repair); awareness travels
//! as it came, and a starting session asks the others for theirs.

use actix::prelude::*;
use bytes::Bytes;
use uuid::Uuid;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Transact};

use super::PostSession;
use crate::doc;
use crate::ports::BusMessage;
use crate::protocol::{self, Incoming};

pub(super) const BUS_UPDATE: u8 = 0;
pub(super) const BUS_AWARENESS: u8 = 1;
pub(super) const BUS_STATE_VECTOR: u8 = 2;
/// A session that just started on a node asks the others for their peers' awareness: who
/// is already here (their cursors, names) would otherwise reach it only at each client's
/// next renewal, ~15 s later.
pub(super) const BUS_AWARENESS_QUERY: u8 = 3;

/// The least time between two repair requests of one session (a burst of updates after a
/// gap would otherwise ask once per update).
const REPAIR_ASK_GAP: std::time::Duration = std::time::Duration::from_millis(50);

pub(super) fn bus_frame(kind: u8, node: Uuid, payload: &[u8]) -> BusMessage {
    let mut m = Vec::with_capacity(17 + payload.len());
    m.push(kind);
    m.extend_from_slice(node.as_bytes());
    m.extend_from_slice(payload);
    m
}

pub(super) fn parse_bus(m: &[u8]) -> Option<(u8, Uuid, &[u8])> {
    if m.len() < 17 {
        return None;
    }
    Some((m[0], Uuid::from_slice(&m[1..17]).ok()?, &m[17..]))
}

impl PostSession {
    pub(super) fn publish(&self, kind: u8, payload: &[u8], ctx: &mut Context<Self>) {
        let bus = self.deps.bus.clone();
        let topic = self.topic();
        let msg = bus_frame(kind, self.deps.node_id, payload);
        ctx.spawn(
            async move {
                if let Err(e) = bus.publish(&topic, msg).await {
                    tracing::debug!(error = %e, "bus publish failed; peers will repair");
                }
            }
            .into_actor(self),
        );
    }

    /// Publishes this node's state vector: any node holding more answers with the
    /// difference. At most once per [`REPAIR_ASK_GAP`] when asked on a gap.
    pub(super) fn ask_repair(&mut self, ctx: &mut Context<Self>) {
        let now = std::time::Instant::now();
        if self
            .last_repair_ask
            .is_some_and(|t| now.duration_since(t) < REPAIR_ASK_GAP)
        {
            return;
        }
        self.last_repair_ask = Some(now);
        let sv = self.doc.transact().state_vector();
        self.publish(
            BUS_STATE_VECTOR,
            &yrs::updates::encoder::Encode::encode_v1(&sv),
            ctx,
        );
    }

    pub(super) fn on_bus(&mut self, msg: &[u8], ctx: &mut Context<Self>) {
        let Some((kind, node, payload)) = parse_bus(msg) else {
            return;
        };
        if node == self.deps.node_id {
            return;
        }
        match kind {
            // Logged by the node that sent it. Repair answers that bring nothing new are
            // not passed on.
            BUS_UPDATE if self.changes(payload) => {
                let before = self.doc.transact().state_vector();
                if let Ok(released) = doc::apply_noting(&self.doc, payload, &mut self.deleted) {
                    self.broadcast(Bytes::from(protocol::update(payload.to_vec())), None);
                    if released {
                        self.send_released(before);
                    }
                    // It waits for something this node never got: a message was dropped.
                    // Ask now rather than at the next repair round.
                    if doc::has_pending(&self.doc) {
                        self.ask_repair(ctx);
                    }
                    self.after_change(0, ctx);
                }
            }
            BUS_AWARENESS => {
                if let Ok(mut parsed) = protocol::parse_frame(payload) {
                    if let Some(Incoming::Awareness(a)) = parsed.pop() {
                        self.apply_awareness(a, None);
                        self.broadcast(Bytes::from(payload.to_vec()), None);
                    }
                }
            }
            BUS_AWARENESS_QUERY => {
                if let Some(mine) = self.local_awareness() {
                    self.publish(BUS_AWARENESS, &mine, ctx);
                }
            }
            BUS_STATE_VECTOR => {
                if let Ok(sv) = StateVector::decode_v1(payload) {
                    let diff = doc::diff(&self.doc, &sv);
                    if !doc::is_empty_update(&diff) {
                        self.publish(BUS_UPDATE, &diff, ctx);
                    }
                }
            }
            _ => {}
        }
    }
}

impl StreamHandler<BusMessage> for PostSession {
    fn handle(&mut self, msg: BusMessage, ctx: &mut Context<Self>) {
        self.on_bus(&msg, ctx);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {
        // The bus stream only ends if the bus gave up; local peers are still served.
        tracing::warn!(post_id = %self.post_id, "bus subscription ended");
    }
}
