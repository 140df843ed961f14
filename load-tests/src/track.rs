//! State shared by all client tasks: per writer, when each update was sent and how many
//! clients have received it; the run's phase; a global delivery counter.
//!
//! Everything here is lock-free: one writer task stores, many reader tasks load. The tables
//! are rings indexed by `seq % ring`; each slot also holds the low 24 bits of its sequence
//! number, so a lookup for an older update that the ring has since overwritten misses
//! instead of returning a wrong time.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Instant;

use tokio::sync::Notify;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Clients connect and sync; nobody writes.
    Connecting,
    /// Writers write; deliveries are not counted.
    Warmup,
    /// Writers write; updates sent now are the measured ones.
    Measure,
    /// Writers stop; the generator waits for measured updates still on their way.
    Drain,
    /// Everyone disconnects.
    Stop,
}

const SEQ_SHIFT: u32 = 40;
const TIME_MASK: u64 = (1 << SEQ_SHIFT) - 1;
const SEQ_MASK: u64 = (1 << (64 - SEQ_SHIFT)) - 1;

pub struct WriterTrack {
    mask: usize,
    /// `(seq & SEQ_MASK) << 40 | micros since start` of each update's send.
    sent_at: Box<[AtomicU64]>,
    /// How many clients have received each update (saturation mode's window).
    received: Box<[AtomicU32]>,
    /// First measured sequence number (u64::MAX until the writer enters the window).
    pub from: AtomicU64,
    /// First sequence number after the window (u64::MAX while measuring).
    pub to: AtomicU64,
    /// Wakes the writer when one of its updates has reached every client.
    pub notify: Notify,
}

impl WriterTrack {
    pub fn new(ring: usize) -> Self {
        let ring = ring.next_power_of_two();
        Self {
            mask: ring - 1,
            sent_at: (0..ring).map(|_| AtomicU64::new(u64::MAX)).collect(),
            received: (0..ring).map(|_| AtomicU32::new(0)).collect(),
            from: AtomicU64::new(u64::MAX),
            to: AtomicU64::new(u64::MAX),
            notify: Notify::new(),
        }
    }

    fn slot(&self, seq: u64) -> usize {
        seq as usize & self.mask
    }

    /// Called by the writer just before it sends update `seq`.
    pub fn record_send(&self, seq: u64, t_us: u64) {
        let s = self.slot(seq);
        self.received[s].store(0, Relaxed);
        self.sent_at[s].store(((seq & SEQ_MASK) << SEQ_SHIFT) | (t_us & TIME_MASK), Release);
    }

    /// When update `seq` was sent, if the ring still remembers it.
    pub fn sent_time(&self, seq: u64) -> Option<u64> {
        let v = self.sent_at[self.slot(seq)].load(Acquire);
        (v != u64::MAX && v >> SEQ_SHIFT == seq & SEQ_MASK).then_some(v & TIME_MASK)
    }

    pub fn is_measured(&self, seq: u64) -> bool {
        seq >= self.from.load(Acquire) && seq < self.to.load(Acquire)
    }

    /// Counts one receipt of `seq`; true when this receipt made it reach `expected` clients.
    pub fn count_receipt(&self, seq: u64, expected: u32) -> bool {
        if self.sent_time(seq).is_none() {
            return false;
        }
        self.received[self.slot(seq)].fetch_add(1, AcqRel) + 1 == expected
    }

    pub fn is_complete(&self, seq: u64, expected: u32) -> bool {
        self.sent_time(seq).is_some() && self.received[self.slot(seq)].load(Acquire) >= expected
    }
}

pub struct Shared {
    pub start: Instant,
    /// Indexed by global writer id (`doc * writers_per_doc + w`).
    pub writers: Vec<WriterTrack>,
    /// Per document: how many clients other than the writer should receive each update
    /// (connected clients − 1), fixed once everyone has connected.
    pub receivers: Vec<AtomicU32>,
    /// Receipts of measured updates, over all clients.
    pub delivered: AtomicU64,
    /// Hands out `ClientResult::rank`.
    pub sync_order: AtomicU64,
}

impl Shared {
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

/// A growable set of sequence numbers, one per (client, writer): counts each marker once per
/// client even when a server delivers it twice (an update and later a SyncStep2 holding it).
#[derive(Default)]
pub struct SeqSet {
    words: Vec<u64>,
}

impl SeqSet {
    /// True if `seq` was not in the set.
    pub fn insert(&mut self, seq: u64) -> bool {
        let w = (seq / 64) as usize;
        if w >= self.words.len() {
            self.words.resize((w + 1).max(self.words.len() * 2), 0);
        }
        let bit = 1u64 << (seq % 64);
        let new = self.words[w] & bit == 0;
        self.words[w] |= bit;
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_forgets_overwritten_slots() {
        let t = WriterTrack::new(4);
        t.record_send(1, 100);
        assert_eq!(t.sent_time(1), Some(100));
        assert_eq!(t.sent_time(5), None);
        t.record_send(5, 200);
        assert_eq!(t.sent_time(1), None);
        assert_eq!(t.sent_time(5), Some(200));
        assert!(!t.count_receipt(1, 1)); // stale: not counted
        assert!(!t.count_receipt(5, 2));
        assert!(t.count_receipt(5, 2));
        assert!(t.is_complete(5, 2));
    }

    #[test]
    fn window_bounds() {
        let t = WriterTrack::new(16);
        assert!(!t.is_measured(0));
        t.from.store(3, Release);
        assert!(t.is_measured(3) && t.is_measured(1000) && !t.is_measured(2));
        t.to.store(10, Release);
        assert!(t.is_measured(9) && !t.is_measured(10));
    }

    #[test]
    fn seq_set_dedupes() {
        let mut s = SeqSet::default();
        assert!(s.insert(0) && s.insert(1000) && !s.insert(1000) && s.insert(63) && !s.insert(0));
    }
}
