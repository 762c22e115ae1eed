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
use k::{Kernel, ObjectType, Pod};

/// Slots 1..=13 hold a capability to the object with that type id and all rights; others are empty.
struct Mock { calls: u64 }

impl Mock {
    fn ok<T: Default>(&mut self) -> Result<T, Status> { self.calls += 1; Ok(T::default()) }
}

macro_rules! handlers {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $( fn $name(&mut self, $($arg: $ty),*) -> Result<$ret, Status> { $(let _ = $arg;)* self.ok() } )*
    };
}

impl Kernel for Mock {
    type Cap = u64;
    type UserBytes = (u64, u64);
    type NewCap = ();
    fn lookup(&mut self, slot: u64, object: Option<ObjectType>, rights: Rights) -> Result<u64, Status> {
        if slot == 0 || slot > 13 { return Err(Status::INVALID_CAP); }
        if let Some(o) = object { if o as u64 != slot { return Err(Status::WRONG_TYPE); } }
        if !Rights::ALL.contains(rights) { return Err(Status::ACCESS_DENIED); }
        Ok(slot)
    }
    fn user_bytes(&mut self, ptr: u64, len: u64) -> Result<(u64, u64), Status> {
        if ptr.checked_add(len).is_none() { return Err(Status::BAD_ADDRESS); }
        Ok((ptr, len))
    }
    fn user_struct<T: Pod>(&mut self, _ptr: u64) -> Result<T, Status> { Err(Status::BAD_ADDRESS) }
    fn install(&mut self, _cap: ()) -> Result<u64, Status> { Ok(42) }
    handlers! {
        quota_split(a: u64, b: u64) -> ();
        quota_info(a: u64) -> (u64, u64);
        cnode_create(a: u64, b: u32) -> ();
        cnode_info(a: u64) -> (u32, u32);
        cap_copy(a: u64, b: u64, c: u64, d: u64, e: Rights) -> ();
        cap_mint(a: u64, b: u64, c: u64, d: u64, e: Rights, f: u64) -> ();
        cap_transfer(a: u64, b: u64, c: u64, d: u64) -> ();
        cap_delete(a: u64, b: u64) -> ();
        cap_revoke(a: u64, b: u64) -> ();
        cap_identify(a: u64, b: u64) -> (u32, Rights, u64);
        cap_thread_stats(a: u64, b: u64) -> (k::kernel::ThreadState, u32, u64);
        tcb_create(a: u64) -> ();
        tcb_configure(a: u64, b: u64, c: u64, d: u64, e: u8) -> ();
        tcb_set_regs(a: u64, b: k::types::Regs) -> ();
        tcb_resume(a: u64) -> ();
        tcb_suspend(a: u64) -> ();
        tcb_set_affinity(a: u64, b: u32) -> ();
        tcb_exit(a: u64) -> ();
        tcb_yield_now() -> ();
        tcb_current_cpu() -> u32;
        tcb_set_name(a: u64, b: (u64, u64)) -> ();
        tcb_set_fault_endpoint(a: u64, b: u64) -> ();
        tcb_state(a: u64) -> k::kernel::ThreadState;
        tcb_bind_notification(a: u64, b: u64) -> ();
        tcb_unbind_notification(a: u64) -> ();
        tcb_stats(a: u64) -> (k::kernel::ThreadState, u32, u64);
        vspace_create(a: u64) -> ();
        vspace_map(a: u64, b: u64, c: u64, d: u64, e: u64, f: k::types::MapFlags) -> ();
        vspace_unmap(a: u64, b: u64, c: u64) -> ();
        vspace_alloc(a: u64, b: u64, c: u64, d: k::types::MapFlags) -> u64;
        vmo_create(a: u64, b: u64) -> ();
        vmo_size(a: u64) -> u64;
        vmo_write(a: u64, b: u64, c: (u64, u64)) -> ();
        vmo_committed(a: u64) -> u64;
        endpoint_create(a: u64) -> ();
        endpoint_call(a: u64) -> ();
        endpoint_send(a: u64) -> ();
        endpoint_recv(a: u64) -> ();
        endpoint_reply() -> ();
        endpoint_reply_recv(a: u64) -> ();
        endpoint_save_reply(a: u64) -> ();
        io_port_split(a: u64, b: u16, c: u16) -> ();
        io_port_read(a: u64, b: u16, c: u8) -> u32;
        io_port_write(a: u64, b: u16, c: u8, d: u32) -> ();
        irq_control_get(a: u64, b: u8) -> ();
        irq_control_get_gsi(a: u64, b: u32, c: bool, d: bool) -> ();
        irq_bind(a: u64, b: u64) -> ();
        irq_ack(a: u64) -> ();
        debug_write(a: u64, b: (u64, u64)) -> ();
        debug_stats(a: u64) -> (u64, u64);
        debug_shutdown(a: u64, b: u8) -> ();
        debug_memory(a: u64) -> (u64, u64, u64, u64, u64);
        debug_cpu(a: u64, b: u32) -> (u32, u64, u64, u64, bool);
        debug_uptime(a: u64) -> u64;
        debug_attach(a: u64, b: u64) -> ();
        debug_read_log(a: u64) -> (u32, u64);
        notification_create(a: u64) -> ();
        notification_signal(a: u64) -> ();
        notification_wait(a: u64) -> u64;
        notification_poll(a: u64) -> u64;
        reply_send(a: u64) -> ();
    }
}

fn main() {
    let mut rng = 0x9E3779B97F4A7C15u64;
    let mut next = || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
    let mut mock = Mock { calls: 0 };
    let numbers: Vec<u64> = k::SYSCALLS.iter().map(|s| s.number).collect();
    let mut by_status = std::collections::BTreeMap::new();
    for i in 0..200_000u64 {
        let nr = if i % 4 == 0 { next() } else { numbers[(next() % numbers.len() as u64) as usize] };
        // Small values hit valid slots, enum members and bounds; large ones hit every check.
        let mut a = [0u64; 6];
        for r in a.iter_mut() { *r = if next() % 2 == 0 { next() % 16 } else { next() }; }
        let (status, _) = k::dispatch(&mut mock, nr, a);
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
    std::fs::write(dir.join("main.rs"), DRIVER).unwrap();
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
