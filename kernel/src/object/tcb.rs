//! TCB: a thread, and its life: start, suspend, resume, fault, exit and death. A thread owns a
//! kernel stack (with a guard page) and an FPU save area, and refers to the address space,
//! capability table and IPC buffer it runs with.
//!
//! Every state change happens under the thread's `inner` lock, and a thread is in a run queue
//! only if `queued` says so and runs on a CPU only if `running` says so. Whoever makes a thread
//! runnable queues it only if it is neither queued nor still on a CPU; a CPU switching away
//! from a thread that became runnable meanwhile queues it itself (`sched::finish`). So a
//! thread is never queued twice and never resumed on two CPUs, however many CPUs suspend,
//! resume, wake and kill it at once.
//!
//! Stopping a thread (suspend, death, fault) cancels its IPC as seL4 does: it leaves every
//! endpoint queue, a call it waits on the reply of is abandoned (a late reply is dropped),
//! and a caller waiting for *its* reply wakes with `PEER_CLOSED` (for a fault reported to a
//! supervisor, only when the thread is destroyed or receives again: see `fault`). A suspended thread's
//! blocking call ends with `CANCELLED` when it is resumed.

use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use spin::{Mutex, MutexGuard};

use super::cnode::CNode;
use super::endpoint::{self, Endpoint};
use super::notification::{self, Notification};
use super::quota::Charge;
use super::vmo::Vmo;
use super::vspace::VSpace;
use super::{reap, Object};
use crate::abi::kernel::{FaultReport, ThreadState};
use crate::abi::types::Status;
use crate::arch::x86_64::fpu::FpuArea;
use crate::arch::x86_64::trap::TrapFrame;
use crate::mm::kstack::{self, KStack};

pub const KERNEL_STACK_SIZE: usize = 16 * 1024;
pub const MAX_PRIORITY: u8 = 31;
/// Affinity value meaning "any CPU".
pub const ANY_CPU: u32 = u32::MAX;
/// Bytes of a thread's name.
pub const NAME_LEN: usize = 32;
/// `cnode_id` of a thread without a CNode.
pub const NO_CNODE: usize = usize::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Created or configured, not started.
    Inactive,
    /// In a run queue or running.
    Runnable,
    /// Waiting in an IPC operation (see `Wait`).
    Blocked,
    /// Stopped by `Tcb.suspend`.
    Suspended,
    /// Stopped after a fault or exit was reported to its fault endpoint.
    Faulted,
    /// Ended: killed, or faulted or exited with no fault endpoint.
    Dead,
}

/// What a blocked thread waits for.
pub enum Wait {
    None,
    /// In `ep`'s sender queue; its message is in its IPC buffer (or, for a fault, `fault`).
    Send {
        ep: Arc<Endpoint>,
        badge: u64,
        call: bool,
        fault: bool,
    },
    /// In `ep`'s receiver queue.
    Recv {
        ep: Arc<Endpoint>,
    },
    /// For the reply to a call, identified by `reply_token`.
    Reply,
    /// In `ntfn`'s waiters (`Notification.wait`).
    Notification {
        ntfn: Arc<Notification>,
    },
}

/// The page a thread's messages go through, bound when the thread is configured: the kernel
/// keeps the page's memory (through its VMO) for as long as the thread has it, so an unmap by
/// user space can never make the kernel write to a freed frame.
pub struct IpcBuffer {
    pub pa: u64,
    _vmo: Arc<Vmo>,
}

impl IpcBuffer {
    pub fn new(vmo: Arc<Vmo>, pa: u64) -> IpcBuffer {
        IpcBuffer { pa, _vmo: vmo }
    }
}

