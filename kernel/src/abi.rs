//! The ABI generated from `idl/` by anvil-idlc (see build.rs): status codes, rights, syscall
//! numbers, the `Kernel` trait and `dispatch`. Edit the `.idl` files, not this output.

#![allow(clippy::all, dead_code, unused_imports, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/kernel_dispatch.rs"));
