//! Threads in this process: start one on a function with a stack of its own (and, if it does
//! IPC, an IPC buffer), free it after it has exited, and count the CPUs it may be pinned to.
//!
//! The runtime has no thread-local storage; a thread finds its own IPC buffer (for `Ipc` and
//! printing) by its stack: `spawn` records each thread's stack range with its buffer.

use crate::sys::kernel::Cap;
use crate::{boot, types, MapFlags, Quota, Regs, Status, Tcb};

/// Bytes of stack a spawned thread gets.
pub const STACK_SIZE: u64 = 4 * types::PAGE_SIZE;

/// How to start a thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spawn {
    /// Scheduling priority, 0 (the default, as init and services start with) to 31.
    pub priority: u8,
    /// Pin to this CPU; `None` lets it run anywhere.
    pub cpu: Option<u32>,
    /// Give it an IPC buffer page (a thread that calls or serves endpoints needs one).
    pub ipc_buffer: bool,
    /// Charge the thread and its memory here; `None`: the quota in the boot slot.
    pub quota: Option<Quota>,
}

/// A thread started by `spawn`, with the memory it was given.
#[derive(Debug)]
pub struct Thread {
    pub tcb: Tcb,
    pub stack: u64,
    /// 0 if it has none.
    pub ipc_buffer: u64,
}

/// Stack ranges and IPC buffers of the threads `spawn` started and `free` has not freed.
static THREADS: spin::Mutex<[(u64, u64); MAX_THREADS]> = spin::Mutex::new([(0, 0); MAX_THREADS]);
/// Threads whose IPC buffer the runtime finds by stack; more may run, but those beyond cannot
/// use `Ipc` or print through the IO server.
const MAX_THREADS: usize = 64;

fn stack_pointer() -> u64 {
    let sp: u64;
    // SAFETY: reads rsp into a register; no memory is touched.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// The IPC buffer of the calling thread if `spawn` started it (0 if it has none); `None` for
/// the first thread.
pub(crate) fn own_ipc_buffer() -> Option<u64> {
    let sp = stack_pointer();
    // The first thread's stack is where every program starts: no lookup for it.
    if (types::START_STACK_TOP - types::START_STACK_SIZE..types::START_STACK_TOP).contains(&sp) {
        return None;
    }
    let t = THREADS.lock();
    t.iter()
        .find(|&&(stack, _)| stack != 0 && (stack..stack + STACK_SIZE).contains(&sp))
        .map(|&(_, ipc)| ipc)
}

fn record(stack: u64, ipc: u64) {
    let mut t = THREADS.lock();
    if let Some(e) = t.iter_mut().find(|e| e.0 == 0) {
        *e = (stack, ipc);
    }
}

fn forget(stack: u64) {
    let mut t = THREADS.lock();
    if let Some(e) = t.iter_mut().find(|e| e.0 == stack) {
        *e = (0, 0);
    }
}

/// Starts `entry(arg)` in this process's address space and CNode.
pub fn spawn(entry: extern "C" fn(u64) -> !, arg: u64, how: Spawn) -> Result<Thread, Status> {
    let quota = how.quota.unwrap_or(Quota::from_slot(types::BOOT_SLOT_QUOTA));
    let vs = boot::vspace();
    let rw = MapFlags::R | MapFlags::W;
    let stack = vs.alloc(&quota, STACK_SIZE, rw)?;
    let ipc_buffer = if how.ipc_buffer {
        vs.alloc(&quota, types::PAGE_SIZE, rw)?
    } else {
        0
    };
    let tcb = Tcb::create(&quota)?;
    tcb.configure(&vs, &boot::cnode(), ipc_buffer, how.priority)?;
    // rsp as after a call: the entry function sees the alignment the ABI promises.
    tcb.set_regs(&Regs {
        rip: entry as usize as u64,
        rsp: stack + STACK_SIZE - 8,
        arg0: arg,
        arg1: 0,
        arg2: 0,
    })?;
    if let Some(cpu) = how.cpu {
        tcb.set_affinity(cpu)?;
    }
    // Recorded before it runs: its first IPC must find its own buffer.
    record(stack, ipc_buffer);
    if let Err(e) = tcb.resume() {
        forget(stack);
        return Err(e);
    }
    Ok(Thread { tcb, stack, ipc_buffer })
}

impl Thread {
    /// Frees a thread that has exited or is suspended: its capability (which stops it for
    /// good), its stack and its IPC buffer.
    pub fn free(self) -> Result<(), Status> {
        Cap::delete(&boot::cnode(), self.tcb.0)?;
        forget(self.stack);
        boot::vspace().unmap(self.stack, STACK_SIZE)?;
        if self.ipc_buffer != 0 {
            boot::vspace().unmap(self.ipc_buffer, types::PAGE_SIZE)?;
        }
        Ok(())
    }
}

/// The number of CPUs threads can be pinned to: the kernel refuses affinity to a CPU that
/// does not exist, so a throwaway thread is pinned to each in turn.
pub fn cpu_count() -> Result<u32, Status> {
    let probe = Tcb::create(&Quota::from_slot(types::BOOT_SLOT_QUOTA))?;
    let n = (0..64).take_while(|&c| probe.set_affinity(c).is_ok()).count() as u32;
    Cap::delete(&boot::cnode(), probe.0)?;
    Ok(n)
}
