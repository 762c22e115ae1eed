//! Trap entry and exit: the IDT, one assembly stub per vector, the `syscall` entry stub, and
//! the saved-register frame they all build. The stubs save registers and call safe Rust
//! (`crate::interrupts::trap`, `crate::syscall::entry`) at once.

use alloc::boxed::Box;
use core::fmt;

use x86_64::structures::idt::InterruptDescriptorTable;
use x86_64::VirtAddr;

use super::gdt::{IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI};

/// Registers saved on entry, in stack order (lowest address first). `vector` is the
/// interrupt vector, or 0x100 for a `syscall`. The six syscall argument registers are
/// adjacent and in ABI order (rdi to r9), so the syscall path reads its arguments and writes
/// its results in place (`syscall_regs`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub rbp: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub r10: u64,
    pub r8: u64,
    pub r9: u64,
    pub rax: u64,
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

// `syscall_regs` relies on the argument registers being adjacent and in ABI order.
const _: () = {
    use core::mem::offset_of;
    let base = offset_of!(TrapFrame, rdi);
    assert!(offset_of!(TrapFrame, rsi) == base + 8);
    assert!(offset_of!(TrapFrame, rdx) == base + 16);
    assert!(offset_of!(TrapFrame, r10) == base + 24);
    assert!(offset_of!(TrapFrame, r8) == base + 32);
    assert!(offset_of!(TrapFrame, r9) == base + 40);
};

const USER_CS: u64 = 0x23;
const USER_SS: u64 = 0x1b;

impl TrapFrame {
    pub fn is_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// A frame that enters user mode at `rip` with stack `rsp` and interrupts enabled.
    pub fn new_user(rip: u64, rsp: u64) -> TrapFrame {
        TrapFrame {
            rip,
            rsp,
            cs: USER_CS,
            ss: USER_SS,
            rflags: 0x202,
            ..Default::default()
        }
    }

    /// The six syscall argument registers in ABI order (rdi, rsi, rdx, r10, r8, r9), which
    /// are also the result registers: the dispatch reads and writes them in place.
    pub fn syscall_regs(&mut self) -> &mut [u64; 6] {
        let base = (self as *mut TrapFrame).cast::<u8>();
        // SAFETY: the struct is `repr(C)` with rdi, rsi, rdx, r10, r8 and r9 declared one after
        // the other, all `u64`, so they form one `[u64; 6]` with no padding at this offset; the
        // pointer is derived from the whole of `self` (not from one field), which is borrowed
        // mutably for the lifetime of the result.
        unsafe { &mut *base.add(core::mem::offset_of!(TrapFrame, rdi)).cast::<[u64; 6]>() }
    }
}

impl fmt::Display for TrapFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  rip={:#018x} cs={:#x} rflags={:#x} rsp={:#018x} ss={:#x}",
            self.rip, self.cs, self.rflags, self.rsp, self.ss
        )?;
        writeln!(
            f,
            "  rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}",
            self.rax, self.rbx, self.rcx, self.rdx
        )?;
        writeln!(
            f,
            "  rsi={:#018x} rdi={:#018x} rbp={:#018x} r8 ={:#018x}",
            self.rsi, self.rdi, self.rbp, self.r8
        )?;
        writeln!(
            f,
            "  r9 ={:#018x} r10={:#018x} r11={:#018x} r12={:#018x}",
            self.r9, self.r10, self.r11, self.r12
        )?;
        write!(
            f,
            "  r13={:#018x} r14={:#018x} r15={:#018x}",
            self.r13, self.r14, self.r15
        )
    }
}

core::arch::global_asm!(
    r#"
    // The general registers, in TrapFrame order (r15 ends up lowest).
    .macro SAVE_GPRS
    push rax
    push r9
    push r8
    push r10
    push rdx
    push rsi
    push rdi
    push rbx
    push rcx
    push rbp
    push r11
    push r12
    push r13
    push r14
    push r15
    .endm
    .macro RESTORE_GPRS
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop rbp
    pop rcx
    pop rbx
    pop rdi
    pop rsi
    pop rdx
    pop r10
    pop r8
    pop r9
    pop rax
    .endm

    .section .text
    .balign 16
    .global anvil_isr_base
anvil_isr_base:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .byte 0x68
    .long vec
    .else
    .byte 0x6a, 0
    .byte 0x68
    .long vec
    .endif
    jmp anvil_trap_common
    .set vec, vec + 1
    .endr

anvil_trap_common:
    test qword ptr [rsp + 24], 3
    jz 1f
    swapgs
1:
    SAVE_GPRS
    mov rdi, rsp
    cld
    call anvil_trap
    .global anvil_trap_return
anvil_trap_return:
    RESTORE_GPRS
    add rsp, 16
    test qword ptr [rsp + 8], 3
    jz 2f
    swapgs
2:
    iretq

    .global anvil_syscall_entry
anvil_syscall_entry:
    swapgs
    mov qword ptr gs:[16], rsp
    mov rsp, qword ptr gs:[8]
    push 0x1b
    push qword ptr gs:[16]
    push r11
    push 0x23
    push rcx
    push 0
    push 0x100
    // A TrapFrame, but only the registers a syscall reads or writes are saved: the callee-saved
    // ones (rbx, rbp, r12-r15) are preserved by the Rust code, and rcx and r11 (which
    // `syscall` overwrote with rip and rflags) are returned through the rip and rflags slots.
    push rax
    push r9
    push r8
    push r10
    push rdx
    push rsi
    push rdi
    sub rsp, 64
    mov rdi, rsp
    cld
    call anvil_syscall
    add rsp, 64
    pop rdi
    pop rsi
    pop rdx
    pop r10
    pop r8
    pop r9
    pop rax
    mov rcx, qword ptr [rsp + 16]
    mov r11, qword ptr [rsp + 32]
    mov rsp, qword ptr [rsp + 40]
    swapgs
    sysretq
"#
);

