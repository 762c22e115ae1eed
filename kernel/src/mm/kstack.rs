//! Kernel stacks in their own virtual area, each with an unmapped guard page below it, so an
//! overflow faults instead of overwriting memory.
//!
//! Freeing a stack needs a TLB shootdown on every CPU (the mappings are global), and a
//! shootdown waits for the other CPUs. A stack is dropped wherever its thread's last reference
//! goes, possibly under a lock another CPU spins on, so dropping only puts the stack on a list;
//! `reclaim` frees the listed stacks in one batch with one shootdown, and is called only at
//! points where the CPU holds no lock (the end of a syscall, the idle loop, `Debug.stats`).
//! A new thread takes a dropped stack that is still mapped first, so a create/exit loop
//! neither maps nor shoots down anything.

use alloc::vec::Vec;

use spin::Mutex;
use x86_64::structures::paging::{Mapper, Page, PageTableFlags as F, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

use super::{frame, paging, PAGE};

/// Start of the kernel-stack area (one PML4 slot, shared by every address space).
pub const KSTACK_AREA: u64 = 0xFFFF_C000_0000_0000;

struct Area {
    next: u64,
    /// Unmapped ranges of freed stacks: (bottom, pages).
    free: Vec<(u64, u64)>,
    /// Stacks dropped and not yet reclaimed: (bottom, pages).
    dead: Vec<(u64, u64)>,
    /// Stack ranges carved out so far; `free` and `dead` always have room for all of them, so
    /// dropping and reclaiming a stack never allocates.
    total: usize,
}

static AREA: Mutex<Area> = Mutex::new(Area {
    next: KSTACK_AREA,
    free: Vec::new(),
    dead: Vec::new(),
    total: 0,
});

#[derive(Debug)]
pub struct KStack {
    bottom: u64,
    pages: u64,
    /// One past the highest address: the initial stack pointer.
    pub top: u64,
}

/// Frames the stack area's page tables took (they stay: the area is reused).
static TABLE_FRAMES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Heap bytes of the stack lists (room for every stack range ever carved out).
pub fn list_bytes() -> usize {
    let a = AREA.lock();
    (a.free.capacity() + a.dead.capacity()) * core::mem::size_of::<(u64, u64)>()
}

pub fn table_frames() -> u64 {
    TABLE_FRAMES.load(core::sync::atomic::Ordering::Relaxed)
}

/// Stack ranges the lists make room for at a time.
const RANGES_STEP: usize = 512;

/// Maps a new stack of `size` bytes (rounded up to pages) above an unmapped guard page.
pub fn alloc(size: usize) -> Option<KStack> {
    let pages = (size as u64).div_ceil(PAGE);
    let bottom = {
        let mut a = AREA.lock();
        // A dropped stack not yet reclaimed is still mapped and no CPU runs on it: it is taken
        // as it is, with no unmap, no shootdown and no frame allocation.
        if let Some(i) = a.dead.iter().rposition(|&(_, p)| p == pages) {
            let bottom = a.dead.swap_remove(i).0;
            DEAD.store(a.dead.len(), core::sync::atomic::Ordering::Relaxed);
            return Some(KStack {
                bottom,
                pages,
                top: bottom + pages * PAGE,
            });
        }
        match a.free.iter().position(|&(_, p)| p == pages) {
            Some(i) => a.free.swap_remove(i).0,
            None => {
                let total = a.total + 1;
                // Room grows in big steps, so the heap the lists take does not follow every
                // new peak of threads.
                let room = total.div_ceil(RANGES_STEP) * RANGES_STEP;
                let (fl, dl) = (a.free.len(), a.dead.len());
                if a.free.try_reserve_exact(room.saturating_sub(fl)).is_err()
                    || a.dead.try_reserve_exact(room.saturating_sub(dl)).is_err()
                {
                    return None;
                }
                a.total = total;
                let guard = a.next;
                a.next += (pages + 1) * PAGE;
                guard + PAGE
            }
        }
    };
    let mut kpt = paging::kernel_tables();
    for i in 0..pages {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(bottom + i * PAGE));
        let mut tables = frame::Counting(0);
        let mapped = frame::alloc().and_then(|pa| {
            let f = PhysFrame::containing_address(PhysAddr::new(pa));
            // SAFETY: the page lies in the kernel-stack area, which only this allocator hands
            // out, and this range is not in use, so no mapping or reference aliases it.
            let r = unsafe {
                kpt.map_to(
                    page,
                    f,
                    F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::GLOBAL,
                    &mut tables,
                )
            };
            match r {
                Ok(fl) => {
                    fl.flush();
                    Some(())
                }
                Err(_) => {
                    frame::free(pa);
                    None
                }
            }
        });
        TABLE_FRAMES.fetch_add(tables.0, core::sync::atomic::Ordering::Relaxed);
        if mapped.is_none() {
            // Nothing ran on these pages: unmapping them locally is enough.
            unmap(&mut kpt, bottom, i, frame::free);
            drop(kpt);
            AREA.lock().free.push((bottom, pages));
            return None;
        }
    }
    Some(KStack {
        bottom,
        pages,
        top: bottom + pages * PAGE,
    })
}

