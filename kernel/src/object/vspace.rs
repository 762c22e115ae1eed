//! VSpace: an address space. The user half has its own page tables; the kernel half is shared.
//! Every mapped page belongs to a VMO the mapping keeps alive (anonymous memory from `alloc` is
//! a VMO of its own). Page tables are charged to the quota the VSpace was created with; a page
//! table left empty by an unmap is freed at once, so a long map/unmap loop runs in constant
//! memory.
//!
//! Which VMO each page belongs to is kept beside the page tables, not in a separate map: every
//! user page table has a *shadow* frame of 512 words. The shadow of a leaf table holds, at each
//! index, the VMO of the page mapped there (a counted `Arc` as a raw pointer); the shadow of a
//! higher table holds the shadows of the tables below it. A walk down the tables carries the
//! shadow along, so mapping, unmapping and finding a page's VMO cost a table walk and no
//! allocation (seL4 keeps the same information in its frame capabilities).
//!
//! Unmapping removes entries under the VSpace's lock, releases it, makes every CPU that has
//! the space loaded flush (`tlb::shootdown`), and only then drops the pages' VMOs and frees the
//! emptied tables, in batches so that no unmap needs memory proportional to its length.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::{Mutex, MutexGuard};

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

struct Inner {
    /// Bytes charged to the quota for page tables and their shadows, given back as they go.
    charged: u64,
    /// Where `alloc` looks for free space next.
    alloc_hint: u64,
    /// Emptied page tables and shadows kept for the next map (zero, shot down, still charged),
    /// so that a map/unmap loop does not allocate and zero frames every time.
    spare: [u64; SPARE_TABLES],
    spares: usize,
}

/// Emptied frames an address space keeps for reuse: a table and its shadow at each of the
/// three levels a map may have to create.
const SPARE_TABLES: usize = 6;

/// Spare tables of all address spaces (frames held for reuse, for exact memory statistics).
static SPARES: AtomicU64 = AtomicU64::new(0);

/// Frames all address spaces keep as spare page tables.
pub fn spare_frames() -> u64 {
    SPARES.load(Ordering::Relaxed)
}

pub struct VSpace {
    pml4: u64,
    /// The shadow of `pml4` (see the module header); only its user half is used.
    shadow: u64,
    /// CPUs that have this address space loaded (bit per CPU index): the TLB-shootdown targets.
    active: AtomicU64,
    quota: Option<Arc<Quota>>,
    inner: Mutex<Inner>,
    _charge: Option<Charge>,
}

/// Anonymous allocations go here (below the initial stack, above program images).
const ALLOC_BASE: u64 = 0x0000_1000_0000_0000;
const ALLOC_END: u64 = 0x0000_7000_0000_0000;

/// In a table entry that points to a lower table, these ignored bits count the present
/// entries of that table, so an unmap knows at once when a table has emptied.
const COUNT_SHIFT: u32 = 52;
const COUNT_MASK: u64 = 0x3FF << COUNT_SHIFT;

const P: u64 = 1;
const W: u64 = 1 << 1;
const U: u64 = 1 << 2;
const HUGE: u64 = 1 << 7;
const NX: u64 = 1 << 63;
const ADDR: u64 = 0x000F_FFFF_FFFF_F000;

/// Index of `va`'s entry in its table at `level` (1: page table, 4: PML4).
const fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * (level - 1))) & 511) as usize
}

/// Bytes one entry covers at `level`.
const fn span(level: u32) -> u64 {
    1 << (12 + 9 * (level - 1))
}

fn entry(table: u64, i: usize) -> *mut u64 {
    (phys_to_virt(table) + 8 * i as u64) as *mut u64
}

fn read(table: u64, i: usize) -> u64 {
    // SAFETY: `table` is a page-table (or shadow) frame of a live address space (or the
    // kernel's), reached through the direct map; `i` < 512. Callers hold the address space's
    // lock.
    unsafe { entry(table, i).read_volatile() }
}

fn write(table: u64, i: usize, v: u64) {
    // SAFETY: as in `read`; the lock serialises every change to these tables.
    unsafe { entry(table, i).write_volatile(v) }
}

