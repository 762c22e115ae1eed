//! The only code that touches user memory: a byte copy bracketed by stac/clac whose faults
//! the page-fault handler turns into an error return instead of a kernel crash.

use core::sync::atomic::{AtomicBool, Ordering};

/// Set when the CPU has SMAP; stac/clac are only executed then (they fault otherwise).
#[no_mangle]
static ANVIL_SMAP: AtomicBool = AtomicBool::new(false);

pub fn set_smap(on: bool) {
    ANVIL_SMAP.store(on, Ordering::SeqCst);
}

core::arch::global_asm!(
    r#"
    .section .text
    .global anvil_usercopy
    .global anvil_usercopy_insn
    .global anvil_usercopy_fixup
anvil_usercopy:
    mov rcx, rdx
    xor eax, eax
    cmp byte ptr [rip + ANVIL_SMAP], 0
    je 1f
    stac
1:
anvil_usercopy_insn:
    rep movsb
    cmp byte ptr [rip + ANVIL_SMAP], 0
    je 2f
    clac
2:
    ret
anvil_usercopy_fixup:
    cmp byte ptr [rip + ANVIL_SMAP], 0
    je 3f
    clac
3:
    mov eax, 1
    ret
"#
);

extern "C" {
    fn anvil_usercopy(dst: *mut u8, src: *const u8, len: usize) -> u64;
    static anvil_usercopy_insn: u8;
    static anvil_usercopy_fixup: u8;
}

/// Where a fault inside the copy may resume: `Some(fixup)` if `rip` is the copy instruction.
pub fn fixup_for(rip: u64) -> Option<u64> {
    let (insn, fix) = (
        &raw const anvil_usercopy_insn as u64,
        &raw const anvil_usercopy_fixup as u64,
    );
    (rip == insn).then_some(fix)
}

/// Copies `len` bytes; returns false if a page fault stopped the copy.
///
/// # Safety
/// One of `dst`/`src` must be valid kernel memory for `len` bytes; the other must lie in the
/// user half (checked by the caller's `UserSlice`), where a fault is recovered.
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> bool {
    // SAFETY: the caller guarantees the kernel side is valid; faults on the user side are
    // recovered through `fixup_for`, so the copy either completes or returns 1.
    unsafe { anvil_usercopy(dst, src, len) == 0 }
}
