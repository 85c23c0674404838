//! Appending records. Validation, CRCs and lengths are computed before the put lock; inside it
//! the store time, queue offset and physical offset are assigned and the record is encoded straight
//! into the mapped file (the body is copied once); under SYNC_FLUSH it is encoded into a buffer and
//! written with `pwrite` (see `MappedFile::set_write_through`). A record never straddles two files: if
//! `len + 8` does not fit, an 8-byte blank marker fills the file and the record goes to the next.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::{now_ms, CommitLog};
use crate::mapped_file::MappedFile;
use crate::message::batch::{BatchEntry, BatchIter};
use crate::message::record::{
    body_crc, checked_record_len, encode_record, sys_flag_for_hosts, version_for_topic,
    RecordHeader, BLANK_MAGIC, END_FILE_MIN_BLANK_LENGTH,
};
use crate::message::{msg_id, sys_flag, MessageExtBatch, MessageExtBrokerInner};
use crate::result::{AppendMessageResult, PutMessageStatus};

/// A successful append: the result for the caller and the offset the flush must reach.
#[derive(Debug)]
pub struct Appended {
    /// What was written.
    pub result: AppendMessageResult,
    /// Offset just past the written bytes.
    pub next_offset: i64,
}

impl CommitLog {
    fn writable_file(&self, len: usize) -> Result<Arc<MappedFile>, PutMessageStatus> {
        let file = self
            .queue
            .last_or_create(self.queue.max_offset())
            .map_err(|e| {
                tracing::error!(error = %e, "cannot create a CommitLog file");
                PutMessageStatus::CreateMappedFileFailed
            })?;
        let remaining = (file.file_size() - file.wrote_position()) as usize;
        if len + END_FILE_MIN_BLANK_LENGTH <= remaining {
            return Ok(file);
        }
        // End of file: blank marker (TOTALSIZE = bytes left, MAGIC), then roll.
        let blank = remaining as u32;
        let wrote = if remaining >= END_FILE_MIN_BLANK_LENGTH {
            file.append_with(END_FILE_MIN_BLANK_LENGTH as u32, blank, |b| {
                b[0..4].copy_from_slice(&(blank as i32).to_be_bytes());
                b[4..8].copy_from_slice(&BLANK_MAGIC.to_be_bytes());
            })
        } else {
            file.append_with(0, blank, |_| ())
        };
        if wrote.is_none() {
            return Err(PutMessageStatus::UnknownError);
        }
        let next = self
            .queue
            .last_or_create(self.queue.max_offset())
            .map_err(|e| {
                tracing::error!(error = %e, "cannot create a CommitLog file");
                PutMessageStatus::CreateMappedFileFailed
            })?;
        if len + END_FILE_MIN_BLANK_LENGTH > (next.file_size() - next.wrote_position()) as usize {
            return Err(PutMessageStatus::MessageIllegal);
        }
        Ok(next)
    }

    fn max_record_len(&self) -> usize {
        self.queue.file_size() as usize - END_FILE_MIN_BLANK_LENGTH
    }

    /// Appends one message.
    pub fn append_message(
        &self,
        msg: &MessageExtBrokerInner,
    ) -> Result<Appended, PutMessageStatus> {
        if msg.body.len() > self.max_message_size() {
            return Err(PutMessageStatus::MessageIllegal);
        }
        if msg.properties.len() > i16::MAX as usize {
            return Err(PutMessageStatus::PropertiesSizeExceeded);
        }
        let version = version_for_topic(msg.topic.len(), self.auto_v2);
        let flag = sys_flag_for_hosts(msg.sys_flag, msg.born_host, msg.store_host);
        let len = checked_record_len(
            version,
            flag,
            msg.body.len(),
            msg.topic.len(),
            msg.properties.len(),
        )
        .map_err(|_| PutMessageStatus::MessageIllegal)?;
        if len > self.max_record_len() {
            return Err(PutMessageStatus::MessageIllegal);
        }
        let crc = body_crc(&msg.body);
        let consumable = sys_flag::is_consumable(flag);

        let mut put = self.put.lock().unwrap_or_else(PoisonError::into_inner);
        let store_timestamp = now_ms();
        self.begin_time_in_lock
            .store(store_timestamp, Ordering::Release);
        let outcome = (|| {
            let file = self.writable_file(len)?;
            let physical_offset = file.file_from_offset() + i64::from(file.wrote_position());
            let next_queue_offset = match put.queue_offsets.get(msg.topic.as_str()) {
                Some(q) => q.get(&msg.queue_id).copied().unwrap_or(0),
                None => 0,
            };
            // Prepared and rolled-back records get no ConsumeQueue slot (Java stores offset 0).
            let queue_offset = if consumable { next_queue_offset } else { 0 };
            let header = RecordHeader {
                queue_id: msg.queue_id,
                flag: msg.flag,
                queue_offset,
                physical_offset,
                sys_flag: flag,
                born_timestamp: msg.born_timestamp,
                born_host: msg.born_host,
                store_timestamp,
                store_host: msg.store_host,
                reconsume_times: msg.reconsume_times,
                prepared_transaction_offset: msg.prepared_transaction_offset,
                body_crc: crc,
            };
            let encoded = file.append_with(len as u32, len as u32, |buf| {
                encode_record(
                    buf,
                    version,
                    &header,
                    &msg.body,
                    &msg.topic,
                    msg.properties.as_bytes(),
                )
            });
            match encoded {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::error!(error = %e, "record encoding failed after validation");
                    return Err(PutMessageStatus::UnknownError);
                }
                None => return Err(PutMessageStatus::UnknownError),
            }
            file.set_store_timestamp(store_timestamp);
            if consumable {
                match put.queue_offsets.get_mut(msg.topic.as_str()) {
                    Some(q) => {
                        q.insert(msg.queue_id, next_queue_offset + 1);
                    }
                    None => {
                        put.queue_offsets
                            .entry(msg.topic.clone())
                            .or_default()
                            .insert(msg.queue_id, next_queue_offset + 1);
                    }
                }
            }
            Ok((physical_offset, queue_offset))
        })();
        self.begin_time_in_lock.store(0, Ordering::Release);
        drop(put);