fn invlpg(va: u64) {
    x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(va));
}

/// Adds `by` to the count of present entries kept in table entry `(table, i)`; returns the new
/// count.
fn bump((table, i): (u64, usize), by: i64) -> u64 {
    let e = read(table, i);
    let n = (((e & COUNT_MASK) >> COUNT_SHIFT) as i64 + by) as u64;
    write(table, i, (e & !COUNT_MASK) | ((n << COUNT_SHIFT) & COUNT_MASK));
    n
}

/// The VMO reference a leaf shadow entry holds, taken out of it.
///
/// # Safety
/// `raw` must be a non-zero leaf shadow entry that its caller has just cleared (under the
/// VSpace's lock), so the count it held is handed over exactly once.
unsafe fn take_vmo(raw: u64) -> Arc<Vmo> {
    // SAFETY: leaf shadow entries are only ever written with `Arc::into_raw` of a VMO
    // (`map_one`), each holding one count, which the caller hands over.
    unsafe { Arc::from_raw(raw as *const Vmo) }
}

/// Page tables unlinked by an unmap, to reuse or free after the shootdown, threaded through
/// their own first word (an emptied table is otherwise all zero).
#[derive(Default)]
struct FreeList(u64);

impl FreeList {
    fn push(&mut self, pa: u64) {
        // SAFETY: `pa` is a page-table frame just unlinked from its tables; nothing else uses it,
        // and the direct map covers it.
        unsafe { (phys_to_virt(pa) as *mut u64).write(self.0) };
        self.0 = pa;
    }

    /// The next table, its link word zeroed again.
    fn pop(&mut self) -> Option<u64> {
        if self.0 == 0 {
            return None;
        }
        let t = self.0;
        // SAFETY: as in `push`: the first word links to the next frame; it is cleared so the
        // table is all zero again.
        unsafe {
            let w = phys_to_virt(t) as *mut u64;
            self.0 = w.read();
            w.write(0);
        }
        Some(t)
    }
}

/// Where a walk down to a leaf entry went: at each level, the table, its shadow and the index.
struct Walk {
    path: [(u64, u64, usize); 5],
}

impl Walk {
    /// The leaf table, its shadow and `va`'s index there.
    fn leaf(&self) -> (u64, u64, usize) {
        self.path[1]
    }
}

