//! The scheduler: per-CPU run queues with priorities, affinity and work stealing
//! (`anvil_kcore::runqueue`), preemption by each CPU's local APIC timer (one tick, 10 ms, is the
//! time slice), idle CPUs that halt and are woken by IPI.
//!
//! A thread that gives up its CPU but stays runnable is put back in a queue only after the
//! switch away from it has saved its context (`finish`), so another CPU can never pick up a
//! thread whose registers are still being saved. An exited thread is freed the same way.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anvil_kcore::runqueue::RunQueues;
use spin::{Mutex, Once};

use crate::arch::x86_64::tlb::{self, APIC_IDS, MAX_CPUS};
use crate::arch::x86_64::{apic, cpu, gdt, switch, trap::TrapFrame};
use crate::mm::paging;
use crate::object::tcb::{State, Tcb};

struct CpuState {
    current: Option<Arc<Tcb>>,
    /// Saved stack pointer of the idle loop while a thread runs.
    idle_ksp: u64,
    /// The thread switched away from, to requeue (still runnable) or free (dead) after the switch.
    prev: Option<(Arc<Tcb>, bool)>,
}

static QUEUES: Once<RunQueues<Arc<Tcb>>> = Once::new();
static CPUS: Once<Vec<Mutex<CpuState>>> = Once::new();
static IDLE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// Counts every queueing and every dispatch of a thread, so that the idle check can tell
/// whether work moved while it looked (see `all_idle`).
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// How many times each CPU entered user code of some thread (for tests and the log).
pub static DISPATCHES: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Sets up the queues for `cpus` CPUs. Called once by the boot CPU before any AP starts.
pub fn init(cpus: usize) {
    QUEUES.call_once(|| RunQueues::new(cpus));
    CPUS.call_once(|| {
        (0..cpus)
            .map(|_| {
                Mutex::new(CpuState {
                    current: None,
                    idle_ksp: 0,
                    prev: None,
                })
            })
            .collect()
    });
}

fn me() -> usize {
    gdt::this_cpu().index as usize
}

fn queues() -> &'static RunQueues<Arc<Tcb>> {
    QUEUES
        .get()
        .unwrap_or_else(|| panic!("scheduler used before sched::init"))
}

fn state(cpu: usize) -> &'static Mutex<CpuState> {
    &CPUS
        .get()
        .unwrap_or_else(|| panic!("scheduler used before sched::init"))[cpu]
}

pub fn current() -> Option<Arc<Tcb>> {
    state(me()).lock().current.clone()
}

fn kick(cpu: usize) {
    let id = APIC_IDS[cpu].load(Ordering::Acquire);
    if cpu != me() && id != u32::MAX {
        apic::send_ipi(id, apic::RESCHED_VECTOR);
    }
}

fn push(t: Arc<Tcb>) {
    let (prio, aff) = {
        let i = t.inner.lock();
        (i.priority, i.affinity)
    };
    let q = queues();
    EPOCH.fetch_add(1, Ordering::SeqCst);
    let cpu = q.push(me(), t, prio, aff);
    if IDLE[cpu].load(Ordering::Acquire) {
        kick(cpu);
    } else if let Some(idle) = (0..q.cpus()).find(|&c| c != cpu && IDLE[c].load(Ordering::Acquire)) {
        // Someone is idle: let it steal.
        kick(idle);
    }
}

/// Makes `t` runnable; builds its first kernel context if it has never run.
pub fn enqueue(t: Arc<Tcb>) {
    {
        let mut i = t.inner.lock();
        if !i.started {
            let Some(start) = i.start else { return };
            // SAFETY: the thread has never run, so its kernel stack is unused.
            let sp = unsafe { switch::initial_stack(t.kstack.top, &start) };
            t.ksp.store(sp, Ordering::Relaxed);
            i.started = true;
        }
        i.state = State::Runnable;
    }
    push(t);
}

/// Takes `t` out of the run queues if it waits there.
pub fn dequeue(t: &Arc<Tcb>) -> bool {
    queues().remove(|q| Arc::ptr_eq(q, t)).is_some()
}

/// Makes sure `t` is not running anywhere: if it runs on another CPU, that CPU is told to
/// look at its state, and this waits until it has switched away.
pub fn wait_off_cpu(t: &Arc<Tcb>) {
    loop {
        let on = t.on_cpu.load(Ordering::Acquire);
        if on < 0 || on as usize == me() {
            return;
        }
        kick(on as usize);
        for _ in 0..1000 {
            tlb::service(me());
            if t.on_cpu.load(Ordering::Acquire) != on {
                break;
            }
            core::hint::spin_loop();
        }
    }
}

fn next_for(cpu: usize) -> Option<Arc<Tcb>> {
    let q = queues();
    q.pop(cpu).or_else(|| q.steal(cpu))
}

fn prepare(cpu: usize, t: &Tcb) {
    // SAFETY: this CPU is about to run `t`, which it took off a run queue: no other CPU runs it
    // or saves its FPU area (see arch/x86_64/fpu.rs).
    unsafe { t.fpu.restore() };
    gdt::set_kernel_stack(t.kstack.top);
    if let Some(vs) = t.vspace() {
        vs.activate_on(cpu);
    }
    t.on_cpu.store(cpu as i64, Ordering::Release);
    EPOCH.fetch_add(1, Ordering::SeqCst);
    DISPATCHES[cpu].fetch_add(1, Ordering::Relaxed);
}

