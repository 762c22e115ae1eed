//! The physical frame allocator: bump allocation through the free ranges of the memory map,
//! then a free list threaded through freed frames (via the direct map). Counts are kept so
//! tests can check that nothing leaks.

use anvil_kcore::memmap::Range;
use spin::Mutex;
use x86_64::structures::paging::{FrameAllocator, PhysFrame, Size4KiB};
use x86_64::PhysAddr;

use super::{phys_to_virt, PAGE};

const MAX_RANGES: usize = 64;

struct Frames {
    ranges: [Range; MAX_RANGES],
    count: usize,
    /// Index of the range bump allocation continues in.
    current: usize,
    /// Physical address of the first free-list frame, 0 when empty.
    free_head: u64,
    free: u64,
    total: u64,
}

static FRAMES: Mutex<Frames> = Mutex::new(Frames {
    ranges: [Range { start: 0, end: 0 }; MAX_RANGES],
    count: 0,
    current: 0,
    free_head: 0,
    free: 0,
    total: 0,
});

/// Hands the allocator its ranges (sorted, page aligned). Ranges past `MAX_RANGES` are ignored
/// and reported.
pub fn init(ranges: &[Range]) {
    let mut f = FRAMES.lock();
    for r in ranges {
        if f.count == MAX_RANGES {
            crate::kwarn!(
                "frame allocator: more than {MAX_RANGES} ranges; ignoring {:#x}..{:#x}",
                r.start,
                r.end
            );
            continue;
        }
        let i = f.count;
        f.ranges[i] = *r;
        f.count += 1;
        f.free += r.len() / PAGE;
    }
    f.total = f.free;
}

/// One zeroed frame, or `None` when memory is exhausted.
pub fn alloc() -> Option<u64> {
    let pa = {
        let mut f = FRAMES.lock();
        if f.free_head != 0 {
            let pa = f.free_head;
            // SAFETY: frames on the free list are owned by the allocator and mapped by the direct
            // map; the first word of each holds the next entry.
            f.free_head = unsafe { (phys_to_virt(pa) as *const u64).read() };
            f.free -= 1;
            pa
        } else {
            loop {
                if f.current >= f.count {
                    return None;
                }
                let i = f.current;
                if f.ranges[i].is_empty() {
                    f.current += 1;
                    continue;
                }
                let pa = f.ranges[i].start;
                f.ranges[i].start += PAGE;
                f.free -= 1;
                break pa;
            }
        }
    };
    // SAFETY: the frame was just taken from the allocator, so nothing else refers to it, and
    // the direct map covers all usable RAM.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, PAGE as usize) };
    Some(pa)
}

/// Returns a frame. The caller must own it and hold no mapping or reference to it.
pub fn free(pa: u64) {
    let mut f = FRAMES.lock();
    // SAFETY: the caller hands over an allocator frame it no longer uses; the direct map covers it.
    unsafe { (phys_to_virt(pa) as *mut u64).write(f.free_head) };
    f.free_head = pa;
    f.free += 1;
}

/// (free frames, total frames).
pub fn stats() -> (u64, u64) {
    let f = FRAMES.lock();
    (f.free, f.total)
}

/// The allocator as the `x86_64` crate's page-table code wants it.
pub struct Global;

// SAFETY: `alloc` returns frames that are unused and exclusively owned by the caller.
unsafe impl FrameAllocator<Size4KiB> for Global {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        alloc().map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)))
    }
}

/// The allocator as the page-table code wants it, counting the frames it hands out (for the
/// kernel's own tables, which stay once made).
pub struct Counting(pub u64);

// SAFETY: as for `Global`.
unsafe impl FrameAllocator<Size4KiB> for Counting {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let f = alloc()?;
        self.0 += 1;
        Some(PhysFrame::containing_address(PhysAddr::new(f)))
    }
}
