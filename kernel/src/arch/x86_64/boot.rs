//! The boot path: Multiboot2 header, Xen PVH note, and the 32-bit entry that builds boot page
//! tables, enters long mode and jumps to Rust in the higher half.
//!
//! Both loaders enter `_start32` in 32-bit protected mode without paging. PVH passes the
//! `hvm_start_info` address in ebx; Multiboot2 passes its magic in eax and the info address in
//! ebx. Rust (`kernel_entry`) tells them apart. The boot page tables map the first GiB three
//! times: identity (to survive enabling paging), the direct map at `PHYS_OFFSET`, and the
//! kernel image at `KERNEL_VMA`. `mm::init` replaces them with the real tables.

core::arch::global_asm!(
    r#"
    .set KERNEL_VMA, 0xFFFFFFFF80000000
    .set MB2_MAGIC, 0xE85250D6

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long 0
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + (mb2_header_end - mb2_header))
    .balign 8
    .short 3, 0
    .long 12
    .long _start32 - KERNEL_VMA
    .balign 8
    .short 0, 0
    .long 8
mb2_header_end:

    .section .note.xen, "a"
    .balign 4
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .balign 4
    .long _start32 - KERNEL_VMA

    .section .bss.boot, "aw", @nobits
    .balign 4096
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
    .global boot_stack_guard
boot_stack_guard: .skip 4096
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .global boot_stack_top
boot_stack_top:

    .section .rodata.boot, "a"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt - KERNEL_VMA

    .section .text.boot, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    mov edi, eax
    mov esi, ebx
    mov esp, offset boot_stack_top - KERNEL_VMA

    /* Zero the seven boot table pages (the loader zeroes .bss, but do not rely on it). */
    mov ebx, offset boot_pml4 - KERNEL_VMA
    mov ecx, 7 * 1024
2:  mov dword ptr [ebx], 0
    add ebx, 4
    dec ecx
    jnz 2b

    /* Four page directories: 2048 x 2 MiB pages covering the first 4 GiB (RAM below 4 GiB,
     * boot info, the initrd, the local APIC), present + writable + huge. */
    mov ebx, offset boot_pd - KERNEL_VMA
    xor ecx, ecx
3:  mov eax, ecx
    shl eax, 21
    or eax, 0x83
    mov dword ptr [ebx + ecx * 8], eax
    mov dword ptr [ebx + ecx * 8 + 4], 0
    inc ecx
    cmp ecx, 2048
    jne 3b

    mov ebx, offset boot_pdpt_low - KERNEL_VMA
    mov eax, offset boot_pd - KERNEL_VMA
    or eax, 3
    mov dword ptr [ebx], eax
    add eax, 4096
    mov dword ptr [ebx + 8], eax
    add eax, 4096
    mov dword ptr [ebx + 16], eax
    add eax, 4096
    mov dword ptr [ebx + 24], eax
    mov ebx, offset boot_pdpt_high - KERNEL_VMA
    mov eax, offset boot_pd - KERNEL_VMA
    or eax, 3
    mov dword ptr [ebx + 510 * 8], eax

    mov ebx, offset boot_pml4 - KERNEL_VMA
    mov eax, offset boot_pdpt_low - KERNEL_VMA
    or eax, 3
    mov dword ptr [ebx], eax
    mov dword ptr [ebx + 256 * 8], eax
    mov eax, offset boot_pdpt_high - KERNEL_VMA
    or eax, 3
    mov dword ptr [ebx + 511 * 8], eax

    /* PAE, then long mode with NX, then paging with write protection. */
    mov eax, cr4
    or eax, 1 << 5
    mov cr4, eax
    mov eax, offset boot_pml4 - KERNEL_VMA
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, (1 << 8) | (1 << 11)
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16)
    mov cr0, eax

    lgdt [boot_gdt_ptr - KERNEL_VMA]
    push 0x08
    mov eax, offset start64_low - KERNEL_VMA
    push eax
    retf

    .code64
start64_low:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    movabs rax, offset start64_high
    jmp rax

    .section .text, "ax"
start64_high:
    movabs rsp, offset boot_stack_top
    xor ebp, ebp
    mov edi, edi
    mov esi, esi
    call kernel_entry
4:  cli
    hlt
    jmp 4b
"#
);
