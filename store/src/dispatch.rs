//! The dispatcher (Java `ReputMessageService`): one thread that follows the CommitLog from
//! `reput_from`, writes a ConsumeQueue unit per consumable record, index entries, and tells the
//! arrival listener. It never reads past a file's wrote position, so it only sees whole records.
//! A put dispatches what it wrote itself when nobody is dispatching and little is pending
//! ([`dispatch_inline`]): the waiting consumer is then told without a thread hop, which is what
//! produce-to-consume latency at moderate load is made of. Otherwise the put wakes the thread
//! (`Thread::unpark`). One lock orders the two, so records are dispatched once and in order.

use std::sync::atomic::Ordering;
use std::sync::PoisonError;
use std::time::Duration;

use crate::consume_queue::{CqUnit, PutOutcome};
use crate::index::IndexRequest;
use crate::message::properties::{keys, PropertiesIter};
use crate::message::record::{decode_record, Decoded, MessageRecord};
use crate::message::{hash, sys_flag, SCHEDULE_TOPIC};
use crate::message_store::Inner;
use crate::result::{ArrivalInfo, ArrivalListener};

/// Most bytes a put dispatches on its own thread; a larger backlog is the dispatcher's.
const INLINE_MAX_BEHIND: i64 = 256 * 1024;

/// Dispatch loop; on stop it exits once everything written has been dispatched.
pub(crate) fn run(inner: &Inner) {
    loop {
        let progressed = {
            let _turn = inner
                .reput_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            reput(inner, i64::MAX)
        };
        if inner.stop_dispatch.is_stopped() && !progressed && behind(inner) <= 0 {
            break;
        }
        if !progressed {
            std::thread::park_timeout(Duration::from_millis(100));
        }
    }
}

/// Bytes written but not dispatched yet.
pub(crate) fn behind(inner: &Inner) -> i64 {
    inner.commit_log.max_offset() - inner.reput_from.load(Ordering::Acquire)
}

/// Called right after a put: dispatches on this thread what is pending if that is at most
/// `INLINE_MAX_BEHIND` bytes and no one else is dispatching. Returns false when it left the work
/// (or part of it) to the dispatcher thread, which the caller must then wake.
pub(crate) fn dispatch_inline(inner: &Inner) -> bool {
    if behind(inner) > INLINE_MAX_BEHIND {
        return false;
    }
    let Ok(_turn) = inner.reput_lock.try_lock() else {
        return false;
    };
    reput(inner, INLINE_MAX_BEHIND);
    behind(inner) <= 0
}

/// Dispatches what is currently readable, stopping once `limit` bytes moved; the caller holds
/// `reput_lock`. Returns whether anything moved.
fn reput(inner: &Inner, limit: i64) -> bool {
    let cl = &inner.commit_log;
    let mut from = inner.reput_from.load(Ordering::Acquire);
    let min = cl.min_offset();
    if min >= 0 && from < min {
        tracing::warn!(
            from,
            min,
            "dispatch fell behind deleted CommitLog files; skipping ahead"
        );
        from = min;
    }
    let listener = inner
        .listener
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let start = from;
    while from < cl.max_offset() && from - start < limit {
        let Some((file, pos)) = cl.file_at(from) else {
            from = cl.roll_next_file(from);
            continue;
        };
        let data = file.read_from(pos).unwrap_or_default();
        let mut off = 0usize;
        let mut roll = false;
        while off < data.len() {
            match decode_record(&data[off..], false) {
                Ok(Decoded::Message(m)) => {
                    dispatch_one(inner, &m, listener.as_ref());
                    off += m.total_size as usize;
                }
                Ok(Decoded::Blank { .. }) => {
                    roll = true;
                    break;
                }
                Err(e) => {
                    tracing::error!(offset = from + off as i64, error = %e, "undecodable record while dispatching; skipping the rest of the readable data");
                    off = data.len();
                }
            }
        }
        from = if roll {
            cl.roll_next_file(from)
        } else {
            from + off as i64
        };
        inner.reput_from.store(from, Ordering::Release);
        if off == 0 && !roll {
            break;
        }
    }
    inner.reput_from.store(from, Ordering::Release);
    from != start
}

struct Props<'a> {
    tags: Option<&'a str>,
    keys: Option<&'a str>,
    uniq_key: Option<&'a str>,
    delay: Option<&'a str>,
}

fn scan_props(props: &str) -> Props<'_> {
    let mut p = Props {
        tags: None,
        keys: None,
        uniq_key: None,
        delay: None,
    };
    for (k, v) in PropertiesIter::new(props) {
        match k {
            keys::TAGS => p.tags = Some(v),
            keys::KEYS => p.keys = Some(v),
            keys::UNIQ_KEY => p.uniq_key = Some(v),
            keys::DELAY => p.delay = Some(v),
            _ => {}
        }
    }
    p
}

fn dispatch_one(inner: &Inner, m: &MessageRecord<'_>, listener: Option<&ArrivalListener>) {
    let props = scan_props(m.properties);
    if sys_flag::is_consumable(m.sys_flag) {
        let mut tags_code = props.tags.map(hash::tags_code).unwrap_or(0);
        if m.topic == SCHEDULE_TOPIC {
            if let Some(level) = props.delay.and_then(|d| d.trim().parse::<i64>().ok()) {
                let max = inner.delay_levels.len() as i64;
                let level = level.min(max);
                if level > 0 {
                    let delay = inner
                        .delay_levels
                        .get((level - 1) as usize)
                        .copied()
                        .unwrap_or(1000);
                    tags_code = m.store_timestamp + delay;
                }
            }
        }
        let cq = inner.cqs.find_or_create(m.topic, m.queue_id);
        let unit = CqUnit {
            phy_offset: m.physical_offset,
            size: m.total_size,
            tags_code,
        };
        match cq.put(unit, m.queue_offset) {
            Ok(PutOutcome::Written) => {
                inner
                    .logics_ts_live
                    .store(m.store_timestamp, Ordering::Release);
                if let Some(l) = listener {
                    l(&ArrivalInfo {
                        topic: m.topic,
                        queue_id: m.queue_id,
                        next_offset: m.queue_offset + 1,
                        tags_code,
                        store_timestamp: m.store_timestamp,
                        properties: m.properties,
                    });
                }
            }
            Ok(PutOutcome::Duplicate) => {}
            Err(e) => {
                tracing::error!(topic = m.topic, queue_id = m.queue_id, error = %e, "cannot write ConsumeQueue unit");
                inner.flags.poison();
            }
        }
    }
    if let Some(index) = &inner.index {
        let req = IndexRequest {
            topic: m.topic,
            phy_offset: m.physical_offset,
            store_timestamp: m.store_timestamp,
            sys_flag: m.sys_flag,
            uniq_key: props.uniq_key,
            keys: props.keys,
        };
        if let Err(e) = index.build(&req, &inner.checkpoint) {
            tracing::error!(error = %e, "cannot write index entry");
            inner.flags.poison();
        }
    }
}