pub struct TcbInner {
    pub vspace: Option<Arc<VSpace>>,
    pub cnode: Option<Arc<CNode>>,
    pub ipc: Option<IpcBuffer>,
    pub priority: u8,
    pub affinity: u32,
    pub state: State,
    pub wait: Wait,
    /// Registers to start from; `None` until `set_regs`.
    pub start: Option<TrapFrame>,
    /// True once the thread's kernel stack holds a context to resume.
    pub started: bool,
    /// On a CPU (dispatched and not yet switched away from).
    pub running: bool,
    /// In a run queue.
    pub queued: bool,
    /// The caller this thread received a `call` from and owes a reply, with that call's token.
    pub reply_to: Option<(Arc<Tcb>, u64)>,
    /// Counts this thread's calls; a reply is delivered only while the token still matches.
    pub reply_token: u64,
    /// Where faults and the exit are reported, with the badge to deliver. Weak: a thread does
    /// not keep its supervisor's endpoint (and the memory charged for it) alive.
    pub fault_ep: Option<(Weak<Endpoint>, u64)>,
    /// `fault_ep` came from the thread that created this one (`Tcb.create`), not from
    /// `Tcb.set_fault_endpoint`: faults go there, the exit does not (a service's worker
    /// threads end as they please; their faults are the service's).
    pub faults_only: bool,
    /// The fault being reported.
    pub fault: Option<FaultReport>,
    /// The notification bound to this thread (`Tcb.bind_notification`).
    pub bound: Option<Arc<Notification>>,
}

impl TcbInner {
    /// Sets what a thread that is not waiting (`Wait::None`) now waits for: the common change
    /// of the IPC paths, which then costs no call to drop the old value. Any other old value
    /// is dropped as usual.
    #[inline]
    pub fn start_waiting(&mut self, w: Wait) {
        let old = core::mem::replace(&mut self.wait, w);
        if matches!(old, Wait::None) {
            // Holds nothing: forgetting it leaks nothing.
            core::mem::forget(old);
        } else {
            drop(old);
        }
    }

    /// The thread waits for the reply to its call that `token` names (it was not stopped, and
    /// did not call again, meanwhile).
    pub fn awaits_reply(&self, token: u64) -> bool {
        self.state == State::Blocked && matches!(self.wait, Wait::Reply) && self.reply_token == token
    }
}

