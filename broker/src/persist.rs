//! The broker's JSON config files under `<storePathRootDir>/config/` (topics.json,
//! subscriptionGroup.json, consumerOffset.json): written to `<file>.tmp`, fsynced, the previous
//! file kept as `<file>.bak`, then renamed — as Java's `MixAll.string2File` does. Read with the
//! `.bak` as fallback and fastjson's bare numeric keys accepted.

use std::io::Write;
use std::path::{Path, PathBuf};

use remoting::protocol::body::fastjson::quote_bare_keys;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub fn config_dir(store_root: &Path) -> PathBuf {
    store_root.join("config")
}

/// Loads `path` (or its `.bak` when `path` is missing or unreadable); `None` if neither exists.
pub fn load<T: DeserializeOwned>(path: &Path) -> Option<T> {
    for candidate in [path.to_path_buf(), bak_path(path)] {
        match std::fs::read(&candidate) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(bytes) => match serde_json::from_slice::<T>(&quote_bare_keys(&bytes)) {
                Ok(v) => {
                    tracing::info!(path = %candidate.display(), "loaded config file");
                    return Some(v);
                }
                Err(e) => {
                    tracing::warn!(path = %candidate.display(), error = %e, "unreadable config file")
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %candidate.display(), error = %e, "cannot read config file")
            }
        }
    }
    None
}

fn bak_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

/// Writes `value` as pretty JSON, atomically, keeping the previous file as `.bak`.
pub fn store<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    store_bytes(path, &bytes)
}

/// Writes `bytes` (already encoded, e.g. fastjson-style bare keys) the same atomic way.
pub fn store_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    if path.exists() {
        let _ = std::fs::copy(path, bak_path(path));
    }
    std::fs::rename(&tmp, path)
}
