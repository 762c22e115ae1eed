//! Per-CPU run queues with priorities, affinity and work stealing. Generic over the thread
//! handle so the same code runs in the kernel and in host stress tests with real threads.
//!
//! Policy: a thread goes to the queue of the CPU it is pinned to, or else to the CPU that
//! enqueues it (so a woken thread tends to stay near its waker). Each CPU runs its highest
//! priority thread first, round robin within a priority. A CPU whose queue is empty steals
//! the oldest unpinned thread from the busiest other queue. Pinned threads never move.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use spin::Mutex;

pub const PRIORITIES: usize = 32;
/// Affinity value meaning "any CPU".
pub const ANY: u32 = u32::MAX;

struct Entry<T> {
    item: T,
    affinity: u32,
}

struct Queue<T> {
    levels: Vec<VecDeque<Entry<T>>>,
    /// Bit `p` is set when level `p` holds a thread: the highest is found in one instruction
    /// instead of scanning every level.
    busy: u32,
    len: usize,
}

impl<T> Queue<T> {
    fn new() -> Self {
        Queue {
            levels: (0..PRIORITIES).map(|_| VecDeque::new()).collect(),
            busy: 0,
            len: 0,
        }
    }

    /// Takes the entry at `pos` of `level` out, keeping the bitmap and the count right.
    fn take(&mut self, level: usize, pos: usize) -> Option<Entry<T>> {
        let e = self.levels[level].remove(pos)?;
        if self.levels[level].is_empty() {
            self.busy &= !(1 << level);
        }
        self.len -= 1;
        Some(e)
    }

    /// Busy levels, highest first.
    fn busy_levels(&self) -> impl Iterator<Item = usize> {
        let busy = self.busy;
        (0..PRIORITIES).rev().filter(move |&l| busy & (1 << l) != 0)
    }
}

pub struct RunQueues<T> {
    queues: Vec<Mutex<Queue<T>>>,
    /// Each queue's `busy` bitmap, mirrored for reading without the lock.
    busy: Vec<core::sync::atomic::AtomicU32>,
}

impl<T> RunQueues<T> {
    pub fn new(cpus: usize) -> Self {
        RunQueues {
            queues: (0..cpus.max(1)).map(|_| Mutex::new(Queue::new())).collect(),
            busy: (0..cpus.max(1))
                .map(|_| core::sync::atomic::AtomicU32::new(0))
                .collect(),
        }
    }

    /// Heap bytes the queues take (each keeps the room of the most threads it ever held).
    pub fn heap_bytes(&self) -> usize {
        self.queues
            .iter()
            .map(|q| {
                let q = q.lock();
                q.levels.capacity() * core::mem::size_of::<VecDeque<Entry<T>>>()
                    + q.levels
                        .iter()
                        .map(|l| l.capacity() * core::mem::size_of::<Entry<T>>())
                        .sum::<usize>()
            })
            .sum()
    }

    pub fn cpus(&self) -> usize {
        self.queues.len()
    }

    /// Queues `item`; returns the CPU whose queue it joined.
    pub fn push(&self, from_cpu: usize, item: T, priority: u8, affinity: u32) -> usize {
        let cpu = if (affinity as usize) < self.queues.len() {
            affinity as usize
        } else {
            from_cpu % self.queues.len()
        };
        let mut q = self.queues[cpu].lock();
        let level = (priority as usize).min(PRIORITIES - 1);
        q.levels[level].push_back(Entry { item, affinity });
        q.busy |= 1 << level;
        q.len += 1;
        self.busy[cpu].store(q.busy, core::sync::atomic::Ordering::Relaxed);
        cpu
    }

    /// The next thread for `cpu` from its own queue: highest priority first.
    pub fn pop(&self, cpu: usize) -> Option<T> {
        let mut q = self.queues.get(cpu)?.lock();
        if q.busy == 0 {
            return None;
        }
        let level = 31 - q.busy.leading_zeros() as usize;
        let e = q.take(level, 0);
        self.busy[cpu].store(q.busy, core::sync::atomic::Ordering::Relaxed);
        e.map(|e| e.item)
    }

    /// The highest priority waiting in `cpu`'s queue.
    /// Read without the lock: it may be a moment old, which only matters as much as a thread
    /// queued a moment later would.
    pub fn top_priority(&self, cpu: usize) -> Option<u8> {
        let busy = self.busy.get(cpu)?.load(core::sync::atomic::Ordering::Relaxed);
        (busy != 0).then(|| (31 - busy.leading_zeros()) as u8)
    }

