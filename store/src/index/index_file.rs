//! One IndexFile (`<root>/index/<yyyyMMddHHmmssSSS>`), Java layout, big-endian:
//! a 40-byte header (beginTimestamp, endTimestamp, beginPhyOffset, endPhyOffset: i64;
//! hashSlotCount, indexCount: i32), `hashSlotNum` 4-byte slots holding the newest entry number
//! of their bucket (0 = empty), then `indexNum` 20-byte entries (keyHash i32, phyOffset i64,
//! timeDiff i32 seconds since beginTimestamp, prevIndex i32). Entry numbers start at 1.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use memmap2::MmapMut;

use crate::error::{Result, StoreError};
use crate::fs::FileSystem;
use crate::mapped_file::{flush_region, map_region, release_region_pages};
use crate::message::hash::{java_hash_continue, java_string_hash};

/// Header size.
pub const INDEX_HEADER_SIZE: usize = 40;
/// Slot size.
pub const HASH_SLOT_SIZE: usize = 4;
/// Entry size.
pub const INDEX_ENTRY_SIZE: usize = 20;

/// Java `IndexFile.indexKeyHashMethod` of `"<topic>#<key>"`: |hashCode|, 0 for `i32::MIN`.
pub fn index_key_hash(topic: &str, key: &str) -> i32 {
    let h = java_hash_continue(java_hash_continue(java_string_hash(topic), "#"), key);
    if h == i32::MIN {
        0
    } else {
        h.abs()
    }
}

/// Bytes of an IndexFile with these dimensions.
pub fn index_file_size(hash_slot_num: u32, index_num: u32) -> u64 {
    INDEX_HEADER_SIZE as u64
        + HASH_SLOT_SIZE as u64 * u64::from(hash_slot_num)
        + INDEX_ENTRY_SIZE as u64 * u64::from(index_num)
}

#[derive(Debug, Clone, Copy, Default)]
struct Header {
    begin_timestamp: i64,
    end_timestamp: i64,
    begin_phy_offset: i64,
    end_phy_offset: i64,
    hash_slot_count: i32,
    index_count: i32,
}

#[derive(Debug)]
struct Inner {
    _file: File,
    map: MmapMut,
    header: Header,
}

impl Inner {
    fn i32_at(&self, pos: usize) -> i32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.map[pos..pos + 4]);
        i32::from_be_bytes(b)
    }
    fn i64_at(&self, pos: usize) -> i64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.map[pos..pos + 8]);
        i64::from_be_bytes(b)
    }
    fn put_i32(&mut self, pos: usize, v: i32) {
        self.map[pos..pos + 4].copy_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, pos: usize, v: i64) {
        self.map[pos..pos + 8].copy_from_slice(&v.to_be_bytes());
    }
    fn write_header(&mut self) {
        let h = self.header;
        self.put_i64(0, h.begin_timestamp);
        self.put_i64(8, h.end_timestamp);
        self.put_i64(16, h.begin_phy_offset);
        self.put_i64(24, h.end_phy_offset);
        self.put_i32(32, h.hash_slot_count);
        self.put_i32(36, h.index_count);
    }
}

/// An IndexFile; a lock orders the dispatcher's writes and queries' reads.
#[derive(Debug)]
pub struct IndexFile {
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
    hash_slot_num: u32,
    index_num: u32,
    inner: RwLock<Inner>,
}

impl IndexFile {
    /// Creates a new file continuing after a previous one (`end_phy_offset`/`end_timestamp` of the
    /// previous file become this one's begin and end, as in Java).
    pub fn create(
        fs: &Arc<dyn FileSystem>,
        path: &Path,
        hash_slot_num: u32,
        index_num: u32,
        end_phy_offset: i64,
        end_timestamp: i64,
    ) -> Result<Self> {
        let size = index_file_size(hash_slot_num, index_num);
        let (file, map) =
            map_region(fs.as_ref(), path, size).map_err(|e| StoreError::io(path, e))?;
        let mut header = Header {
            index_count: 1,
            ..Header::default()
        };
        if end_phy_offset > 0 {
            header.begin_phy_offset = end_phy_offset;
            header.end_phy_offset = end_phy_offset;
        }
        if end_timestamp > 0 {
            header.begin_timestamp = end_timestamp;
            header.end_timestamp = end_timestamp;
        }
        let mut inner = Inner {
            _file: file,
            map,
            header,
        };
        inner.write_header();
        Ok(IndexFile {
            path: path.to_path_buf(),
            fs: Arc::clone(fs),
            hash_slot_num,
            index_num,
            inner: RwLock::new(inner),
        })
    }

