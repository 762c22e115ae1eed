//! The scheduler: per-CPU run queues with priorities, affinity and work stealing
//! (`anvil_kcore::runqueue`), preemption by each CPU's local APIC timer (one tick, 10 ms, is the
//! time slice), idle CPUs that halt and are woken by IPI.
//!
//! A thread is queued only when it is runnable, not queued and not on a CPU (`tcb`'s
//! `queued` and `running` flags, changed under its lock). A CPU switching away from a thread
//! clears `running` only after the switch has saved the thread's context (`finish`), and
//! queues it then if it became runnable meanwhile, so another CPU can never pick up a thread
//! whose registers are still being saved. A queue may hold a thread that was stopped after it
//! was queued; dispatch skips it.
//!
//! Nothing owned lives on a kernel stack across a switch: a thread that dies is never switched
//! back to, so whatever its stack held would leak. `reschedule`'s callers drop their
//! references first.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use anvil_kcore::runqueue::RunQueues;
use spin::Once;

use crate::arch::x86_64::tlb::{self, APIC_IDS, MAX_CPUS};
use crate::arch::x86_64::{apic, cpu, gdt, switch, trap::TrapFrame};
use crate::mm::paging;
use crate::object::tcb::{State, Tcb};
use crate::object::vspace::VSpace;

static QUEUES: Once<RunQueues<Arc<Tcb>>> = Once::new();
/// The thread each CPU runs, as the pointer of an `Arc` this entry owns (`Arc::into_raw`;
/// null: the idle loop). Only the CPU itself changes its entry, and the kernel is not
/// preemptible, so that CPU needs no lock to use it; other CPUs only ask whether it is null
/// (`all_idle`). `PerCpu::current` holds the same pointer, for the syscall path's one load.
static CURRENT: [AtomicPtr<Tcb>; MAX_CPUS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];
/// Saved stack pointer of each CPU's idle loop while a thread runs there (only that CPU uses
/// its entry).
static IDLE_KSP: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static IDLE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// Whether each CPU has logged that it went idle (once per CPU: the line is for people
/// reading a boot log, and logging every idle entry cost more than the IPC it followed).
static ANNOUNCED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// Counts every queueing and every dispatch of a thread, so that the idle check can tell
/// whether work moved while it looked (see `all_idle`).
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Threads in transit: taken off a CPU and not yet handled by `finish`, or being queued. Such a
/// thread is neither any CPU's current thread nor in a queue, so the idle check waits for it.
static TRANSIT: AtomicU64 = AtomicU64::new(0);
/// How many times each CPU entered user code of some thread (for tests and the log).
pub static DISPATCHES: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Sets up the queues for `cpus` CPUs. Called once by the boot CPU before any AP starts.
pub fn init(cpus: usize) {
    QUEUES.call_once(|| RunQueues::new(cpus));
}

/// This CPU's index, below `MAX_CPUS` (boot starts no more CPUs than that): said with a mask,
/// so the per-CPU arrays it indexes need no bounds check.
fn me() -> usize {
    gdt::this_cpu().index as usize % MAX_CPUS
}

fn queues() -> &'static RunQueues<Arc<Tcb>> {
    QUEUES
        .get()
        .unwrap_or_else(|| panic!("scheduler used before sched::init"))
}

/// True while `cpu` waits in its idle loop (`Debug.cpu`).
pub fn is_idle(cpu: usize) -> bool {
    IDLE[cpu % MAX_CPUS].load(Ordering::Acquire)
}

/// Heap bytes the run queues take.
pub fn queue_bytes() -> usize {
    queues().heap_bytes()
}

/// Makes `t`, marked running, this CPU's current thread, ready to be switched to: its FPU
/// state, kernel stack and address space loaded (`prepare`), and `CURRENT` taking over the
/// reference (`PerCpu::current` gets the same pointer; only this CPU writes or reads its
/// own). Returns the kernel context to switch to.
#[inline(always)]
fn make_current(cpu: usize, t: Arc<Tcb>) -> u64 {
    prepare(cpu, &t);
    let ksp = t.ksp.load(Ordering::Relaxed);
    let p = Arc::into_raw(t).cast_mut();
    CURRENT[cpu].store(p, Ordering::Relaxed);
    gdt::this_cpu().current.store(p.cast::<u8>(), Ordering::Release);
    ksp
}

