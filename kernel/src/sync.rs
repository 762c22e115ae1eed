//! A spin lock that counts how often it was taken and how often it had to wait, for the locks
//! whose contention docs/smp.md reports (the capability space).

use core::sync::atomic::{AtomicU64, Ordering};

use spin::{Mutex, MutexGuard};

pub struct CountedMutex<T> {
    inner: Mutex<T>,
    taken: AtomicU64,
    waited: AtomicU64,
}

impl<T> CountedMutex<T> {
    pub const fn new(v: T) -> Self {
        CountedMutex {
            inner: Mutex::new(v),
            taken: AtomicU64::new(0),
            waited: AtomicU64::new(0),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.taken.fetch_add(1, Ordering::Relaxed);
        if let Some(g) = self.inner.try_lock() {
            return g;
        }
        self.waited.fetch_add(1, Ordering::Relaxed);
        self.inner.lock()
    }

    /// (times taken, times a CPU found it held and had to spin).
    pub fn stats(&self) -> (u64, u64) {
        (self.taken.load(Ordering::Relaxed), self.waited.load(Ordering::Relaxed))
    }
}
