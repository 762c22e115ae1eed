//! `UserSlice`: the one way the kernel touches user memory. Its constructor checks that the
//! range lies in the user half; its copies run with SMAP opened only for the copy and turn a
//! fault (an unmapped or read-only page) into `BAD_ADDRESS`.

use crate::abi::types::Status;
use crate::arch::x86_64::usercopy;

/// A range of user memory of the current address space, validated to lie in the user half.
#[derive(Clone, Copy, Debug)]
pub struct UserSlice {
    ptr: u64,
    len: u64,
}

impl UserSlice {
    /// The only constructor: rejects ranges that overflow or reach the kernel half.
    pub fn new(ptr: u64, len: u64) -> Result<UserSlice, Status> {
        if anvil_kcore::uaccess::user_range(ptr, len) {
            Ok(UserSlice { ptr, len })
        } else {
            Err(Status::BAD_ADDRESS)
        }
    }

    pub fn ptr(&self) -> u64 {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The part of the range from `offset`, `len` bytes long (clamped to the range).
    pub fn sub(&self, offset: usize, len: usize) -> UserSlice {
        let offset = offset.min(self.len());
        UserSlice {
            ptr: self.ptr + offset as u64,
            len: len.min(self.len() - offset) as u64,
        }
    }

    /// Copies the start of the range into `out` (at most `len` bytes; `out` may be shorter).
    pub fn read_into(&self, out: &mut [u8]) -> Result<(), Status> {
        let n = out.len().min(self.len());
        // SAFETY: `out` is valid kernel memory of at least `n` bytes; the source was checked to
        // lie in the user half, where a fault is recovered by the copy routine.
        if unsafe { usercopy::copy(out.as_mut_ptr(), self.ptr as *const u8, n) } {
            Ok(())
        } else {
            Err(Status::BAD_ADDRESS)
        }
    }

    /// Copies `data` (at most `len` bytes) into the range.
    #[allow(
        dead_code,
        reason = "used by syscalls that return bulk data, which come with the object work"
    )]
    pub fn write(&self, data: &[u8]) -> Result<(), Status> {
        if data.len() > self.len() {
            return Err(Status::INVALID_ARGS);
        }
        // SAFETY: `data` is valid kernel memory; the destination is in the user half, checked by
        // the constructor, where a fault is recovered by the copy routine.
        if unsafe { usercopy::copy(self.ptr as *mut u8, data.as_ptr(), data.len()) } {
            Ok(())
        } else {
            Err(Status::BAD_ADDRESS)
        }
    }

    /// Reads a plain-data value at the start of the range.
    pub fn read_pod<T: crate::abi::Pod>(&self) -> Result<T, Status> {
        if self.len() < core::mem::size_of::<T>() {
            return Err(Status::INVALID_ARGS);
        }
        let mut v = core::mem::MaybeUninit::<T>::uninit();
        // SAFETY: `v` has room for a T; the source is checked user memory with recovery.
        let ok = unsafe {
            usercopy::copy(
                v.as_mut_ptr().cast::<u8>(),
                self.ptr as *const u8,
                core::mem::size_of::<T>(),
            )
        };
        if ok {
            // SAFETY: all bytes were written, and `T: Pod` makes any bit pattern a valid T.
            Ok(unsafe { v.assume_init() })
        } else {
            Err(Status::BAD_ADDRESS)
        }
    }
}
