//! The kernel's page tables: the direct map of all RAM (2 MiB pages, NX), the kernel image
//! with per-section permissions (text RX, rodata R, data RW+NX), and the kernel-stack area.
//! Every address space shares the kernel half (PML4 entries 256..512) by pointing at the
//! same lower-level tables, which are all created here at boot.

use core::ops::{Deref, DerefMut};

use spin::{Mutex, MutexGuard};
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as F, PhysFrame, Size2MiB, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

use super::{frame, phys_to_virt, KERNEL_VMA, PAGE, PHYS_OFFSET};

extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
    static boot_stack_guard: u8;
}

fn sym(s: *const u8) -> u64 {
    s as u64
}

/// Kernel image bounds: (start, text end, rodata end, end) as virtual addresses.
pub fn image_bounds() -> (u64, u64, u64, u64) {
    (
        sym(&raw const __kernel_start),
        sym(&raw const __text_end),
        sym(&raw const __rodata_end),
        sym(&raw const __kernel_end),
    )
}

/// Physical range the kernel image occupies.
pub fn image_phys() -> (u64, u64) {
    let (s, _, _, e) = image_bounds();
    (s - KERNEL_VMA, e - KERNEL_VMA)
}

static KERNEL_PML4: Mutex<u64> = Mutex::new(0);

/// A locked view of the kernel page tables.
pub struct KernelTables {
    _guard: MutexGuard<'static, u64>,
    table: OffsetPageTable<'static>,
}

impl Deref for KernelTables {
    type Target = OffsetPageTable<'static>;
    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

impl DerefMut for KernelTables {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.table
    }
}

/// # Safety
/// `pml4` must be the physical address of a valid PML4 whose tables are all reachable through
/// the direct map, and the caller must hold whatever lock serialises changes to it.
pub unsafe fn table_at(pml4: u64) -> OffsetPageTable<'static> {
    let t = phys_to_virt(pml4) as *mut PageTable;
    // SAFETY: guaranteed by the caller; the direct map makes every table frame addressable.
    unsafe { OffsetPageTable::new(&mut *t, VirtAddr::new(PHYS_OFFSET)) }
}

pub fn kernel_tables() -> KernelTables {
    let guard = KERNEL_PML4.lock();
    // SAFETY: the guard serialises all changes to the kernel tables; *guard is the kernel PML4.
    let table = unsafe { table_at(*guard) };
    KernelTables { _guard: guard, table }
}

/// Physical address of the kernel PML4.
pub fn kernel_pml4() -> u64 {
    *KERNEL_PML4.lock()
}

/// Builds the kernel's page tables and switches to them. `ram_top` is the end of RAM.
pub fn init(ram_top: u64, mmio: &[u64]) {
    let Some(pml4) = frame::alloc() else {
        panic!("no memory for the kernel page table")
    };
    // SAFETY: the frame is new and zeroed, and nothing else uses it yet; the boot tables map
    // the first 4 GiB at PHYS_OFFSET, where the allocator's frames lie this early.
    let mut t = unsafe { table_at(pml4) };
    let mut fa = frame::Global;
    let top = ram_top.max(4 << 30).div_ceil(2 << 20) * (2 << 20);
    let mut pa = 0;
    while pa < top {
        let uncached = mmio.iter().any(|&m| m & !((2 << 20) - 1) == pa);
        let mut flags = F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::GLOBAL;
        if uncached {
            flags |= F::NO_CACHE | F::WRITE_THROUGH;
        }
        let page = Page::<Size2MiB>::containing_address(VirtAddr::new(PHYS_OFFSET + pa));
        let f = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(pa));
        // SAFETY: the new tables are not active yet; the direct map aliases no kernel data
        // mapping with different attributes that the kernel relies on.
        match unsafe { t.map_to(page, f, flags, &mut fa) } {
            Ok(fl) => fl.ignore(),
            Err(e) => panic!("direct map at {pa:#x}: {e:?}"),
        }
        pa += 2 << 20;
    }
    let (start, text_end, rodata_end, end) = image_bounds();
    let guard = sym(&raw const boot_stack_guard);
    let mut va = start;
    while va < end {
        if va != guard {
            let flags = if va < text_end {
                F::PRESENT | F::GLOBAL
            } else if va < rodata_end {
                F::PRESENT | F::GLOBAL | F::NO_EXECUTE
            } else {
                F::PRESENT | F::GLOBAL | F::NO_EXECUTE | F::WRITABLE
            };
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
            let f = PhysFrame::<Size4KiB>::containing_address(PhysAddr::new(va - KERNEL_VMA));
            // SAFETY: maps the kernel image to where it already lives, with narrower rights.
            match unsafe { t.map_to(page, f, flags, &mut fa) } {
                Ok(fl) => fl.ignore(),
                Err(e) => panic!("kernel map at {va:#x}: {e:?}"),
            }
        }
        va += PAGE;
    }
    // Pre-create every kernel-half PML4 entry, so address spaces made later share them all.
    let l4 = t.level_4_table_mut();
    for i in 256..512 {
        if l4[i].is_unused() {
            let Some(f) = frame::alloc() else {
                panic!("no memory for kernel page tables")
            };
            l4[i].set_addr(PhysAddr::new(f), F::PRESENT | F::WRITABLE);
        }
    }
    *KERNEL_PML4.lock() = pml4;
    // SAFETY: the new tables map everything the kernel touches from here on (image, direct
    // map, stacks are re-created in the stack area); the boot identity map is no longer needed.
    unsafe { Cr3::write(PhysFrame::containing_address(PhysAddr::new(pml4)), Cr3Flags::empty()) };
}

/// Switches to the address space whose PML4 is at `pml4`.
pub fn activate(pml4: u64) {
    let (cur, _) = Cr3::read();
    if cur.start_address().as_u64() != pml4 {
        // SAFETY: every address-space PML4 shares the kernel half built in `init`, so the
        // kernel's code, data and stacks stay mapped across the switch.
        unsafe { Cr3::write(PhysFrame::containing_address(PhysAddr::new(pml4)), Cr3Flags::empty()) };
    }
}
