//! The scheduler. This first version runs one user thread per CPU to completion: it enters the
//! thread, and when the thread exits or is killed the CPU goes idle. Run queues, preemption
//! and stealing come with the SMP work; the entry points here are where they plug in.

use alloc::sync::Arc;

use spin::Mutex;

use crate::arch::x86_64::{cpu, gdt, trap};
use crate::mm::paging;
use crate::object::tcb::{State, Tcb};

const MAX_CPUS: usize = 64;

static CURRENT: [Mutex<Option<Arc<Tcb>>>; MAX_CPUS] = [const { Mutex::new(None) }; MAX_CPUS];

fn slot() -> &'static Mutex<Option<Arc<Tcb>>> {
    &CURRENT[gdt::this_cpu().index as usize % MAX_CPUS]
}

pub fn current() -> Option<Arc<Tcb>> {
    slot().lock().clone()
}

/// Starts `t` on this CPU: its address space, its kernel stack, its first registers.
pub fn run(t: Arc<Tcb>) -> ! {
    let (pml4, start) = {
        let mut i = t.inner.lock();
        i.state = State::Runnable;
        (i.vspace.as_ref().map(|v| v.pml4()), i.start)
    };
    let Some(pml4) = pml4 else {
        crate::kerr!("thread {} has no address space", t.id);
        idle();
    };
    let top = t.kstack.top;
    gdt::set_kernel_stack(top);
    paging::activate(pml4);
    let frame_addr = top - core::mem::size_of::<trap::TrapFrame>() as u64;
    let frame = frame_addr as *mut trap::TrapFrame;
    // SAFETY: the frame slot is the top of `t`'s own kernel stack, mapped and unused (the
    // thread has not run yet), and properly aligned (the stack top is page aligned and the
    // frame is a multiple of 16 bytes).
    unsafe { frame.write(start) };
    *slot().lock() = Some(t);
    // SAFETY: the frame was just written above and stays valid: it lives on the thread's stack.
    trap::enter(unsafe { &*frame })
}

/// Ends the current thread and idles this CPU. Its address space is released once no thread
/// uses it; the kernel switches to its own tables first.
pub fn exit_current() -> ! {
    let t = slot().lock().take();
    paging::activate(paging::kernel_pml4());
    if let Some(t) = t {
        let mut i = t.inner.lock();
        i.state = State::Dead;
        i.vspace = None;
        if let Some(c) = i.cnode.take() {
            // The CNode may hold capabilities to the thread itself; clearing breaks the cycle.
            c.clear();
        }
    }
    idle()
}

/// Nothing left to run on this CPU.
pub fn idle() -> ! {
    crate::kinfo!("cpu {}: no runnable threads, idle", gdt::this_cpu().index);
    if crate::EXIT_WHEN_IDLE.load(core::sync::atomic::Ordering::Relaxed) {
        crate::report_memory();
        crate::arch::x86_64::port::qemu_exit(0);
    }
    loop {
        cpu::wait_for_interrupt();
    }
}