pub struct Tcb {
    pub id: u64,
    /// The program this thread belongs to, for fault reports and logs.
    name: Mutex<([u8; NAME_LEN], usize)>,
    pub kstack: KStack,
    /// Saved kernel stack pointer while the thread is not running.
    pub ksp: AtomicU64,
    /// The CPU running this thread now, or -1.
    pub on_cpu: AtomicI64,
    /// FPU/SSE/AVX registers while the thread is not running (saved and loaded by `sched`).
    pub fpu: FpuArea,
    /// Timer ticks that found the thread running in user mode (`Tcb.stats`).
    pub ticks: AtomicU64,
    pub inner: Mutex<TcbInner>,
    /// Raised when the thread is stopped (`halt`), lowered when it is made runnable again: the
    /// way back to user mode checks it in one load.
    pub halted: core::sync::atomic::AtomicBool,
    /// `set_regs` replaced the registers of a thread stopped inside a syscall: the syscall must
    /// not write its results over them.
    pub regs_replaced: core::sync::atomic::AtomicBool,
    /// Copies of `inner.ipc`'s page and `inner.priority`, for the IPC fast path to read without
    /// the lock. Both change only while the thread has never run (`configure`).
    pub ipc_pa: AtomicU64,
    pub prio: core::sync::atomic::AtomicU8,
    /// `inner.vspace` as a pointer, for the scheduler's switch to read without the lock. Set
    /// with it (`set_vspace`, before the thread first runs) and cleared when the scheduler
    /// releases the address space of a dead thread that has left its CPU; a thread is only
    /// ever switched to before that, so whenever the scheduler reads it the `Arc` in
    /// `inner.vspace` holds it.
    pub vspace_ptr: core::sync::atomic::AtomicPtr<VSpace>,
    /// The id of `inner.cnode` in the capability space (`NO_CNODE` for none), for lookups
    /// without the lock or a reference count. Valid while the thread runs: its CNode is
    /// released only when it dies, and then dropped only after it has left its CPU (`kill`
    /// waits for that before the reaper runs), so the id cannot be reused under it.
    pub cnode_id: core::sync::atomic::AtomicUsize,
    /// The status a blocked IPC operation ends with, set by whoever wakes the thread (under
    /// its lock, before making it runnable), read by the thread itself when it runs again.
    pub wake_status: AtomicU64,
    /// A value the waker hands a blocked syscall as its first result (`Notification.wait`'s
    /// bits); taken when the syscall returns.
    pub wake_value: AtomicU64,
    _charge: Option<Charge>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What capabilities to a thread refer to. When the last one goes, the thread stops (on
/// whatever CPU it runs, before the deleting call returns); the `Tcb` itself lives on until the
/// scheduler and any IPC partner have let go of it.
pub struct TcbCap(pub Arc<Tcb>, pub super::CapCount);

impl core::ops::Deref for TcbCap {
    type Target = Arc<Tcb>;
    fn deref(&self) -> &Arc<Tcb> {
        &self.0
    }
}

impl TcbCap {
    pub fn new(t: Arc<Tcb>) -> Arc<TcbCap> {
        Arc::new(TcbCap(t, super::CapCount::default()))
    }
}

impl TcbCap {
    pub fn count(&self) -> &super::CapCount {
        &self.1
    }
}

impl Drop for TcbCap {
    /// Normally the reaper has stopped the thread when its last capability went; a thread
    /// whose capability was never placed (a failed create) is stopped here.
    fn drop(&mut self) {
        kill(&self.0);
    }
}

impl Tcb {
    pub fn new(name: &str, charge: Option<Charge>) -> Result<Arc<Tcb>, Status> {
        let kstack = kstack::alloc(KERNEL_STACK_SIZE).ok_or(Status::NO_MEMORY)?;
        let fpu = FpuArea::new().ok_or(Status::NO_MEMORY)?;
        let t = Arc::new(Tcb {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: Mutex::new(([0; NAME_LEN], 0)),
            kstack,
            ksp: AtomicU64::new(0),
            on_cpu: AtomicI64::new(-1),
            fpu,
            ticks: AtomicU64::new(0),
            inner: Mutex::new(TcbInner {
                vspace: None,
                cnode: None,
                ipc: None,
                priority: 0,
                affinity: ANY_CPU,
                state: State::Inactive,
                wait: Wait::None,
                start: None,
                started: false,
                running: false,
                queued: false,
                reply_to: None,
                reply_token: 0,
                fault_ep: None,
                faults_only: false,
                fault: None,
                bound: None,
            }),
            halted: core::sync::atomic::AtomicBool::new(false),
            regs_replaced: core::sync::atomic::AtomicBool::new(false),
            ipc_pa: AtomicU64::new(0),
            prio: core::sync::atomic::AtomicU8::new(0),
            vspace_ptr: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
            cnode_id: core::sync::atomic::AtomicUsize::new(NO_CNODE),
            wake_status: AtomicU64::new(0),
            wake_value: AtomicU64::new(0),
            _charge: charge,
        });
        t.set_name(name);
        Ok(t)
    }

    /// Calls `f` with the thread's name (no copy, no allocation).
    pub fn with_name<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        let n = self.name.lock();
        f(core::str::from_utf8(&n.0[..n.1]).unwrap_or("?"))
    }

    /// The name as a fixed buffer, for log lines.
    pub fn name(&self) -> Name {
        let n = self.name.lock();
        Name(n.0, n.1)
    }

    /// Sets the name, cut to `NAME_LEN` bytes at a character boundary.
    pub fn set_name(&self, name: &str) {
        let mut end = name.len().min(NAME_LEN);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut n = self.name.lock();
        n.0[..end].copy_from_slice(&name.as_bytes()[..end]);
        n.1 = end;
    }

    /// The state as user space sees it.
    pub fn user_state(&self) -> ThreadState {
        match self.inner.lock().state {
            State::Inactive => ThreadState::INACTIVE,
            State::Runnable => ThreadState::RUNNABLE,
            State::Blocked => ThreadState::BLOCKED,
            State::Suspended => ThreadState::SUSPENDED,
            State::Faulted => ThreadState::FAULTED,
            State::Dead => ThreadState::DEAD,
        }
    }

    /// `Tcb.stats`: state, the CPU it is on (0xFFFFFFFF for none), ticks it ran in user mode.
    pub fn stats(&self) -> (ThreadState, u32, u64) {
        let cpu = u32::try_from(self.on_cpu.load(Ordering::Acquire)).unwrap_or(u32::MAX);
        (self.user_state(), cpu, self.ticks.load(Ordering::Relaxed))
    }

    /// Gives the thread (locked as `i`, not yet started) its address space; returns the one it
    /// had. Keeps `vspace_ptr` in step.
    pub fn set_vspace(&self, i: &mut TcbInner, vs: Arc<VSpace>) -> Option<Arc<VSpace>> {
        self.vspace_ptr.store(Arc::as_ptr(&vs).cast_mut(), Ordering::Release);
        i.vspace.replace(vs)
    }

    /// Where the thread's user registers are saved while it is in the kernel or stopped.
    pub fn user_frame(&self) -> *mut TrapFrame {
        (self.kstack.top - core::mem::size_of::<TrapFrame>() as u64) as *mut TrapFrame
    }
}

/// A thread's name, copied out so that logging it takes no lock.
pub struct Name([u8; NAME_LEN], usize);

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(core::str::from_utf8(&self.0[..self.1]).unwrap_or("?"))
    }
}

