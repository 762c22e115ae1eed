//! Jumps to kernel code: the kernel must refuse the fetch and stop only this program.

#![no_std]
#![no_main]

anvil::entry!(main);

fn main() -> u64 {
    anvil::println!("fault_kexec: jumping to kernel address 0xffffffff80100000");
    // SAFETY: deliberately unsound: the instruction fetch faults on a supervisor page.
    let f: extern "C" fn() = unsafe { core::mem::transmute(0xFFFF_FFFF_8010_0000usize) };
    f();
    anvil::println!("fault_kexec: survived");
    1
}