impl VSpace {
    /// A new address space with an empty user half and the shared kernel half.
    pub fn new(quota: Option<Arc<Quota>>, charge: Option<Charge>) -> Result<VSpace, Status> {
        let pml4 = frame::alloc().ok_or(Status::NO_MEMORY)?;
        let Some(shadow) = frame::alloc() else {
            frame::free(pml4);
            return Err(Status::NO_MEMORY);
        };
        let kernel = paging::kernel_pml4();
        for i in 256..512 {
            write(pml4, i, read(kernel, i));
        }
        let inner = Inner {
            charged: 0,
            alloc_hint: ALLOC_BASE,
            spare: [0; SPARE_TABLES],
            spares: 0,
        };
        Ok(VSpace {
            pml4,
            shadow,
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

    fn charge(&self, inner: &mut Inner, bytes: u64) -> Result<(), Status> {
        if let Some(q) = &self.quota {
            q.charge_raw(bytes)?;
            inner.charged += bytes;
        }
        Ok(())
    }

    fn refund(&self, inner: &mut Inner, bytes: u64) {
        if let Some(q) = &self.quota {
            q.refund(bytes);
            inner.charged = inner.charged.saturating_sub(bytes);
        }
    }

    /// A zeroed frame for a new table or shadow: a spare one, or a new frame (charged).
    fn new_table(&self, inner: &mut Inner) -> Result<u64, Status> {
        if inner.spares > 0 {
            inner.spares -= 1;
            SPARES.fetch_sub(1, Ordering::Relaxed);
            return Ok(inner.spare[inner.spares]);
        }
        self.charge(inner, cost::PAGE_TABLE)?;
        frame::alloc().ok_or_else(|| {
            self.refund(inner, cost::PAGE_TABLE);
            Status::NO_MEMORY
        })
    }

    /// Takes back a zeroed table: kept as a spare while there is room, freed (and refunded)
    /// beyond that.
    fn put_back(&self, inner: &mut Inner, t: u64) {
        if inner.spares < SPARE_TABLES {
            inner.spare[inner.spares] = t;
            inner.spares += 1;
            SPARES.fetch_add(1, Ordering::Relaxed);
        } else {
            frame::free(t);
            self.refund(inner, cost::PAGE_TABLE);
        }
    }

    /// Takes back tables an unmap emptied, after the shootdown.
    fn recycle(&self, inner: &mut Inner, mut tables: FreeList) {
        while let Some(t) = tables.pop() {
            self.put_back(inner, t);
        }
    }

    /// Walks down to `va`'s leaf entry; `None` if a table on the way is missing.
    fn walk(&self, va: u64) -> Option<Walk> {
        let mut w = Walk { path: [(0, 0, 0); 5] };
        let (mut table, mut shadow) = (self.pml4, self.shadow);
        for level in [4u32, 3, 2] {
            let i = index(va, level);
            let e = read(table, i);
            if e & P == 0 || e & HUGE != 0 {
                return None;
            }
            w.path[level as usize] = (table, shadow, i);
            (table, shadow) = (e & ADDR, read(shadow, i));
        }
        w.path[1] = (table, shadow, index(va, 1));
        Some(w)
    }

    /// True if a page is mapped at `va`.
    fn is_mapped(&self, va: u64) -> bool {
        self.walk(va).is_some_and(|w| {
            let (t, _, i) = w.leaf();
            read(t, i) & P != 0
        })
    }

    /// Maps one page of `vmo`, making the tables (and their shadows) on the way. The page must
    /// be free. The mapping holds a count of `vmo`.
    fn map_one(&self, inner: &mut Inner, va: u64, pa: u64, vmo: &Arc<Vmo>, access: Access) -> Result<(), Status> {
        // The entries on the way down: path[l] is the entry in the level-`l` table.
        let mut path = [(0u64, 0usize); 5];
        let (mut table, mut shadow) = (self.pml4, self.shadow);
        for level in [4u32, 3, 2] {
            let i = index(va, level);
            let e = read(table, i);
            path[level as usize] = (table, i);
            (table, shadow) = if e & P != 0 {
                (e & ADDR, read(shadow, i))
            } else {
                let t = self.new_table(inner)?;
                let s = match self.new_table(inner) {
                    Ok(s) => s,
                    Err(e) => {
                        self.put_back(inner, t);
                        return Err(e);
                    }
                };
                write(table, i, t | P | W | U);
                write(shadow, i, s);
                // Counted in the entry above as soon as it is linked: if a lower level then
                // fails, the new table stays, empty and counted, so an unmap that empties its
                // parent does not take the parent for an empty one (which would put a table
                // still linking this one on the spare list). Such a table goes when its
                // parent empties or with the address space.
                if level < 4 {
                    bump(path[level as usize + 1], 1);
                }
                (t, s)
            };
        }
        let mut flags = P | U;
        if access.write {
            flags |= W;
        }
        if !access.exec {
            flags |= NX;
        }
        let i = index(va, 1);
        write(table, i, pa | flags);
        write(shadow, i, Arc::into_raw(vmo.clone()) as u64);
        // The leaf table gained an entry (new tables were counted as they were linked).
        bump(path[2], 1);
        Ok(())
    }

    /// Removes one page's entry (flushing this CPU), and unlinks the tables (and shadows) it
    /// leaves empty onto `tables`. The page's VMO reference comes back, to be dropped after the
    /// shootdown; `None` if nothing was mapped at `va`.
    fn unmap_one(&self, va: u64, tables: &mut FreeList) -> Option<Arc<Vmo>> {
        let w = self.walk(va)?;
        let (table, shadow, i) = w.leaf();
        if read(table, i) & P == 0 {
            return None;
        }
        let raw = read(shadow, i);
        write(table, i, 0);
        write(shadow, i, 0);
        invlpg(va);
        // Free each table that emptied, from the bottom up, with its shadow.
        for level in [2usize, 3, 4] {
            let (t, s, i) = w.path[level];
            if bump((t, i), -1) != 0 {
                break;
            }
            tables.push(read(t, i) & ADDR);
            tables.push(read(s, i));
            write(t, i, 0);
            write(s, i, 0);
        }
        // SAFETY: `raw` is the leaf shadow entry of a present page, cleared just now under the
        // lock the caller holds.
        Some(unsafe { take_vmo(raw) })
    }

    /// Maps pages `first..first+pages` of `vmo` at `va`, all free (checked by the caller under
    /// the lock it hands over). On failure the pages placed so far are taken back: another
    /// thread of this space may already have touched them on another CPU, so they are shot
    /// down like any unmap, after the lock is released.
    fn map_pages(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        vmo: &Arc<Vmo>,
        va: u64,
        first: u64,
        pages: u64,
        access: Access,
    ) -> Result<(), Status> {
        for i in 0..pages {
            let step = vmo
                .frame(first + i)
                .ok_or(Status::INVALID_ARGS)
                .and_then(|pa| self.map_one(&mut inner, va + i * PAGE, pa, vmo, access));
            if let Err(e) = step {
                let mut tables = FreeList::default();
                for j in 0..i {
                    // The caller holds the VMO, so dropping the reference frees no frame.
                    drop(self.unmap_one(va + j * PAGE, &mut tables));
                }
                drop(inner);
                let me = crate::arch::x86_64::gdt::this_cpu().index as usize;
                crate::arch::x86_64::tlb::shootdown(me, self.active.load(Ordering::Acquire));
                self.recycle(&mut self.inner.lock(), tables);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Maps a new zeroed page at `va` (for the kernel's own loading of init); returns its frame.
    pub fn map_new_page(&self, va: u64, access: Access) -> Result<u64, Status> {
        let vmo = Arc::new(Vmo::new(PAGE, None)?);
        let inner = self.inner.lock();
        if self.is_mapped(va) {
            return Err(Status::ALREADY_MAPPED);
        }
        self.map_pages(inner, &vmo, va, 0, 1, access)?;
        vmo.frame(0).ok_or(Status::NO_MEMORY)
    }

    /// Maps `len` bytes of `vmo` from `offset` at `va`. All arguments are page aligned and
    /// checked by the caller; every page must be free.
    pub fn map_vmo(&self, vmo: &Arc<Vmo>, va: u64, offset: u64, len: u64, access: Access) -> Result<(), Status> {
        let inner = self.inner.lock();
        if self.last_mapped(va, va + len).is_some() {
            return Err(Status::ALREADY_MAPPED);
        }
        self.map_pages(inner, vmo, va, offset / PAGE, len / PAGE, access)
    }

    /// The VMO and frame behind the page at user address `va`, if it is mapped.
    pub fn page_at(&self, va: u64) -> Option<(Arc<Vmo>, u64)> {
        let _held = self.inner.lock();
        let w = self.walk(va)?;
        let (table, shadow, i) = w.leaf();
        let e = read(table, i);
        if e & P == 0 {
            return None;
        }
        let raw = read(shadow, i) as *const Vmo;
        // SAFETY: the entry holds a count of the VMO (`map_one`), which the lock held here keeps
        // from being taken; one more count is made for the reference returned.
        let vmo = unsafe {
            Arc::increment_strong_count(raw);
            Arc::from_raw(raw)
        };
        Some((vmo, e & ADDR))
    }

    /// The highest mapped page in `lo..hi` (page aligned, user half), found by looking only at
    /// the tables that exist.
    fn last_mapped(&self, lo: u64, hi: u64) -> Option<u64> {
        fn scan(table: u64, level: u32, base: u64, lo: u64, hi: u64) -> Option<u64> {
            let sp = span(level);
            let first = (lo.max(base) - base) / sp;
            let last = (hi.min(base + 512 * sp) - 1 - base) / sp;
            for i in (first..=last).rev() {
                let e = read(table, i as usize);
                // Bit 7 is PAT, not a large page, in a leaf entry.
                if e & P == 0 || (level > 1 && e & HUGE != 0) {
                    continue;
                }
                let at = base + i * sp;
                if level == 1 {
                    return Some(at);
                }
                if let Some(va) = scan(e & ADDR, level - 1, at, lo, hi) {
                    return Some(va);
                }
            }
            None
        }
        if lo >= hi {
            return None;
        }
        scan(self.pml4, 4, 0, lo, hi)
    }

    /// Unmaps `len` bytes at `va` (page aligned); every page must be mapped.
    pub fn unmap(&self, va: u64, len: u64) -> Result<(), Status> {
        const BATCH: usize = 32;
        let pages = len / PAGE;
        let me = crate::arch::x86_64::gdt::this_cpu().index as usize;
        if pages == 1 {
            // One page: no batch to set up.
            let mut tables = FreeList::default();
            let gone = {
                let _held = self.inner.lock();
                self.unmap_one(va, &mut tables).ok_or(Status::NOT_MAPPED)?
            };
            crate::arch::x86_64::tlb::shootdown(me, self.active.load(Ordering::Acquire));
            drop(gone);
            if tables.0 != 0 {
                self.recycle(&mut self.inner.lock(), tables);
            }
            return Ok(());
        }
        {
            let _held = self.inner.lock();
            if pages == 0 || !(0..pages).all(|i| self.is_mapped(va + i * PAGE)) {
                return Err(Status::NOT_MAPPED);
            }
        }
        let mut i = 0;
        while i < pages {
            let mut gone: [Option<Arc<Vmo>>; BATCH] = Default::default();
            let mut tables = FreeList::default();
            {
                let _held = self.inner.lock();
                for g in gone.iter_mut() {
                    if i == pages {
                        break;
                    }
                    *g = self.unmap_one(va + i * PAGE, &mut tables);
                    i += 1;
                }
            }
            // Other CPUs may still cache the entries: flush them before a page or table is
            // reused.
            crate::arch::x86_64::tlb::shootdown(me, self.active.load(Ordering::Acquire));
            drop(gone);
            self.recycle(&mut self.inner.lock(), tables);
        }
        Ok(())
    }

    /// Maps `len` bytes of new zeroed memory, charged to `quota`, at a free address.
    pub fn alloc(&self, quota: &Arc<Quota>, len: u64, access: Access) -> Result<u64, Status> {
        let pages = len / PAGE;
        let charge = quota.charge(cost::VMO_BASE + cost::VMO_PAGE * pages)?;
        let vmo = Arc::new(Vmo::new(len, Some(charge))?);
        let mut inner = self.inner.lock();
        let va = self.find_free(&inner, len).ok_or(Status::NO_MEMORY)?;
        // Claimed before mapping, so a concurrent alloc looks further on.
        inner.alloc_hint = va + len;
        self.map_pages(inner, &vmo, va, 0, pages, access)?;
        Ok(va)
    }

    /// A free range of `len` bytes in the allocation area, from the hint on, wrapping once.
    fn find_free(&self, inner: &Inner, len: u64) -> Option<u64> {
        let mut va = inner.alloc_hint;
        let mut wrapped = false;
        loop {
            if va + len > ALLOC_END {
                if wrapped {
                    return None;
                }
                wrapped = true;
                va = ALLOC_BASE;
            }
            match self.last_mapped(va, va + len) {
                None => return Some(va),
                Some(used) => va = used + PAGE,
            }
            if wrapped && va >= inner.alloc_hint {
                return None;
            }
        }
    }
}

/// Frees a page table and its shadow, and the tables below them; at the leaves, drops the
/// mappings' VMO references.
fn free_table(pa: u64, shadow: u64, level: u32) {
    for i in 0..512 {
        let e = read(pa, i);
        // Bit 7 is PAT, not a large page, in a leaf entry.
        if e & P == 0 || (level > 1 && e & HUGE != 0) {
            continue;
        }
        if level > 1 {
            free_table(e & ADDR, read(shadow, i), level - 1);
        } else {
            // SAFETY: the entry is present, so its shadow entry holds a count; the address
            // space is being destroyed and nothing else reads its tables.
            drop(unsafe { take_vmo(read(shadow, i)) });
        }
    }
    frame::free(pa);
    frame::free(shadow);
}

impl Drop for VSpace {
    fn drop(&mut self) {
        // No CPU runs in this address space any more: the scheduler switches CR3 away before
        // the last thread using it lets go of it.
        let inner = self.inner.get_mut();
        for &t in &inner.spare[..inner.spares] {
            frame::free(t);
        }
        SPARES.fetch_sub(inner.spares as u64, Ordering::Relaxed);
        for i in 0..256 {
            let e = read(self.pml4, i);
            if e & P != 0 {
                free_table(e & ADDR, read(self.shadow, i), 3);
            }
        }
        frame::free(self.pml4);
        frame::free(self.shadow);
        let charged = core::mem::take(&mut inner.charged);
        if let Some(q) = &self.quota {
            q.refund(charged);
        }
    }
}

// ---- syscalls ------------------------------------------------------------------------------

use crate::abi::types::{MapFlags, Rights};
use crate::abi::VSpaceSyscalls;
use crate::object::{NewCap, Object};
use crate::syscall::{Ctx, C};

/// The access `flags` ask for; writable and executable together are refused (W^X).
fn user_access(flags: MapFlags) -> Result<Access, Status> {
    let write = flags.contains(MapFlags::W);
    let exec = flags.contains(MapFlags::X);
    if write && exec {
        return Err(Status::INVALID_ARGS);
    }
    Ok(Access { write, exec })
}

/// A page-aligned, non-empty user range.
fn user_pages(va: u64, len: u64) -> Result<(), Status> {
    if len == 0 || !va.is_multiple_of(PAGE) || !len.is_multiple_of(PAGE) || !anvil_kcore::uaccess::user_range(va, len) {
        return Err(Status::INVALID_ARGS);
    }
    Ok(())
}

impl VSpaceSyscalls for Ctx<'_> {
    fn vspace_create(&mut self, quota: C<'_, Arc<Quota>>) -> Result<NewCap, Status> {
        let charge = quota.charge(cost::VSPACE)?;
        let vs = VSpace::new(Some(quota.object.clone()), Some(charge))?;
        Ok(NewCap::made_with(quota.cap, Object::VSpace(Arc::new(vs))))
    }

    fn vspace_map(
        &mut self,
        v: C<'_, Arc<VSpace>>,
        m: C<'_, Arc<Vmo>>,
        va: u64,
        off: u64,
        len: u64,
        f: MapFlags,
    ) -> Result<(), Status> {
        let access = user_access(f)?;
        let need = [
            (MapFlags::R, Rights::READ),
            (MapFlags::W, Rights::WRITE),
            (MapFlags::X, Rights::EXEC),
        ];
        if need
            .iter()
            .any(|&(flag, right)| f.contains(flag) && !m.rights.contains(right))
        {
            return Err(Status::ACCESS_DENIED);
        }
        user_pages(va, len)?;
        if !off.is_multiple_of(PAGE) || off.checked_add(len).is_none_or(|e| e > m.size()) {
            return Err(Status::INVALID_ARGS);
        }
        v.map_vmo(m.object, va, off, len, access)
    }

    fn vspace_unmap(&mut self, v: C<'_, Arc<VSpace>>, va: u64, len: u64) -> Result<(), Status> {
        user_pages(va, len)?;
        v.unmap(va, len)
    }

    fn vspace_alloc(
        &mut self,
        v: C<'_, Arc<VSpace>>,
        q: C<'_, Arc<Quota>>,
        len: u64,
        f: MapFlags,
    ) -> Result<u64, Status> {
        let access = user_access(f)?;
        if len == 0 || !len.is_multiple_of(PAGE) || len > super::vmo::MAX_VMO {
            return Err(Status::INVALID_ARGS);
        }
        v.alloc(q.object, len, access)
    }
}
