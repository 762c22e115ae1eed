//! The kernel heap: a fixed region in the kernel image. Its size bounds what kernel objects can
//! take in total; per-process quotas keep any one service from taking it all.

use linked_list_allocator::LockedHeap;

pub const HEAP_SIZE: usize = 8 << 20;

#[repr(C, align(4096))]
struct HeapSpace([u8; HEAP_SIZE]);

static mut HEAP_SPACE: HeapSpace = HeapSpace([0; HEAP_SIZE]);

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Gives the allocator its region. Called once, first thing at boot.
pub fn init() {
    // SAFETY: HEAP_SPACE is used only here, once, to hand its memory to the allocator, which
    // owns it from then on.
    unsafe { ALLOCATOR.lock().init((&raw mut HEAP_SPACE).cast::<u8>(), HEAP_SIZE) };
}

/// Bytes of the heap in use now.
pub fn used() -> usize {
    ALLOCATOR.lock().used()
}