impl Drop for Tcb {
    fn drop(&mut self) {
        // What the thread still refers to may be big (an address space) or cascade (a CNode):
        // drop it at the next safe point, not wherever the last reference happened to go.
        let i = self.inner.get_mut();
        if let Some(vs) = i.vspace.take() {
            reap::defer(Object::VSpace(vs));
        }
        if let Some(cn) = i.cnode.take() {
            reap::defer(Object::CNode(cn));
        }
    }
}

/// Marks `t` runnable under its lock (`i`); returns true if the caller must queue it (after
/// dropping the lock): it is neither queued nor still on a CPU.
pub fn make_runnable(i: &mut TcbInner) -> bool {
    i.state = State::Runnable;
    i.wait = Wait::None;
    if i.running || i.queued {
        return false;
    }
    i.queued = true;
    true
}

/// Ends a blocked thread's wait with `status` and makes it runnable.
pub fn wake(t: &Arc<Tcb>, mut i: MutexGuard<'_, TcbInner>, status: Status) {
    t.wake_status.store(u64::from(status.0), Ordering::Release);
    let push = make_runnable(&mut i);
    drop(i);
    if push {
        crate::sched::push(t.clone());
    }
}

/// What stopping a thread released, to be dropped by the caller outside every lock.
#[derive(Default)]
struct Released {
    caller: Option<(Arc<Tcb>, u64)>,
    cnode: Option<Arc<CNode>>,
    fault_ep: Option<(Weak<Endpoint>, u64)>,
    bound: Option<Arc<Notification>>,
}

impl Released {
    /// Wakes a caller the stopped thread owed a reply, with PEER_CLOSED; drops the rest.
    fn finish(self, t: &Arc<Tcb>) {
        if let Some(n) = &self.bound {
            notification::release_binding(n, t);
        }
        if let Some((c, token)) = self.caller {
            endpoint::abandon_reply(&c, token);
        }
        if let Some(cn) = self.cnode {
            reap::defer(Object::CNode(cn));
        }
        drop(self.fault_ep);
    }
}

