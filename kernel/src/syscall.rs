//! Syscall handling. The entry stub saves registers and calls `entry`, which hands the number
//! and arguments to the generated `dispatch`; that decodes, looks capabilities up, checks
//! types and rights, and calls the handlers — one generated trait per object, implemented in
//! that object's file (`object/<obj>.rs`) — with typed, checked arguments. One error path:
//! every failure is a `Status` returned in rax. This file has what every handler shares: the
//! context (`Ctx`), capability lookup and user-memory checks (`Kernel`), and what happens when
//! a handler returns.
//!
//! `entry` runs the handler in a scope of its own, so every reference the handler took is
//! dropped before the thread can leave the CPU: a thread that dies in a syscall is never
//! resumed, and anything still on its stack would leak (see `sched`).

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::abi::kernel::{FaultKind, FaultReport};
use crate::abi::types::Status;
use crate::abi::{Kernel, Pod};
use crate::arch::x86_64::trap::TrapFrame;
use crate::object::endpoint::Then;
use crate::object::tcb::{self, Tcb};
use crate::object::{reap, Capability, NewCap};
use crate::sched;
use crate::uaccess::UserSlice;

/// A capability argument that passed its type and rights checks, as handlers receive it.
pub type C<'a, O> = crate::abi::Checked<'a, O, Capability>;

/// What the entry path does after a handler returns.
pub enum After {
    Return,
    /// Leave the CPU until woken; the syscall's result is the waker's status.
    Block,
    Exit(u64),
    Yield,
    /// Leave the CPU until resumed (the thread suspended itself).
    Stop,
    /// Switch straight to this thread (the IPC fast path), and return when woken; the
    /// syscall's result is then the waker's status, as for `Block`.
    SwitchTo(Arc<Tcb>),
    Shutdown(u8),
}

/// The handler context for one syscall of `thread`.
pub struct Ctx<'a> {
    pub thread: &'a Arc<Tcb>,
    pub after: After,
}

pub fn entry(frame: &mut TrapFrame) {
    let Some(thread) = sched::current_handle() else {
        no_thread()
    };
    let mut ctx = Ctx {
        thread: &thread,
        after: After::Return,
    };
    frame.rax = crate::abi::dispatch(&mut ctx, frame.rax, frame.syscall_regs());
    match ctx.after {
        // The common case in a few loads: no blocking, nothing to reap, not stopped.
        After::Return if reap::idle() && !thread.halted.load(Ordering::Acquire) => {}
        // The IPC fast path's tail, without the general one's frame.
        After::SwitchTo(next) if reap::idle() => switch_to(next, &thread, frame),
        after => finish(after, &thread, frame),
    }
}

/// Switches to the IPC partner `next` and, once woken, ends the syscall with the waker's
/// status (`finish` for `After::SwitchTo` when nothing waits to be reaped).
#[inline(never)]
fn switch_to(next: Arc<Tcb>, thread: &Tcb, frame: &mut TrapFrame) {
    sched::switch_to(next);
    set_result(thread, frame);
    sched::check_stopped_of(thread);
}

#[cold]
fn no_thread() -> ! {
    crate::kerr!("syscall with no current thread");
    crate::arch::x86_64::cpu::halt_forever();
}

/// What a syscall does after its handler, beyond returning: reap, leave the CPU, stop.
#[inline(never)]
fn finish(after: After, thread: &Arc<Tcb>, frame: &mut TrapFrame) {
    reap::drain();
    match after {
        After::Return => {}
        After::Block => {
            sched::block();
            // Woken by the partner of the IPC operation (or a stop), which set its result.
            set_result(thread, frame);
        }
        After::SwitchTo(next) => return switch_to(next, thread, frame),
        After::Yield => sched::yield_now(),
        After::Stop => sched::block(),
        After::Exit(code) => exit(code, frame),
        After::Shutdown(code) => {
            if let Some(me) = sched::current() {
                crate::log::quiesce(&me);
            }
            crate::kinfo!("shutdown requested with code {code}");
            crate::report_memory();
            crate::arch::x86_64::port::qemu_exit(code);
        }
    }
    sched::check_stopped_of(thread);
}

