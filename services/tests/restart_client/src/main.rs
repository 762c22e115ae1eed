//! restart_client: kills the Store servers (kv_c in C, kv_rs in Rust) while they hold its calls,
//! twice each, and checks what the system promises: the pending call ends with `PEER_CLOSED`,
//! init restarts the server, a new lookup of the name waits for the restarted server and returns
//! its endpoint, and the next call succeeds (on an empty store: the old state died with the old
//! server). The first kill is a fault of the server in the middle of the call (init restarts it,
//! restart=on-failure); the second is `Supervisor.restart` while the server keeps a call
//! unanswered (a second thread of this client waits in it).

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::sys::kernel::{Cap, ThreadState};
use anvil::sys::system::Supervisor;
use anvil::sys::testing::Store;
use anvil::thread::{self, Spawn};
use anvil::{boot, names, println, Ipc, Status, Tcb};

anvil::entry!(main);

fn fail(what: &str, why: impl core::fmt::Debug) -> ! {
    println!("restart_client: FAIL {what}: {why:?}");
    anvil::exit(1)
}

fn lookup(name: &str) -> Store {
    match names::lookup(name) {
        Ok(ep) => Store::from_slot(ep.0),
        Err(e) => fail("lookup", (name, e)),
    }
}

/// The slot of the Store endpoint the holder thread calls, and the status its call ended with
/// (`u64::MAX` while it waits).
static HOLD_EP: AtomicU64 = AtomicU64::new(0);
static HOLD_STATUS: AtomicU64 = AtomicU64::new(u64::MAX);

extern "C" fn holder(_: u64) -> ! {
    let r = Store::from_slot(HOLD_EP.load(Ordering::SeqCst)).hold(&mut Ipc);
    HOLD_STATUS.store(u64::from(r.err().unwrap_or(Status::OK).0), Ordering::SeqCst);
    Tcb::exit(0)
}

/// Checks that the restarted server named `name` is found again and answers.
fn answers_again(name: &str, what: &str) -> Store {
    let kv = lookup(name);
    if kv.get(&mut Ipc, 1) != Err(Status::NOT_FOUND) {
        fail("the restarted server starts empty", name);
    }
    if kv.put(&mut Ipc, 2, 7).and_then(|()| kv.get(&mut Ipc, 2)) != Ok(7) {
        fail("the next call after the restart", name);
    }
    println!(
        "restart_client: ok {name}: after {what}, a new lookup found the restarted server and its next call succeeded"
    );
    kv
}

fn main() -> u64 {
    let sup = match names::lookup("supervisor") {
        Ok(ep) => Supervisor::from_slot(ep.0),
        Err(e) => fail("lookup of supervisor", e),
    };
    for name in ["kv_c", "kv_rs"] {
        let kv = lookup(name);
        let mut own = [0u8; 16];
        let n = kv.name(&mut Ipc, &mut own).unwrap_or_else(|e| fail("Store.name", e));
        if &own[..n] != name.as_bytes() || kv.put(&mut Ipc, 1, 42).and_then(|()| kv.get(&mut Ipc, 1)) != Ok(42) {
            fail("the first calls", name);
        }
        // 1. The server faults while it holds the call.
        let r = kv.crash(&mut Ipc);
        if r != Err(Status::PEER_CLOSED) {
            fail("a call held by a faulting server", (name, r));
        }
        println!("restart_client: ok {name}: the call it held when it faulted ended with PEER_CLOSED");
        // Its endpoint was revoked with the server, leaving the slot empty (and free for the
        // next capability this process receives: it must not be deleted by its old number).
        if Cap::identify(&boot::cnode(), kv.0).is_ok() {
            fail("the dead server's endpoint was revoked", name);
        }
        let kv = answers_again(name, "its fault");

        // 2. It is killed (restarted by the supervisor) while it keeps a call of the holder.
        HOLD_EP.store(kv.0, Ordering::SeqCst);
        HOLD_STATUS.store(u64::MAX, Ordering::SeqCst);
        let how = Spawn {
            ipc_buffer: true,
            ..Spawn::default()
        };
        let t = thread::spawn(holder, 0, how).unwrap_or_else(|e| fail("spawn", e));
        // The call is held once the server answered the next one (it serves in order).
        while t.tcb.state() != Ok(ThreadState::BLOCKED) {
            let st = HOLD_STATUS.load(Ordering::SeqCst);
            if st != u64::MAX {
                fail("the held call ended before the kill", (name, Status(st as u32)));
            }
            let _ = Tcb::yield_now();
        }
        let _ = kv.get(&mut Ipc, 2);
        if let Err(e) = sup.restart(&mut Ipc, name) {
            fail("Supervisor.restart", e);
        }
        while HOLD_STATUS.load(Ordering::SeqCst) == u64::MAX {
            let _ = Tcb::yield_now();
        }
        let st = Status(HOLD_STATUS.load(Ordering::SeqCst) as u32);
        if st != Status::PEER_CLOSED {
            fail("a call held by a killed server", (name, st));
        }
        println!("restart_client: ok {name}: the call it held when it was killed ended with PEER_CLOSED");
        while t.tcb.state() != Ok(ThreadState::DEAD) {
            let _ = Tcb::yield_now();
        }
        let _ = t.free();
        let kv = answers_again(name, "a kill");
        let _ = Cap::delete(&boot::cnode(), kv.0);
    }
    println!("restart_client: done");
    0
}