/// Takes a thread out of IPC and puts it in state `to` (`Suspended` or `Dead`). Returns the
/// state it was in, or `None` if there was nothing to do (already dead; already stopped for a
/// suspend). The caller waits for it to leave its CPU if needed.
fn halt(t: &Arc<Tcb>, to: State) -> Option<State> {
    let mut rel = Released::default();
    let (was, queued) = loop {
        let mut i = t.inner.lock();
        let was = i.state;
        match (was, to) {
            (State::Dead, _) => return None,
            (State::Inactive | State::Suspended | State::Faulted, State::Suspended) => return None,
            _ => {}
        }
        // A thread in an endpoint queue leaves it under the endpoint's lock, taken before the
        // thread's: let go, dequeue, and look again.
        if let Wait::Send { ep, .. } | Wait::Recv { ep } = &i.wait {
            let ep = ep.clone();
            drop(i);
            endpoint::unqueue(&ep, t);
            continue;
        }
        if let Wait::Notification { ntfn } = &i.wait {
            let n = ntfn.clone();
            drop(i);
            notification::unqueue(&n, t);
            continue;
        }
        if was == State::Blocked {
            // A call waiting for its reply is abandoned: the reply, if it comes, is dropped.
            i.reply_token = i.reply_token.wrapping_add(1);
            t.wake_status.store(u64::from(Status::CANCELLED.0), Ordering::Release);
        }
        i.wait = Wait::None;
        i.state = to;
        i.fault = None;
        t.halted.store(true, Ordering::Release);
        rel.caller = i.reply_to.take();
        if to == State::Dead {
            // Breaks the cycle a thread's CNode can form with the thread's own capability.
            rel.cnode = i.cnode.take();
            t.cnode_id.store(NO_CNODE, Ordering::Release);
            rel.fault_ep = i.fault_ep.take();
            rel.bound = i.bound.take();
        }
        break (was, i.queued);
    };
    rel.finish(t);
    if queued {
        crate::sched::dequeue_stopped(t);
    }
    Some(was)
}

/// `Tcb.suspend`: the thread stops before this returns, on whatever CPU it ran. Suspending a
/// stopped thread does nothing.
pub fn suspend(t: &Arc<Tcb>, me: &Arc<Tcb>) -> Result<(), Status> {
    if halt(t, State::Suspended).is_none() && t.inner.lock().state == State::Dead {
        return Err(Status::BAD_STATE);
    }
    if !Arc::ptr_eq(t, me) {
        crate::sched::wait_off_cpu(t, State::Suspended);
    }
    Ok(())
}

/// `Tcb.resume`: starts a configured thread, or resumes a suspended or faulted one.
pub fn resume(t: &Arc<Tcb>) -> Result<(), Status> {
    let mut i = t.inner.lock();
    match i.state {
        State::Inactive => {
            if i.vspace.is_none() || i.cnode.is_none() || i.start.is_none() {
                return Err(Status::BAD_STATE);
            }
            if !i.started {
                let Some(start) = i.start else {
                    return Err(Status::BAD_STATE);
                };
                // SAFETY: the thread has never run, so its kernel stack is unused.
                let sp = unsafe { crate::arch::x86_64::switch::initial_stack(t.kstack.top, &start) };
                t.ksp.store(sp, Ordering::Relaxed);
                i.started = true;
            }
        }
        State::Suspended | State::Faulted => {}
        _ => return Err(Status::BAD_STATE),
    }
    i.fault = None;
    let push = make_runnable(&mut i);
    drop(i);
    if push {
        crate::sched::push(t.clone());
    }
    Ok(())
}

/// The thread's last capability went: it stops for good, before this returns.
pub fn kill(t: &Arc<Tcb>) {
    if halt(t, State::Dead).is_some() {
        crate::sched::wait_off_cpu(t, State::Dead);
    }
}

/// What became of a thread that faulted or exited.
pub enum Fault {
    /// Its fault endpoint has the report (or will, when the supervisor receives); it is
    /// stopped until the supervisor acts.
    Reported,
    /// It was being suspended: it stays suspended and faults again when resumed.
    Suspended,
    /// No fault endpoint (or it closed): the thread is dead.
    Dead,
}

