//! VMO: a virtual memory object, a set of physical pages (zeroed at creation) that can be
//! written through a syscall and mapped into address spaces. Anonymous memory that
//! `VSpace.alloc` maps is a VMO too, so every mapped page belongs to a VMO that the mapping
//! keeps alive.

use alloc::vec::Vec;

use super::quota::Charge;
use crate::abi::types::Status;
use crate::arch::x86_64::usercopy;
use crate::mm::{frame, phys_to_virt, PAGE};
use crate::uaccess::UserSlice;

pub struct Vmo {
    frames: Vec<u64>,
    size: u64,
    /// False for a VMO over memory the kernel does not own (the initrd): not freed on drop.
    owned: bool,
    _charge: Option<Charge>,
}

/// VMOs larger than this are refused: 1 GiB.
pub const MAX_VMO: u64 = 1 << 30;

impl Vmo {
    pub fn new(size: u64, charge: Option<Charge>) -> Result<Vmo, Status> {
        if size == 0 || size > MAX_VMO {
            return Err(Status::INVALID_ARGS);
        }
        let pages = size.div_ceil(PAGE);
        let mut frames = Vec::new();
        frames
            .try_reserve_exact(pages as usize)
            .map_err(|_| Status::NO_MEMORY)?;
        for _ in 0..pages {
            match frame::alloc() {
                Some(pa) => frames.push(pa),
                None => {
                    for pa in frames {
                        frame::free(pa);
                    }
                    return Err(Status::NO_MEMORY);
                }
            }
        }
        Ok(Vmo {
            frames,
            size: pages * PAGE,
            owned: true,
            _charge: charge,
        })
    }

    /// A VMO over existing physical memory (page aligned), which it does not free.
    pub fn from_phys(base: u64, len: u64) -> Vmo {
        let pages = len.div_ceil(PAGE);
        Vmo {
            frames: (0..pages).map(|i| base + i * PAGE).collect(),
            size: pages * PAGE,
            owned: false,
            _charge: None,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn committed(&self) -> u64 {
        self.frames.len() as u64
    }

    /// Physical frame of page `index`.
    pub fn frame(&self, index: u64) -> Option<u64> {
        self.frames.get(index as usize).copied()
    }

    /// Copies `data` from user memory to `offset`, page by page, with no kernel buffer.
    pub fn write_user(&self, offset: u64, data: &UserSlice) -> Result<(), Status> {
        let len = data.len() as u64;
        let end = offset.checked_add(len).ok_or(Status::INVALID_ARGS)?;
        if end > self.size || !self.owned {
            return Err(Status::INVALID_ARGS);
        }
        let mut done = 0u64;
        while done < len {
            let pos = offset + done;
            let (page, within) = (pos / PAGE, pos % PAGE);
            let n = (PAGE - within).min(len - done);
            let dst = (phys_to_virt(self.frames[page as usize]) + within) as *mut u8;
            let src = data.sub(done as usize, n as usize);
            // SAFETY: the frame belongs to this VMO and is mapped by the direct map; `within +
            // n` stays inside the page; the source is checked user memory, copied with fault
            // recovery. User mappings of the page may race, which is benign for bytes.
            if !unsafe { usercopy::copy(dst, src.ptr() as *const u8, n as usize) } {
                return Err(Status::BAD_ADDRESS);
            }
            done += n;
        }
        Ok(())
    }
}

impl Drop for Vmo {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        for &pa in &self.frames {
            frame::free(pa);
        }
    }
}

// ---- syscalls ------------------------------------------------------------------------------

use alloc::sync::Arc;

use super::quota::{cost, Quota};
use crate::abi::VmoSyscalls;
use crate::object::{NewCap, Object};
use crate::syscall::{Ctx, C};

impl VmoSyscalls for Ctx<'_> {
    fn vmo_create(&mut self, quota: C<'_, Arc<Quota>>, size: u64) -> Result<NewCap, Status> {
        if size == 0 || size > MAX_VMO {
            return Err(Status::INVALID_ARGS);
        }
        let charge = quota.charge(cost::VMO_BASE + cost::VMO_PAGE * size.div_ceil(PAGE))?;
        Ok(NewCap::made_with(
            quota.cap,
            Object::Vmo(Arc::new(Vmo::new(size, Some(charge))?)),
        ))
    }

    fn vmo_size(&mut self, vmo: C<'_, Arc<Vmo>>) -> Result<u64, Status> {
        Ok(vmo.size())
    }

    fn vmo_write(&mut self, vmo: C<'_, Arc<Vmo>>, off: u64, data: UserSlice) -> Result<(), Status> {
        vmo.write_user(off, &data)
    }

    fn vmo_committed(&mut self, vmo: C<'_, Arc<Vmo>>) -> Result<u64, Status> {
        Ok(vmo.committed())
    }
}
