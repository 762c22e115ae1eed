//! hello_rs: the smallest useful Rust service. It prints through the runtime, uses the heap,
//! and exits.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

anvil::entry!(main);

fn main() -> u64 {
    let squares: Vec<u64> = (1..=5).map(|i| i * i).collect();
    anvil::println!(
        "hello_rs: hello from Rust on cpu {}; squares {:?}",
        anvil::Tcb::current_cpu().unwrap_or(0),
        squares
    );
    0
}
