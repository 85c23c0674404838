//! Directory listing through open directory descriptors: entries are read with `getdents`, and
//! names inside a directory are opened or stat'ed relative to its descriptor, so loading 100 000
//! ConsumeQueue directories does not walk `<root>/consumequeue/<topic>/<queue>/` from `/` for
//! every directory and file. A handle holds one descriptor; none is kept after loading.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

/// What a directory entry is, as far as the directory itself says (`d_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    NotDir,
    /// The file system did not say; [`DirHandle::is_dir`] asks it.
    Unknown,
}

/// One entry (never `.` or `..`).
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: OsString,
    pub kind: Kind,
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct DirHandle {
    dir: Dir,
}

fn flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

fn not_found(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::NOENT
}

impl DirHandle {
    /// Opens the directory at `path`; `None` if it does not exist.
    pub fn open(path: &Path) -> io::Result<Option<DirHandle>> {
        match rustix::fs::open(path, flags(), Mode::empty()) {
            Ok(fd) => Ok(Some(DirHandle { dir: Dir::new(fd)? })),
            Err(e) if not_found(e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the subdirectory `name`; `None` if it does not exist.
    pub fn open_in(&self, name: &Path) -> io::Result<Option<DirHandle>> {
        match rustix::fs::openat(self.dir.fd()?, name, flags(), Mode::empty()) {
            Ok(fd) => Ok(Some(DirHandle { dir: Dir::new(fd)? })),
            Err(e) if not_found(e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the existing file `name` in this directory read-write (recovery reads, zeroes and
    /// syncs a queue's newest files through it, with no walk from `/`).
    pub fn open_file(&self, name: &Path) -> io::Result<std::fs::File> {
        let fd = rustix::fs::openat(
            self.dir.fd()?,
            name,
            OFlags::RDWR | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(std::fs::File::from(fd))
    }

    /// The directory's descriptor.
    pub fn fd(&self) -> io::Result<std::os::fd::BorrowedFd<'_>> {
        Ok(self.dir.fd()?)
    }

    /// Every entry, in directory order. Reads the directory once (a handle is read only once).
    pub fn entries(&mut self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        while let Some(e) = self.dir.read() {
            let e = e?;
            let name = e.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let kind = match e.file_type() {
                FileType::Directory => Kind::Dir,
                FileType::Unknown => Kind::Unknown,
                _ => Kind::NotDir,
            };
            out.push(Entry {
                name: OsString::from_vec(name.to_vec()),
                kind,
            });
        }
        Ok(out)
    }

    /// Whether `entry` is a directory (asks the file system only when `d_type` did not say).
    pub fn is_dir(&self, entry: &Entry) -> io::Result<bool> {
        match entry.kind {
            Kind::Dir => Ok(true),
            Kind::NotDir => Ok(false),
            Kind::Unknown => Ok(self.stat(Path::new(&entry.name))?.0),
        }
    }

    /// (is a directory, length) of `name`, not following a symlink.
    pub fn stat(&self, name: &Path) -> io::Result<(bool, u64)> {
        let st = rustix::fs::statat(self.dir.fd()?, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        Ok((is_dir, u64::try_from(st.st_size).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries, kinds, sizes and subdirectories are seen through the handle; missing directories
    /// are `None`, not errors.
    #[test]
    fn list_and_stat() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("f"), b"12345").unwrap();
        std::fs::write(dir.path().join("sub/g"), b"1").unwrap();
        let mut h = DirHandle::open(dir.path()).unwrap().unwrap();
        let mut names: Vec<_> = h
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| {
                let is_dir = h.is_dir(&e).unwrap();
                (e.name.into_string().unwrap(), is_dir)
            })
            .collect();
        names.sort();
        assert_eq!(names, [("f".to_string(), false), ("sub".to_string(), true)]);
        assert_eq!(h.stat(Path::new("f")).unwrap(), (false, 5));
        let mut sub = h.open_in(Path::new("sub")).unwrap().unwrap();
        assert_eq!(sub.entries().unwrap().len(), 1);
        assert!(h.open_in(Path::new("missing")).unwrap().is_none());
        assert!(DirHandle::open(&dir.path().join("missing"))
            .unwrap()
            .is_none());
    }
}
