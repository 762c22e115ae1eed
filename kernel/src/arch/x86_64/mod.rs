//! Everything that touches x86-64 hardware directly: boot entry, descriptor tables, traps,
//! the syscall entry, MSRs, the local APIC, port I/O, FPU state, the user-copy routine and the
//! kernel's bulk copy. No `asm!`, MSR access or descriptor table exists outside this module.

pub mod apic;
pub mod boot;
pub mod cpu;
pub mod fpu;
pub mod gdt;
pub mod ioapic;
pub mod port;
pub mod smp;
pub mod string;
pub mod switch;
pub mod tlb;
pub mod trap;
pub mod usercopy;
