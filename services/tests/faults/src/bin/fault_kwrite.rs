//! Writes to kernel memory: the kernel must refuse it (page fault) and stop only this program.

#![no_std]
#![no_main]

anvil::entry!(main);

fn main() -> u64 {
    anvil::println!("fault_kwrite: writing to kernel address 0xffffffff80100000");
    // SAFETY: deliberately unsound: the write faults on a supervisor page.
    unsafe { core::ptr::write_volatile(0xFFFF_FFFF_8010_0000 as *mut u64, 0xBAD) };
    anvil::println!("fault_kwrite: survived");
    1
}
