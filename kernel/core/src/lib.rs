//! Hardware-independent kernel logic: boot-info and ACPI parsing, physical-memory planning,
//! ELF checks, user-range checks. Compiled into the kernel and, for tests, for the host.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod acpi;
pub mod bootinfo;
pub mod cap;
pub mod cmdline;
pub mod elf;
pub mod memmap;
pub mod runqueue;
pub mod uaccess;

/// Reads physical memory: `read(paddr, len)` returns the bytes, or `None` if the range is
/// not readable. The kernel implements it over its direct map; tests over a byte buffer.
pub trait PhysRead {
    fn read(&self, paddr: u64, len: usize) -> Option<&[u8]>;

    fn u8_at(&self, paddr: u64) -> Option<u8> {
        self.read(paddr, 1).map(|b| b[0])
    }
    fn u16_at(&self, paddr: u64) -> Option<u16> {
        self.read(paddr, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32_at(&self, paddr: u64) -> Option<u32> {
        self.read(paddr, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64_at(&self, paddr: u64) -> Option<u64> {
        self.read(paddr, 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    }
}

/// Physical memory as a byte buffer starting at `base`, for tests.
pub struct Buffer<'a> {
    pub base: u64,
    pub bytes: &'a [u8],
}

impl PhysRead for Buffer<'_> {
    fn read(&self, paddr: u64, len: usize) -> Option<&[u8]> {
        let off = usize::try_from(paddr.checked_sub(self.base)?).ok()?;
        self.bytes.get(off..off.checked_add(len)?)
    }
}
