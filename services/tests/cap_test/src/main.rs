//! cap_test: calls every capability and object syscall on its success path through the
//! generated Rust bindings and checks the results. Prints `cap_test: ok <name>` per check and
//! `cap_test: PASS` at the end, or `cap_test: FAIL <name>: <why>` and stops.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::sys::kernel::Cap;
use anvil::thread::{self, Spawn, Thread};
use anvil::{boot, println, types, CNode, Endpoint, IoPort, IrqControl, MapFlags, Quota, Rights, Status, Tcb, Vmo};

anvil::entry!(main);

const PAGE: u64 = types::PAGE_SIZE;

fn fail(what: &str, why: impl core::fmt::Debug) -> ! {
    println!("cap_test: FAIL {what}: {why:?}");
    boot::debug().shutdown(1)
}

fn check(what: &str, ok: bool) {
    if ok {
        println!("cap_test: ok {what}");
    } else {
        fail(what, "check failed");
    }
}

fn want<T>(what: &str, r: Result<T, Status>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => fail(what, e),
    }
}

fn check_quiet(ok: bool, what: &str) {
    if !ok {
        fail(what, "check failed");
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);

extern "C" fn worker(arg: u64) -> ! {
    COUNTER.fetch_add(arg, Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
    Tcb::exit(0)
}

extern "C" fn spinner(_arg: u64) -> ! {
    loop {
        COUNTER.fetch_add(1, Ordering::SeqCst);
        core::hint::spin_loop();
    }
}

fn start_thread(quota: &Quota, entry: extern "C" fn(u64) -> !, arg: u64) -> Thread {
    let how = Spawn {
        priority: 1,
        quota: Some(*quota),
        ..Spawn::default()
    };
    want("spawn", thread::spawn(entry, arg, how))
}

fn main() -> u64 {
    let root = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    let (limit, _) = want("Quota.info", root.info());
    check("Quota.info reports a limit", limit > 0);
    let q = want("Quota.split", root.split(4 << 20));
    check(
        "child quota starts empty",
        want("Quota.info child", q.info()) == (4 << 20, 0),
    );

    // VMO: create, size, committed, write, map, read back through the mapping.
    let vmo = want("Vmo.create", Vmo::create(&q, 3 * PAGE));
    check("Vmo.size", want("Vmo.size", vmo.size()) == 3 * PAGE);
    check("Vmo.committed", want("Vmo.committed", vmo.committed()) == 3);
    check("quota charged for the VMO", want("Quota.info", q.info()).1 >= 3 * PAGE);
    want("Vmo.write", vmo.write(PAGE + 8, b"anvil"));
    let va = 0x5000_0000u64;
    want(
        "VSpace.map",
        boot::vspace().map(&vmo, va, 0, 3 * PAGE, MapFlags::R | MapFlags::W),
    );
    // SAFETY: `va..va+3 pages` was just mapped readable and writable.
    let mapped = unsafe { core::slice::from_raw_parts_mut(va as *mut u8, (3 * PAGE) as usize) };
    check(
        "mapped VMO shows the written bytes",
        &mapped[(PAGE + 8) as usize..(PAGE + 13) as usize] == b"anvil",
    );
    check(
        "new VMO pages are zero",
        mapped[..PAGE as usize].iter().all(|&b| b == 0),
    );
    mapped[0] = 0x5a;
    check("mapped VMO is writable", mapped[0] == 0x5a);
    want("VSpace.unmap", boot::vspace().unmap(va, 3 * PAGE));
    check(
        "unmapping twice is refused",
        boot::vspace().unmap(va, PAGE) == Err(Status::NOT_MAPPED),
    );
    // A read-only mapping of the same VMO keeps the data.
    want(
        "VSpace.map read-only",
        boot::vspace().map(&vmo, va, 0, PAGE, MapFlags::R),
    );
    // SAFETY: mapped readable just above.
    check(
        "read-only mapping sees the data",
        unsafe { core::ptr::read_volatile(va as *const u8) } == 0x5a,
    );
    want("VSpace.unmap read-only", boot::vspace().unmap(va, PAGE));

    // Anonymous memory.
    let a = want(
        "VSpace.alloc",
        boot::vspace().alloc(&q, 2 * PAGE, MapFlags::R | MapFlags::W),
    );
    // SAFETY: `a` is two fresh read-write pages.
    let mem = unsafe { core::slice::from_raw_parts_mut(a as *mut u64, 1024) };
    check("allocated memory is zero", mem.iter().all(|&w| w == 0));
    mem[1023] = 7;
    check("allocated memory is writable", mem[1023] == 7);
    want("VSpace.unmap alloc", boot::vspace().unmap(a, 2 * PAGE));

    // CNodes and capability operations.
    let own = boot::cnode();
    let other = want("CNode.create", CNode::create(&q, 16));
    let vmo_slot = vmo.0;
    want(
        "Cap.copy",
        Cap::copy(&own, vmo_slot, &other, 3, Rights::READ | Rights::MAP | Rights::GRANT),
    );
    let (ty, rights, _) = want("Cap.identify", Cap::identify(&other, 3));
    check("copy has the object type", ty == anvil::sys::kernel::OBJ_VMO);
    check(
        "copy has the reduced rights",
        rights == Rights::READ | Rights::MAP | Rights::GRANT,
    );
    want(
        "Cap.copy back with all rights",
        Cap::copy(&other, 3, &own, 100, Rights::ALL),
    );
    let (_, r2, _) = want("Cap.identify", Cap::identify(&own, 100));
    check(
        "rights cannot grow through a copy",
        r2 == Rights::READ | Rights::MAP | Rights::GRANT,
    );
    let ro = Vmo::from_slot(100);
    check(
        "reduced copy cannot write",
        ro.write(0, b"x") == Err(Status::ACCESS_DENIED),
    );
    check("reduced copy can read", ro.size() == Ok(3 * PAGE));
    let ep = want("Endpoint.create", Endpoint::create(&q));
    want(
        "Cap.mint",
        Cap::mint(&own, ep.0, &other, 4, Rights::WRITE | Rights::GRANT, 42),
    );
    check("minted badge", want("Cap.identify", Cap::identify(&other, 4)).2 == 42);
    want("Cap.transfer", Cap::transfer(&other, 4, &other, 5));
    check(
        "transfer empties the source",
        Cap::identify(&other, 4) == Err(Status::INVALID_CAP),
    );
    check(
        "transfer fills the destination",
        want("Cap.identify", Cap::identify(&other, 5)).2 == 42,
    );
    want("Cap.revoke", Cap::revoke(&own, vmo_slot));
    check(
        "revoke removes the copy",
        Cap::identify(&other, 3) == Err(Status::INVALID_CAP),
    );
    check(
        "revoke removes the copy of the copy",
        Cap::identify(&own, 100) == Err(Status::INVALID_CAP),
    );
    check("revoke keeps the original", vmo.size() == Ok(3 * PAGE));
    want("Cap.delete", Cap::delete(&own, vmo_slot));
    check("deleted slot is empty", vmo.size() == Err(Status::INVALID_CAP));

    // Threads: one runs and exits; one spins and is suspended and resumed.
    let cpu = want("Tcb.current_cpu", Tcb::current_cpu());
    check("current cpu", cpu < 64);
    let t = start_thread(&q, worker, 5);
    while DONE.load(Ordering::SeqCst) == 0 {
        want("Tcb.yield_now", Tcb::yield_now());
    }
    check("new thread ran with its argument", COUNTER.load(Ordering::SeqCst) == 5);
    want("Tcb.set_affinity", t.tcb.set_affinity(0));
    COUNTER.store(0, Ordering::SeqCst);
    let s = start_thread(&q, spinner, 0);
    while COUNTER.load(Ordering::SeqCst) == 0 {
        want("Tcb.yield_now", Tcb::yield_now());
    }
    want("Tcb.suspend", s.tcb.suspend());
    let c1 = COUNTER.load(Ordering::SeqCst);
    for _ in 0..20 {
        want("Tcb.yield_now", Tcb::yield_now());
    }
    check("suspended thread does not run", COUNTER.load(Ordering::SeqCst) == c1);
    want("Tcb.resume again", s.tcb.resume());
    // Spin without yielding: only timer preemption lets the spinner run now.
    let mut spins = 0u64;
    while COUNTER.load(Ordering::SeqCst) == c1 && spins < 2_000_000_000 {
        spins += 1;
        core::hint::spin_loop();
    }
    check(
        "preemption lets a resumed thread run while this one spins",
        COUNTER.load(Ordering::SeqCst) > c1,
    );
    want("Tcb.suspend spinner", s.tcb.suspend());

    // The Rust runtime: allocator churn with reuse, and formatting.
    {
        extern crate alloc;
        use alloc::string::String;
        use alloc::vec::Vec;
        let before = anvil::heap::used();
        let mut held: Vec<Vec<u8>> = Vec::new();
        let mut seed = 12345u64;
        for _ in 0..4000u64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if held.len() > 64 || (seed >> 60) < 6 && !held.is_empty() {
                let i = (seed >> 20) as usize % held.len();
                let v = held.swap_remove(i);
                check_quiet(v.iter().all(|&b| b == v.len() as u8), "heap contents survive churn");
            } else {
                let n = 1 + (seed >> 40) as usize % 2048;
                held.push(alloc::vec![n as u8; n]);
            }
        }
        drop(held);
        check(
            "allocator returns to its starting use after churn",
            anvil::heap::used() == before,
        );
        let s: String = alloc::format!(
            "{:>6}|{:<4}|{:04x}|{:?}|{}",
            42,
            "ab",
            255u32,
            Some(-3i8),
            1.5f32 as i32
        );
        check("formatting", s == "    42|ab  |00ff|Some(-3)|1");
    }

    // Hardware access for drivers.
    let ports = IoPort::from_slot(types::BOOT_SLOT_IOPORT);
    let com1 = want("IoPort.split", ports.split(0x3F8, 8));
    want("IoPort.write scratch", com1.write(7, 1, 0xA5));
    check("IoPort.read scratch", want("IoPort.read", com1.read(7, 1)) == 0xA5);
    check(
        "port outside the range refused",
        com1.read(8, 1) == Err(Status::INVALID_ARGS),
    );
    let irq = want(
        "IrqControl.get",
        IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL).get(4),
    );
    check("unbound Irq.ack refused", irq.ack() == Err(Status::BAD_STATE));
    want("Irq.bind", irq.bind(&ep));
    want("Irq.ack", irq.ack());

    // Deleting everything returns the quota's charges.
    for slot in [ep.0, irq.0, com1.0, other.0] {
        want("Cap.delete cleanup", Cap::delete(&own, slot));
    }
    // One thread exited and one is suspended: deleting their capabilities and stacks returns
    // their charges too.
    for th in [t, s] {
        want("Thread.free", th.free());
    }
    let used = want("Quota.info", q.info()).1;
    println!("cap_test: quota use after cleanup: {used} bytes");
    check("every charge returned to the quota", used == 0);
    println!("cap_test: PASS");
    boot::debug().shutdown(0)
}
