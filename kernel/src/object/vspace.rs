//! VSpace: an address space. The user half has its own page tables; the kernel half is shared.

use alloc::collections::BTreeMap;

use spin::Mutex;
use x86_64::structures::paging::{Mapper, Page, PageTableFlags as F, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

use crate::abi::types::Status;
use crate::mm::{frame, paging, phys_to_virt};

pub struct VSpace {
    pml4: u64,
    /// User pages this address space owns, by virtual address, with their frames.
    owned: Mutex<BTreeMap<u64, u64>>,
}

/// Access of a user mapping. Writable and executable together is refused before this point.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub write: bool,
    pub exec: bool,
}

impl VSpace {
    /// A new address space with an empty user half and the shared kernel half.
    pub fn new() -> Result<VSpace, Status> {
        let pml4 = frame::alloc().ok_or(Status::NO_MEMORY)?;
        let kernel = phys_to_virt(paging::kernel_pml4()) as *const u64;
        let new = phys_to_virt(pml4) as *mut u64;
        for i in 256..512 {
            // SAFETY: both are page-table frames reached through the direct map; the new one
            // is exclusively ours, and the kernel's upper entries never change after boot.
            unsafe { new.add(i).write(kernel.add(i).read()) };
        }
        Ok(VSpace {
            pml4,
            owned: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn pml4(&self) -> u64 {
        self.pml4
    }

    /// Maps a new zeroed page at `va` (page aligned, user half) and returns its frame.
    pub fn map_new_page(&self, va: u64, access: Access) -> Result<u64, Status> {
        let mut owned = self.owned.lock();
        if owned.contains_key(&va) {
            return Err(Status::ALREADY_MAPPED);
        }
        let pa = frame::alloc().ok_or(Status::NO_MEMORY)?;
        let mut flags = F::PRESENT | F::USER_ACCESSIBLE;
        if access.write {
            flags |= F::WRITABLE;
        }
        if !access.exec {
            flags |= F::NO_EXECUTE;
        }
        // SAFETY: `owned` serialises changes to this address space's tables, and `pml4` is ours.
        let mut t = unsafe { paging::table_at(self.pml4) };
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
        let f = PhysFrame::containing_address(PhysAddr::new(pa));
        let parent = F::PRESENT | F::WRITABLE | F::USER_ACCESSIBLE;
        // SAFETY: the frame is new, and the page is in the user half where no kernel data lives.
        match unsafe { t.map_to_with_table_flags(page, f, flags, parent, &mut frame::Global) } {
            Ok(fl) => fl.flush(),
            Err(_) => {
                frame::free(pa);
                return Err(Status::NO_MEMORY);
            }
        }
        owned.insert(va, pa);
        Ok(pa)
    }

    /// Frees the user half: every owned page and every user page table.
    fn teardown(&mut self) {
        for (_, pa) in core::mem::take(self.owned.get_mut()) {
            frame::free(pa);
        }
        let l4 = phys_to_virt(self.pml4) as *const u64;
        for i in 0..256 {
            // SAFETY: the PML4 is ours and nothing runs in this address space any more
            // (it is being dropped), so its user tables can be walked and freed.
            let e = unsafe { l4.add(i).read() };
            if e & 1 != 0 {
                free_table(e & 0x000F_FFFF_FFFF_F000, 3);
            }
        }
        frame::free(self.pml4);
    }
}

/// Frees a page table and the tables below it (not the mapped pages, which `owned` tracks).
fn free_table(pa: u64, level: u32) {
    if level > 1 {
        let t = phys_to_virt(pa) as *const u64;
        for i in 0..512 {
            // SAFETY: `pa` is a user page table of a dying address space, reached by the direct map.
            let e = unsafe { t.add(i).read() };
            if e & 1 != 0 && e & (1 << 7) == 0 {
                free_table(e & 0x000F_FFFF_FFFF_F000, level - 1);
            }
        }
    }
    frame::free(pa);
}

impl Drop for VSpace {
    fn drop(&mut self) {
        // The address space must not be active on any CPU; the scheduler switches away first.
        self.teardown();
    }
}
