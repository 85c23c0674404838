//! The pending timer messages and the progress point persisted for them.
//!
//! Each pending message costs one [`Entry`] (deliver time, timer-queue offset, CommitLog offset
//! and size: 32 bytes) in a min-heap ordered by (deliver time, queue offset). Messages are
//! admitted in timer-queue order and delivered in heap order, an entry leaving the heap only
//! once its re-put is stored.
//!
//! Progress ([`Progress`]) is three numbers: `enqueue_offset` (every queue entry below it has
//! been admitted), `delivered_before` (the heap's least key: every admitted entry with a smaller
//! key has been delivered, none with a key at or above it) and `scan_from` (the least queue
//! offset still pending). On start the queue is scanned from `scan_from`; an entry is pending
//! iff it was not admitted yet or its key is not below `delivered_before` ([`Progress::is_pending`]).
//! Deliver times of later admissions are never below a delivered one's while the clock runs
//! forward (the send path rounds down to the precision but the result still lies after the send
//! time), so a clean restart neither repeats nor loses messages; a clock stepping back can only
//! cause a repeat, never a loss.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One pending timer message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// `TIMER_OUT_MS`: when it is due.
    pub out_ms: i64,
    /// Its offset in the timer topic's queue 0.
    pub cq_offset: i64,
    /// CommitLog offset of the timer-topic record.
    pub phy_offset: i64,
    /// Its size.
    pub size: i32,
}

impl Entry {
    fn key(&self) -> (i64, i64) {
        (self.out_ms, self.cq_offset)
    }
}

/// The persisted progress point (`config/timerProgress.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Next timer-queue offset to admit.
    pub enqueue_offset: i64,
    /// Least timer-queue offset that may still be pending.
    pub scan_from: i64,
    /// Least pending key (deliver ms, queue offset); `None`: nothing admitted is pending.
    pub delivered_before: Option<(i64, i64)>,
}

impl Progress {
    /// Whether the queue entry at `cq_offset`, due at `out_ms`, still has to be delivered.
    pub fn is_pending(&self, cq_offset: i64, out_ms: i64) -> bool {
        if cq_offset >= self.enqueue_offset {
            return true;
        }
        match self.delivered_before {
            None => false,
            Some(key) => (out_ms, cq_offset) >= key,
        }
    }
}

/// The heap of pending messages plus the admission cursor.
#[derive(Debug, Default)]
pub struct Pending {
    heap: BinaryHeap<Reverse<Entry>>,
    enqueue_offset: i64,
}

impl Pending {
    /// Empty, admitting from `enqueue_offset` on.
    pub fn new(enqueue_offset: i64) -> Self {
        Pending {
            heap: BinaryHeap::new(),
            enqueue_offset,
        }
    }

    /// Next queue offset to admit.
    pub fn enqueue_offset(&self) -> i64 {
        self.enqueue_offset
    }

    /// Moves the admission cursor (entries skipped as delivered or unreadable).
    pub fn advance_to(&mut self, offset: i64) {
        self.enqueue_offset = self.enqueue_offset.max(offset);
    }

    /// Adds a pending entry (the cursor moves past it).
    pub fn admit(&mut self, e: Entry) {
        self.heap.push(Reverse(e));
        self.advance_to(e.cq_offset + 1);
    }

    /// The earliest pending entry.
    pub fn peek(&self) -> Option<Entry> {
        self.heap.peek().map(|r| r.0)
    }

    /// Removes the earliest entry (after its delivery is stored).
    pub fn pop(&mut self) -> Option<Entry> {
        self.heap.pop().map(|r| r.0)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The progress point describing this state (O(n) for `scan_from`).
    pub fn progress(&self) -> Progress {
        Progress {
            enqueue_offset: self.enqueue_offset,
            scan_from: self
                .heap
                .iter()
                .map(|r| r.0.cq_offset)
                .min()
                .unwrap_or(self.enqueue_offset),
            delivered_before: self.peek().map(|e| e.key()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(out_ms: i64, cq_offset: i64) -> Entry {
        Entry {
            out_ms,
            cq_offset,
            phy_offset: cq_offset * 100,
            size: 100,
        }
    }

    #[test]
    fn delivers_in_time_then_queue_order() {
        let mut p = Pending::new(0);
        for x in [e(3000, 0), e(1000, 1), e(2000, 2), e(1000, 3)] {
            p.admit(x);
        }
        let order: Vec<i64> = std::iter::from_fn(|| p.pop())
            .map(|x| x.cq_offset)
            .collect();
        assert_eq!(order, vec![1, 3, 2, 0]);
        assert_eq!(p.enqueue_offset(), 4);
    }

    /// Simulates delivery and restarts: at every step, rebuilding from the progress point over
    /// the whole queue yields exactly the entries still in the heap plus those not admitted.
    #[test]
    fn progress_rebuilds_exactly_the_pending_set() {
        // Queue: (offset -> deliver time), admitted in offset order.
        let queue: Vec<i64> = vec![5000, 1000, 3000, 1000, 9000, 2000, 3000, 4000];
        let mut p = Pending::new(0);
        let mut delivered: Vec<i64> = Vec::new();
        for (admitted, &now) in [3usize, 5, 6, 8]
            .iter()
            .zip([1000i64, 2500, 3000, 9000].iter())
        {
            while (p.enqueue_offset() as usize) < *admitted {
                let off = p.enqueue_offset();
                p.admit(e(queue[off as usize], off));
            }
            while let Some(x) = p.peek() {
                if x.out_ms > now {
                    break;
                }
                delivered.push(p.pop().unwrap().cq_offset);
            }
            let pr = p.progress();
            let rebuilt: Vec<i64> = (pr.scan_from..queue.len() as i64)
                .filter(|&o| pr.is_pending(o, queue[o as usize]))
                .collect();
            let mut expect: Vec<i64> = (0..queue.len() as i64)
                .filter(|o| !delivered.contains(o))
                .collect();
            expect.sort();
            assert_eq!(rebuilt, expect, "after admitting {admitted} at {now}");
            assert!(pr.scan_from <= *expect.first().unwrap_or(&pr.enqueue_offset));
        }
        assert_eq!(delivered.len(), queue.len());
        let pr = p.progress();
        assert_eq!(pr.delivered_before, None);
        assert_eq!(pr.scan_from, 8);
        assert!(pr.is_pending(8, 0));
        assert!(!pr.is_pending(7, 99_999));
    }
}
