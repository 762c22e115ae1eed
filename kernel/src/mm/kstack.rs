//! Kernel stacks in their own virtual area, each with an unmapped guard page below it, so an
//! overflow faults instead of overwriting memory.

use spin::Mutex;
use x86_64::structures::paging::{Mapper, Page, PageTableFlags as F, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

use super::{frame, paging, PAGE};

/// Start of the kernel-stack area (one PML4 slot, shared by every address space).
pub const KSTACK_AREA: u64 = 0xFFFF_C000_0000_0000;

static NEXT: Mutex<u64> = Mutex::new(KSTACK_AREA);

#[derive(Clone, Copy, Debug)]
pub struct KStack {
    /// One past the highest address: the initial stack pointer.
    pub top: u64,
}

/// Maps a new stack of `size` bytes (rounded up to pages) above an unmapped guard page.
pub fn alloc(size: usize) -> Option<KStack> {
    let pages = (size as u64).div_ceil(PAGE);
    let bottom = {
        let mut next = NEXT.lock();
        let guard = *next;
        *next += (pages + 1) * PAGE;
        guard + PAGE
    };
    let mut kpt = paging::kernel_tables();
    for i in 0..pages {
        let pa = frame::alloc()?;
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(bottom + i * PAGE));
        let f = PhysFrame::containing_address(PhysAddr::new(pa));
        // SAFETY: the page lies in the kernel-stack area, which only this allocator hands out,
        // and each address is handed out once, so no existing mapping or reference aliases it.
        let r = unsafe {
            kpt.map_to(
                page,
                f,
                F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::GLOBAL,
                &mut frame::Global,
            )
        };
        match r {
            Ok(flush) => flush.flush(),
            Err(_) => return None,
        }
    }
    Some(KStack {
        top: bottom + pages * PAGE,
    })
}
