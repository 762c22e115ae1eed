//! ipc_client_rs: a Console protocol client in Rust, through the generated client stubs, of the
//! server its manifest line names `peer` (uses=peer=NAME: the C one in the test image).

#![no_std]
#![no_main]

use anvil::sys::console::Console;
use anvil::Ipc;

anvil::entry!(main);

fn main() -> u64 {
    let peer = match anvil::names::lookup("peer") {
        Ok(ep) => ep,
        Err(e) => {
            anvil::println!("ipc_client_rs: lookup of `peer` failed: {e:?}");
            return 1;
        }
    };
    // The endpoint speaks Console: the typed client says so.
    let console = Console::from_slot(peer.0);
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
