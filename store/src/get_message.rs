//! Pull reads (Java `DefaultMessageStore.getMessage`): offset checks give the status and the
//! corrected next offset; otherwise ConsumeQueue units from the requested offset (within one
//! file) are filtered and their records returned as zero-copy slices, within the batch limits
//! (hot data: 32 messages / 256 KiB; data older than `accessMessageInMemoryMaxRatio` of RAM
//! behind the head: 8 / 64 KiB).

use crate::config::BrokerRole;
use crate::consume_queue::{CqUnit, CQ_UNIT_SIZE};
use crate::message_store::MessageStore;
use crate::result::{GetMessageResult, GetMessageStatus, MessageFilter};

/// Whether `[phy, phy + size)` lies inside a file view starting at `from` of `len` bytes.
fn covers(from: i64, len: usize, phy: i64, size: i32) -> bool {
    size > 0 && phy >= from && phy + i64::from(size) <= from + len as i64
}

fn slice(from: i64, bytes: &bytes::Bytes, phy: i64, size: i32) -> bytes::Bytes {
    let start = (phy - from) as usize;
    bytes.slice(start..start + size as usize)
}

struct Batch {
    count: usize,
    bytes: usize,
}

impl MessageStore {
    fn next_offset_correction(&self, old: i64, new: i64) -> i64 {
        let c = &self.inner.config;
        if c.broker_role != BrokerRole::Slave || c.offset_check_in_slave {
            new
        } else {
            old
        }
    }

    fn is_batch_full(
        &self,
        size: i32,
        max_msg_nums: usize,
        max_total_bytes: usize,
        b: &Batch,
        in_disk: bool,
    ) -> bool {
        if b.count == 0 || b.bytes == 0 {
            return false;
        }
        if b.count >= max_msg_nums {
            return true;
        }
        let c = &self.inner.config;
        let size = size.max(0) as usize;
        if b.bytes + size > max_total_bytes {
            return true;
        }
        let (max_bytes, max_count) = if in_disk {
            (
                c.max_transfer_bytes_on_message_in_disk,
                c.max_transfer_count_on_message_in_disk,
            )
        } else {
            (
                c.max_transfer_bytes_on_message_in_memory,
                c.max_transfer_count_on_message_in_memory,
            )
        };
        b.bytes + size > max_bytes as usize || b.count >= max_count as usize
    }