/// Takes this CPU's current thread out of `CURRENT`, with the reference it held, leaving
/// nobody current.
fn take_current(cpu: usize) -> Option<Arc<Tcb>> {
    let p = CURRENT[cpu].swap(core::ptr::null_mut(), Ordering::SeqCst);
    if p.is_null() {
        return None;
    }
    gdt::this_cpu().current.store(core::ptr::null_mut(), Ordering::Release);
    // SAFETY: a non-null entry came from `Arc::into_raw` in `make_current` on this CPU, and the
    // swap took it out: the reference is taken over exactly once.
    Some(unsafe { Arc::from_raw(p) })
}

#[inline]
fn current_ptr() -> *const Tcb {
    gdt::this_cpu()
        .current
        .load(Ordering::Acquire)
        .cast::<Tcb>()
        .cast_const()
}

pub fn current() -> Option<Arc<Tcb>> {
    with_current(Arc::clone)
}

/// Calls `f` with this CPU's current thread, without a lock or a reference count. `f` must
/// not leave the CPU (the thread stays current, so `CURRENT` keeps its `Arc` alive).
pub fn with_current<R>(f: impl FnOnce(&Arc<Tcb>) -> R) -> Option<R> {
    let p = current_ptr();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is the pointer of the reference this CPU's `CURRENT` entry holds until this
    // CPU switches away from the thread; the caller runs on this CPU and `f` does not switch,
    // and `ManuallyDrop` keeps the count untouched.
    let t = core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(p) });
    Some(f(&t))
}

/// This CPU's current thread, for the syscall path: a handle that does not count as a
/// reference. It stays valid for as long as the code holding it runs on the thread's own
/// kernel stack: whenever that code runs, the thread is current again, and a thread that dies
/// is never resumed. Do not keep it beyond that.
#[inline]
pub fn current_handle() -> Option<core::mem::ManuallyDrop<Arc<Tcb>>> {
    let p = current_ptr();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is the pointer of the reference this CPU's `CURRENT` entry holds; see the doc
    // comment for how long the handle stays valid, and `ManuallyDrop` leaves the count
    // untouched.
    Some(core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(p) }))
}

/// The current thread's state (no reference to it is kept).
fn current_state() -> Option<State> {
    with_current(|t| t.inner.lock().state)
}

/// Whether the current thread is still runnable (a CPU waiting on others stops waiting once
/// its thread is being stopped: the stopper may be waiting for this CPU).
pub fn current_runnable() -> bool {
    current_state().is_none_or(|s| s == State::Runnable)
}

fn kick(cpu: usize) {
    let id = APIC_IDS[cpu].load(Ordering::Acquire);
    if cpu != me() && id != u32::MAX {
        apic::send_ipi(id, apic::RESCHED_VECTOR);
    }
}

/// Queues a thread that `tcb::make_runnable` said must be queued.
pub fn push(t: Arc<Tcb>) {
    let (prio, aff) = {
        let i = t.inner.lock();
        (i.priority, i.affinity)
    };
    let q = queues();
    TRANSIT.fetch_add(1, Ordering::SeqCst);
    let cpu = q.push(me(), t, prio, aff);
    EPOCH.fetch_add(1, Ordering::SeqCst);
    TRANSIT.fetch_sub(1, Ordering::SeqCst);
    if IDLE[cpu].load(Ordering::Acquire) {
        kick(cpu);
    } else if let Some(idle) = (0..q.cpus()).find(|&c| c != cpu && IDLE[c].load(Ordering::Acquire)) {
        // Someone is idle: let it steal.
        kick(idle);
    }
}

/// Takes a stopped thread out of the run queues now rather than when a CPU finds it there, so
/// that a dead thread's memory comes back at once. A thread made runnable again meanwhile
/// stays queued.
pub fn dequeue_stopped(t: &Arc<Tcb>) {
    let removed = queues().remove(|q| {
        if !Arc::ptr_eq(q, t) {
            return false;
        }
        let mut i = q.inner.lock();
        if i.state == State::Runnable {
            return false;
        }
        i.queued = false;
        true
    });
    drop(removed);
}

