//! One memory-mapped store file, the only module with `unsafe`. Invariant: bytes below the
//! wrote position are immutable and readable by anyone (zero-copy slices keep the mapping alive
//! through an `Arc`); bytes at or above it belong to the single writer holding the write lock.
//! Lowering the wrote position (recovery only) needs `&mut self`, so no reader can exist then.
//!
//! Appends are written through the mapping, or, for a write-through file ([`MappedFile::set_write_through`],
//! the CommitLog under SYNC_FLUSH), encoded into a per-thread buffer and written with `pwrite`: the
//! page cache is shared with the mapping, so readers see the bytes the same way. Only a
//! write-through file keeps a descriptor (opened on its first append); otherwise the mapping keeps
//! the file. A file opened with
//! [`MappedFile::open_lazy`] is not even mapped until its bytes are first needed, and recovery
//! reads it with `pread` ([`MappedFile::scan_prefix`], [`MappedFile::zero_unwritten`]), so a store
//! with 100 000 ConsumeQueues opens without 100 000 mappings (`vm.max_map_count` is 65 530 by
//! default) or descriptors.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use memmap2::{Advice, MmapMut, MmapOptions, MmapRaw, UncheckedAdvice};

use crate::fs::FileSystem;

/// OS page size assumed for flush accounting (Java uses 4 KiB too).
pub const OS_PAGE_SIZE: u32 = 4096;

/// Largest write-through encoding buffer a thread keeps between appends.
const RECORD_BUF_KEEP: usize = 1 << 20;

/// A fixed-size file mapped read-write, appended to at its wrote position.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    file_from_offset: i64,
    file_size: u32,
    fs: Arc<dyn FileSystem>,
    /// Set at creation, or on first use for a lazily opened file; never unset.
    map: OnceLock<MmapRaw>,
    map_init: Mutex<()>,
    wrote: AtomicU32,
    flushed: AtomicU32,
    write_lock: Mutex<()>,
    store_timestamp: AtomicI64,
    first_create_in_queue: bool,
    /// `MADV_RANDOM` on the mapping (see [`Self::set_random_access`]).
    random_access: bool,
    /// Appends go through `pwrite` (see [`Self::set_write_through`]).
    write_through: bool,
    /// End of the last range [`Self::release_behind`] dropped from the page tables.
    released: AtomicU32,
    /// The descriptor write-through appends use; opened by the first one, under `write_lock`.
    write_file: OnceLock<File>,
}

