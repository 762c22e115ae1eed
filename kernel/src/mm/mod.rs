//! Memory management: the physical frame allocator, the kernel heap, kernel stacks with
//! guard pages, and the kernel's own page tables.

pub mod frame;
pub mod heap;
pub mod kstack;
pub mod paging;

/// Where all physical memory is mapped (read-write, never executable).
pub const PHYS_OFFSET: u64 = 0xFFFF_8000_0000_0000;
/// Where the kernel image is linked (its physical load address is added to this).
pub const KERNEL_VMA: u64 = 0xFFFF_FFFF_8000_0000;
pub const PAGE: u64 = 4096;

/// The kernel's virtual address of physical address `pa`, through the direct map.
pub fn phys_to_virt(pa: u64) -> u64 {
    PHYS_OFFSET + pa
}

/// Reads physical memory through the direct map, for the boot-info and ACPI parsers.
pub struct DirectMap {
    /// Physical addresses below this are mapped.
    pub limit: u64,
}

impl anvil_kcore::PhysRead for DirectMap {
    fn read(&self, paddr: u64, len: usize) -> Option<&[u8]> {
        let end = paddr.checked_add(len as u64)?;
        if end > self.limit {
            return None;
        }
        // SAFETY: `[paddr, end)` lies below `limit`, which the current page tables map at
        // PHYS_OFFSET (the boot tables map 4 GiB; `paging::init` maps all RAM). The bytes are
        // only read, and firmware or loader tables are not written by anyone while parsed.
        Some(unsafe { core::slice::from_raw_parts(phys_to_virt(paddr) as *const u8, len) })
    }
}