/// The current thread faulted, or exited (`report.kind == EXIT`). With a fault endpoint, the
/// report is sent there and the thread stops until its supervisor acts; without one, the
/// thread is dead. The caller then leaves the CPU.
pub fn fault(t: &Arc<Tcb>, report: FaultReport) -> Fault {
    let exit = report.kind == crate::abi::kernel::FaultKind::EXIT;
    // Declared before the lock guard, so dropped after it on every path: this reference may be
    // the endpoint's last (its supervisor deleted it meanwhile).
    let fault_ep;
    let mut i = t.inner.lock();
    fault_ep = i.fault_ep.as_ref().and_then(|(e, b)| Some((e.upgrade()?, *b)));
    let ep = match (i.state, &fault_ep) {
        (State::Dead, _) => return Fault::Dead,
        // A fault while being suspended is reported when the thread runs into it again.
        (State::Suspended, _) if !exit => return Fault::Suspended,
        (State::Runnable | State::Suspended, Some((ep, badge))) if !(exit && i.faults_only) => {
            i.fault = Some(report);
            i.state = State::Blocked;
            i.wait = Wait::Send {
                ep: ep.clone(),
                badge: *badge,
                call: false,
                fault: true,
            };
            // The reply it owes stays with it, as in seL4: resumed, it may still answer; its
            // caller wakes with PEER_CLOSED when it is destroyed (so after its supervisor has
            // revoked what it had, its registered names included) or receives again.
            Some(ep.clone())
        }
        _ => None,
    };
    drop(i);
    if let Some(ep) = ep {
        if endpoint::send_fault(&ep, t) {
            return Fault::Reported;
        }
    }
    halt(t, State::Dead);
    Fault::Dead
}

// ---- syscalls ------------------------------------------------------------------------------

use super::quota::{cost, Quota};
use super::NewCap;
use crate::abi::types::Regs;
use crate::abi::TcbSyscalls;
use crate::mm::PAGE;
use crate::syscall::{After, Ctx, C};
use crate::uaccess::UserSlice;