impl MappedFile {
    /// Creates (or reuses, if it already has the right size or is empty) the file at `path`,
    /// sized `file_size` (sparse), positions at 0.
    pub fn create(
        fs: &Arc<dyn FileSystem>,
        path: &Path,
        file_from_offset: i64,
        file_size: u32,
        first_create_in_queue: bool,
    ) -> io::Result<Self> {
        let file = fs.open(path, true)?;
        let len = file.metadata()?.len();
        if len == 0 {
            if let Err(e) = fs.set_len(path, &file, u64::from(file_size)) {
                // Leave no empty or half-sized file behind for the next load to trip over.
                drop(file);
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        } else if len != u64::from(file_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} has {len} bytes, expected {file_size}", path.display()),
            ));
        }
        Self::map(
            fs,
            path,
            file,
            file_from_offset,
            file_size,
            0,
            first_create_in_queue,
        )
    }

    /// Opens an existing file of exactly `file_size` bytes. As in Java, all of it counts as written
    /// until recovery sets the real positions with [`MappedFile::reset_positions`].
    pub fn open(
        fs: &Arc<dyn FileSystem>,
        path: &Path,
        file_from_offset: i64,
        file_size: u32,
    ) -> io::Result<Self> {
        let file = fs.open(path, false)?;
        let len = file.metadata()?.len();
        if len != u64::from(file_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} has {len} bytes, expected {file_size}", path.display()),
            ));
        }
        Self::map(
            fs,
            path,
            file,
            file_from_offset,
            file_size,
            file_size,
            false,
        )
    }

    /// Like [`Self::open`] but touches nothing on disk: the file is checked and mapped when its
    /// bytes are first needed (a read, an append, or [`Self::flush`] of written bytes).
    pub fn open_lazy(
        fs: &Arc<dyn FileSystem>,
        path: &Path,
        file_from_offset: i64,
        file_size: u32,
    ) -> Self {
        MappedFile {
            path: path.to_path_buf(),
            file_from_offset,
            file_size,
            fs: Arc::clone(fs),
            map: OnceLock::new(),
            map_init: Mutex::new(()),
            wrote: AtomicU32::new(file_size),
            flushed: AtomicU32::new(file_size),
            write_lock: Mutex::new(()),
            store_timestamp: AtomicI64::new(0),
            first_create_in_queue: false,
            random_access: false,
            write_through: false,
            write_file: OnceLock::new(),
            released: AtomicU32::new(0),
        }
    }

    /// Marks the mapping `MADV_RANDOM` (now, or when it is made): page faults then read only the
    /// page they need. Without it the first touch of a fresh sparse ConsumeQueue file reads
    /// (zero-fills) a whole read-ahead window around it, 6 MB per queue with an 8 MiB
    /// `read_ahead_kb`, which made building or recovering thousands of queues thrash the page cache.
    pub fn set_random_access(&mut self) {
        self.random_access = true;
        if let Some(m) = self.map.get() {
            if let Err(e) = m.advise(Advice::Random) {
                tracing::debug!(path = %self.path.display(), error = %e, "madvise(RANDOM) failed");
            }
        }
    }

    /// Makes appends write through the file (`pwrite`) instead of the mapping. For the CommitLog
    /// under SYNC_FLUSH: after every msync the kernel write-protects the synced pages, so the next
    /// mapped write into the same page faults and waits for the writeback, and each msync of mapped
    /// writes took about 0.9 ms here against under 0.2 ms for written ones; SYNC_FLUSH sends went
    /// from about 9 000 to 21 000 msg/s (16 senders, 1 KiB). The price is one more copy of each
    /// record (into the buffer) and a syscall per append, which is why ASYNC_FLUSH, where the
    /// mapped write measured faster (about 37 000 against 28 000 msg/s), keeps it.
    pub fn set_write_through(&mut self) {
        self.write_through = true;
    }

    fn check_len(&self, file: &File) -> io::Result<()> {
        let len = file.metadata()?.len();
        if len != u64::from(self.file_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} has {len} bytes, expected {}",
                    self.path.display(),
                    self.file_size
                ),
            ));
        }
        Ok(())
    }

    /// The mapping, made now if the file was opened lazily.
    fn mapping(&self) -> io::Result<&MmapRaw> {
        if let Some(m) = self.map.get() {
            return Ok(m);
        }
        let _guard = self.map_init.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = self.map.get() {
            return Ok(m);
        }
        let file = self.fs.open(&self.path, false)?;
        self.check_len(&file)?;
        let map = MmapOptions::new()
            .len(self.file_size as usize)
            .map_raw(&file)?;
        if self.random_access {
            if let Err(e) = map.advise(Advice::Random) {
                tracing::debug!(path = %self.path.display(), error = %e, "madvise(RANDOM) failed");
            }
        }
        Ok(self.map.get_or_init(|| map))
    }

    /// Whether the file is mapped (lazily opened files are not, until first used).
    pub fn is_mapped(&self) -> bool {
        self.map.get().is_some()
    }

    #[allow(clippy::too_many_arguments)]
    fn map(
        fs: &Arc<dyn FileSystem>,
        path: &Path,
        file: File,
        file_from_offset: i64,
        file_size: u32,
        position: u32,
        first_create_in_queue: bool,
    ) -> io::Result<Self> {
        let map = MmapOptions::new().len(file_size as usize).map_raw(&file)?;
        drop(file);
        Ok(MappedFile {
            path: path.to_path_buf(),
            file_from_offset,
            file_size,
            fs: Arc::clone(fs),
            map: OnceLock::from(map),
            map_init: Mutex::new(()),
            wrote: AtomicU32::new(position),
            flushed: AtomicU32::new(position),
            write_lock: Mutex::new(()),
            store_timestamp: AtomicI64::new(0),
            first_create_in_queue,
            random_access: false,
            write_through: false,
            write_file: OnceLock::new(),
            released: AtomicU32::new(0),
        })
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Global offset of the first byte (the file name).
    pub fn file_from_offset(&self) -> i64 {
        self.file_from_offset
    }

    /// Size of the file.
    pub fn file_size(&self) -> u32 {
        self.file_size
    }

    /// Bytes written (and readable).
    pub fn wrote_position(&self) -> u32 {
        self.wrote.load(Ordering::Acquire)
    }

    /// Bytes known to be on disk.
    pub fn flushed_position(&self) -> u32 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Whether nothing more fits.
    pub fn is_full(&self) -> bool {
        self.wrote_position() >= self.file_size
    }

    /// Whether this file was the first one created by an empty queue (ConsumeQueue pre-fill).
    pub fn is_first_create_in_queue(&self) -> bool {
        self.first_create_in_queue
    }

    /// Store time of the last record appended (CommitLog files).
    pub fn store_timestamp(&self) -> i64 {
        self.store_timestamp.load(Ordering::Acquire)
    }

    /// Records the store time of the last appended record.
    pub fn set_store_timestamp(&self, ts: i64) {
        self.store_timestamp.store(ts, Ordering::Release);
    }

    /// Last modification time of the file in ms since the epoch (0 if unknown).
    pub fn last_modified_ms(&self) -> i64 {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Sets wrote and flushed positions, possibly lowering them (recovery). Exclusive access
    /// guarantees no reader holds a slice of the bytes that become writable again.
    pub fn reset_positions(&mut self, position: u32) {
        let p = position.min(self.file_size);
        self.wrote.store(p, Ordering::Release);
        self.flushed.store(p, Ordering::Release);
        self.released.store(0, Ordering::Relaxed);
    }

    /// Appends: `f` fills `write_len` fresh bytes at the wrote position, then the position moves
    /// by `advance_len` (>= `write_len`; larger for the end-of-file blank marker). Returns `None`
    /// when the bytes do not fit. Writers are serialized by an internal lock.
    pub fn append_with<R>(
        &self,
        write_len: u32,
        advance_len: u32,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Option<R> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let pos = self.wrote.load(Ordering::Acquire);
        let advance = advance_len.max(write_len);
        if u64::from(pos) + u64::from(advance) > u64::from(self.file_size) {
            return None;
        }
        if self.write_through {
            return self.append_through_file(pos, write_len, advance, f);
        }
        let map = match self.mapping() {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot map a store file to append");
                return None;
            }
        };
        // SAFETY: `pos + write_len <= file_size` (checked above) and the mapping is `file_size`
        // bytes long and lives as long as `self`. The range is at or above the wrote position, so
        // no reader slice covers it (readers only get bytes below `wrote`), and `write_lock`
        // makes this the only writer. No other reference to these bytes exists while `buf` lives.
        let buf = unsafe {
            std::slice::from_raw_parts_mut(map.as_mut_ptr().add(pos as usize), write_len as usize)
        };
        let r = f(buf);
        self.wrote.store(pos + advance, Ordering::Release);
        Some(r)
    }

    /// Drops this process's page-table entries for the whole pages of `[from, to)`
    /// (`MADV_DONTNEED`), so they stop counting in its resident set. The pages stay in the page
    /// cache, dirty ones still dirty, so nothing is lost and the next access maps the same bytes
    /// again (a minor fault). Nothing happens to a file that is not mapped.
    pub fn release_pages(&self, from: u32, to: u32) -> io::Result<()> {
        let Some(map) = self.map.get() else {
            return Ok(());
        };
        let from = from.div_ceil(OS_PAGE_SIZE).saturating_mul(OS_PAGE_SIZE);
        let to = to.min(self.file_size);
        let to = to - to % OS_PAGE_SIZE;
        if to <= from {
            return Ok(());
        }
        // SAFETY: the mapping is a shared mapping of a file (`map_raw`), `[from, to)` lies inside
        // it. For such a mapping MADV_DONTNEED only unmaps the pages from this process: their
        // contents live on in the page cache (a dirty page table entry marks the page dirty first),
        // and any later access, through a reader's slice or by the writer, faults in the same
        // bytes. Unlike a private or anonymous mapping, nothing reads back as zeros.
        unsafe {
            map.unchecked_advise_range(
                UncheckedAdvice::DontNeed,
                from as usize,
                (to - from) as usize,
            )
        }
    }

    /// Asks the kernel to start reading `[pos, pos + len)` into the page cache
    /// (`MADV_WILLNEED`) without waiting for it; nothing if the file is not mapped.
    pub fn will_need(&self, pos: u32, len: u32) -> io::Result<()> {
        let Some(map) = self.map.get() else {
            return Ok(());
        };
        let end = pos.saturating_add(len).min(self.file_size);
        let from = pos - pos % OS_PAGE_SIZE;
        if end <= from {
            return Ok(());
        }
        map.advise_range(Advice::WillNeed, from as usize, (end - from) as usize)
    }

    /// [`Self::release_pages`] for everything written more than `keep` bytes behind the wrote
    /// position, if that end moved by at least `step` since the last call (the cheap check lets
    /// a pass over 100 000 ConsumeQueues skip the idle ones). Returns whether it released.
    pub fn release_behind(&self, keep: u32, step: u32) -> io::Result<bool> {
        let end = self.wrote_position().saturating_sub(keep);
        let end = end - end % OS_PAGE_SIZE;
        let last = self.released.load(Ordering::Relaxed);
        if end <= last || end - last < step {
            return Ok(false);
        }
        self.release_pages(0, end)?;
        self.released.store(end, Ordering::Relaxed);
        Ok(true)
    }

    /// [`Self::append_with`] for a write-through file; the caller holds `write_lock` and checked
    /// that `pos + advance` fits. A failed write (a full disk: the file is sparse) leaves the wrote
    /// position where it was, so the bytes are rewritten by the next append, and returns `None`.
    fn append_through_file<R>(
        &self,
        pos: u32,
        write_len: u32,
        advance: u32,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Option<R> {
        thread_local! {
            /// Encoding buffer of write-through appends, reused by every append on this thread.
            static RECORD_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        // Readers map the file lazily as before; writing does not need the mapping.
        let file = match self.write_file.get() {
            Some(file) => file,
            None => match self.fs.open(&self.path, false) {
                Ok(file) => self.write_file.get_or_init(|| file),
                Err(e) => {
                    tracing::error!(path = %self.path.display(), error = %e, "cannot open a store file to append");
                    return None;
                }
            },
        };
        let written = RECORD_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            buf.resize(write_len as usize, 0);
            let r = f(&mut buf);
            if write_len > 0 {
                file.write_all_at(&buf, u64::from(pos))?;
            }
            // A large batch should not pin its buffer on this thread for good.
            if buf.capacity() > RECORD_BUF_KEEP {
                *buf = Vec::new();
            }
            Ok::<R, io::Error>(r)
        });
        match written {
            Ok(r) => {
                self.wrote.store(pos + advance, Ordering::Release);
                Some(r)
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "append write failed");
                None
            }
        }
    }

    /// Writes zeros over the non-zero bytes of `[from, to)`, which must lie at or above the wrote
    /// position (a torn tail left by a crash), with `pread`/`pwrite` so an unmapped file stays
    /// unmapped (the page cache keeps a mapping coherent). Only the data extents of a sparse file
    /// are read (`SEEK_DATA`/`SEEK_HOLE`; a ConsumeQueue file of a few units is one 4 KiB block in
    /// a 6 MB hole), already-zero bytes are not rewritten, and the scan stops after
    /// `ZERO_RUN_LIMIT` zero bytes in a row, so a preallocated file is not read to its end.
    #[cfg(test)]
    pub fn zero_unwritten(&self, from: u32, to: u32) -> io::Result<()> {
        self.zero_unwritten_with(None, from, to)
    }

    /// [`Self::zero_unwritten`] through `file`, this file already open (recovery opens each file
    /// once, relative to its directory); `None` opens it by path.
    pub fn zero_unwritten_with(&self, file: Option<&File>, from: u32, to: u32) -> io::Result<()> {
        const ZERO_RUN_LIMIT: u32 = 4 * 1024 * 1024;
        const CHUNK: u32 = 64 * 1024;
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let to = to.min(self.file_size);
        let mut pos = from.max(self.wrote.load(Ordering::Acquire));
        if pos >= to {
            return Ok(());
        }
        let mut opened = None;
        let file = self.given_or_opened(file, &mut opened)?;
        // Sized to what is read: most calls read a few KiB (the rest of one block).
        let mut buf = Vec::new();
        let mut zero_run = 0u32;
        while pos < to && zero_run < ZERO_RUN_LIMIT {
            // Jump over a hole and find where the data ends, if the filesystem can tell (one that
            // cannot reports data everywhere, and the whole range is read).
            match rustix::fs::seek(file, rustix::fs::SeekFrom::Data(u64::from(pos))) {
                Ok(next) if next >= u64::from(to) => break,
                Ok(next) if next > u64::from(pos) => {
                    pos = (next as u32) - (next as u32) % OS_PAGE_SIZE;
                    zero_run = 0;
                }
                Err(rustix::io::Errno::NXIO) => break,
                _ => {}
            }
            let data_end = match rustix::fs::seek(file, rustix::fs::SeekFrom::Hole(u64::from(pos)))
            {
                Ok(h) if h > u64::from(pos) => h.min(u64::from(to)) as u32,
                _ => to,
            };
            while pos < data_end && zero_run < ZERO_RUN_LIMIT {
                let len = CHUNK.min(data_end - pos) as usize;
                if buf.len() < len {
                    buf.resize(len, 0);
                }
                let chunk = &mut buf[..len];
                let n = read_full_at(file, chunk, u64::from(pos))?;
                if n == 0 {
                    return Ok(());
                }
                let read = &mut chunk[..n];
                if !all_zero(read) {
                    read.fill(0);
                    file.write_all_at(read, u64::from(pos))?;
                    zero_run = 0;
                } else {
                    zero_run += n as u32;
                }
                pos += n as u32;
            }
        }
        Ok(())
    }

    /// Reads the file from position 0 in `unit`-byte records, up to `limit` bytes, and hands each
    /// record to `accept` until it returns false; returns the bytes accepted (a multiple of
    /// `unit`). Reads through the mapping if there is one, else with `pread`, leaving the file
    /// unmapped (recovery of ConsumeQueues reads a few units of each of many files this way). The
    /// file's size is not checked again (the queue's load did); a shorter file just ends the scan.
    pub fn scan_prefix(
        &self,
        unit: u32,
        limit: u32,
        accept: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<u32> {
        self.scan_prefix_with(None, unit, limit, accept)
    }

    /// [`Self::scan_prefix`] reading an unmapped file through `file`, this file already open;
    /// `None` opens it by path.
    pub fn scan_prefix_with(
        &self,
        file: Option<&File>,
        unit: u32,
        limit: u32,
        mut accept: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<u32> {
        let limit = limit.min(self.file_size);
        if unit == 0 {
            return Ok(0);
        }
        if self.is_mapped() {
            let data = self.read(0, limit).unwrap_or_default();
            let mut n = 0u32;
            for rec in data.chunks_exact(unit as usize) {
                if !accept(rec) {
                    break;
                }
                n += unit;
            }
            return Ok(n);
        }
        let mut opened = None;
        let file = self.given_or_opened(file, &mut opened)?;
        // A first read of one page (most queues of a big store hold a few units), then larger
        // ones; the buffer grows with the reads, so a short queue zeroes no 64 KiB buffer.
        let mut chunk = (OS_PAGE_SIZE / unit).max(1) * unit;
        let max_chunk = (64 * 1024 / unit).max(1) * unit;
        let mut buf = Vec::new();
        let mut pos = 0u32;
        while pos < limit {
            let len = chunk.min(limit - pos) as usize;
            if buf.len() < len {
                buf.resize(len, 0);
            }
            let n = read_full_at(file, &mut buf[..len], u64::from(pos))?;
            let whole = n - n % unit as usize;
            for rec in buf[..whole].chunks_exact(unit as usize) {
                if !accept(rec) {
                    return Ok(pos);
                }
                pos += unit;
            }
            if whole < len {
                break;
            }
            chunk = max_chunk;
        }
        Ok(pos)
    }

    /// Touches every page of the first `len` bytes of a file nobody else holds yet (Java
    /// `warmMappedFile` when `len` is the file size), so the writer does not page-fault into them
    /// later; with `flush_every_pages` > 0, msyncs every that many pages and at the end, as Java
    /// does under SYNC_FLUSH. The bytes read as zeros afterwards, as before.
    pub fn prefault(&mut self, len: u32, flush_every_pages: u32) -> io::Result<()> {
        let size = len.min(self.file_size) as usize;
        let page = OS_PAGE_SIZE as usize;
        let base = self.mapping()?.as_mut_ptr();
        let mut synced = 0usize;
        let mut pos = 0usize;
        while pos < size {
            // SAFETY: `pos < file_size`, the mapping's length, so the byte is inside the mapping.
            // `&mut self` means no reader, writer or slice of this file exists, and the byte is at
            // or above the wrote position anyway. A volatile write so the touch is not elided.
            unsafe { base.add(pos).write_volatile(0) };
            pos += page;
            let dirty_pages = (pos.min(size) - synced) / page;
            if flush_every_pages > 0 && dirty_pages >= flush_every_pages as usize {
                let end = pos.min(size);
                self.sync_range(synced, end - synced)?;
                synced = end;
            }
        }
        if flush_every_pages > 0 && synced < size {
            self.sync_range(synced, size - synced)?;
        }
        Ok(())
    }

    fn sync_range(&self, offset: usize, len: usize) -> io::Result<()> {
        let Some(map) = self.map.get() else {
            // Never mapped, so nothing was written through a mapping.
            return Ok(());
        };
        let range = MappedRange {
            target: RangeTarget::Raw(map),
            offset,
            len,
        };
        self.fs.sync_mapped(&self.path, range)
    }

    /// Borrows `[pos, pos + len)` if it lies entirely below the wrote position.
    pub fn read(&self, pos: u32, len: u32) -> Option<&[u8]> {
        let end = pos.checked_add(len)?;
        if end > self.wrote_position() {
            return None;
        }
        let map = match self.mapping() {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot map a store file to read");
                return None;
            }
        };
        // SAFETY: the range is inside the mapping and below the wrote position; bytes there are
        // never written again while `&self` is alive (only `reset_positions(&mut self)` can make
        // them writable), and the Acquire load of `wrote` orders the writer's bytes before us.
        Some(unsafe { std::slice::from_raw_parts(map.as_ptr().add(pos as usize), len as usize) })
    }

    /// All readable bytes from `pos` to the wrote position.
    pub fn read_from(&self, pos: u32) -> Option<&[u8]> {
        let wrote = self.wrote_position();
        if pos > wrote {
            return None;
        }
        self.read(pos, wrote - pos)
    }

    /// A zero-copy `Bytes` of `[pos, pos + len)` that keeps this file mapped while it lives.
    pub fn slice_bytes(self: &Arc<Self>, pos: u32, len: u32) -> Option<Bytes> {
        self.read(pos, len)?;
        Some(Bytes::from_owner(MappedSlice {
            file: Arc::clone(self),
            pos,
            len,
        }))
    }

    /// Flushes written bytes to disk (through the [`FileSystem`] seam); returns the new flushed
    /// position. On error the flushed position does not move.
    pub fn flush(&self) -> io::Result<u32> {
        let wrote = self.wrote_position();
        let flushed = self.flushed_position();
        if wrote > flushed {
            self.sync_range(flushed as usize, (wrote - flushed) as usize)?;
            self.flushed.fetch_max(wrote, Ordering::AcqRel);
        }
        Ok(self.flushed_position())
    }

    /// Syncs every written byte, flushed or not (after a crash the pages written by the previous
    /// process may still be only in the page cache). The positions do not move.
    pub fn sync_written(&self) -> io::Result<()> {
        let wrote = self.wrote_position();
        if wrote == 0 {
            return Ok(());
        }
        self.sync_range(0, wrote as usize)
    }

    /// `file` if given, else this file opened by path into `slot`.
    fn given_or_opened<'a>(
        &self,
        file: Option<&'a File>,
        slot: &'a mut Option<File>,
    ) -> io::Result<&'a File> {
        match file {
            Some(f) => Ok(f),
            None => Ok(slot.insert(self.fs.open(&self.path, false)?)),
        }
    }

    /// Opens this file read-write by its name inside `dir`, its directory.
    pub(crate) fn open_in(&self, dir: &crate::dir::DirHandle) -> io::Result<File> {
        match self.path.file_name() {
            Some(name) => dir.open_file(Path::new(name)),
            None => self.fs.open(&self.path, false),
        }
    }

    /// Whether at least `least_pages` dirty pages are waiting (or the file is full and unflushed).
    pub fn is_able_to_flush(&self, least_pages: u32) -> bool {
        let wrote = self.wrote_position();
        let flushed = self.flushed_position();
        if wrote <= flushed {
            return false;
        }
        if self.is_full() || least_pages == 0 {
            return true;
        }
        wrote / OS_PAGE_SIZE - flushed / OS_PAGE_SIZE >= least_pages
    }

    /// Removes the file from disk. Readers still holding slices keep the mapping until they drop.
    pub fn delete_file(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Owner of a zero-copy slice: the `Arc` keeps the mapping alive.
#[derive(Debug)]
struct MappedSlice {
    file: Arc<MappedFile>,
    pos: u32,
    len: u32,
}

impl AsRef<[u8]> for MappedSlice {
    fn as_ref(&self) -> &[u8] {
        // `slice_bytes` mapped the file (through `read`) before building us; a mapping is never
        // removed, so this is always `Some`.
        let Some(map) = self.file.map.get() else {
            return &[];
        };
        // SAFETY: `slice_bytes` only builds a `MappedSlice` after checking the range is below the
        // wrote position. That position can only be lowered through `&mut MappedFile`, which is
        // impossible while this `Arc` exists, so the bytes stay immutable and mapped.
        unsafe {
            std::slice::from_raw_parts(map.as_ptr().add(self.pos as usize), self.len as usize)
        }
    }
}

/// Whether every byte is zero. An OR over the whole slice, which the compiler vectorizes (an
/// early-exit `any` goes byte by byte): recovery checks a block of each of 100 000 queue files.
fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |acc, b| acc | b) == 0
}

