//! VSpace: an address space. The user half has its own page tables; the kernel half is shared.
//! Pages are either owned (program images, stacks, anonymous memory: freed on unmap) or borrowed
//! from a VMO (kept alive by the mapping). Page tables are charged to the VSpace's quota.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;
use x86_64::structures::paging::{FrameAllocator, Mapper, Page, PageTableFlags as F, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

use super::quota::{cost, Charge, Quota};
use super::vmo::Vmo;
use crate::abi::types::Status;
use crate::mm::{frame, paging, phys_to_virt, PAGE};

/// Access of a user mapping. Writable and executable together is refused before this point.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub write: bool,
    pub exec: bool,
}

struct Mapping {
    pa: u64,
    /// `None`: the frame is owned by this address space and freed on unmap.
    _vmo: Option<Arc<Vmo>>,
    _charge: Option<Charge>,
}

struct Inner {
    pages: BTreeMap<u64, Mapping>,
    table_charges: Vec<Charge>,
    /// Where `alloc` looks for free space next.
    alloc_hint: u64,
}

pub struct VSpace {
    pml4: u64,
    /// CPUs that have this address space loaded (bit per CPU index): the TLB-shootdown targets.
    active: AtomicU64,
    quota: Option<Arc<Quota>>,
    inner: Mutex<Inner>,
    _charge: Option<Charge>,
}

/// Anonymous allocations go here (below the initial stack, above program images).
const ALLOC_BASE: u64 = 0x0000_1000_0000_0000;
const ALLOC_END: u64 = 0x0000_7000_0000_0000;

/// Allocates page-table frames, charging each to the quota.
struct TableFrames<'a> {
    quota: Option<&'a Arc<Quota>>,
    charges: &'a mut Vec<Charge>,
}

// SAFETY: frames come from `frame::alloc`, unused and owned by the caller (the page tables).
unsafe impl FrameAllocator<Size4KiB> for TableFrames<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        if let Some(q) = self.quota {
            self.charges.push(q.charge(cost::PAGE_TABLE).ok()?);
        }
        frame::alloc().map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)))
    }
}

impl VSpace {
    /// A new address space with an empty user half and the shared kernel half.
    pub fn new(quota: Option<Arc<Quota>>, charge: Option<Charge>) -> Result<VSpace, Status> {
        let pml4 = frame::alloc().ok_or(Status::NO_MEMORY)?;
        let kernel = phys_to_virt(paging::kernel_pml4()) as *const u64;
        let new = phys_to_virt(pml4) as *mut u64;
        for i in 256..512 {
            // SAFETY: both are page-table frames reached through the direct map; the new one
            // is exclusively ours, and the kernel's upper entries never change after boot.
            unsafe { new.add(i).write(kernel.add(i).read()) };
        }
        let inner = Inner {
            pages: BTreeMap::new(),
            table_charges: Vec::new(),
            alloc_hint: ALLOC_BASE,
        };
        Ok(VSpace {
            pml4,
            active: AtomicU64::new(0),
            quota,
            inner: Mutex::new(inner),
            _charge: charge,
        })
    }

    /// Loads this address space on CPU `cpu` (the caller's own CPU).
    pub fn activate_on(&self, cpu: usize) {
        self.active.fetch_or(1 << cpu, Ordering::AcqRel);
        paging::activate(self.pml4);
    }

    /// Records that CPU `cpu` switched to another address space.
    pub fn deactivate_on(&self, cpu: usize) {
        self.active.fetch_and(!(1 << cpu), Ordering::AcqRel);
    }

    /// After removing mappings: makes every other CPU that may cache them flush, then frees the
    /// frames that are no longer mapped anywhere.
    fn finish_unmap(&self, frames: Vec<u64>) {
        let me = crate::arch::x86_64::gdt::this_cpu().index as usize;
        crate::arch::x86_64::tlb::shootdown(me, self.active.load(Ordering::Acquire));
        for pa in frames {
            frame::free(pa);
        }
    }

    fn map_one(&self, inner: &mut Inner, va: u64, pa: u64, access: Access) -> Result<(), Status> {
        let mut flags = F::PRESENT | F::USER_ACCESSIBLE;
        if access.write {
            flags |= F::WRITABLE;
        }
        if !access.exec {
            flags |= F::NO_EXECUTE;
        }
        // SAFETY: the caller holds `inner`, which serialises changes to these tables.
        let mut t = unsafe { paging::table_at(self.pml4) };
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
        let f = PhysFrame::containing_address(PhysAddr::new(pa));
        let parent = F::PRESENT | F::WRITABLE | F::USER_ACCESSIBLE;
        let mut fa = TableFrames {
            quota: self.quota.as_ref(),
            charges: &mut inner.table_charges,
        };
        // SAFETY: the page is in the user half (checked by callers), not mapped (checked by
        // callers through `pages`), and the frame is owned by this VSpace or a VMO it holds.
        match unsafe { t.map_to_with_table_flags(page, f, flags, parent, &mut fa) } {
            Ok(fl) => {
                fl.flush();
                Ok(())
            }
            Err(x86_64::structures::paging::mapper::MapToError::FrameAllocationFailed) => {
                Err(if self.quota.is_some() {
                    Status::QUOTA_EXCEEDED
                } else {
                    Status::NO_MEMORY
                })
            }
            Err(_) => Err(Status::ALREADY_MAPPED),
        }
    }

    /// Maps a new zeroed page at `va` owned by this address space; returns its frame.
    pub fn map_new_page(&self, va: u64, access: Access, charge: Option<Charge>) -> Result<u64, Status> {
        let mut inner = self.inner.lock();
        if inner.pages.contains_key(&va) {
            return Err(Status::ALREADY_MAPPED);
        }
        let pa = frame::alloc().ok_or(Status::NO_MEMORY)?;
        if let Err(e) = self.map_one(&mut inner, va, pa, access) {
            frame::free(pa);
            return Err(e);
        }
        inner.pages.insert(
            va,
            Mapping {
                pa,
                _vmo: None,
                _charge: charge,
            },
        );
        Ok(pa)
    }