impl TcbSyscalls for Ctx<'_> {
    fn tcb_create(&mut self, quota: C<'_, Arc<Quota>>) -> Result<NewCap, Status> {
        let charge = quota.charge(cost::TCB)?;
        let t = self.thread.with_name(|name| Tcb::new(name, Some(charge)))?;
        // The new thread reports its faults where its creator does, until it is given a fault
        // endpoint of its own: a worker thread's fault reaches the service's supervisor.
        let inherited = self.thread.inner.lock().fault_ep.clone();
        if inherited.is_some() {
            let mut i = t.inner.lock();
            i.fault_ep = inherited;
            i.faults_only = true;
        }
        Ok(NewCap::made_with(quota.cap, Object::Tcb(TcbCap::new(t))))
    }

    fn tcb_configure(
        &mut self,
        t: C<'_, Arc<TcbCap>>,
        v: C<'_, Arc<VSpace>>,
        c: C<'_, Arc<CNode>>,
        ipc: u64,
        prio: u8,
    ) -> Result<(), Status> {
        if prio > MAX_PRIORITY
            || (ipc != 0 && (!ipc.is_multiple_of(PAGE) || !anvil_kcore::uaccess::user_range(ipc, PAGE)))
        {
            return Err(Status::INVALID_ARGS);
        }
        // The IPC buffer is the page mapped there now; the thread keeps its memory.
        let buffer = match ipc {
            0 => None,
            va => {
                let (vmo, pa) = v.page_at(va).ok_or(Status::NOT_MAPPED)?;
                Some(IpcBuffer::new(vmo, pa))
            }
        };
        let mut i = t.inner.lock();
        if i.state != State::Inactive || i.started {
            return Err(Status::BAD_STATE);
        }
        t.ipc_pa.store(buffer.as_ref().map_or(0, |b| b.pa), Ordering::Relaxed);
        t.prio.store(prio, Ordering::Relaxed);
        t.cnode_id.store(c.id, Ordering::Release);
        let old = (
            t.set_vspace(&mut i, v.object.clone()),
            i.cnode.replace(c.object.clone()),
            core::mem::replace(&mut i.ipc, buffer),
        );
        i.priority = prio;
        drop(i);
        drop(old);
        Ok(())
    }

    fn tcb_set_regs(&mut self, t: C<'_, Arc<TcbCap>>, regs: Regs) -> Result<(), Status> {
        if !anvil_kcore::uaccess::user_range(regs.rip, 1)
            || !anvil_kcore::uaccess::user_range(regs.rsp.saturating_sub(8), 8)
        {
            return Err(Status::INVALID_ARGS);
        }
        let mut f = TrapFrame::new_user(regs.rip, regs.rsp);
        f.rdi = regs.arg0;
        f.rsi = regs.arg1;
        f.rdx = regs.arg2;
        // A stopped thread that ran may still be switching away on another CPU.
        let stopped = t.inner.lock().state;
        if matches!(stopped, State::Suspended | State::Faulted) {
            crate::sched::wait_off_cpu(&t.0, stopped);
        }
        let mut i = t.inner.lock();
        match i.state {
            State::Inactive if !i.started => i.start = Some(f),
            State::Suspended | State::Faulted if !i.running && i.started => {
                // SAFETY: the thread is stopped and off every CPU (checked under its lock,
                // which resuming it needs), so nothing reads or writes its saved user frame,
                // which lies at the top of its mapped kernel stack.
                unsafe { t.user_frame().write(f) };
                t.regs_replaced.store(true, Ordering::Release);
                // The way back to user mode looks at `regs_replaced` when `halted` says so.
                t.halted.store(true, Ordering::Release);
            }
            _ => return Err(Status::BAD_STATE),
        }
        Ok(())
    }

    fn tcb_resume(&mut self, t: C<'_, Arc<TcbCap>>) -> Result<(), Status> {
        resume(&t.0)
    }

    fn tcb_suspend(&mut self, t: C<'_, Arc<TcbCap>>) -> Result<(), Status> {
        suspend(&t.0, self.thread)?;
        if Arc::ptr_eq(&t.0, self.thread) {
            self.after = After::Stop;
        }
        Ok(())
    }

    fn tcb_set_affinity(&mut self, t: C<'_, Arc<TcbCap>>, cpu: u32) -> Result<(), Status> {
        if cpu != ANY_CPU && cpu >= crate::cpu_count() {
            return Err(Status::INVALID_ARGS);
        }
        t.inner.lock().affinity = cpu;
        Ok(())
    }

    fn tcb_exit(&mut self, code: u64) -> Result<(), Status> {
        self.after = After::Exit(code);
        Ok(())
    }

    fn tcb_yield_now(&mut self) -> Result<(), Status> {
        self.after = After::Yield;
        Ok(())
    }

    fn tcb_current_cpu(&mut self) -> Result<u32, Status> {
        Ok(crate::arch::x86_64::gdt::this_cpu().index)
    }

    fn tcb_set_name(&mut self, t: C<'_, Arc<TcbCap>>, name: UserSlice) -> Result<(), Status> {
        let mut buf = [0u8; NAME_LEN];
        let n = name.len().min(buf.len());
        name.read_into(&mut buf[..n])?;
        let name = core::str::from_utf8(&buf[..n]).map_err(|_| Status::INVALID_ARGS)?;
        t.set_name(name);
        Ok(())
    }

    fn tcb_set_fault_endpoint(
        &mut self,
        t: C<'_, Arc<TcbCap>>,
        ep: C<'_, Arc<endpoint::EndpointCap>>,
    ) -> Result<(), Status> {
        let old = {
            let mut i = t.inner.lock();
            i.faults_only = false;
            i.fault_ep.replace((Arc::downgrade(&ep.0), ep.badge))
        };
        drop(old);
        Ok(())
    }

    fn tcb_state(&mut self, t: C<'_, Arc<TcbCap>>) -> Result<ThreadState, Status> {
        Ok(t.user_state())
    }

    fn tcb_bind_notification(
        &mut self,
        t: C<'_, Arc<TcbCap>>,
        n: C<'_, Arc<super::notification::NotificationCap>>,
    ) -> Result<(), Status> {
        notification::bind(&t.0, &n.0)
    }

    fn tcb_unbind_notification(&mut self, t: C<'_, Arc<TcbCap>>) -> Result<(), Status> {
        notification::unbind(&t.0)
    }

    fn tcb_stats(&mut self, t: C<'_, Arc<TcbCap>>) -> Result<(ThreadState, u32, u64), Status> {
        Ok(t.stats())
    }
}
