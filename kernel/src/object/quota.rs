//! Quota: kernel-memory accounting. Every object a process creates is charged to a quota it
//! holds a capability to; a quota's budget comes out of its parent's. See docs/capabilities.md.

use alloc::sync::Arc;
use core::mem::ManuallyDrop;

use spin::Mutex;

use crate::abi::types::Status;

pub struct Quota {
    limit: u64,
    used: Mutex<u64>,
    /// The budget taken from the parent; given back when this quota is freed.
    from_parent: Option<Charge>,
}

/// Bytes charged to a quota; refunded when dropped (when the object that holds it is freed).
pub struct Charge {
    quota: Arc<Quota>,
    bytes: u64,
}

impl Charge {
    fn refund(&self) {
        self.quota.refund(self.bytes);
    }

    /// Refunds the charge and hands back the reference to its quota.
    fn into_quota(self) -> Arc<Quota> {
        let this = ManuallyDrop::new(self);
        this.refund();
        // SAFETY: `this` is never dropped or used again, so the Arc is moved out exactly once.
        unsafe { core::ptr::read(&this.quota) }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.refund();
    }
}

impl Drop for Quota {
    /// Gives the budget back to the parent, and frees parents that this was the last reference
    /// to, one after the other: a long chain of split quotas must not recurse.
    fn drop(&mut self) {
        let mut next = self.from_parent.take();
        while let Some(charge) = next {
            next = match Arc::try_unwrap(charge.into_quota()) {
                Ok(mut parent) => parent.from_parent.take(),
                Err(_) => None,
            };
        }
    }
}

impl Quota {
    /// The root quota: all memory the kernel lets user space account for.
    pub fn root(limit: u64) -> Arc<Quota> {
        Arc::new(Quota {
            limit,
            used: Mutex::new(0),
            from_parent: None,
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

    /// Charges `bytes` without a `Charge` to hold: for objects that keep a running total of
    /// what they charged and give it back with `refund`.
    pub fn charge_raw(&self, bytes: u64) -> Result<(), Status> {
        let mut u = self.used.lock();
        *u = u
            .checked_add(bytes)
            .filter(|&n| n <= self.limit)
            .ok_or(Status::QUOTA_EXCEEDED)?;
        Ok(())
    }

    /// Gives back bytes charged with `charge_raw`.
    pub fn refund(&self, bytes: u64) {
        let mut u = self.used.lock();
        *u = u.saturating_sub(bytes);
    }

    /// A child quota with `bytes` of this one's remaining budget (the child's own bookkeeping
    /// is charged on top).
    pub fn split(self: &Arc<Self>, bytes: u64) -> Result<Arc<Quota>, Status> {
        let total = bytes.checked_add(cost::QUOTA).ok_or(Status::QUOTA_EXCEEDED)?;
        let c = self.charge(total)?;
        Ok(Arc::new(Quota {
            limit: bytes,
            used: Mutex::new(0),
            from_parent: Some(c),
        }))
    }

    pub fn info(&self) -> (u64, u64) {
        (self.limit, *self.used.lock())
    }
}

/// What objects cost, in bytes of kernel memory (frames and heap), as charged to quotas. Each
/// figure covers the object's real size (computed from the types where the heap holds it)
/// plus the allocator's header and alignment, so the sum of charges bounds what user space
/// can make the kernel allocate (docs/capabilities.md).
pub mod cost {
    use core::mem::size_of;

    use crate::mm::PAGE;
    use crate::object::Object;

    /// Per heap allocation: the `Arc` counts and the allocator's rounding.
    const HEAP: u64 = 64;

    /// A thread: its kernel stack, the stack's share of the kernel page tables, the TCB, the
    /// largest FPU save area the kernel enables (832 bytes with AVX, 512 with FXSAVE; up to a
    /// page with AVX-512), and its entry in an endpoint queue when it waits.
    pub const TCB: u64 = crate::object::tcb::KERNEL_STACK_SIZE as u64
        + 64
        + size_of::<crate::object::tcb::Tcb>() as u64
        + HEAP
        + crate::arch::x86_64::fpu::MAX_AREA_SIZE as u64
        + HEAP
        + QUEUE_ENTRY;
    pub const ENDPOINT: u64 = size_of::<crate::object::endpoint::Endpoint>() as u64
        + size_of::<crate::object::endpoint::EndpointCap>() as u64
        + 2 * crate::object::endpoint::QUEUE_ROOM as u64 * 8
        + 4 * HEAP;
    /// A notification with the room of its waiter queue (a waiter beyond that room is paid
    /// by its thread's `QUEUE_ENTRY`).
    pub const NOTIFICATION: u64 = size_of::<crate::object::notification::Notification>() as u64
        + size_of::<crate::object::notification::NotificationCap>() as u64
        + crate::object::notification::QUEUE_ROOM as u64 * 8
        + 3 * HEAP;
    /// A saved reply (`Endpoint.save_reply`).
    pub const REPLY: u64 = size_of::<crate::object::reply::Reply>() as u64 + HEAP;
    /// A waiter's entry in an endpoint or notification queue (queues shrink as they empty, so
    /// at most four entries' room per waiter; a thread waits in one queue at a time), charged
    /// with the thread.
    pub const QUEUE_ENTRY: u64 = 4 * 8;
    pub const CNODE_BASE: u64 = size_of::<crate::object::cnode::CNode>() as u64 + 3 * 8 + 2 * HEAP;
    /// A slot, and per chunk of slots its allocation.
    pub const CNODE_SLOT: u64 =
        size_of::<Option<anvil_kcore::cap::Node<Object>>>() as u64 + HEAP.div_ceil(anvil_kcore::cap::CHUNK as u64) + 1;
    /// The top-level page table and its shadow (`vspace`), and the object.
    pub const VSPACE: u64 = 2 * PAGE + size_of::<crate::object::vspace::VSpace>() as u64 + HEAP;
    /// A page table or the shadow that records its pages' VMOs (`vspace`): a mapped page needs
    /// no other bookkeeping.
    pub const PAGE_TABLE: u64 = PAGE;
    pub const VMO_BASE: u64 = size_of::<crate::object::vmo::Vmo>() as u64 + HEAP;
    pub const VMO_PAGE: u64 = PAGE + 8;
    pub const QUOTA: u64 = size_of::<super::Quota>() as u64 + HEAP;
}

// ---- syscalls ------------------------------------------------------------------------------

use crate::abi::QuotaSyscalls;
use crate::object::{NewCap, Object};
use crate::syscall::{Ctx, C};

impl QuotaSyscalls for Ctx<'_> {
    fn quota_split(&mut self, parent: C<'_, Arc<Quota>>, bytes: u64) -> Result<NewCap, Status> {
        Ok(NewCap::made_with(parent.cap, Object::Quota(parent.split(bytes)?)))
    }

    fn quota_info(&mut self, quota: C<'_, Arc<Quota>>) -> Result<(u64, u64), Status> {
        Ok(quota.info())
    }
}