    /// Takes an unpinned thread from the busiest other queue for `thief` (the next busiest if
    /// that one has only pinned threads). Allocates nothing: it runs on idle CPUs at any time.
    pub fn steal(&self, thief: usize) -> Option<T> {
        let mut tried = 0u128;
        loop {
            let victim = (0..self.queues.len())
                .filter(|&c| c != thief && c < 128 && tried & (1 << c) == 0)
                .map(|c| (self.queues[c].lock().len, c))
                .filter(|&(len, _)| len > 0)
                .max()?
                .1;
            tried |= 1 << victim;
            let mut q = self.queues[victim].lock();
            let found = q
                .busy_levels()
                .find_map(|l| q.levels[l].iter().position(|e| e.affinity == ANY).map(|p| (l, p)));
            if let Some((level, pos)) = found {
                let e = q.take(level, pos);
                self.busy[victim].store(q.busy, core::sync::atomic::Ordering::Relaxed);
                return e.map(|e| e.item);
            }
        }
    }

    /// Removes the first queued item matching `f` (a suspended thread), wherever it is.
    pub fn remove(&self, mut f: impl FnMut(&T) -> bool) -> Option<T> {
        for (cpu, q) in self.queues.iter().enumerate() {
            let mut q = q.lock();
            let found = q
                .busy_levels()
                .find_map(|l| q.levels[l].iter().position(|e| f(&e.item)).map(|p| (l, p)));
            if let Some((level, pos)) = found {
                let e = q.take(level, pos);
                self.busy[cpu].store(q.busy, core::sync::atomic::Ordering::Relaxed);
                return e.map(|e| e.item);
            }
        }
        None
    }

    pub fn len(&self, cpu: usize) -> usize {
        self.queues.get(cpu).map_or(0, |q| q.lock().len)
    }

    pub fn is_empty(&self, cpu: usize) -> bool {
        self.len(cpu) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn priority_then_round_robin() {
        let q = RunQueues::new(2);
        q.push(0, 1, 5, ANY);
        q.push(0, 2, 9, ANY);
        q.push(0, 3, 5, ANY);
        assert_eq!(q.pop(0), Some(2));
        assert_eq!(q.pop(0), Some(1));
        assert_eq!(q.pop(0), Some(3));
        assert_eq!(q.pop(0), None);
    }

    #[test]
    fn pinned_threads_stay_and_unpinned_are_stolen() {
        let q = RunQueues::new(3);
        q.push(0, 10, 1, 0);
        q.push(0, 11, 1, ANY);
        q.push(1, 12, 1, ANY);
        assert_eq!(q.push(2, 13, 1, 1), 1);
        // CPU 2 steals from the busiest queue an unpinned thread only.
        let s1 = q.steal(2).unwrap();
        assert!(s1 == 11 || s1 == 12);
        let s2 = q.steal(2).unwrap();
        assert!((s2 == 11 || s2 == 12) && s2 != s1);
        assert_eq!(q.steal(2), None);
        assert_eq!(q.pop(0), Some(10));
        assert_eq!(q.pop(1), Some(13));
    }

    /// Real threads push, pop and steal concurrently; every item comes out exactly once.
    #[test]
    fn concurrent_push_pop_steal_loses_and_duplicates_nothing() {
        const CPUS: usize = 4;
        const ITEMS: u64 = 20_000;
        let q = Arc::new(RunQueues::<u64>::new(CPUS));
        let seen: Arc<Vec<AtomicU64>> = Arc::new((0..ITEMS).map(|_| AtomicU64::new(0)).collect());
        let produced = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for cpu in 0..CPUS {
            let (q, seen, produced, stop) = (q.clone(), seen.clone(), produced.clone(), stop.clone());
            handles.push(std::thread::spawn(move || {
                let mut rng = cpu as u64 * 7919 + 1;
                loop {
                    rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let n = produced.fetch_add(1, Ordering::SeqCst);
                    if n < ITEMS {
                        let pin = if rng.is_multiple_of(5) {
                            (rng >> 8) as u32 % CPUS as u32
                        } else {
                            ANY
                        };
                        q.push(cpu, n, (rng >> 16) as u8 % 32, pin);
                    }
                    let got = if rng.is_multiple_of(3) {
                        q.steal(cpu)
                    } else {
                        q.pop(cpu)
                    };
                    if let Some(item) = got {
                        seen[item as usize].fetch_add(1, Ordering::SeqCst);
                    } else if n >= ITEMS && stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if n >= ITEMS && (0..CPUS).all(|c| q.is_empty(c)) {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        for c in 0..CPUS {
            while let Some(item) = q.pop(c) {
                seen[item as usize].fetch_add(1, Ordering::SeqCst);
            }
        }
        let counts: Vec<u64> = seen.iter().map(|a| a.load(Ordering::SeqCst)).collect();
        assert!(
            counts.iter().all(|&c| c == 1),
            "lost: {}, duplicated: {}",
            counts.iter().filter(|&&c| c == 0).count(),
            counts.iter().filter(|&&c| c > 1).count()
        );
    }
}
