//! The kernel heap. A small region in the kernel image serves boot, before the frame allocator
//! exists; after that the heap grows on demand by mapping frames at the end of its own virtual
//! area (it never shrinks: freed heap memory is reused by later allocations).
//!
//! The heap and user objects draw on the same frames, and every heap allocation a service can
//! cause is charged to its quota (see `object::quota::cost` and docs/capabilities.md). The root
//! quota is smaller than the free memory by a reserve, so no combination of quotas can make
//! the heap run out of frames.
//!
//! Lock order: the heap lock is taken before the kernel page tables and the frame allocator,
//! which growth takes; nothing allocates from the heap while holding either of those.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use linked_list_allocator::Heap;
use spin::Mutex;
use x86_64::structures::paging::{Mapper, Page, PageTableFlags as F, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

use super::{frame, paging, PAGE};

/// The boot region, in the kernel image.
pub const BOOT_HEAP_SIZE: usize = 1 << 20;
/// The growing heap's virtual area (its own PML4 slot in the shared kernel half).
const GROW_BASE: u64 = 0xFFFF_A000_0000_0000;
const GROW_LIMIT: u64 = 1 << 39;
/// The least the heap grows by at a time.
const GROW_STEP: usize = 256 << 10;

#[repr(C, align(4096))]
struct BootSpace([u8; BOOT_HEAP_SIZE]);

static mut BOOT_SPACE: BootSpace = BootSpace([0; BOOT_HEAP_SIZE]);

struct Heaps {
    boot: Heap,
    grow: Heap,
    /// Bytes of the growing area mapped so far.
    grown: usize,
    /// Frames growth took: the pages and the page tables that map them.
    frames: u64,
}

struct KernelHeap {
    heaps: Mutex<Heaps>,
}

/// Set once the frame allocator and the kernel page tables are ready.
static CAN_GROW: AtomicBool = AtomicBool::new(false);

#[global_allocator]
static ALLOCATOR: KernelHeap = KernelHeap {
    heaps: Mutex::new(Heaps {
        boot: Heap::empty(),
        grow: Heap::empty(),
        grown: 0,
        frames: 0,
    }),
};

/// Gives the allocator its boot region. Called once, first thing at boot.
pub fn init() {
    // SAFETY: BOOT_SPACE is used only here, once, to hand its memory to the allocator, which
    // owns it from then on.
    unsafe {
        ALLOCATOR
            .heaps
            .lock()
            .boot
            .init((&raw mut BOOT_SPACE).cast::<u8>(), BOOT_HEAP_SIZE)
    };
}

/// Lets the heap grow from now on (after `paging::init`).
pub fn enable_growth() {
    CAN_GROW.store(true, Ordering::Release);
}

/// Bytes of the heap in use now.
pub fn used() -> usize {
    let h = ALLOCATOR.heaps.lock();
    h.boot.used() + h.grow.used()
}

/// Bytes of memory the heap occupies (boot region plus what it has grown by).
pub fn size() -> usize {
    let h = ALLOCATOR.heaps.lock();
    BOOT_HEAP_SIZE + h.grown
}

/// Frames the heap has taken from the frame allocator, page tables included.
pub fn frames() -> u64 {
    ALLOCATOR.heaps.lock().frames
}

impl Heaps {
    /// Maps at least `bytes` more at the end of the growing area. False if out of frames or
    /// of address space (whatever was mapped stays in the heap).
    fn grow(&mut self, bytes: usize) -> bool {
        let want = bytes.max(GROW_STEP).div_ceil(PAGE as usize) * PAGE as usize;
        if (self.grown + want) as u64 > GROW_LIMIT {
            return false;
        }
        let start = GROW_BASE + self.grown as u64;
        let (free_before, _) = frame::stats();
        let mut mapped = 0usize;
        {
            let mut kpt = paging::kernel_tables();
            while mapped < want {
                let Some(pa) = frame::alloc() else { break };
                let page = Page::<Size4KiB>::containing_address(VirtAddr::new(start + mapped as u64));
                let f = PhysFrame::containing_address(PhysAddr::new(pa));
                // SAFETY: the page lies past the end of the heap's own area, which nothing else
                // maps; page-table frames come from the frame allocator.
                match unsafe {
                    kpt.map_to(
                        page,
                        f,
                        F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::GLOBAL,
                        &mut frame::Global,
                    )
                } {
                    Ok(fl) => fl.flush(),
                    Err(_) => {
                        frame::free(pa);
                        break;
                    }
                }
                mapped += PAGE as usize;
            }
        }
        self.frames += free_before - frame::stats().0;
        if mapped == 0 {
            return false;
        }
        if self.grown == 0 {
            // SAFETY: `mapped` bytes from GROW_BASE were just mapped for the heap alone.
            unsafe { self.grow.init(GROW_BASE as *mut u8, mapped) };
        } else {
            // SAFETY: the new pages follow the heap's current top directly.
            unsafe { self.grow.extend(mapped) };
        }
        self.grown += mapped;
        mapped >= want
    }
}

// SAFETY: allocations come from heaps that own their regions; each block is handed out once
// until it is freed, and `dealloc` returns it to the heap whose region holds it.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut h = self.heaps.lock();
        if let Ok(p) = h.boot.allocate_first_fit(layout) {
            return p.as_ptr();
        }
        loop {
            if let Ok(p) = h.grow.allocate_first_fit(layout) {
                return p.as_ptr();
            }
            if !CAN_GROW.load(Ordering::Acquire) || !h.grow(layout.size() + layout.align()) {
                return core::ptr::null_mut();
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(p) = NonNull::new(ptr) else { return };
        let mut h = self.heaps.lock();
        let addr = ptr as u64;
        let boot = (&raw const BOOT_SPACE) as u64;
        if (boot..boot + BOOT_HEAP_SIZE as u64).contains(&addr) {
            // SAFETY: the block came from the boot heap with this layout (GlobalAlloc contract).
            unsafe { h.boot.deallocate(p, layout) };
        } else {
            // SAFETY: as above, for the growing heap.
            unsafe { h.grow.deallocate(p, layout) };
        }
    }
}