        let (physical_offset, queue_offset) = outcome?;
        Ok(Appended {
            result: AppendMessageResult {
                wrote_offset: physical_offset,
                wrote_bytes: len as i32,
                msg_id: msg_id::offset_msg_id(msg.store_host, physical_offset),
                store_timestamp,
                logics_offset: queue_offset,
                msg_num: 1,
            },
            next_offset: physical_offset + len as i64,
        })
    }

    /// Appends every message of a batch contiguously, all in the same file.
    pub fn append_batch(&self, batch: &MessageExtBatch) -> Result<Appended, PutMessageStatus> {
        if batch.body.len() > self.max_message_size() {
            return Err(PutMessageStatus::MessageIllegal);
        }
        if sys_flag::transaction_type(batch.sys_flag) != sys_flag::TRANSACTION_NOT {
            return Err(PutMessageStatus::MessageIllegal);
        }
        let version = version_for_topic(batch.topic.len(), self.auto_v2);
        let flag = sys_flag_for_hosts(batch.sys_flag, batch.born_host, batch.store_host);
        let mut entries: Vec<(BatchEntry<'_>, usize, i32)> = Vec::new();
        let mut total = 0usize;
        for entry in BatchIter::new(&batch.body) {
            let entry = entry.map_err(|_| PutMessageStatus::MessageIllegal)?;
            let len = checked_record_len(
                version,
                flag,
                entry.body.len(),
                batch.topic.len(),
                entry.properties.len(),
            )
            .map_err(|_| PutMessageStatus::MessageIllegal)?;
            total += len;
            let crc = body_crc(entry.body);
            entries.push((entry, len, crc));
        }
        if entries.is_empty() || total > self.max_record_len() {
            return Err(PutMessageStatus::MessageIllegal);
        }

        let mut put = self.put.lock().unwrap_or_else(PoisonError::into_inner);
        let store_timestamp = now_ms();
        self.begin_time_in_lock
            .store(store_timestamp, Ordering::Release);
        let outcome = (|| {
            let file = self.writable_file(total)?;
            let start = file.file_from_offset() + i64::from(file.wrote_position());
            let first_queue_offset = match put.queue_offsets.get(batch.topic.as_str()) {
                Some(q) => q.get(&batch.queue_id).copied().unwrap_or(0),
                None => 0,
            };
            let encoded = file.append_with(total as u32, total as u32, |buf| {
                let mut pos = 0usize;
                for (i, (entry, len, crc)) in entries.iter().enumerate() {
                    let header = RecordHeader {
                        queue_id: batch.queue_id,
                        flag: entry.flag,
                        queue_offset: first_queue_offset + i as i64,
                        physical_offset: start + pos as i64,
                        sys_flag: flag,
                        born_timestamp: batch.born_timestamp,
                        born_host: batch.born_host,
                        store_timestamp,
                        store_host: batch.store_host,
                        reconsume_times: batch.reconsume_times,
                        prepared_transaction_offset: 0,
                        body_crc: *crc,
                    };
                    encode_record(
                        &mut buf[pos..pos + len],
                        version,
                        &header,
                        entry.body,
                        &batch.topic,
                        entry.properties.as_bytes(),
                    )?;
                    pos += len;
                }
                Ok::<(), crate::message::RecordError>(())
            });
            match encoded {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    tracing::error!(error = %e, "batch encoding failed after validation");
                    return Err(PutMessageStatus::UnknownError);
                }
                None => return Err(PutMessageStatus::UnknownError),
            }
            file.set_store_timestamp(store_timestamp);
            let next = first_queue_offset + entries.len() as i64;
            put.queue_offsets
                .entry(batch.topic.clone())
                .or_default()
                .insert(batch.queue_id, next);
            Ok((start, first_queue_offset))
        })();
        self.begin_time_in_lock.store(0, Ordering::Release);
        drop(put);

        let (start, first_queue_offset) = outcome?;
        let mut offsets = Vec::with_capacity(entries.len());
        let mut pos = start;
        for (_, len, _) in &entries {
            offsets.push(pos);
            pos += *len as i64;
        }
        Ok(Appended {
            result: AppendMessageResult {
                wrote_offset: start,
                wrote_bytes: total as i32,
                msg_id: msg_id::offset_msg_ids(batch.store_host, &offsets),
                store_timestamp,
                logics_offset: first_queue_offset,
                msg_num: entries.len() as i32,
            },
            next_offset: start + total as i64,
        })
    }
}