/// Runs after every switch, on the CPU that switched: requeues or frees the thread it left.
#[no_mangle]
pub extern "C" fn anvil_sched_finish() {
    let cpu = me();
    let prev = state(cpu).lock().prev.take();
    if let Some((t, requeue)) = prev {
        if let Some(vs) = t.vspace() {
            vs.deactivate_on(cpu);
        }
        t.on_cpu.store(-1, Ordering::Release);
        if requeue && t.inner.lock().state == State::Runnable {
            push(t);
        }
    }
}

/// Gives the CPU to the next runnable thread (or the idle loop). `requeue`: the current thread
/// stays runnable.
fn reschedule(requeue: bool) {
    let cpu = me();
    let (save, load) = {
        let mut s = state(cpu).lock();
        let Some(cur) = s.current.take() else { return };
        let next = next_for(cpu);
        if requeue && next.is_none() {
            s.current = Some(cur);
            return;
        }
        let save = cur.ksp.as_ptr();
        // SAFETY: this CPU runs `cur` and switches away from it now; the kernel never touches the
        // FPU registers, so they still hold its user values.
        unsafe { cur.fpu.save() };
        s.prev = Some((cur, requeue));
        let load = match next {
            Some(n) => {
                prepare(cpu, &n);
                let sp = n.ksp.load(Ordering::Relaxed);
                s.current = Some(n);
                sp
            }
            None => {
                paging::activate(paging::kernel_pml4());
                s.idle_ksp
            }
        };
        (save, load)
    };
    // SAFETY: `save` points into the current thread's TCB, which `prev` keeps alive until
    // `finish` runs after this switch; `load` was saved by `switch` or built by `initial_stack`
    // for a thread whose kernel stack is mapped.
    unsafe { switch::switch(save, load) };
    anvil_sched_finish();
}

/// The current thread gives up the rest of its time slice.
pub fn yield_now() {
    reschedule(true);
}

/// Timer tick or reschedule IPI: the current thread goes if it was stopped, or if its time
/// slice is over and another thread waits.
pub fn tick(frame: &TrapFrame) {
    if !frame.is_user() {
        return;
    }
    match current().map(|t| t.inner.lock().state) {
        Some(State::Dead) => exit_current(),
        Some(State::Suspended) => reschedule(false),
        _ => reschedule(true),
    }
}

/// Before returning to user space: a thread suspended or stopped meanwhile (by another CPU,
/// or by deleting its own last capability) stops here.
pub fn check_stopped() {
    match current().map(|t| t.inner.lock().state) {
        Some(State::Suspended) => reschedule(false),
        Some(State::Dead) => exit_current(),
        _ => {}
    }
}

/// Stops a thread for good (its last capability is gone): it leaves the run queues, and if it
/// runs on another CPU, that CPU switches away before this returns. The current thread stops
/// on its way back to user space.
pub fn stop(t: &Arc<Tcb>) {
    {
        let mut i = t.inner.lock();
        if i.state == State::Dead {
            return;
        }
        i.state = State::Dead;
    }
    dequeue(t);
    wait_off_cpu(t);
}

/// Stops the current thread without ending it (`Tcb.suspend` on itself).
pub fn suspend_current() {
    reschedule(false);
}

/// Ends the current thread. Its address space and CNode are released when nothing else holds
/// them; the CPU switches page tables first.
pub fn exit_current() -> ! {
    // The CNode is dropped outside the thread's lock: dropping it may delete capabilities and
    // so stop other threads.
    let cnode = current().and_then(|t| {
        let mut i = t.inner.lock();
        i.state = State::Dead;
        i.cnode.take()
    });
    drop(cnode);
    reschedule(false);
    crate::kerr!("a dead thread was resumed");
    cpu::halt_forever()
}

/// The idle loop of this CPU, on its boot stack: runs threads while there are any.
pub fn run() -> ! {
    let cpu = me();
    let mut announced = false;
    loop {
        let next = {
            let mut s = state(cpu).lock();
            let n = next_for(cpu);
            if let Some(n) = &n {
                prepare(cpu, n);
                s.current = Some(n.clone());
            }
            n.map(|n| (n.ksp.load(Ordering::Relaxed), &raw mut s.idle_ksp))
        };
        match next {
            Some((load, save)) => {
                announced = false;
                // SAFETY: `save` is this CPU's idle slot in static scheduler state; `load` is a
                // context saved by `switch` or built by `initial_stack`.
                unsafe { switch::switch(save, load) };
                anvil_sched_finish();
            }
            None => {
                if !announced && cpu == 0 {
                    crate::kinfo!("cpu {cpu}: no runnable threads, idle");
                    announced = true;
                }
                // Checked on every wake-up (at least each timer tick): the last thread may end
                // on another CPU long after this one went idle.
                if cpu == 0 && crate::EXIT_WHEN_IDLE.load(Ordering::Relaxed) && all_idle(cpu) {
                    crate::report_memory();
                    crate::arch::x86_64::port::qemu_exit(0);
                }
                IDLE[cpu].store(true, Ordering::Release);
                if queues().is_empty(cpu) {
                    cpu::wait_for_interrupt();
                }
                IDLE[cpu].store(false, Ordering::Release);
                tlb::service(cpu);
            }
        }
    }
}

/// True if no CPU runs a thread and no queue holds one. The CPUs are looked at one after the
/// other, so a thread could move from a CPU that was not yet looked at to a queue that already
/// was; every queueing and dispatch counts in EPOCH, and the answer only stands if the count
/// did not change while looking.
fn all_idle(me: usize) -> bool {
    let before = EPOCH.load(Ordering::SeqCst);
    let q = queues();
    let idle =
        (0..q.cpus()).all(|c| c == me || state(c).lock().current.is_none()) && (0..q.cpus()).all(|c| q.is_empty(c));
    idle && EPOCH.load(Ordering::SeqCst) == before
}
