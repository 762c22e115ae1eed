//! Deferred destruction. Dropping a kernel object can cascade: a CNode drops the objects its
//! slots name, a thread's last capability stops the thread (waiting for its CPU to switch
//! away), an endpoint's last capability wakes its waiters. Doing that where the last reference
//! happens to go could mean doing it under a lock, or recursing as deep as a chain of CNodes is
//! long. So objects leaving the capability space are handed to `defer`, and `drain` drops them
//! one at a time, iteratively, at points where the CPU holds no lock: the end of every syscall
//! and trap, and the idle loop. See docs/smp.md ("Lifetime").
//!
//! The lists are per CPU, so what a syscall defers is dropped before that syscall returns: a
//! thread deleting its own last capability stops in its own syscall, and a thread deleting
//! another's returns only after that thread has stopped.

use alloc::vec::Vec;

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use spin::Mutex;

use super::Object;
use crate::arch::x86_64::tlb::MAX_CPUS;

static PENDING: [Mutex<Vec<Object>>; MAX_CPUS] = [const { Mutex::new(Vec::new()) }; MAX_CPUS];

/// What each CPU's list holds without growing.
const ROOM: usize = 64;

/// Gives this CPU's list its room (at boot, when the CPU comes up).
pub fn init_cpu() {
    let _ = mine().lock().try_reserve_exact(ROOM);
}

/// This CPU's list (the kernel is not preemptible, so it stays this CPU's while used).
fn mine() -> &'static Mutex<Vec<Object>> {
    &PENDING[cpu()]
}

/// Whether this CPU's list may hold something, read without the lock so that the end of
/// every syscall tells in one load that there is nothing to do (a flag in the CPU's block).
fn queued() -> &'static AtomicBool {
    &crate::arch::x86_64::gdt::this_cpu().reap_queued
}

fn cpu() -> usize {
    crate::arch::x86_64::gdt::this_cpu().index as usize % MAX_CPUS
}

/// Queues `obj` to be dropped at this CPU's next safe point.
pub fn defer(obj: Object) {
    mine().lock().push(obj);
    queued().store(true, Ordering::Release);
}

/// Drops `obj`, which just left the capability space, here and now: what `defer` and the
/// `drain` at the end of the same syscall would do, without the list. Only for a caller that
/// holds no lock (a handler after it released the capability space), and for one object:
/// one drop does not recurse far, since the objects that cascade (a thread, a CNode) defer
/// what they refer to. Counted in `DROPPING`, as a drop from a list is, for `drain_all`.
pub fn drop_now(obj: Object) {
    DROPPING.fetch_add(1, Ordering::SeqCst);
    obj.capability_removed();
    drop(obj);
    DROPPING.fetch_sub(1, Ordering::SeqCst);
    // A safe point, as a drain is: the console server hears of what the drop logged (a
    // thread stopped, say) now, not at some later drain.
    crate::log::kick();
}

/// Queues every object of `objs`.
pub fn defer_all(objs: impl IntoIterator<Item = Object>) {
    let mut p = mine().lock();
    for o in objs {
        p.push(o);
    }
    queued().store(true, Ordering::Release);
}

/// Objects taken off a list and not yet dropped, on any CPU. Counted under the list's lock, so
/// a CPU that finds a list empty and then reads zero here knows nothing taken from that list
/// is still being dropped.
static DROPPING: AtomicUsize = AtomicUsize::new(0);

/// Drops what every CPU has queued, and waits for the drops other CPUs are in the middle of
/// (for exact memory statistics: another CPU may not pass a safe point for a while, or be
/// freeing an address space right now). The caller holds no kernel lock. A drop elsewhere may
/// be waiting for the calling thread to leave its CPU (it is being killed): then this returns
/// without waiting, and the caller's statistics do not matter any more.
pub fn drain_all() {
    loop {
        for list in &PENDING {
            empty(list);
        }
        if DROPPING.load(Ordering::SeqCst) == 0 && PENDING.iter().all(|l| l.lock().is_empty()) {
            break;
        }
        if !crate::sched::current_runnable() {
            break;
        }
        crate::arch::x86_64::tlb::service(cpu());
        core::hint::spin_loop();
    }
    drain();
}

/// Drops the objects of `list` one at a time (a drop may queue more on this CPU's list). A
/// big revoke may have grown the list: once it is empty its memory goes back, keeping the room
/// every CPU is given at boot, so heap use does not depend on which CPU deleted what.
fn empty(list: &Mutex<Vec<Object>>) {
    loop {
        let next = {
            let mut l = list.lock();
            let o = l.pop();
            if o.is_some() {
                DROPPING.fetch_add(1, Ordering::SeqCst);
            } else if l.capacity() > ROOM {
                l.shrink_to(ROOM);
            }
            o
        };
        let Some(o) = next else { break };
        o.capability_removed();
        drop(o);
        DROPPING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// True if `drain` has nothing to do on this CPU: no object queued, no kernel stack waiting
/// to be reclaimed. The syscall path's common case asks this and returns at once.
#[inline]
pub fn idle() -> bool {
    !queued().load(Ordering::Relaxed) && crate::mm::kstack::nothing_to_reclaim()
}

/// Drops every queued object, including those queued by the drops themselves. The caller
/// holds no kernel lock.
#[inline]
pub fn drain() {
    if !queued().load(Ordering::Relaxed) {
        crate::mm::kstack::reclaim();
        return;
    }
    queued().store(false, Ordering::Relaxed);
    drain_slow();
}

#[inline(never)]
fn drain_slow() {
    empty(mine());
    crate::mm::kstack::reclaim();
    // A safe point is also where the console server hears of new kernel output.
    crate::log::kick();
}
