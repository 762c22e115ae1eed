//! Kernel stacks in their own virtual area, each with an unmapped guard page below it, so an
//! overflow faults instead of overwriting memory. Freed stacks are reused.

use alloc::vec::Vec;

use spin::Mutex;
use x86_64::structures::paging::{Mapper, Page, PageTableFlags as F, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

use super::{frame, paging, PAGE};

/// Start of the kernel-stack area (one PML4 slot, shared by every address space).
pub const KSTACK_AREA: u64 = 0xFFFF_C000_0000_0000;

struct Area {
    next: u64,
    /// Unmapped stack ranges of freed stacks: (bottom, pages).
    free: Vec<(u64, u64)>,
}

static AREA: Mutex<Area> = Mutex::new(Area {
    next: KSTACK_AREA,
    free: Vec::new(),
});

#[derive(Debug)]
pub struct KStack {
    bottom: u64,
    pages: u64,
    /// One past the highest address: the initial stack pointer.
    pub top: u64,
}

/// Maps a new stack of `size` bytes (rounded up to pages) above an unmapped guard page.
pub fn alloc(size: usize) -> Option<KStack> {
    let pages = (size as u64).div_ceil(PAGE);
    let bottom = {
        let mut a = AREA.lock();
        match a.free.iter().position(|&(_, p)| p == pages) {
            Some(i) => a.free.swap_remove(i).0,
            None => {
                let guard = a.next;
                a.next += (pages + 1) * PAGE;
                guard + PAGE
            }
        }
    };
    let mut kpt = paging::kernel_tables();
    for i in 0..pages {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(bottom + i * PAGE));
        let mapped = frame::alloc().and_then(|pa| {
            let f = PhysFrame::containing_address(PhysAddr::new(pa));
            // SAFETY: the page lies in the kernel-stack area, which only this allocator hands
            // out, and this range is not in use, so no mapping or reference aliases it.
            let r = unsafe {
                kpt.map_to(
                    page,
                    f,
                    F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::GLOBAL,
                    &mut frame::Global,
                )
            };
            r.ok().map(|fl| fl.flush())
        });
        if mapped.is_none() {
            drop(kpt);
            release(bottom, i, pages);
            return None;
        }
    }
    Some(KStack {
        bottom,
        pages,
        top: bottom + pages * PAGE,
    })
}

/// Unmaps the first `mapped` pages of a stack range and returns the range for reuse.
fn release(bottom: u64, mapped: u64, pages: u64) {
    let mut kpt = paging::kernel_tables();
    let mut frames = Vec::new();
    for i in 0..mapped {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(bottom + i * PAGE));
        if let Ok((f, fl)) = kpt.unmap(page) {
            fl.flush();
            frames.push(f.start_address().as_u64());
        }
    }
    drop(kpt);
    // Other CPUs may cache these (global) entries: flush them before the frames are reused.
    let me = crate::arch::x86_64::gdt::this_cpu().index as usize;
    crate::arch::x86_64::tlb::shootdown(me, u64::MAX);
    for pa in frames {
        frame::free(pa);
    }
    AREA.lock().free.push((bottom, pages));
}

impl KStack {
    /// Keeps the stack mapped for the rest of the kernel's life; returns its top.
    pub fn leak(self) -> u64 {
        let top = self.top;
        core::mem::forget(self);
        top
    }
}

impl Drop for KStack {
    fn drop(&mut self) {
        // Only reached for stacks no CPU runs on: the scheduler drops exited threads after it
        // has switched to another stack. (With more CPUs, other CPUs' stale TLB entries for
        // these pages are harmless: nothing runs on this stack any more.)
        release(self.bottom, self.pages, self.pages);
    }
}
