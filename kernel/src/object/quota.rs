//! Quota: kernel-memory accounting. Every object a process creates is charged to a quota it
//! holds a capability to; a quota's budget comes out of its parent's. See docs/capabilities.md.

use alloc::sync::Arc;

use spin::Mutex;

use crate::abi::types::Status;

pub struct Quota {
    limit: u64,
    used: Mutex<u64>,
    /// The budget taken from the parent; given back when this quota is freed.
    _from_parent: Option<Charge>,
}

/// Bytes charged to a quota; refunded when dropped (when the object that holds it is freed).
pub struct Charge {
    quota: Arc<Quota>,
    bytes: u64,
}

impl Drop for Charge {
    fn drop(&mut self) {
        let mut u = self.quota.used.lock();
        *u = u.saturating_sub(self.bytes);
    }
}

impl Quota {
    /// The root quota: all memory the kernel lets user space account for.
    pub fn root(limit: u64) -> Arc<Quota> {
        Arc::new(Quota {
            limit,
            used: Mutex::new(0),
            _from_parent: None,
        })
    }

    /// Charges `bytes`, or fails with QUOTA_EXCEEDED.
    pub fn charge(self: &Arc<Self>, bytes: u64) -> Result<Charge, Status> {
        let mut u = self.used.lock();
        let new = u
            .checked_add(bytes)
            .filter(|&n| n <= self.limit)
            .ok_or(Status::QUOTA_EXCEEDED)?;
        *u = new;
        Ok(Charge {
            quota: self.clone(),
            bytes,
        })
    }

    /// A child quota with `bytes` of this one's remaining budget.
    pub fn split(self: &Arc<Self>, bytes: u64) -> Result<Arc<Quota>, Status> {
        let c = self.charge(bytes)?;
        Ok(Arc::new(Quota {
            limit: bytes,
            used: Mutex::new(0),
            _from_parent: Some(c),
        }))
    }

    pub fn info(&self) -> (u64, u64) {
        (self.limit, *self.used.lock())
    }
}

/// What objects cost, in bytes of kernel memory (frames and heap), as charged to quotas.
pub mod cost {
    use crate::mm::PAGE;

    /// Kernel stack, its guard page, the `Tcb` itself, and the largest FPU save area the kernel
    /// enables (the real one is smaller without AVX-512: 832 bytes with AVX, 512 with FXSAVE).
    pub const TCB: u64 =
        crate::object::tcb::KERNEL_STACK_SIZE as u64 + PAGE + 512 + crate::arch::x86_64::fpu::MAX_AREA_SIZE as u64;
    pub const ENDPOINT: u64 = 256;
    pub const CNODE_BASE: u64 = 128;
    pub const CNODE_SLOT: u64 = 64;
    pub const VSPACE: u64 = PAGE + 256;
    pub const PAGE_TABLE: u64 = PAGE;
    pub const VMO_BASE: u64 = 128;
    pub const VMO_PAGE: u64 = PAGE + 8;
}
