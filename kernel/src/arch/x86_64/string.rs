//! Bulk copies between kernel addresses with the string instructions, 8 bytes per step.
//!
//! IPC copies messages between IPC buffers through the direct map. The library `memmove`
//! spends a dozen instructions choosing a direction and aligning before its `rep movsq`; the
//! buffers here never overlap and their data areas are 8-byte aligned, so a copy is one
//! `rep movsq` for the words and one `rep movsb` for the rest.

/// Copies `len` bytes from `src` to `dst`.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and the two ranges must
/// not overlap.
#[inline]
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: guaranteed by the caller; the direction flag is clear whenever kernel code runs
    // (every entry stub clears it), so both instructions copy upwards, and they touch only
    // the two ranges and rcx, rsi, rdi, which are declared.
    unsafe {
        core::arch::asm!(
            "rep movsq",
            "mov ecx, {tail:e}",
            "rep movsb",
            tail = in(reg) len % 8,
            inout("rcx") len / 8 => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags),
        )
    }
}
