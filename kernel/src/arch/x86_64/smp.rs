//! Starting the application processors: a real-mode trampoline copied to physical 0x8000
//! takes each AP from real mode through protected mode to long mode on the kernel's page
//! tables, and jumps to `ap_entry` on a stack of its own. The BSP starts them one at a time
//! with INIT-SIPI-SIPI.

use core::sync::atomic::{AtomicU32, Ordering};

use super::apic;

/// Physical address of the trampoline; SIPI vector 0x08 starts an AP at 0x8000.
pub const TRAMPOLINE: u64 = 0x8000;

// The trampoline is position-dependent code for physical 0x8000. LLVM's Intel syntax cannot
// use label differences in memory operands, so the layout is fixed with `.org` and the code
// uses absolute addresses: 0x8000 16-bit entry, 0x8040 32-bit code, 0x80A0 64-bit code,
// 0x8100 parameters (cr3, stack, cpu index, entry), 0x8140 GDT, 0x8160 GDT pointer.
core::arch::global_asm!(
    r#"
    .section .rodata.ap_trampoline, "a"
    .global anvil_ap_tramp_start
    .global anvil_ap_tramp_end
anvil_ap_tramp_start:
    .code16
    cli
    cld
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    lgdt [0x8160]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    .byte 0x66, 0xEA
    .long 0x8040
    .word 0x08
    .org 0x40
    .code32
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 0xA0
    mov cr4, eax
    mov eax, dword ptr [0x8100]
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 0x901
    wrmsr
    mov eax, cr0
    or eax, 0x80010000
    mov cr0, eax
    .byte 0xEA
    .long 0x80A0
    .word 0x18
    .org 0xA0
    .code64
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, 0x8100
    mov rsp, qword ptr [rax + 8]
    mov rdi, qword ptr [rax + 16]
    mov rax, qword ptr [rax + 24]
    xor ebp, ebp
    jmp rax
    .org 0x100
    .quad 0, 0, 0, 0
    .org 0x140
    .quad 0
    .quad 0x00CF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .quad 0x00AF9A000000FFFF
    .org 0x160
    .word 31
    .long 0x8140
anvil_ap_tramp_end:
    .code64
"#
);

/// Offset of the parameter block in the trampoline page.
const PARAMS: u64 = 0x100;

extern "C" {
    static anvil_ap_tramp_start: u8;
    static anvil_ap_tramp_end: u8;
}

/// APs that have reached `ap_entry`.
pub static STARTED: AtomicU32 = AtomicU32::new(0);

fn spin(iterations: u64) {
    for _ in 0..iterations {
        core::hint::spin_loop();
    }
}

/// Where the kernel reaches the trampoline page: `TRAMPOLINE`'s address in the direct map.
pub struct TrampolinePage(pub u64);

/// Starts the AP with `apic_id` as CPU `index` on a stack ending at `stack_top`, entering
/// `entry(index)`. Returns whether it checked in.
pub fn start_ap(
    page: &TrampolinePage,
    apic_id: u32,
    index: u32,
    stack_top: u64,
    entry: extern "C" fn(u64) -> !,
    cr3: u64,
) -> bool {
    let start = &raw const anvil_ap_tramp_start as u64;
    let end = &raw const anvil_ap_tramp_end as u64;
    let len = (end - start) as usize;
    if len > 4096 || cr3 >= 1 << 32 {
        return false;
    }
    let dst = page.0;
    // SAFETY: physical page 0x8000 lies below 1 MiB, which the frame allocator never hands out,
    // and is mapped by the direct map; the source is the trampoline in the kernel's rodata.
    unsafe {
        core::ptr::copy_nonoverlapping(start as *const u8, dst as *mut u8, len);
        let p = (dst + PARAMS) as *mut u64;
        p.write(cr3);
        p.add(1).write(stack_top);
        p.add(2).write(u64::from(index));
        p.add(3).write(entry as usize as u64);
    }
    let before = STARTED.load(Ordering::SeqCst);
    apic::send_init(apic_id);
    spin(100_000);
    for _ in 0..2 {
        apic::send_startup(apic_id, (TRAMPOLINE >> 12) as u8);
        for _ in 0..2000 {
            if STARTED.load(Ordering::SeqCst) != before {
                return true;
            }
            spin(1000);
        }
    }
    STARTED.load(Ordering::SeqCst) != before
}
