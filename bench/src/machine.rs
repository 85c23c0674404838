//! What the machine itself allows, measured in the same run as the brokers so the broker numbers
//! can be read against them:
//!
//! * loopback: one TCP connection on 127.0.0.1 carrying frames of a given size to a reader that
//!   discards them (bandwidth ceiling), and a ping-pong of a frame against a 64-byte answer (the
//!   round-trip floor of a synchronous send);
//! * disk: sequential 1 MiB writes followed by one fsync (bandwidth), and 4 KiB appends each
//!   followed by `fdatasync` (the ceiling of a synchronously flushed broker).
//!
//! Plain threads and blocking sockets/files: nothing here depends on the async runtime.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::proto::BoxError;
use crate::stats::{Latency, LatencySummary};

/// Size of the answer in the ping-pong test (about a send response).
const ANSWER: usize = 64;

#[derive(Debug, Serialize)]
pub struct LoopbackReport {
    pub frame_size: usize,
    /// One-way stream: frames/s and MB/s a reader can take off one connection.
    pub stream_frames_per_sec: f64,
    pub stream_mb_per_sec: f64,
    /// Ping-pong on one connection: round trips per second and their latency.
    pub pingpong_per_sec: f64,
    pub pingpong: LatencySummary,
}

impl LoopbackReport {
    pub fn line(&self) -> String {
        format!(
            "loopback {} B frames: stream {:.0} frames/s {:.0} MB/s | ping-pong {:.0} round trips/s p50 {:.3} ms p99 {:.3} ms",
            self.frame_size,
            self.stream_frames_per_sec,
            self.stream_mb_per_sec,
            self.pingpong_per_sec,
            self.pingpong.p50_ms,
            self.pingpong.p99_ms
        )
    }
}

fn listener() -> Result<(TcpListener, String), BoxError> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?.to_string();
    Ok((l, addr))
}

/// One connection, `frame_size`-byte writes for `duration`; the reader counts what arrives.
fn stream(frame_size: usize, duration: Duration) -> Result<(f64, f64), BoxError> {
    let (l, addr) = listener()?;
    let reader = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = l.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    });
    let mut s = TcpStream::connect(&addr)?;
    s.set_nodelay(true)?;
    let frame = vec![7u8; frame_size.max(1)];
    let started = Instant::now();
    while started.elapsed() < duration {
        for _ in 0..64 {
            s.write_all(&frame)?;
        }
    }
    s.shutdown(std::net::Shutdown::Write)?;
    let received = reader
        .join()
        .map_err(|_| "loopback reader thread panicked")??;
    let secs = started.elapsed().as_secs_f64();
    Ok((
        received as f64 / frame.len() as f64 / secs,
        received as f64 / secs / 1e6,
    ))
}

/// One connection: a `frame_size` request, a 64-byte answer, repeated for `duration`.
fn pingpong(frame_size: usize, duration: Duration) -> Result<(f64, Latency), BoxError> {
    let (l, addr) = listener()?;
    let size = frame_size.max(1);
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = l.accept()?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; size];
        let answer = [1u8; ANSWER];
        loop {
            match s.read_exact(&mut buf) {
                Ok(()) => s.write_all(&answer)?,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });
    let mut s = TcpStream::connect(&addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let frame = vec![7u8; size];
    let mut answer = [0u8; ANSWER];
    let mut lat = Latency::new();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < duration {
        let t0 = Instant::now();
        s.write_all(&frame)?;
        s.read_exact(&mut answer)?;
        lat.record(t0.elapsed().as_micros() as u64);
        n += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    s.shutdown(std::net::Shutdown::Both)?;
    echo.join().map_err(|_| "echo thread panicked")??;
    Ok((n as f64 / secs, lat))
}

pub fn loopback(frame_size: usize, duration: Duration) -> Result<LoopbackReport, BoxError> {
    let (fps, mbps) = stream(frame_size, duration)?;
    let (rtps, lat) = pingpong(frame_size, duration)?;
    Ok(LoopbackReport {
        frame_size,
        stream_frames_per_sec: fps,
        stream_mb_per_sec: mbps,
        pingpong_per_sec: rtps,
        pingpong: lat.summary(),
    })
}

#[derive(Debug, Serialize)]
pub struct DiskReport {
    pub dir: String,
    /// Sequential write of `written_mb` MB in 1 MiB writes plus one final fsync.
    pub written_mb: f64,
    pub seq_write_mb_per_sec: f64,
    /// 4 KiB append + fdatasync, repeated.
    pub fsyncs_per_sec: f64,
    pub fsync: LatencySummary,
}

impl DiskReport {
    pub fn line(&self) -> String {
        format!(
            "disk {}: sequential write {:.0} MB/s ({:.0} MB, fsync included) | 4 KiB append+fdatasync {:.0}/s p50 {:.3} ms p99 {:.3} ms",
            self.dir,
            self.seq_write_mb_per_sec,
            self.written_mb,
            self.fsyncs_per_sec,
            self.fsync.p50_ms,
            self.fsync.p99_ms
        )
    }
}

/// Writes up to `size_mb` MiB (stopping early after `duration`) and then appends with fdatasync
/// for `duration`; the files are removed afterwards.
pub fn disk(dir: &Path, size_mb: u64, duration: Duration) -> Result<DiskReport, BoxError> {
    std::fs::create_dir_all(dir)?;
    let seq_path = dir.join("rmq-bench-seq.tmp");
    let sync_path = dir.join("rmq-bench-fsync.tmp");
    let result = (|| -> Result<DiskReport, BoxError> {
        let block = vec![0x5Au8; 1 << 20];
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&seq_path)?;
        let started = Instant::now();
        let mut written = 0u64;
        for _ in 0..size_mb {
            f.write_all(&block)?;
            written += block.len() as u64;
            if started.elapsed() > duration * 4 {
                break;
            }
        }
        f.sync_all()?;
        let seq_secs = started.elapsed().as_secs_f64();
        drop(f);
        std::fs::remove_file(&seq_path)?;

        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&sync_path)?;
        let page = vec![0x33u8; 4096];
        let mut lat = Latency::new();
        let started = Instant::now();
        let mut n = 0u64;
        while started.elapsed() < duration {
            let t0 = Instant::now();
            f.write_all(&page)?;
            f.sync_data()?;
            lat.record(t0.elapsed().as_micros() as u64);
            n += 1;
        }
        let sync_secs = started.elapsed().as_secs_f64();
        Ok(DiskReport {
            dir: dir.display().to_string(),
            written_mb: written as f64 / 1e6,
            seq_write_mb_per_sec: written as f64 / seq_secs / 1e6,
            fsyncs_per_sec: n as f64 / sync_secs,
            fsync: lat.summary(),
        })
    })();
    let _ = std::fs::remove_file(&seq_path);
    let _ = std::fs::remove_file(&sync_path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_moves_bytes() {
        let r = loopback(1024, Duration::from_millis(100)).unwrap();
        assert!(r.stream_mb_per_sec > 0.0);
        assert!(r.pingpong.count > 0);
    }

    #[test]
    fn disk_writes_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("rmq-bench-test-{}", std::process::id()));
        let r = disk(&dir, 2, Duration::from_millis(50)).unwrap();
        assert!(r.written_mb > 2.0);
        assert!(r.fsyncs_per_sec > 0.0);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