    /// Opens an existing file; its size must match the configured dimensions.
    pub fn open(
        fs: &Arc<dyn FileSystem>,
        path: &Path,
        hash_slot_num: u32,
        index_num: u32,
    ) -> Result<Self> {
        let size = index_file_size(hash_slot_num, index_num);
        let len = std::fs::metadata(path)
            .map_err(|e| StoreError::io(path, e))?
            .len();
        if len != size {
            return Err(StoreError::corrupt(
                path,
                0,
                format!("index file has {len} bytes; maxHashSlotNum/maxIndexNum give {size}"),
            ));
        }
        let (file, map) =
            map_region(fs.as_ref(), path, size).map_err(|e| StoreError::io(path, e))?;
        let mut inner = Inner {
            _file: file,
            map,
            header: Header::default(),
        };
        inner.header = Header {
            begin_timestamp: inner.i64_at(0),
            end_timestamp: inner.i64_at(8),
            begin_phy_offset: inner.i64_at(16),
            end_phy_offset: inner.i64_at(24),
            hash_slot_count: inner.i32_at(32),
            index_count: inner.i32_at(36).max(1),
        };
        Ok(IndexFile {
            path: path.to_path_buf(),
            fs: Arc::clone(fs),
            hash_slot_num,
            index_num,
            inner: RwLock::new(inner),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether no entry fits any more.
    pub fn is_write_full(&self) -> bool {
        self.read().header.index_count as i64 >= i64::from(self.index_num)
    }

    /// Header beginTimestamp.
    pub fn begin_timestamp(&self) -> i64 {
        self.read().header.begin_timestamp
    }

    /// Header endTimestamp.
    pub fn end_timestamp(&self) -> i64 {
        self.read().header.end_timestamp
    }

    /// Header endPhyOffset.
    pub fn end_phy_offset(&self) -> i64 {
        self.read().header.end_phy_offset
    }

    /// Drops this process's mapped pages of the entries written more than `keep` bytes before
    /// the next one (entries are appended in order; only queries read old ones), or of the whole
    /// file once it is full. The hash slots of a file still written stay: every put touches a
    /// random one. The bytes themselves stay in the page cache (see `store/src/resident.rs`).
    pub fn release_pages(&self, keep: usize) -> std::io::Result<()> {
        let inner = self.read();
        let slots_end = INDEX_HEADER_SIZE + self.hash_slot_num as usize * HASH_SLOT_SIZE;
        let count = inner.header.index_count.max(0) as usize;
        if count as u64 >= u64::from(self.index_num) {
            return release_region_pages(&inner.map, 0, inner.map.len());
        }
        let written_end = slots_end + count * INDEX_ENTRY_SIZE;
        release_region_pages(&inner.map, slots_end, written_end.saturating_sub(keep))
    }

    /// Adds an entry for a key hash; `false` when the file is full.
    pub fn put_key(&self, key_hash: i32, phy_offset: i64, store_timestamp: i64) -> bool {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let count = inner.header.index_count;
        if i64::from(count) >= i64::from(self.index_num) {
            return false;
        }
        let slot_pos =
            INDEX_HEADER_SIZE + (key_hash as u32 % self.hash_slot_num) as usize * HASH_SLOT_SIZE;
        let mut slot_value = inner.i32_at(slot_pos);
        if slot_value <= 0 || slot_value > count {
            slot_value = 0;
        }
        let begin = inner.header.begin_timestamp;
        let time_diff = if begin <= 0 {
            0
        } else {
            ((store_timestamp - begin) / 1000).clamp(0, i64::from(i32::MAX))
        };
        let entry_pos = INDEX_HEADER_SIZE
            + self.hash_slot_num as usize * HASH_SLOT_SIZE
            + count as usize * INDEX_ENTRY_SIZE;
        inner.put_i32(entry_pos, key_hash);
        inner.put_i64(entry_pos + 4, phy_offset);
        inner.put_i32(entry_pos + 12, time_diff as i32);
        inner.put_i32(entry_pos + 16, slot_value);
        inner.put_i32(slot_pos, count);
        if count <= 1 {
            inner.header.begin_phy_offset = phy_offset;
            inner.header.begin_timestamp = store_timestamp;
        }
        if slot_value == 0 {
            inner.header.hash_slot_count += 1;
        }
        inner.header.index_count = count + 1;
        inner.header.end_phy_offset = phy_offset;
        inner.header.end_timestamp = store_timestamp;
        inner.write_header();
        true
    }

    /// Whether `[begin, end]` overlaps this file's time range (Java `isTimeMatched`).
    pub fn is_time_matched(&self, begin: i64, end: i64) -> bool {
        let h = self.read().header;
        (begin < h.begin_timestamp && end > h.end_timestamp)
            || (begin >= h.begin_timestamp && begin <= h.end_timestamp)
            || (end >= h.begin_timestamp && end <= h.end_timestamp)
    }

    /// Appends to `out` (up to `max_num` in total) the physical offsets of entries with this key
    /// hash stored within `[begin, end]`, newest first.
    pub fn select_phy_offsets(
        &self,
        out: &mut Vec<i64>,
        key_hash: i32,
        max_num: usize,
        begin: i64,
        end: i64,
    ) {
        let inner = self.read();
        let count = inner.header.index_count;
        let slot_pos =
            INDEX_HEADER_SIZE + (key_hash as u32 % self.hash_slot_num) as usize * HASH_SLOT_SIZE;
        let slot_value = inner.i32_at(slot_pos);
        if slot_value <= 0 || slot_value > count || count <= 1 {
            return;
        }
        let mut next = slot_value;
        let mut steps = 0i64;
        while out.len() < max_num && steps <= i64::from(count) {
            steps += 1;
            let pos = INDEX_HEADER_SIZE
                + self.hash_slot_num as usize * HASH_SLOT_SIZE
                + next as usize * INDEX_ENTRY_SIZE;
            if pos + INDEX_ENTRY_SIZE > inner.map.len() {
                break;
            }
            let hash = inner.i32_at(pos);
            let phy = inner.i64_at(pos + 4);
            let diff = inner.i32_at(pos + 12);
            let prev = inner.i32_at(pos + 16);
            if diff < 0 {
                break;
            }
            let time = inner.header.begin_timestamp + i64::from(diff) * 1000;
            if hash == key_hash && time >= begin && time <= end {
                out.push(phy);
            }
            if prev <= 0 || prev > count || prev == next || time < begin {
                break;
            }
            next = prev;
        }
    }

    /// Flushes the mapping to disk.
    pub fn flush(&self) -> std::io::Result<()> {
        flush_region(self.fs.as_ref(), &self.path, &self.read().map)
    }

    /// Deletes the file (mapping released when the last reference drops).
    pub fn delete_file(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys collide into chains, entries are numbered from 1, and lookups walk the chain newest
    /// first within the time range; a full file refuses more keys.
    #[test]
    fn put_and_select() {
        let dir = tempfile::tempdir().unwrap();
        let f = IndexFile::create(&crate::fs::os(), &dir.path().join("i"), 4, 5, 0, 0).unwrap();
        let h = index_key_hash("T", "k");
        assert!(f.put_key(h, 100, 10_000));
        assert!(f.put_key(index_key_hash("T", "other"), 200, 11_000));
        assert!(f.put_key(h, 300, 12_000));
        let mut out = Vec::new();
        f.select_phy_offsets(&mut out, h, 10, 0, i64::MAX);
        assert_eq!(out, vec![300, 100]);
        out.clear();
        f.select_phy_offsets(&mut out, h, 10, 11_500, i64::MAX);
        assert_eq!(out, vec![300]);
        assert!(f.put_key(h, 400, 13_000));
        assert!(!f.put_key(h, 500, 14_000));
        assert!(f.is_write_full());
        assert_eq!(f.end_phy_offset(), 400);
        // Header and first entry bytes follow Java's layout.
        let bytes = std::fs::read(dir.path().join("i")).unwrap();
        assert_eq!(bytes.len() as u64, index_file_size(4, 5));
        assert_eq!(&bytes[36..40], &5i32.to_be_bytes());
        let entry1 = INDEX_HEADER_SIZE + 4 * HASH_SLOT_SIZE + INDEX_ENTRY_SIZE;
        assert_eq!(&bytes[entry1..entry1 + 4], &h.to_be_bytes());
        assert_eq!(&bytes[entry1 + 4..entry1 + 12], &100i64.to_be_bytes());
    }

    /// Releasing an IndexFile's pages, while it is written and once it is full, changes nothing
    /// a query or the file sees: the chains still walk through released entries.
    #[test]
    fn released_pages_keep_entries() {
        let dir = tempfile::tempdir().unwrap();
        let n = 3000u32;
        let f = IndexFile::create(&crate::fs::os(), &dir.path().join("i"), 64, n, 0, 0).unwrap();
        let h = index_key_hash("T", "k");
        // Entries are numbered from 1: n - 1 fit.
        for i in 0..n - 2 {
            assert!(f.put_key(if i % 2 == 0 { h } else { h + 1 }, i64::from(i), 1_000));
            if i % 500 == 0 {
                f.release_pages(0).unwrap();
            }
        }
        let mut out = Vec::new();
        f.select_phy_offsets(&mut out, h, 10, 0, i64::MAX);
        assert_eq!(
            out,
            vec![2996, 2994, 2992, 2990, 2988, 2986, 2984, 2982, 2980, 2978]
        );
        assert!(f.put_key(h, 9_999, 1_000));
        assert!(f.is_write_full());
        f.release_pages(0).unwrap();
        out.clear();
        f.select_phy_offsets(&mut out, h, 2, 0, i64::MAX);
        assert_eq!(out, vec![9_999, 2996]);
        f.flush().unwrap();
        let bytes = std::fs::read(dir.path().join("i")).unwrap();
        assert_eq!(
            &bytes[36..40],
            &(n as i32).to_be_bytes(),
            "count, header written after release"
        );
    }

    /// The key hash is |Java hashCode("<topic>#<key>")|.
    #[test]
    fn key_hash_matches_java() {
        assert_eq!(index_key_hash("T", "k1"), java_string_hash("T#k1").abs());
    }
}