/// Waits until `t` is off every other CPU, if it is still in state `stopped` (a thread
/// resumed meanwhile may keep running). Gives up if the current thread is itself stopped
/// meanwhile (two threads suspending each other on two CPUs): it stops on its way out of the
/// kernel, and `t` stops on its own CPU regardless.
pub fn wait_off_cpu(t: &Arc<Tcb>, stopped: State) {
    loop {
        let on = t.on_cpu.load(Ordering::Acquire);
        if on < 0 || on as usize == me() {
            return;
        }
        if t.inner.lock().state != stopped || current_state().is_some_and(|s| s != State::Runnable) {
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

/// Waits until no thread is in transit between a CPU and a queue, so that every thread that
/// left its CPU before this call has been released by its CPU (for exact memory statistics).
pub fn settle() {
    while TRANSIT.load(Ordering::SeqCst) != 0 {
        tlb::service(me());
        core::hint::spin_loop();
    }
}

/// The next thread for `cpu`: its own queue first, then stolen. Skips threads stopped after
/// they were queued. Returns it marked running.
fn next_for(cpu: usize) -> Option<Arc<Tcb>> {
    let q = queues();
    loop {
        let t = q.pop(cpu).or_else(|| q.steal(cpu))?;
        let mut i = t.inner.lock();
        i.queued = false;
        if i.state == State::Runnable && !i.running {
            i.running = true;
            drop(i);
            return Some(t);
        }
    }
}

/// The address space each CPU has loaded (null: only the kernel's). Only that CPU changes its
/// entry. The thread running there holds the address space, so the pointer stays valid while
/// it is loaded; switching between two threads of one address space keeps it loaded (and the
/// CPU in its TLB-shootdown set) throughout.
static LOADED: [AtomicPtr<VSpace>; MAX_CPUS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

/// Makes `new` (or only the kernel, for null) this CPU's address space: the address space of a
/// thread about to run here (`Tcb::vspace_ptr`), which that thread holds while it runs.
fn load_vspace(cpu: usize, new: *mut VSpace) {
    let old = LOADED[cpu].load(Ordering::Relaxed);
    if old == new {
        return;
    }
    if !old.is_null() {
        // SAFETY: `old` is the address space of the thread this CPU ran last, which still holds
        // it (it is this CPU's previous thread, released only after the switch).
        unsafe { (*old).deactivate_on(cpu) };
    }
    LOADED[cpu].store(new, Ordering::Relaxed);
    if new.is_null() {
        paging::activate(paging::kernel_pml4());
    } else {
        // SAFETY: `new` is the address space of the thread this CPU switches to, which holds it
        // (see `Tcb::vspace_ptr`) until after it has left this CPU, and by then this CPU has
        // loaded another one.
        unsafe { (*new).activate_on(cpu) };
    }
}

#[inline(always)]
fn prepare(cpu: usize, t: &Tcb) {
    // SAFETY: this CPU is about to run `t`, which it took off a run queue: no other CPU runs it
    // or saves its FPU area (see arch/x86_64/fpu.rs).
    unsafe { t.fpu.restore() };
    gdt::set_kernel_stack(t.kstack.top);
    load_vspace(cpu, t.vspace_ptr.load(Ordering::Acquire));
    t.on_cpu.store(cpu as i64, Ordering::Release);
    EPOCH.fetch_add(1, Ordering::SeqCst);
    DISPATCHES[cpu].fetch_add(1, Ordering::Relaxed);
}

/// Runs after every switch, on the CPU that switched: the thread it left is off the CPU now;
/// it is queued again if it is runnable, and released otherwise.
#[no_mangle]
pub extern "C" fn anvil_sched_finish() {
    let p = gdt::this_cpu().prev.swap(core::ptr::null_mut(), Ordering::Relaxed);
    if p.is_null() {
        return;
    }
    // SAFETY: `p` came from `Arc::into_raw` in `set_prev` on this CPU, which only this CPU
    // reads, and the swap took it out: the reference is handed over exactly once.
    let t = unsafe { Arc::from_raw(p.cast::<Tcb>().cast_const()) };
    release_prev(t);
    TRANSIT.fetch_sub(1, Ordering::SeqCst);
}

/// Hands the thread this CPU is switching away from to `anvil_sched_finish`, which runs after
/// the switch. Only this CPU uses it, so it needs no lock.
fn set_prev(t: Arc<Tcb>) {
    let old = gdt::this_cpu()
        .prev
        .swap(Arc::into_raw(t) as *mut u8, Ordering::Relaxed);
    debug_assert!(old.is_null(), "a switch before the last one finished");
}

fn release_prev(t: Arc<Tcb>) {
    let push_it = {
        let mut i = t.inner.lock();
        i.running = false;
        t.on_cpu.store(-1, Ordering::Release);
        if i.state == State::Runnable && !i.queued {
            i.queued = true;
            true
        } else {
            if i.state == State::Dead {
                // Its address space is no longer loaded anywhere: release it now, not when
                // the last capability to the thread goes.
                t.vspace_ptr.store(core::ptr::null_mut(), Ordering::Release);
                if let Some(vs) = i.vspace.take() {
                    crate::object::reap::defer(crate::object::Object::VSpace(vs));
                }
            }
            false
        }
    };
    if push_it {
        push(t);
    } else {
        drop(t);
    }
}

/// Gives the CPU to the next runnable thread (or the idle loop). If the current thread is
/// still runnable and nothing else waits, it keeps the CPU. The caller holds no lock and no
/// owned reference on its stack (see the module header).
fn reschedule() {
    let cpu = me();
    // The current thread stays in `CURRENT` until this CPU has decided to switch away from
    // it: a thread that keeps its CPU is never seen by the idle check as neither current nor
    // counted (`all_idle`), not even for an instant.
    let Some(runnable) = with_current(|c| c.inner.lock().state == State::Runnable) else {
        // The idle loop: no thread to switch away from.
        return;
    };
    let next = next_for(cpu);
    if runnable && next.is_none() {
        return;
    }
    switch_away(cpu, next);
}

/// Switches from the current thread straight to `next`, without the run queues: the IPC fast
/// path, where `next` is the partner the current thread just handed a message to. `next` was
/// marked running under its lock by the caller, which also made sure it has left every CPU.
/// Returns when the current thread runs again.
pub fn switch_to(next: Arc<Tcb>) {
    switch_away(me(), Some(next));
}

/// Switches from the current thread to `next` (the idle loop for `None`), which is marked
/// running; returns when the current thread runs again.
#[inline(always)]
fn switch_away(cpu: usize, next: Option<Arc<Tcb>>) {
    // In transit before it stops being current, so that the idle check never misses it.
    TRANSIT.fetch_add(1, Ordering::SeqCst);
    let Some(cur) = take_current(cpu) else {
        // Not reached: both callers run on a thread, and only this CPU changes its entry.
        TRANSIT.fetch_sub(1, Ordering::SeqCst);
        return;
    };
    let save = cur.ksp.as_ptr();
    // SAFETY: this CPU runs `cur` and switches away from it now; the kernel never touches the
    // FPU registers, so they still hold its user values.
    unsafe { cur.fpu.save() };
    set_prev(cur);
    let load = match next {
        Some(n) => make_current(cpu, n),
        None => {
            load_vspace(cpu, core::ptr::null_mut());
            IDLE_KSP[cpu].load(Ordering::Relaxed)
        }
    };
    // SAFETY: `save` points into the current thread's TCB, which `prev` keeps alive until
    // `finish` runs after this switch; `load` was saved by `switch` or built by `initial_stack`
    // for a thread whose kernel stack is mapped.
    unsafe { switch::switch(save, load) };
    anvil_sched_finish();
}

/// True if a thread of priority `prio` may run on this CPU now without passing over a thread
/// of higher priority waiting in its queue.
#[inline]
pub fn may_run_now(prio: u8) -> bool {
    queues().top_priority(me()).is_none_or(|top| top <= prio)
}

/// This CPU's index.
pub fn this_cpu() -> usize {
    me()
}

/// The current thread gives up the rest of its time slice.
pub fn yield_now() {
    reschedule();
}

/// Leaves the CPU until the current thread is made runnable again (it blocked in IPC, or was
/// suspended or stopped after a fault). Returns at once if that already happened.
pub fn block() {
    if current_state() != Some(State::Runnable) {
        reschedule();
    }
}

/// Timer tick or reschedule IPI: the current thread goes if it was stopped, or if its time
/// slice is over and another thread waits.
pub fn tick(frame: &TrapFrame) {
    if !frame.is_user() {
        return;
    }
    check_stopped();
    reschedule();
}

/// Before returning to user space: a thread suspended or stopped meanwhile (by another CPU,
/// or by deleting its own last capability) stops here. One load when nothing happened: only
/// stopping a thread (`tcb::halt`) raises its `halted` flag.
pub fn check_stopped() {
    if let Some(t) = current_handle() {
        check_stopped_of(&t);
    }
}

/// `check_stopped` for `t`, the current thread.
pub fn check_stopped_of(t: &Tcb) {
    if !t.halted.load(Ordering::Acquire) {
        return;
    }
    // Registers `set_regs` gave the thread while it was stopped are in the frame now: the flag
    // has done its work (it is raised only with `halted`).
    t.regs_replaced.store(false, Ordering::Relaxed);
    // Read the state and lower the flag under the thread's lock, so a stop that comes in
    // between is not lost.
    let state = {
        let i = t.inner.lock();
        if i.state == State::Runnable {
            t.halted.store(false, Ordering::Release);
        }
        i.state
    };
    match state {
        State::Dead => exit_current(),
        State::Runnable => {}
        _ => reschedule(),
    }
}

/// Ends the current thread, which is already dead (`tcb::kill` or a fault with nobody to
/// report it to). Never returns; the scheduler releases the thread after switching away.
pub fn exit_current() -> ! {
    reschedule();
    crate::kerr!("a dead thread was resumed");
    cpu::halt_forever()
}

/// The idle loop of this CPU, on its boot stack: runs threads while there are any.
pub fn run() -> ! {
    let cpu = me();
    loop {
        match next_for(cpu) {
            Some(n) => {
                let load = make_current(cpu, n);
                // SAFETY: `IDLE_KSP[cpu]` is this CPU's idle slot in static scheduler state;
                // `load` is a context saved by `switch` or built by `initial_stack`.
                unsafe { switch::switch(IDLE_KSP[cpu].as_ptr(), load) };
                anvil_sched_finish();
            }
            None => {
                crate::object::reap::drain();
                if !ANNOUNCED[cpu].swap(true, Ordering::Relaxed) {
                    crate::kinfo!("cpu {cpu}: no runnable threads, idle");
                }
                // Checked on every wake-up (at least each timer tick): the last thread may end
                // on another CPU long after this one went idle.
                if cpu == 0 && crate::EXIT_WHEN_IDLE.load(Ordering::Relaxed) && idle_for_two_ticks(cpu) {
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

/// The tick and dispatch count at which the machine was first seen idle (`u64::MAX`: not
/// idle).
static IDLE_SINCE: [AtomicU64; 2] = [AtomicU64::new(u64::MAX), AtomicU64::new(0)];

/// True once the machine has been idle (`all_idle`) for two timer ticks with nothing queued or
/// dispatched meanwhile: a device interrupt on its way to a CPU (which would wake a driver)
/// has arrived by then, so `exit_when_idle` does not end a run under it.
fn idle_for_two_ticks(cpu: usize) -> bool {
    let now = crate::interrupts::CPU_TICKS[cpu].load(Ordering::Relaxed);
    let epoch = EPOCH.load(Ordering::SeqCst);
    if !all_idle(cpu) {
        IDLE_SINCE[0].store(u64::MAX, Ordering::Relaxed);
        return false;
    }
    let since = IDLE_SINCE[0].load(Ordering::Relaxed);
    if since == u64::MAX || IDLE_SINCE[1].load(Ordering::Relaxed) != epoch {
        IDLE_SINCE[0].store(now, Ordering::Relaxed);
        IDLE_SINCE[1].store(epoch, Ordering::Relaxed);
        return false;
    }
    now >= since + 2
}

/// True if no CPU runs a thread and no queue holds one. The CPUs are looked at one after the
/// other, so a thread could move from a CPU that was not yet looked at to a queue that already
/// was; every queueing and dispatch counts in EPOCH, and the answer only stands if the count
/// did not change while looking and no thread was in transit between a CPU and a queue
/// before or after (a CPU switching away from a thread has no current thread until its
/// `finish` has queued it).
fn all_idle(me: usize) -> bool {
    let before = EPOCH.load(Ordering::SeqCst);
    if TRANSIT.load(Ordering::SeqCst) != 0 {
        return false;
    }
    let q = queues();
    let idle = (0..q.cpus()).all(|c| c == me || CURRENT[c].load(Ordering::SeqCst).is_null())
        && (0..q.cpus()).all(|c| q.is_empty(c));
    idle && TRANSIT.load(Ordering::SeqCst) == 0 && EPOCH.load(Ordering::SeqCst) == before
}
