//! TCB: a thread. It owns a kernel stack (with a guard page) and refers to the address space
//! and capability table it runs with.

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

use super::cnode::CNode;
use super::vspace::VSpace;
use crate::abi::types::Status;
use crate::arch::x86_64::trap::TrapFrame;
use crate::mm::kstack::{self, KStack};

pub const KERNEL_STACK_SIZE: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Created, not started.
    Inactive,
    Runnable,
    /// Ended by `Tcb.exit` or killed after a fault.
    Dead,
}

pub struct TcbInner {
    pub vspace: Option<Arc<VSpace>>,
    pub cnode: Option<Arc<CNode>>,
    pub ipc_buffer: u64,
    pub state: State,
    /// Registers to start from when the thread first runs.
    pub start: TrapFrame,
}

pub struct Tcb {
    pub id: u64,
    /// The program this thread belongs to, for fault reports and logs.
    pub name: String,
    pub kstack: KStack,
    pub inner: Mutex<TcbInner>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Tcb {
    pub fn new(name: &str) -> Result<Arc<Tcb>, Status> {
        let kstack = kstack::alloc(KERNEL_STACK_SIZE).ok_or(Status::NO_MEMORY)?;
        Ok(Arc::new(Tcb {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: String::from(name),
            kstack,
            inner: Mutex::new(TcbInner {
                vspace: None,
                cnode: None,
                ipc_buffer: 0,
                state: State::Inactive,
                start: TrapFrame::default(),
            }),
        }))
    }

    pub fn cnode(&self) -> Option<Arc<CNode>> {
        self.inner.lock().cnode.clone()
    }
}
