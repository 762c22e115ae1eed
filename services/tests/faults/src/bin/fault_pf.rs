//! Reads an unmapped user address: the kernel must report a page fault and stop only this program.

#![no_std]
#![no_main]

anvil::entry!(main);

fn main() -> u64 {
    anvil::println!("fault_pf: reading unmapped address 0x10000000");
    // SAFETY: deliberately unsound: the read faults, which is what this test program is for.
    let v = unsafe { core::ptr::read_volatile(0x1000_0000 as *const u64) };
    anvil::println!("fault_pf: survived with {v}");
    1
}