    /// Maps `len` bytes of `vmo` from `offset` at `va`. All arguments are page aligned and
    /// checked by the caller; every page must be free.
    pub fn map_vmo(&self, vmo: &Arc<Vmo>, va: u64, offset: u64, len: u64, access: Access) -> Result<(), Status> {
        let mut inner = self.inner.lock();
        let pages = len / PAGE;
        if (0..pages).any(|i| inner.pages.contains_key(&(va + i * PAGE))) {
            return Err(Status::ALREADY_MAPPED);
        }
        for i in 0..pages {
            let mapped = match vmo.frame(offset / PAGE + i) {
                Some(pa) => self.map_one(&mut inner, va + i * PAGE, pa, access).map(|_| pa),
                None => Err(Status::INVALID_ARGS),
            };
            let pa = match mapped {
                Ok(pa) => pa,
                Err(e) => {
                    // Undo the pages mapped so far, so a failed call leaves nothing behind.
                    self.unmap_range(inner, va, i);
                    return Err(e);
                }
            };
            inner.pages.insert(
                va + i * PAGE,
                Mapping {
                    pa,
                    _vmo: Some(vmo.clone()),
                    _charge: None,
                },
            );
        }
        Ok(())
    }

    /// The physical address behind user address `va`, if it is mapped.
    pub fn translate(&self, va: u64) -> Option<u64> {
        let page = va & !(PAGE - 1);
        self.inner.lock().pages.get(&page).map(|m| m.pa + (va - page))
    }

    /// Unmaps `pages` pages from `va`, releases the lock (other CPUs may be spinning on it), makes
    /// the CPUs that may cache the entries flush, and frees the frames this space owned.
    fn unmap_range(&self, mut inner: spin::MutexGuard<'_, Inner>, va: u64, pages: u64) {
        let mut freed = Vec::new();
        for i in 0..pages {
            freed.extend(self.unmap_one(&mut inner, va + i * PAGE));
        }
        drop(inner);
        self.finish_unmap(freed);
    }

    /// Removes one mapping; returns its frame if it must be freed (after the shootdown).
    fn unmap_one(&self, inner: &mut Inner, va: u64) -> Option<u64> {
        // SAFETY: the caller holds `inner`, which serialises changes to these tables.
        let mut t = unsafe { paging::table_at(self.pml4) };
        if let Ok((_, fl)) = t.unmap(Page::<Size4KiB>::containing_address(VirtAddr::new(va))) {
            fl.flush();
        }
        inner.pages.remove(&va).filter(|m| m._vmo.is_none()).map(|m| m.pa)
    }

    /// Unmaps `len` bytes at `va` (page aligned); every page must be mapped.
    pub fn unmap(&self, va: u64, len: u64) -> Result<(), Status> {
        let inner = self.inner.lock();
        let pages = len / PAGE;
        if pages == 0 || (0..pages).any(|i| !inner.pages.contains_key(&(va + i * PAGE))) {
            return Err(Status::NOT_MAPPED);
        }
        self.unmap_range(inner, va, pages);
        Ok(())
    }

    /// Maps `len` bytes of new zeroed memory, charged to `quota`, at a free address.
    pub fn alloc(&self, quota: &Arc<Quota>, len: u64, access: Access) -> Result<u64, Status> {
        let pages = len / PAGE;
        // Reserve the range under the lock (by moving the hint past it), so concurrent
        // allocations in the same address space get disjoint ranges.
        let va = {
            let mut inner = self.inner.lock();
            let mut va = inner.alloc_hint;
            while (0..pages).any(|i| inner.pages.contains_key(&(va + i * PAGE))) {
                va += PAGE;
                if va + len > ALLOC_END {
                    return Err(Status::NO_MEMORY);
                }
            }
            inner.alloc_hint = va + len;
            va
        };
        for i in 0..pages {
            let charged = quota
                .charge(cost::VMO_PAGE)
                .and_then(|c| self.map_new_page(va + i * PAGE, access, Some(c)));
            if let Err(e) = charged {
                self.unmap_range(self.inner.lock(), va, i);
                return Err(e);
            }
        }
        Ok(va)
    }
}

/// Frees a page table and the tables below it (not the mapped pages, which `pages` tracks).
fn free_table(pa: u64, level: u32) {
    if level > 1 {
        let t = phys_to_virt(pa) as *const u64;
        for i in 0..512 {
            // SAFETY: `pa` is a user page table of a dying address space, reached by the direct map.
            let e = unsafe { t.add(i).read() };
            if e & 1 != 0 && e & (1 << 7) == 0 {
                free_table(e & 0x000F_FFFF_FFFF_F000, level - 1);
            }
        }
    }
    frame::free(pa);
}

impl Drop for VSpace {
    fn drop(&mut self) {
        // No CPU runs in this address space any more: the scheduler switches CR3 away before
        // the last thread using it lets go of it.
        let inner = self.inner.get_mut();
        for (_, m) in core::mem::take(&mut inner.pages) {
            if m._vmo.is_none() {
                frame::free(m.pa);
            }
        }
        let l4 = phys_to_virt(self.pml4) as *const u64;
        for i in 0..256 {
            // SAFETY: the PML4 is ours and unused; its user entries point at our tables.
            let e = unsafe { l4.add(i).read() };
            if e & 1 != 0 {
                free_table(e & 0x000F_FFFF_FFFF_F000, 3);
            }
        }
        frame::free(self.pml4);
    }
}
