//! The scheduler: a run queue of threads and preemption by the local APIC timer (one tick,
//! 10 ms, is the time slice). A thread gives up the CPU when it exits, suspends itself,
//! yields, or its time slice ends with another thread waiting. With nothing to run, the CPU
//! runs its idle loop on the boot stack. This version drives one CPU; per-CPU queues and work
//! stealing come with the SMP work, behind these same functions.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use spin::Mutex;

use crate::arch::x86_64::{cpu, gdt, switch, trap::TrapFrame};
use crate::mm::paging;
use crate::object::tcb::{State, Tcb};

struct Sched {
    queue: VecDeque<Arc<Tcb>>,
    current: Option<Arc<Tcb>>,
    /// Saved stack pointer of the idle loop while a thread runs.
    idle_ksp: u64,
    /// A thread that exited; dropped after the switch away from its stack.
    reap: Option<Arc<Tcb>>,
}

static SCHED: Mutex<Sched> = Mutex::new(Sched {
    queue: VecDeque::new(),
    current: None,
    idle_ksp: 0,
    reap: None,
});

pub fn current() -> Option<Arc<Tcb>> {
    SCHED.lock().current.clone()
}

/// Makes `t` runnable; builds its first kernel context if it has never run.
pub fn enqueue(t: Arc<Tcb>) {
    {
        let mut i = t.inner.lock();
        if !i.started {
            let Some(start) = i.start else { return };
            // SAFETY: the thread has never run, so its kernel stack is unused.
            let sp = unsafe { switch::initial_stack(t.kstack.top, &start) };
            t.ksp.store(sp, core::sync::atomic::Ordering::Relaxed);
            i.started = true;
        }
        i.state = State::Runnable;
    }
    SCHED.lock().queue.push_back(t);
}

/// Removes `t` from the run queue if it is there.
pub fn dequeue(t: &Arc<Tcb>) {
    SCHED.lock().queue.retain(|q| !Arc::ptr_eq(q, t));
}

fn prepare(t: &Tcb) {
    gdt::set_kernel_stack(t.kstack.top);
    if let Some(vs) = t.vspace() {
        paging::activate(vs.pml4());
    }
}

/// Gives the CPU to the next runnable thread (or the idle loop). `requeue`: the current thread
/// stays runnable and goes to the back of the queue.
fn reschedule(requeue: bool) {
    let (save, load) = {
        let mut s = SCHED.lock();
        let Some(cur) = s.current.take() else { return };
        let next = s.queue.pop_front();
        if requeue {
            match next {
                None => {
                    s.current = Some(cur);
                    return;
                }
                Some(_) => s.queue.push_back(cur.clone()),
            }
        } else if cur.inner.lock().state == State::Dead {
            s.reap = Some(cur.clone());
        }
        let save = cur.ksp.as_ptr();
        let load = match next {
            Some(n) => {
                prepare(&n);
                let sp = n.ksp.load(core::sync::atomic::Ordering::Relaxed);
                s.current = Some(n);
                sp
            }
            None => {
                paging::activate(paging::kernel_pml4());
                crate::kinfo!("cpu {}: no runnable threads, idle", gdt::this_cpu().index);
                s.idle_ksp
            }
        };
        (save, load)
    };
    // SAFETY: `save` points into the current thread's TCB, which the queue, the reap slot or a
    // capability keeps alive until it runs again; `load` was saved by `switch` or built by
    // `initial_stack` for a thread whose stack is mapped.
    unsafe { switch::switch(save, load) };
    reap();
}

fn reap() {
    let dead = SCHED.lock().reap.take();
    drop(dead);
}

/// The current thread gives up the rest of its time slice.
pub fn yield_now() {
    reschedule(true);
}

/// Timer tick: preempts the current thread if another one is waiting.
pub fn tick(frame: &TrapFrame) {
    if frame.is_user() {
        reschedule(true);
    }
}

/// Stops the current thread without ending it (`Tcb.suspend` on itself).
pub fn suspend_current() {
    reschedule(false);
}

/// Ends the current thread. Its address space and capability table are released once
/// nothing else holds them; the kernel switches page tables before that can happen.
pub fn exit_current() -> ! {
    let t = current();
    if let Some(t) = &t {
        let mut i = t.inner.lock();
        i.state = State::Dead;
        i.vspace = None;
        i.cnode = None;
    }
    drop(t);
    reschedule(false);
    unreachable_after_exit()
}

#[cold]
fn unreachable_after_exit() -> ! {
    // A dead thread is never put back in the queue, so its context is never resumed.
    crate::kerr!("a dead thread was resumed");
    cpu::halt_forever()
}

/// The idle loop of this CPU, on the boot stack: runs threads while there are any.
pub fn run() -> ! {
    loop {
        let next = {
            let mut s = SCHED.lock();
            let n = s.queue.pop_front();
            if let Some(n) = &n {
                prepare(n);
                s.current = Some(n.clone());
            }
            n.map(|n| (n.ksp.load(core::sync::atomic::Ordering::Relaxed), &raw mut s.idle_ksp))
        };
        match next {
            Some((load, save)) => {
                // SAFETY: `save` is the idle slot in the static scheduler state; `load` is a
                // context saved by `switch` or built by `initial_stack`.
                unsafe { switch::switch(save, load) };
                reap();
            }
            None => idle_wait(),
        }
    }
}

fn idle_wait() {
    if crate::EXIT_WHEN_IDLE.load(core::sync::atomic::Ordering::Relaxed) {
        crate::report_memory();
        crate::arch::x86_64::port::qemu_exit(0);
    }
    cpu::wait_for_interrupt();
}

/// With no thread ever started (init failed to load): log and wait.
pub fn idle() -> ! {
    crate::kinfo!("cpu {}: no runnable threads, idle", gdt::this_cpu().index);
    run()
}