/// `pread` until `buf` is full or the file ends; returns the bytes read.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A range of a mapping handed to [`FileSystem::sync_mapped`]; [`MappedRange::sync`] performs
/// the real msync.
#[derive(Debug)]
pub struct MappedRange<'a> {
    target: RangeTarget<'a>,
    offset: usize,
    len: usize,
}

#[derive(Debug)]
enum RangeTarget<'a> {
    Raw(&'a MmapRaw),
    Mut(&'a MmapMut),
}

impl MappedRange<'_> {
    /// First byte of the range inside the file.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Length of the range.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// msyncs the range.
    pub fn sync(self) -> io::Result<()> {
        match self.target {
            RangeTarget::Raw(m) => m.flush_range(self.offset, self.len),
            RangeTarget::Mut(m) => m.flush_range(self.offset, self.len),
        }
    }
}

/// Flushes a whole region mapped by [`map_region`] through the seam.
pub fn flush_region(fs: &dyn FileSystem, path: &Path, map: &MmapMut) -> io::Result<()> {
    let range = MappedRange {
        target: RangeTarget::Mut(map),
        offset: 0,
        len: map.len(),
    };
    fs.sync_mapped(path, range)
}

/// [`MappedFile::release_pages`] for a region mapped by [`map_region`]: drops this process's
/// page-table entries for the whole pages of `[from, to)`; the bytes stay in the page cache.
pub fn release_region_pages(map: &MmapMut, from: usize, to: usize) -> io::Result<()> {
    let page = OS_PAGE_SIZE as usize;
    let from = from.div_ceil(page).saturating_mul(page);
    let to = to.min(map.len());
    let to = to - to % page;
    if to <= from {
        return Ok(());
    }
    // SAFETY: `map_region` maps the file shared; `[from, to)` lies inside the mapping. As in
    // `MappedFile::release_pages`, MADV_DONTNEED on a shared file mapping only unmaps the pages
    // from this process (a dirty entry marks its page dirty first); the next access maps the same
    // bytes from the page cache. The caller's `&MmapMut` means no `&mut` borrow writes meanwhile.
    unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, from, to - from) }
}

