//! template_rs: a starting point for a Rust service. It prints through libanvil-rs, allocates
//! from its heap, and returns its exit code.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;

anvil::entry!(main);

fn main() -> u64 {
    let mut greeting = String::from("template_rs: up");
    greeting.push_str(" and allocating");
    anvil::println!("{greeting}");
    0
}
