//! init: the first user program. For now it greets, checks that its boot capabilities answer
//! through the generated bindings, and exits; starting services from the archive comes next.

#![no_std]
#![no_main]

use anvil::{boot, println, types, Status};

anvil::entry!(main);

fn main() -> u64 {
    println!("init: hello from user space (IPC buffer at {:#x})", anvil::ipc_buffer());
    let cpu = anvil::Tcb::current_cpu().unwrap_or(u32::MAX);
    println!("init: running on cpu {cpu}");
    match boot::debug().stats() {
        Ok((frames, heap)) => {
            println!("init: kernel reports {frames} free frames, {heap} heap bytes used")
        }
        Err(e) => println!("init: Debug.stats failed: {e:?}"),
    }
    // A slot that holds nothing must be refused with the documented status.
    let bogus = anvil::Debug::from_slot(200);
    match bogus.write("must not print\n") {
        Err(Status::INVALID_CAP) => println!("init: empty slot refused with INVALID_CAP"),
        other => println!("init: empty slot gave {other:?}"),
    }
    let wrong = anvil::Debug::from_slot(types::BOOT_SLOT_VSPACE);
    match wrong.write("must not print\n") {
        Err(Status::WRONG_TYPE) => println!("init: wrong object type refused with WRONG_TYPE"),
        other => println!("init: wrong type gave {other:?}"),
    }
    println!("init: done");
    0
}
