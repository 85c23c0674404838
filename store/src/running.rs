//! Shared run state of the store (Java `RunningFlags` plus a stop signal for the service
//! threads): poisoned after a failed fsync, disk-full while usage is above the warning level,
//! shut down once `shutdown` starts. Any of these refuses puts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Flags checked on every put.
#[derive(Debug, Default)]
pub struct RunningFlags {
    poisoned: AtomicBool,
    disk_full: AtomicBool,
    shutdown: AtomicBool,
}

impl RunningFlags {
    /// Marks the store poisoned (a flush failed); never cleared in this process.
    pub fn poison(&self) {
        if !self.poisoned.swap(true, Ordering::AcqRel) {
            tracing::error!("a flush failed: the store is poisoned and refuses further writes");
        }
    }

    /// Whether a flush failed.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Sets the disk-full flag; returns the previous value.
    pub fn set_disk_full(&self, full: bool) -> bool {
        self.disk_full.swap(full, Ordering::AcqRel)
    }

    /// Whether the disk is above the warning level.
    pub fn is_disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Acquire)
    }

    /// Marks shutdown started.
    pub fn set_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    /// Whether shutdown started.
    pub fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Whether puts are accepted.
    pub fn is_writeable(&self) -> bool {
        !self.is_poisoned() && !self.is_disk_full() && !self.is_shutdown()
    }
}

/// A stop request that service threads can sleep on.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl StopSignal {
    /// Requests stop and wakes sleepers.
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cv.notify_all();
    }

    /// Whether stop was requested.
    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps up to `dur`; returns true if stop was requested.
    pub fn sleep(&self, dur: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, dur, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}
