//! TCB: a thread. It owns a kernel stack (with a guard page) and an FPU save area, and refers
//! to the address space and capability table it runs with.

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use spin::Mutex;

use super::cnode::CNode;
use super::quota::Charge;
use super::vspace::VSpace;
use crate::abi::types::Status;
use crate::arch::x86_64::fpu::FpuArea;
use crate::arch::x86_64::trap::TrapFrame;
use crate::mm::kstack::{self, KStack};

pub const KERNEL_STACK_SIZE: usize = 16 * 1024;
pub const MAX_PRIORITY: u8 = 31;
/// Affinity value meaning "any CPU".
pub const ANY_CPU: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Created or configured, not started.
    Inactive,
    /// In a run queue or running.
    Runnable,
    /// Stopped by `Tcb.suspend`.
    Suspended,
    /// Waiting in an IPC operation (for a partner or a reply).
    Blocked,
    /// Ended by `Tcb.exit` or killed after a fault.
    Dead,
}

pub struct TcbInner {
    pub vspace: Option<Arc<VSpace>>,
    pub cnode: Option<Arc<CNode>>,
    pub ipc_buffer: u64,
    pub priority: u8,
    pub affinity: u32,
    pub state: State,
    /// Registers to start from; `None` until `set_regs`.
    pub start: Option<TrapFrame>,
    /// True once the thread's kernel stack holds a context to resume.
    pub started: bool,
    /// The caller this thread received a `call` from and owes a reply.
    pub reply_to: Option<Arc<Tcb>>,
    /// The status a blocked IPC operation ends with, set by whoever wakes the thread.
    pub wake_status: u64,
}

pub struct Tcb {
    pub id: u64,
    /// The program this thread belongs to, for fault reports and logs.
    name: Mutex<String>,
    pub kstack: KStack,
    /// Saved kernel stack pointer while the thread is not running.
    pub ksp: AtomicU64,
    /// The CPU running this thread now, or -1.
    pub on_cpu: AtomicI64,
    /// FPU/SSE/AVX registers while the thread is not running (saved and loaded by `sched`).
    pub fpu: FpuArea,
    pub inner: Mutex<TcbInner>,
    _charge: Option<Charge>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What capabilities to a thread refer to. When the last one goes, the thread stops (on
/// whatever CPU it runs, before the deleting call returns); the `Tcb` itself lives on until the
/// scheduler has let go of it.
pub struct TcbCap(pub Arc<Tcb>);

impl core::ops::Deref for TcbCap {
    type Target = Arc<Tcb>;
    fn deref(&self) -> &Arc<Tcb> {
        &self.0
    }
}

impl TcbCap {
    pub fn new(t: Arc<Tcb>) -> Arc<TcbCap> {
        Arc::new(TcbCap(t))
    }
}

impl Drop for TcbCap {
    fn drop(&mut self) {
        crate::sched::stop(&self.0);
    }
}

impl Tcb {
    pub fn new(name: &str, charge: Option<Charge>) -> Result<Arc<Tcb>, Status> {
        let kstack = kstack::alloc(KERNEL_STACK_SIZE).ok_or(Status::NO_MEMORY)?;
        let fpu = FpuArea::new().ok_or(Status::NO_MEMORY)?;
        Ok(Arc::new(Tcb {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: Mutex::new(String::from(name)),
            kstack,
            ksp: AtomicU64::new(0),
            on_cpu: AtomicI64::new(-1),
            fpu,
            inner: Mutex::new(TcbInner {
                vspace: None,
                cnode: None,
                ipc_buffer: 0,
                priority: 0,
                affinity: ANY_CPU,
                state: State::Inactive,
                start: None,
                started: false,
                reply_to: None,
                wake_status: 0,
            }),
            _charge: charge,
        }))
    }

    pub fn name(&self) -> String {
        self.name.lock().clone()
    }

    pub fn set_name(&self, name: &str) {
        *self.name.lock() = String::from(name);
    }

    pub fn cnode(&self) -> Option<Arc<CNode>> {
        self.inner.lock().cnode.clone()
    }

    pub fn vspace(&self) -> Option<Arc<VSpace>> {
        self.inner.lock().vspace.clone()
    }
}