/// Unmaps `pages` pages from `bottom` (flushing this CPU only) and hands each frame to `f`.
fn unmap(kpt: &mut paging::KernelTables, bottom: u64, pages: u64, mut f: impl FnMut(u64)) {
    for i in 0..pages {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(bottom + i * PAGE));
        if let Ok((fr, fl)) = kpt.unmap(page) {
            fl.flush();
            f(fr.start_address().as_u64());
        }
    }
}

/// Frees every dropped stack: unmaps them, makes every CPU flush (the entries are global),
/// then frees the frames. The caller holds no lock (this waits for the other CPUs).
#[inline]
pub fn reclaim() {
    if !nothing_to_reclaim() {
        reclaim_or_wait(false);
    }
}

/// True if `reclaim` would do nothing.
#[inline]
pub fn nothing_to_reclaim() -> bool {
    DEAD.load(core::sync::atomic::Ordering::Relaxed) <= KEEP
}

/// Dropped stacks left mapped for the next threads (a create/exit loop reuses them without
/// mapping or shooting down anything); `reclaim_all` frees these too.
const KEEP: usize = 16;

/// Held by the CPU that reclaims; another CPU that finds it held skips (the holder takes
/// every stack dropped before it finishes), unless it must see every stack freed.
static RECLAIMING: Mutex<()> = Mutex::new(());

/// Like `reclaim`, and also waits for a reclaim another CPU has under way (for exact memory
/// statistics). The wait serves TLB requests: the other CPU may be waiting for this one.
pub fn reclaim_all() {
    reclaim_or_wait(true);
}

/// Stacks on the dead list, read without the lock so that the end of every syscall can tell in
/// one load that there is nothing to reclaim.
static DEAD: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

fn reclaim_or_wait(wait: bool) {
    let me = crate::arch::x86_64::gdt::this_cpu().index as usize;
    let _held = loop {
        match RECLAIMING.try_lock() {
            Some(g) => break g,
            None if !wait => return,
            None => {
                crate::arch::x86_64::tlb::service(me);
                core::hint::spin_loop();
            }
        }
    };
    const BATCH: usize = 32;
    loop {
        let mut batch = [(0u64, 0u64); BATCH];
        let n = {
            let mut a = AREA.lock();
            let n = a.dead.len().min(BATCH);
            let from = a.dead.len() - n;
            batch[..n].copy_from_slice(&a.dead[from..]);
            a.dead.truncate(from);
            DEAD.store(a.dead.len(), core::sync::atomic::Ordering::Relaxed);
            n
        };
        if n == 0 {
            return;
        }
        reclaim_batch(me, &batch[..n]);
    }
}

fn reclaim_batch(me: usize, dead: &[(u64, u64)]) {
    // The frames go on a list threaded through themselves until the shootdown is done, so
    // this needs no allocation while the page tables are locked.
    let mut head = 0u64;
    {
        let mut kpt = paging::kernel_tables();
        for &(bottom, pages) in dead {
            unmap(&mut kpt, bottom, pages, |pa| {
                // SAFETY: the frame was just unmapped from its stack, no thread runs on it
                // (its thread is gone), and the direct map covers it.
                unsafe { (super::phys_to_virt(pa) as *mut u64).write(head) };
                head = pa;
            });
        }
    }
    crate::arch::x86_64::tlb::shootdown(me, u64::MAX);
    while head != 0 {
        // SAFETY: `head` is one of the frames linked above; its first word is the next link.
        let next = unsafe { (super::phys_to_virt(head) as *const u64).read() };
        frame::free(head);
        head = next;
    }
    // Room was reserved when the ranges were carved out: this does not allocate.
    AREA.lock().free.extend_from_slice(dead);
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
        // Only reached for stacks no CPU runs on (the scheduler drops a thread after it has
        // switched away from it). Room was reserved in `alloc`, so this does not allocate.
        let mut a = AREA.lock();
        a.dead.push((self.bottom, self.pages));
        DEAD.store(a.dead.len(), core::sync::atomic::Ordering::Relaxed);
    }
}