    /// Reads up to `max_msg_nums` messages (and about `max_total_bytes`) of a queue from logical
    /// `offset`. `group` is accepted for parity with Java (statistics) and not used.
    #[allow(clippy::too_many_arguments)]
    pub fn get_message(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        max_total_bytes: i32,
        filter: Option<&dyn MessageFilter>,
    ) -> GetMessageResult {
        let _ = group;
        let inner = &self.inner;
        let Some(cq) = inner.cqs.find(topic, queue_id) else {
            return GetMessageResult::empty(
                GetMessageStatus::NoMatchedLogicQueue,
                self.next_offset_correction(offset, 0),
                0,
                0,
            );
        };
        let min = cq.min_offset_in_queue();
        let max = cq.max_offset_in_queue();
        let early = |status, next| GetMessageResult::empty(status, next, min, max);
        if max == 0 {
            return early(
                GetMessageStatus::NoMessageInQueue,
                self.next_offset_correction(offset, 0),
            );
        }
        if offset < min {
            return early(
                GetMessageStatus::OffsetTooSmall,
                self.next_offset_correction(offset, min),
            );
        }
        if offset == max {
            return early(
                GetMessageStatus::OffsetOverflowOne,
                self.next_offset_correction(offset, offset),
            );
        }
        if offset > max {
            return early(
                GetMessageStatus::OffsetOverflowBadly,
                self.next_offset_correction(offset, max),
            );
        }
        let Some(units) = cq.units_from(offset) else {
            return early(
                GetMessageStatus::OffsetFoundNull,
                self.next_offset_correction(offset, cq.roll_next_file(offset)),
            );
        };

        let cl = &inner.commit_log;
        let max_phy = cl.max_offset();
        let memory = (inner.total_memory as f64
            * (f64::from(inner.tunables.access_message_in_memory_max_ratio()) / 100.0))
            as i64;
        let max_msg_nums = max_msg_nums.max(1) as usize;
        let max_total_bytes = if max_total_bytes <= 0 {
            usize::MAX
        } else {
            max_total_bytes as usize
        };
        let max_filter_bytes = 16_000usize.max(max_msg_nums * CQ_UNIT_SIZE as usize);

        let mut result =
            GetMessageResult::empty(GetMessageStatus::NoMatchedMessage, offset, min, max);
        // One allocation each instead of a doubling per few messages.
        let expected = max_msg_nums.min(units.len() / CQ_UNIT_SIZE as usize);
        result.messages.reserve_exact(expected);
        result.queue_offsets.reserve_exact(expected);
        let mut batch = Batch { count: 0, bytes: 0 };
        let mut next_phy_file_start = i64::MIN;
        let mut max_phy_pulling = 0;
        let mut i = 0usize;
        let mut file_cache: Option<(i64, bytes::Bytes)> = None;
        let mut read_end = -1i64;
        while i + CQ_UNIT_SIZE as usize <= units.len() && i < max_filter_bytes {
            let Some(u) = CqUnit::decode(&units[i..]) else {
                break;
            };
            max_phy_pulling = u.phy_offset;
            if u.is_filler()
                || (next_phy_file_start != i64::MIN && u.phy_offset < next_phy_file_start)
            {
                i += CQ_UNIT_SIZE as usize;
                continue;
            }
            let in_disk = max_phy - u.phy_offset > memory;
            if self.is_batch_full(u.size, max_msg_nums, max_total_bytes, &batch, in_disk) {
                break;
            }
            if let Some(f) = filter {
                if !f.matches_consume_queue(u.tags_code) {
                    if batch.bytes == 0 {
                        result.status = GetMessageStatus::NoMatchedMessage;
                    }
                    i += CQ_UNIT_SIZE as usize;
                    continue;
                }
            }
            let msg = match &file_cache {
                Some((from, bytes)) if covers(*from, bytes.len(), u.phy_offset, u.size) => {
                    Some(slice(*from, bytes, u.phy_offset, u.size))
                }
                _ => match cl.readable_file_bytes(u.phy_offset) {
                    Some((from, bytes)) if covers(from, bytes.len(), u.phy_offset, u.size) => {
                        let m = slice(from, &bytes, u.phy_offset, u.size);
                        file_cache = Some((from, bytes));
                        Some(m)
                    }
                    _ => None,
                },
            };
            match msg {
                None => {
                    if batch.bytes == 0 {
                        result.status = GetMessageStatus::MessageWasRemoving;
                    }
                    next_phy_file_start = cl.roll_next_file(u.phy_offset);
                }
                Some(msg) => {
                    if filter.is_some_and(|f| !f.matches_commit_log(&msg)) {
                        if batch.bytes == 0 {
                            result.status = GetMessageStatus::NoMatchedMessage;
                        }
                    } else {
                        batch.count += 1;
                        batch.bytes += msg.len();
                        result.messages.push(msg);
                        result
                            .queue_offsets
                            .push(offset + (i / CQ_UNIT_SIZE as usize) as i64);
                        result.status = GetMessageStatus::Found;
                        next_phy_file_start = i64::MIN;
                        read_end = u.phy_offset + i64::from(u.size);
                    }
                }
            }
            i += CQ_UNIT_SIZE as usize;
        }
        result.buffer_total_size = batch.bytes;
        result.next_begin_offset = offset + (i / CQ_UNIT_SIZE as usize) as i64;
        result.suggest_pulling_from_slave = max_phy - max_phy_pulling > memory;
        if read_end >= 0 && inner.config.read_ahead_on_pull_enable {
            inner.read_ahead.after_read(cl, read_end);
        }
        result
    }
}
