//! The generated kernel dispatch under random syscalls: compiled together with a mock kernel
//! and driven with random numbers and registers, it must never panic and must answer every
//! call with a status the IDL declares; a handler runs only with checked arguments.

mod common;

use std::process::Command;

const DRIVER: &str = r#"
#![deny(warnings)]
#[allow(dead_code, clippy::all)]
mod k { include!("kernel_dispatch.rs"); }
use k::types::{Rights, Status};
use k::{Kernel, Pod};

/// Slot n holds a capability with all rights to an object of the type with id n (the types the
/// IDL declares); other slots are empty.
struct Mock { calls: u64 }

impl Mock {
    fn ok<T: Default>(&mut self) -> Result<T, Status> { self.calls += 1; Ok(T::default()) }
}

/// A capability of the mock: slot `n` holds object type `n` with every right.
struct MockCap(k::Object<Mock>);

impl k::Types for Mock {
    OBJECT_TYPES
}

impl k::CapRef<Mock> for MockCap {
    fn object(&self) -> &k::Object<Mock> { &self.0 }
    fn rights(&self) -> Rights { Rights::ALL }
    fn badge(&self) -> u64 { 0 }
}

impl Kernel for Mock {
    type T = Mock;
    type Cap = MockCap;
    type UserBytes = (u64, u64);
    type NewCap = ();
    fn lookup(&mut self, slot: u64) -> Result<MockCap, Status> {
        OBJECT_OF_SLOT
    }
    fn user_bytes(&mut self, ptr: u64, len: u64) -> Result<(u64, u64), Status> {
        if ptr.checked_add(len).is_none() { return Err(Status::BAD_ADDRESS); }
        Ok((ptr, len))
    }
    fn user_struct<T: Pod>(&mut self, _ptr: u64) -> Result<T, Status> { Err(Status::BAD_ADDRESS) }
    fn install(&mut self, _cap: ()) -> Result<u64, Status> { Ok(42) }
}

HANDLERS

fn main() {
    let mut rng = 0x9E3779B97F4A7C15u64;
    let mut next = || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
    let mut mock = Mock { calls: 0 };
    let numbers: Vec<u64> = k::SYSCALLS.iter().map(|s| s.number).collect();
    // Every number around and inside the dispatch table that no method has is refused
    // (the table's gaps and both ends), with the registers cleared.
    let lo = k::SYSCALL_BASE.saturating_sub(70);
    for nr in (lo..k::SYSCALL_BASE + k::SYSCALL_SPAN as u64 + 70).chain([0, u64::MAX, u64::MAX - k::SYSCALL_BASE]) {
        if numbers.contains(&nr) { continue; }
        let mut a = [7u64; 6];
        let status = k::dispatch(&mut mock, nr, &mut a);
        assert_eq!(Status(status as u32), Status::UNKNOWN_METHOD, "syscall {nr}");
        assert_eq!(a, [0; 6], "syscall {nr}");
    }
    let mut by_status = std::collections::BTreeMap::new();
    for i in 0..200_000u64 {
        let nr = if i % 4 == 0 { next() } else { numbers[(next() % numbers.len() as u64) as usize] };
        // Small values hit valid slots, enum members and bounds; large ones hit every check.
        let mut a = [0u64; 6];
        for r in a.iter_mut() { *r = if next() % 2 == 0 { next() % 16 } else { next() }; }
        let status = k::dispatch(&mut mock, nr, &mut a);
        let known = Status(status as u32);
        assert!(status <= u32::MAX as u64 && known.is_known(), "undeclared status {status} for syscall {nr}");
        *by_status.entry(format!("{known:?}")).or_insert(0u64) += 1;
    }
    println!("handlers reached: {}", mock.calls);
    for (s, n) in &by_status { println!("{s}: {n}"); }
}
"#;

#[test]
fn generated_dispatch_survives_random_syscalls() {
    let dir = common::scratch("dispatch_fuzz");
    let model = anvil_idlc::compile_dir(&common::repo().join("idl")).unwrap();
    anvil_idlc::write_outputs(&dir, &anvil_idlc::generate(&model, "kernel").unwrap()).unwrap();
    // The mock's object types and handlers come from the model, so it keeps up with idl/.
    let types: String = model.objects().map(|o| format!("type {} = u64;\n", o.name)).collect();
    let mut slots = String::from("match slot {\n");
    for o in model.objects() {
        slots.push_str(&format!(
            "{} => Ok(MockCap(k::Object::{}(slot))),\n",
            o.object_id.unwrap_or(0),
            o.name
        ));
    }
    slots.push_str("_ => Err(Status::INVALID_CAP),\n}");
    let driver = DRIVER
        .replace("OBJECT_TYPES", &types)
        .replace("OBJECT_OF_SLOT", &slots)
        .replace(
            "HANDLERS",
            &anvil_idlc::backend::kernel::mock_handlers(&model, "Mock", "k"),
        );
    std::fs::write(dir.join("main.rs"), driver).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--edition", "2021", "-O", "--crate-name", "dispatch_fuzz"])
        .arg(dir.join("main.rs"))
        .arg("-o")
        .arg(dir.join("dispatch_fuzz"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "driver did not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(dir.join("dispatch_fuzz")).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "dispatch panicked or failed:\n{text}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{text}");
    // Every checking path of the generated code was taken at least once.
    for s in [
        "OK",
        "INVALID_CAP",
        "WRONG_TYPE",
        "INVALID_ARGS",
        "UNKNOWN_METHOD",
        "BAD_ADDRESS",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{s}: "))),
            "no call ended with {s}:\n{text}"
        );
    }
}