/// A blocked syscall ends with the status its waker set, unless `Tcb.set_regs` gave the thread
/// new registers while it was stopped (then the syscall writes nothing over them).
fn set_result(t: &Tcb, frame: &mut TrapFrame) {
    // A notification's bits, for `Notification.wait` (0 for every other waker).
    let value = t.wake_value.swap(0, Ordering::AcqRel);
    if !t.regs_replaced.load(Ordering::Relaxed) {
        // The other result registers keep what the caller passed, as for every syscall's
        // registers without a result (see the generated `dispatch`).
        frame.rax = t.wake_status.load(Ordering::Acquire);
        frame.rdi = value;
    }
}

/// `Tcb.exit`: reported to the fault endpoint if the thread has one (it then stays stopped
/// until its supervisor acts), else the thread ends.
fn exit(code: u64, frame: &TrapFrame) {
    let outcome = {
        let Some(t) = sched::current() else { return };
        // A clean exit is routine (a supervisor hears of it anyway); a failing one is news.
        if code == 0 {
            crate::kdebug!("thread {} ({}) exited with code 0", t.id, t.name());
        } else {
            crate::kinfo!("thread {} ({}) exited with code {code}", t.id, t.name());
        }
        let report = FaultReport {
            kind: FaultKind::EXIT,
            vector: 0,
            thread: t.id,
            addr: 0,
            rip: frame.rip,
            rsp: frame.rsp,
            error: 0,
            code,
        };
        tcb::fault(&t, report)
    };
    reap::drain();
    match outcome {
        tcb::Fault::Dead => sched::exit_current(),
        tcb::Fault::Reported | tcb::Fault::Suspended => sched::block(),
    }
}

impl Ctx<'_> {
    /// The caller leaves the CPU when the syscall ends if `t` says it blocks.
    pub fn then(&mut self, t: Then) {
        match t {
            Then::Return => {}
            Then::Block => self.after = After::Block,
            Then::SwitchTo(next) => self.after = After::SwitchTo(next),
        }
    }

    /// The caller's CNode, as an id in the capability space (see `Tcb::cnode_id`).
    pub fn own_cnode(&self) -> Result<usize, Status> {
        match self.thread.cnode_id.load(Ordering::Acquire) {
            tcb::NO_CNODE => Err(Status::INVALID_CAP),
            id => Ok(id),
        }
    }
}

impl Kernel for Ctx<'_> {
    type T = crate::object::Kinds;
    type Cap = Capability;
    type UserBytes = UserSlice;
    type NewCap = NewCap;

    fn lookup(&mut self, slot: u64) -> Result<Capability, Status> {
        crate::object::cnode::lookup(self.own_cnode()?, slot)
    }

    fn user_bytes(&mut self, ptr: u64, len: u64) -> Result<UserSlice, Status> {
        UserSlice::new(ptr, len)
    }

    fn user_struct<T: Pod>(&mut self, ptr: u64) -> Result<T, Status> {
        UserSlice::new(ptr, core::mem::size_of::<T>() as u64)?.read_pod()
    }

    fn install(&mut self, cap: NewCap) -> Result<u64, Status> {
        match self.own_cnode() {
            Ok(c) => crate::object::cnode::install(c, cap).map_err(|(e, obj)| {
                match obj {
                    // A reply the server's CNode has no room for: the debt goes back to the
                    // thread, which can still answer the call directly.
                    Some(crate::abi::Object::Reply(r)) => {
                        crate::object::reply::give_back(self.thread, &r);
                        reap::defer(crate::abi::Object::Reply(r));
                    }
                    Some(o) => reap::defer(o),
                    None => {}
                }
                e
            }),
            Err(e) => {
                reap::defer(cap.object);
                Err(e)
            }
        }
    }
}
