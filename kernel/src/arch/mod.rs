//! Architecture support. Anvil runs on x86-64 only; the module keeps the boundary visible.

pub mod x86_64;
