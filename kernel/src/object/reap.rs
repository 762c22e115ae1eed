//! Deferred destruction. Dropping a kernel object can cascade: a CNode drops the objects its
//! slots name, a thread's last capability stops the thread (waiting for its CPU to switch
//! away), an endpoint's last capability wakes its waiters. Doing that where the last reference
//! happens to go could mean doing it under a lock, or recursing as deep as a chain of CNodes is
//! long. So objects leaving the capability space are handed to `defer`, and `drain` drops them
//! one at a time, iteratively, at points where the CPU holds no lock: the end of every syscall
//! and trap, and the idle loop. See docs/smp.md ("Lifetime").

use alloc::vec::Vec;

use spin::Mutex;

use super::Object;

static PENDING: Mutex<Vec<Object>> = Mutex::new(Vec::new());

/// Queues `obj` to be dropped at the next safe point.
pub fn defer(obj: Object) {
    PENDING.lock().push(obj);
}

/// Queues every object of `objs`.
pub fn defer_all(objs: impl IntoIterator<Item = Object>) {
    let mut p = PENDING.lock();
    for o in objs {
        p.push(o);
    }
}

/// Drops every queued object, including those queued by the drops themselves. The caller
/// holds no kernel lock.
pub fn drain() {
    loop {
        let next = PENDING.lock().pop();
        match next {
            Some(o) => drop(o),
            None => break,
        }
    }
    // A big revoke may have grown the list; give the memory back.
    {
        let mut p = PENDING.lock();
        if p.is_empty() && p.capacity() > 256 {
            p.shrink_to(16);
        }
    }
    crate::mm::kstack::reclaim();
}
