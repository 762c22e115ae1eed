//! ipc_client_rs: a Console protocol client in Rust, through the generated client stubs, of
//! whatever server init connected it to (the C one in the default boot).

#![no_std]
#![no_main]

use anvil::sys::console::Console;
use anvil::{types, Ipc};

anvil::entry!(main);

fn main() -> u64 {
    // The endpoint init gave this service speaks Console: the typed client says so.
    let console = Console::from_slot(types::BOOT_SLOT_USE);
    match console.write(&mut Ipc, b"hello from a Rust client") {
        Ok(n) => anvil::println!("ipc_client_rs: server took {n} bytes"),
        Err(e) => anvil::println!("ipc_client_rs: write failed: {e:?}"),
    }
    let mut buf = [0u8; 64];
    match console.read(&mut Ipc, 32, &mut buf) {
        Ok(n) => anvil::println!(
            "ipc_client_rs: read \"{}\"",
            core::str::from_utf8(&buf[..n]).unwrap_or("?")
        ),
        Err(e) => anvil::println!("ipc_client_rs: read failed: {e:?}"),
    }
    0
}
