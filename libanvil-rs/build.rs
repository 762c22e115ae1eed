//! Generates the Rust bindings (types, syscall stubs, protocol clients and servers) from `idl/`.

fn main() {
    let manifest =
        std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    anvil_idlc::build_script(&manifest.join("../idl"), "rust", &out);
}