/// A mapped region written at random positions (IndexFile). Access goes through `&`/`&mut`
/// of the returned `MmapMut`, so the borrow checker (plus the owner's lock) orders readers and writers.
pub fn map_region(fs: &dyn FileSystem, path: &Path, size: u64) -> io::Result<(File, MmapMut)> {
    let file = fs.open(path, true)?;
    let len = file.metadata()?.len();
    if len < size {
        fs.set_len(path, &file, size)?;
    }
    // SAFETY: the file is at least `size` bytes. Other processes must not modify the store while
    // we run; the store's lock file (taken at open) enforces that between brokers.
    let map = unsafe { MmapOptions::new().len(size as usize).map_mut(&file)? };
    Ok((file, map))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Appended bytes become readable only after the append, and never past the wrote position.
    #[test]
    fn append_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = Arc::new(
            MappedFile::create(
                &crate::fs::os(),
                &dir.path().join("00000000000000000000"),
                0,
                4096,
                true,
            )
            .unwrap(),
        );
        assert!(f.read(0, 1).is_none());
        f.append_with(5, 5, |b| b.copy_from_slice(b"hello"))
            .unwrap();
        assert_eq!(f.read(0, 5).unwrap(), b"hello");
        assert!(f.read(0, 6).is_none());
        let bytes = f.slice_bytes(1, 3).unwrap();
        drop(f);
        assert_eq!(&bytes[..], b"ell");
    }

    /// An append that does not fit is refused; an advance past the written bytes (blank marker)
    /// fills the file.
    #[test]
    fn full_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = MappedFile::create(&crate::fs::os(), &dir.path().join("f"), 0, 16, false).unwrap();
        assert!(f.append_with(17, 17, |_| ()).is_none());
        f.append_with(8, 16, |b| b.fill(1)).unwrap();
        assert!(f.is_full());
        assert!(f.append_with(1, 1, |_| ()).is_none());
    }

    /// A write-through file's appends are readable through the mapping at once, the blank-marker
    /// form (advance past the written bytes) works, the bytes reach the file itself, and an append
    /// whose write fails (the descriptor cannot be opened) leaves the wrote position unchanged.
    #[test]
    fn write_through_appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000000");
        let mut f = MappedFile::create(&crate::fs::os(), &p, 0, 8192, false).unwrap();
        f.set_write_through();
        let f = Arc::new(f);
        assert_eq!(
            f.append_with(5, 5, |b| b.copy_from_slice(b"hello")),
            Some(())
        );
        assert_eq!(
            f.append_with(3, 10, |b| b.copy_from_slice(b"abc")),
            Some(())
        );
        assert_eq!(f.wrote_position(), 15);
        assert_eq!(f.read(0, 8).unwrap(), b"helloabc");
        assert_eq!(f.flush().unwrap(), 15);
        let on_disk = std::fs::read(&p).unwrap();
        assert_eq!(&on_disk[..8], b"helloabc");
        assert!(on_disk[8..].iter().all(|b| *b == 0));

        let mut gone =
            MappedFile::create(&crate::fs::os(), &dir.path().join("g"), 0, 4096, false).unwrap();
        gone.set_write_through();
        std::fs::remove_file(dir.path().join("g")).unwrap();
        assert_eq!(gone.append_with(4, 4, |b| b.fill(1)), None);
        assert_eq!(gone.wrote_position(), 0);
    }

    /// `all_zero` finds a single non-zero byte anywhere, including the last of an odd length.
    #[test]
    fn all_zero_sees_every_byte() {
        assert!(all_zero(&[]));
        for len in [1usize, 7, 64, 4097] {
            let mut b = vec![0u8; len];
            assert!(all_zero(&b));
            for at in [0, len / 2, len - 1] {
                b[at] = 0x80;
                assert!(!all_zero(&b), "len {len}, byte {at}");
                b[at] = 0;
            }
        }
    }

    /// Resident KiB of this process's mappings of `path` (/proc/self/smaps).
    pub(crate) fn resident_kib(path: &Path) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let want = path.to_str().unwrap();
        let mut inside = false;
        let mut kib = 0;
        for line in smaps.lines() {
            if line
                .split_whitespace()
                .next()
                .is_some_and(|a| a.contains('-') && !a.ends_with(':'))
            {
                inside = line.ends_with(want);
            } else if inside {
                if let Some(v) = line.strip_prefix("Rss:") {
                    kib += v
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap();
                }
            }
        }
        kib
    }

    /// Releasing pages takes them out of the resident set and loses nothing: bytes written
    /// through the mapping and never flushed read back the same, and a flush after the release
    /// still puts them on disk. `release_behind` keeps the tail and skips a window that has not
    /// moved by `step`.
    #[test]
    fn released_pages_leave_rss_not_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000000");
        let size = 8 * 1024 * 1024u32;
        let f = Arc::new(MappedFile::create(&crate::fs::os(), &p, 0, size, false).unwrap());
        let pattern = |i: u32| (i % 251) as u8;
        for chunk in 0..(size / 4096) {
            f.append_with(4096, 4096, |b| {
                for (j, x) in b.iter_mut().enumerate() {
                    *x = pattern(chunk * 4096 + j as u32);
                }
            })
            .unwrap();
        }
        assert!(
            resident_kib(&p) >= 8 * 1024 - 64,
            "written pages are resident"
        );
        f.release_pages(0, size).unwrap();
        assert!(
            resident_kib(&p) < 64,
            "released pages left the resident set"
        );
        let back = f.read(0, size).unwrap();
        assert!(back
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pattern(i as u32)));
        assert_eq!(f.flush().unwrap(), size);
        let on_disk = std::fs::read(&p).unwrap();
        assert!(on_disk
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pattern(i as u32)));

        assert!(f.release_behind(1024 * 1024, 0).unwrap());
        assert!(
            !f.release_behind(1024 * 1024, 0).unwrap(),
            "nothing new behind the window"
        );
        let kib = resident_kib(&p);
        assert!(
            kib <= 1024 + 64,
            "only the kept MiB stays resident, {kib} KiB"
        );
    }

    /// A seam that fails every msync and every sizing of a new file.
    #[derive(Debug)]
    struct Broken;

    impl FileSystem for Broken {
        fn set_len(&self, _: &Path, _: &File, _: u64) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(28))
        }
        fn sync_mapped(&self, _: &Path, _: MappedRange<'_>) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(5))
        }
    }

    /// A failed msync leaves the flushed position where it was; a failed creation leaves no file.
    #[test]
    fn seam_failures() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let f = MappedFile::create(&crate::fs::os(), &p, 0, 4096, false).unwrap();
        f.append_with(10, 10, |b| b.fill(1)).unwrap();
        drop(f);
        let broken: Arc<dyn FileSystem> = Arc::new(Broken);
        let mut f = MappedFile::open(&broken, &p, 0, 4096).unwrap();
        f.reset_positions(0);
        f.append_with(10, 10, |b| b.fill(2)).unwrap();
        assert_eq!(f.flush().unwrap_err().raw_os_error(), Some(5));
        assert_eq!(f.flushed_position(), 0);
        let q = dir.path().join("g");
        let e = MappedFile::create(&broken, &q, 0, 4096, false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28));
        assert!(!q.exists());
    }

    /// Zeroing a torn tail of a sparse, unmapped file clears non-zero bytes in every data extent
    /// past the position (also one after a hole), keeps the bytes before it, and leaves the file
    /// unmapped and its size unchanged.
    #[test]
    fn zero_unwritten_sparse() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let size = 256 * 1024u32;
        {
            let f = std::fs::File::create(&p).unwrap();
            f.set_len(u64::from(size)).unwrap();
            f.write_all_at(&[7u8; 30], 0).unwrap();
            f.write_all_at(&[9u8; 10], 200_000).unwrap();
            f.write_all_at(&[5u8; 3], u64::from(size) - 3).unwrap();
        }
        let mut f = MappedFile::open_lazy(&crate::fs::os(), &p, 0, size);
        f.reset_positions(20);
        f.zero_unwritten(20, size).unwrap();
        assert!(!f.is_mapped());
        let data = std::fs::read(&p).unwrap();
        assert_eq!(data.len(), size as usize);
        assert_eq!(&data[..20], &[7u8; 20]);
        assert!(data[20..].iter().all(|b| *b == 0));
    }

    /// A prefix scan without a mapping reads past its first page-sized read when every record is
    /// accepted, and stops at the first refused record.
    #[test]
    fn scan_prefix_unmapped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let size = 20 * 1000u32;
        {
            let f = std::fs::File::create(&p).unwrap();
            f.set_len(u64::from(size)).unwrap();
            f.write_all_at(&vec![1u8; 20 * 700], 0).unwrap();
        }
        let f = MappedFile::open_lazy(&crate::fs::os(), &p, 0, size);
        let n = f.scan_prefix(20, size, |r| r[0] == 1).unwrap();
        assert_eq!(n, 20 * 700);
        assert_eq!(f.scan_prefix(20, 100, |r| r[0] == 1).unwrap(), 100);
        assert!(!f.is_mapped());
    }

    /// Reopening sees the data; recovery can lower positions and zero the tail.
    #[test]
    fn reopen_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        {
            let f = MappedFile::create(&crate::fs::os(), &p, 0, 8192, false).unwrap();
            f.append_with(10, 10, |b| b.fill(7)).unwrap();
            f.flush().unwrap();
        }
        let mut f = MappedFile::open(&crate::fs::os(), &p, 0, 8192).unwrap();
        assert_eq!(f.wrote_position(), 8192);
        f.reset_positions(4);
        f.zero_unwritten(4, 8192).unwrap();
        assert_eq!(f.read_from(0).unwrap(), &[7, 7, 7, 7]);
        f.reset_positions(10);
        assert_eq!(f.read(0, 10).unwrap(), &[7, 7, 7, 7, 0, 0, 0, 0, 0, 0]);
    }
}