extern "C" {
    static anvil_isr_base: u8;
    static anvil_syscall_entry: u8;
}

#[no_mangle]
extern "C" fn anvil_trap(frame: &mut TrapFrame) {
    crate::interrupts::trap(frame);
}

#[no_mangle]
extern "C" fn anvil_syscall(frame: &mut TrapFrame) {
    crate::syscall::entry(frame);
}

pub fn syscall_entry_addr() -> u64 {
    &raw const anvil_syscall_entry as u64
}

/// Loads the IDT: every vector goes to its stub; double fault, NMI and machine check run on
/// their own interrupt stacks so that they work even when the kernel stack is gone.
pub fn init_idt() {
    let base = &raw const anvil_isr_base as u64;
    let addr = |v: u64| VirtAddr::new(base + 16 * v);
    let idt: &'static mut InterruptDescriptorTable = Box::leak(Box::new(InterruptDescriptorTable::new()));
    macro_rules! set {
        ($($field:ident = $v:expr),* $(,)?) => {
            $(
                // SAFETY: the address is the stub for this vector, which saves a TrapFrame
                // matching the vector's error-code convention and returns with iretq.
                unsafe { idt.$field.set_handler_addr(addr($v)); }
            )*
        };
    }
    set!(
        divide_error = 0,
        debug = 1,
        breakpoint = 3,
        overflow = 4,
        bound_range_exceeded = 5,
        invalid_opcode = 6,
        device_not_available = 7,
        invalid_tss = 10,
        segment_not_present = 11,
        stack_segment_fault = 12,
        general_protection_fault = 13,
        page_fault = 14,
        x87_floating_point = 16,
        alignment_check = 17,
        simd_floating_point = 19,
        virtualization = 20,
        cp_protection_exception = 21,
        hv_injection_exception = 28,
        vmm_communication_exception = 29,
        security_exception = 30,
    );
    // SAFETY: as above; the IST indexes name stacks that `gdt::init_cpu` installed.
    unsafe {
        idt.double_fault
            .set_handler_addr(addr(8))
            .set_stack_index(IST_DOUBLE_FAULT - 1);
        idt.non_maskable_interrupt
            .set_handler_addr(addr(2))
            .set_stack_index(IST_NMI - 1);
        idt.machine_check
            .set_handler_addr(addr(18))
            .set_stack_index(IST_MACHINE_CHECK - 1);
    }
    for v in 32u8..=255 {
        // SAFETY: as above, for the interrupt vectors.
        unsafe { idt[v].set_handler_addr(addr(u64::from(v))) };
    }
    let idt: &'static InterruptDescriptorTable = idt;
    IDT.call_once(|| idt).load();
}

static IDT: spin::Once<&'static InterruptDescriptorTable> = spin::Once::new();

/// Loads the IDT the boot CPU built on another CPU.
pub fn load_idt() {
    if let Some(idt) = IDT.get() {
        idt.load();
    }
}

/// Human-readable name of an exception vector.
pub fn exception_name(v: u64) -> &'static str {
    match v {
        0 => "divide error (#DE)",
        1 => "debug (#DB)",
        2 => "non-maskable interrupt",
        3 => "breakpoint (#BP)",
        4 => "overflow (#OF)",
        5 => "bound range exceeded (#BR)",
        6 => "invalid opcode (#UD)",
        7 => "device not available (#NM)",
        8 => "double fault (#DF)",
        10 => "invalid TSS (#TS)",
        11 => "segment not present (#NP)",
        12 => "stack-segment fault (#SS)",
        13 => "general protection fault (#GP)",
        14 => "page fault (#PF)",
        16 => "x87 floating-point error (#MF)",
        17 => "alignment check (#AC)",
        18 => "machine check (#MC)",
        19 => "SIMD floating-point error (#XM)",
        20 => "virtualization exception (#VE)",
        21 => "control protection (#CP)",
        _ => "exception",
    }
}
