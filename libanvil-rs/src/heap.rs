//! The global allocator: a heap in anonymous memory from `VSpace.alloc`, charged to the quota
//! in the boot slot, taken on the first allocation. Its size is fixed (`HEAP_SIZE`); a service
//! that needs more memory maps VMOs of its own.

use core::alloc::{GlobalAlloc, Layout};

use linked_list_allocator::LockedHeap;

use crate::{boot, types, MapFlags, Quota};

pub const HEAP_SIZE: u64 = 1 << 20;

struct Heap {
    heap: LockedHeap,
    ready: spin::Once<bool>,
}

impl Heap {
    fn ensure(&self) -> bool {
        *self.ready.call_once(|| {
            let quota = Quota::from_slot(types::BOOT_SLOT_QUOTA);
            match boot::vspace().alloc(&quota, HEAP_SIZE, MapFlags::R | MapFlags::W) {
                Ok(base) => {
                    // SAFETY: `base..base+HEAP_SIZE` was just mapped read-write for this process and
                    // nothing else uses it; the heap owns it from here on.
                    unsafe { self.heap.lock().init(base as *mut u8, HEAP_SIZE as usize) };
                    true
                }
                Err(_) => false,
            }
        })
    }
}

// SAFETY: allocation is delegated to `LockedHeap`, which upholds `GlobalAlloc`'s contract; the
// region it manages is initialised once, before the first allocation.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.ensure() {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.heap.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees (ptr came from `alloc` above).
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static HEAP: Heap = Heap {
    heap: LockedHeap::empty(),
    ready: spin::Once::new(),
};

/// Bytes of the heap in use now.
pub fn used() -> usize {
    HEAP.heap.lock().used()
}
