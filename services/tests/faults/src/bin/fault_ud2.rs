//! Executes ud2: the kernel must report an invalid opcode and stop only this program.

#![no_std]
#![no_main]

anvil::entry!(main);

fn main() -> u64 {
    anvil::println!("fault_ud2: executing ud2");
    // SAFETY: `ud2` only raises #UD; the kernel stops this thread.
    unsafe { core::arch::asm!("ud2") };
    1
}
