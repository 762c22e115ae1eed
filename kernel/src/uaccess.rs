//! `UserSlice`: the one way the kernel touches user memory. Its constructor checks that the
//! range lies in the user half; its copies run with SMAP opened only for the copy and turn a
//! fault (an unmapped or read-only page) into `BAD_ADDRESS`.

use alloc::vec;
use alloc::vec::Vec;

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

    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Copies the range into kernel memory.
    pub fn read_to_vec(&self) -> Result<Vec<u8>, Status> {
        let mut v = vec![0u8; self.len()];
        // SAFETY: `v` is valid kernel memory of `len` bytes; the source was checked to lie in
        // the user half, where a fault is recovered by the copy routine.
        if unsafe { usercopy::copy(v.as_mut_ptr(), self.ptr as *const u8, self.len()) } {
            Ok(v)
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
