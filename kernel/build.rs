//! Generates the syscall dispatch from `idl/` and passes the linker script to the linker.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    anvil_idlc::build_script(&manifest.join("../idl"), "kernel", &out);
    println!("cargo:rustc-link-arg-bins=-T{}", manifest.join("linker.ld").display());
    println!("cargo:rerun-if-changed=linker.ld");
}
