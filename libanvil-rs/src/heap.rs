//! The global allocator: a heap that grows on demand. It is a set of regions of anonymous
//! memory from `VSpace.alloc`, each managed by a first-fit allocator; when no region has room,
//! a new one is mapped, charged to the heap's quota (the one in the boot slot, or the one given
//! to `use_quota`), so the heap can take at most what that quota allows: beyond it an
//! allocation fails (`Vec::try_reserve` returns an error, `Vec::push` aborts) instead of
//! taking memory from anyone else. Regions double in size from `FIRST_REGION` up to
//! `MAX_GROWTH` (a larger allocation gets a region of its own size); a region that becomes
//! empty is unmapped, giving its memory back to the quota, except for one kept as a spare so
//! that a loop allocating and freeing does not map and unmap every time.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use linked_list_allocator::Heap as Region;

use crate::{boot, types, MapFlags, Quota};

/// The first region's size.
pub const FIRST_REGION: u64 = 256 * 1024;
/// Growth stops doubling here.
pub const MAX_GROWTH: u64 = 4 << 20;
/// How many regions the heap can have at once.
pub const MAX_REGIONS: usize = 64;

struct Mapped {
    region: Region,
    base: u64,
    size: u64,
}

struct State {
    regions: [Option<Mapped>; MAX_REGIONS],
    next_size: u64,
    quota_slot: u64,
}

// SAFETY: the regions' memory belongs to this process and is only touched under the heap's
// lock; `Region` is `!Send` only because it holds raw pointers into that memory.
unsafe impl Send for State {}

struct Heap {
    state: spin::Mutex<State>,
}

fn page_round(n: u64) -> Option<u64> {
    n.checked_add(types::PAGE_SIZE - 1).map(|n| n & !(types::PAGE_SIZE - 1))
}

impl State {
    fn alloc_in_regions(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.regions
            .iter_mut()
            .flatten()
            .find_map(|m| m.region.allocate_first_fit(layout).ok())
    }

    /// Maps a region with room for `layout`; false if the quota (or the slot table) is spent.
    fn grow(&mut self, layout: Layout) -> bool {
        let Some(free) = self.regions.iter().position(Option::is_none) else {
            return false;
        };
        // Room for the request, its alignment and the allocator's bookkeeping.
        let need = layout.size() as u64 + layout.align() as u64 + 64;
        let Some(size) = page_round(need.max(self.next_size)) else {
            return false;
        };
        let quota = Quota::from_slot(self.quota_slot);
        let Ok(base) = boot::vspace().alloc(&quota, size, MapFlags::R | MapFlags::W) else {
            return false;
        };
        let mut region = Region::empty();
        // SAFETY: `base..base+size` was just mapped read-write for this process and nothing
        // else uses it; the region owns it until it is unmapped in `release`.
        unsafe { region.init(base as *mut u8, size as usize) };
        self.regions[free] = Some(Mapped { region, base, size });
        self.next_size = (self.next_size * 2).min(MAX_GROWTH);
        true
    }

    /// Unmaps empty regions, keeping one as a spare.
    fn release(&mut self) {
        let mut spare = false;
        for slot in self.regions.iter_mut() {
            let Some(m) = slot else { continue };
            if m.region.used() != 0 {
                continue;
            }
            if !spare {
                spare = true;
                continue;
            }
            if boot::vspace().unmap(m.base, m.size).is_ok() {
                *slot = None;
            }
        }
    }
}

// SAFETY: every allocation comes from one region's first-fit allocator, which hands out
// disjoint, suitably aligned blocks inside memory mapped for this process; a block is returned
// to the region that contains it; all of it happens under the heap's lock.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut s = self.state.lock();
        if let Some(p) = s.alloc_in_regions(layout) {
            return p.as_ptr();
        }
        if !s.grow(layout) {
            return core::ptr::null_mut();
        }
        s.alloc_in_regions(layout)
            .map_or(core::ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut s = self.state.lock();
        let addr = ptr as u64;
        let Some(m) = s
            .regions
            .iter_mut()
            .flatten()
            .find(|m| (m.base..m.base + m.size).contains(&addr))
        else {
            return;
        };
        let Some(p) = NonNull::new(ptr) else { return };
        // SAFETY: `ptr` was returned by `alloc` with this layout (the caller's guarantee) and
        // lies in this region, so this region's allocator handed it out.
        unsafe { m.region.deallocate(p, layout) };
        if m.region.used() == 0 {
            s.release();
        }
    }
}

#[global_allocator]
static HEAP: Heap = Heap {
    state: spin::Mutex::new(State {
        regions: [const { None }; MAX_REGIONS],
        next_size: FIRST_REGION,
        quota_slot: types::BOOT_SLOT_QUOTA,
    }),
};

/// Charges the heap's future growth to `quota` (by default the quota in the boot slot), which
/// bounds how large it can grow. The capability must stay in its slot while the heap uses it.
pub fn use_quota(quota: &Quota) {
    HEAP.state.lock().quota_slot = quota.0;
}

/// Bytes of the heap in use now.
pub fn used() -> usize {
    HEAP.state.lock().regions.iter().flatten().map(|m| m.region.used()).sum()
}

/// Bytes of memory the heap has mapped now (its regions).
pub fn reserved() -> u64 {
    HEAP.state.lock().regions.iter().flatten().map(|m| m.size).sum()
}
