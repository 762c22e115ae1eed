//! cap_test: calls every capability and object syscall on its success path through the
//! generated Rust bindings and checks the results. Prints `cap_test: ok <name>` per check and
//! `cap_test: PASS` at the end, or `cap_test: FAIL <name>: <why>` and stops.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::sys::abi::Message;
use anvil::sys::kernel::Cap;
use anvil::sys::kernel::NOTIFY_LABEL;
use anvil::thread::{self, Spawn, Thread};
use anvil::{
    boot, println, types, CNode, Endpoint, IoPort, Irq, IrqControl, MapFlags, Notification, Quota, Rights, Status, Tcb,
    Vmo,
};

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
    check(
        "a second Irq for the same line is refused",
        IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL).get(4) == Err(Status::ALREADY_EXISTS),
    );
    check("unbound Irq.ack refused", irq.ack() == Err(Status::BAD_STATE));
    let ntfn = want("Notification.create", Notification::create(&q));
    want("Irq.bind", irq.bind(&ntfn));
    interrupts(&irq, &ntfn, &com1);
    // A GSI taken directly, level-triggered and active low (as a PCI line is): bound, enabled,
    // and released with its last capability (then it can be taken again).
    let ctl = IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL);
    let gsi = want("IrqControl.get_gsi", ctl.get_gsi(20, true, true));
    want("Irq.bind GSI", gsi.bind(&ntfn));
    want("Irq.ack GSI", gsi.ack());
    want("Cap.delete GSI", Cap::delete(&own, gsi.0));
    let again = want("IrqControl.get_gsi again", ctl.get_gsi(20, true, true));
    want("Cap.delete GSI", Cap::delete(&own, again.0));
    check("a GSI is taken, bound, enabled and released", true);
    events(&q);

    // Deleting everything returns the quota's charges.
    for slot in [ep.0, irq.0, com1.0, other.0, ntfn.0] {
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

/// COM1's interrupt line, delivered as notification signals: the UART's transmitter-empty
/// interrupt is switched on (IER bit 1) and off once per round, each round's interrupt must
/// arrive as the notification's bit, and (on more than one CPU) `Irq.ack` moves the line so
/// that the rounds' interrupts arrive on more than one CPU.
fn interrupts(irq: &Irq, ntfn: &Notification, com1: &IoPort) {
    let cpus = want("cpu_count", thread::cpu_count());
    let taken = |c: u32| want("Debug.cpu", boot::debug().cpu(c)).2;
    let before: [u64; 8] = core::array::from_fn(|c| if (c as u32) < cpus { taken(c as u32) } else { 0 });
    const ROUNDS: u32 = 8;
    for _ in 0..ROUNDS {
        want("Irq.ack", irq.ack());
        // The UART raises its transmitter-empty interrupt when the interrupt is enabled while
        // the transmitter is empty: wait until what the kernel printed has gone out.
        while want("LSR", com1.read(5, 1)) & 0x40 == 0 {
            let _ = Tcb::yield_now();
        }
        want("IER on", com1.write(1, 1, 0x02));
        let bits = want("Notification.wait", ntfn.wait());
        check_quiet(bits == 1, "the interrupt signals the notification's bit");
        want("IER off", com1.write(1, 1, 0x00));
    }
    check("8 COM1 interrupts arrived as notification signals", true);
    let on: u32 = (0..cpus.min(8)).map(|c| u32::from(taken(c) > before[c as usize])).sum();
    println!("cap_test: COM1 interrupts arrived on {on} of {cpus} CPU(s)");
    check(
        "Irq.ack moves the line: interrupts arrive on every CPU in turn",
        on == cpus.min(ROUNDS),
    );
    check(
        "a masked line does not signal",
        want("Notification.poll", ntfn.poll()) == 0,
    );
}

static EV_EP: AtomicU64 = AtomicU64::new(0);
static EV_NTFN: AtomicU64 = AtomicU64::new(0);
static EV_GOT: AtomicU64 = AtomicU64::new(0);
static EV_STEP: AtomicU64 = AtomicU64::new(0);

fn my_message() -> &'static mut Message {
    // SAFETY: this thread's IPC buffer, mapped read-write for it; only this thread uses it.
    unsafe { &mut *(anvil::ipc_buffer() as *mut Message) }
}

/// Waits on the notification and records what it got.
extern "C" fn ntfn_waiter(_: u64) -> ! {
    let n = Notification::from_slot(EV_NTFN.load(Ordering::SeqCst));
    let bits = n.wait().unwrap_or_else(|e| 0xE000 + u64::from(e.0));
    EV_GOT.store(bits, Ordering::SeqCst);
    Tcb::exit(0)
}

/// Receives on the endpoint with the notification bound: records the label and badge of each
/// message (one signal, then one call, which it answers).
extern "C" fn bound_server(arg: u64) -> ! {
    let ep = Endpoint::from_slot(EV_EP.load(Ordering::SeqCst));
    // SAFETY: this thread's IPC buffer, mapped read-write for it by `thread::spawn`.
    let m = unsafe { &mut *(arg as *mut Message) };
    for step in 1..=2 {
        let _ = ep.recv();
        EV_GOT.store(
            if m.label == NOTIFY_LABEL {
                m.badge
            } else {
                1000 + m.label
            },
            Ordering::SeqCst,
        );
        EV_STEP.store(step, Ordering::SeqCst);
        if m.label != NOTIFY_LABEL {
            m.label = 0;
            m.data_len = 0;
            m.cap_count = 0;
            let _ = Endpoint::reply();
        }
    }
    Tcb::exit(0)
}

/// Calls the endpoint with label `arg` and records the status of the call and the reply label.
extern "C" fn caller(arg: u64) -> ! {
    // SAFETY: the IPC buffer `thread::spawn` mapped read-write for this thread, published by
    // `spawn_caller` before `caller_trampoline` lets it run.
    let m = unsafe { &mut *(CALLER_BUF[arg as usize].load(Ordering::SeqCst) as *mut Message) };
    m.label = 500 + arg;
    m.data_len = 0;
    m.cap_count = 0;
    let st = match Endpoint::from_slot(EV_EP.load(Ordering::SeqCst)).call() {
        Ok(()) => 1 + m.label,
        Err(e) => 2000 + u64::from(e.0),
    };
    CALLER_GOT[arg as usize].store(st, Ordering::SeqCst);
    Tcb::exit(0)
}

static CALLER_BUF: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static CALLER_GOT: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..100_000 {
        if done() {
            return;
        }
        let _ = Tcb::yield_now();
    }
    fail(what, "timed out");
}

/// Notifications (signal with and without a badge, poll, wait, a bound notification ending a
/// receive) and saved replies (answered later, or deleted unanswered).
fn events(q: &Quota) {
    let own = boot::cnode();
    let n = want("Notification.create", Notification::create(q));
    check(
        "a new notification has no bits",
        want("Notification.poll", n.poll()) == 0,
    );
    want("Notification.signal", n.signal());
    let badged = want("free slot", anvil::process::free_slot(&own).ok_or(Status::NO_SLOT));
    want(
        "Cap.mint notification",
        Cap::mint(&own, n.0, &own, badged, Rights::WRITE, 0x40),
    );
    want("Notification.signal badged", Notification::from_slot(badged).signal());
    check(
        "signals OR their badges into the word (1 without a badge)",
        want("Notification.poll", n.poll()) == 0x41,
    );
    check("poll clears the word", want("Notification.poll", n.poll()) == 0);
    want("Notification.signal", Notification::from_slot(badged).signal());
    check(
        "wait returns set bits at once",
        want("Notification.wait", n.wait()) == 0x40,
    );

    EV_NTFN.store(n.0, Ordering::SeqCst);
    EV_GOT.store(0, Ordering::SeqCst);
    let w = start_thread(q, ntfn_waiter, 0);
    wait_for("waiter blocks", || {
        w.tcb.state() == Ok(anvil::sys::kernel::ThreadState::BLOCKED)
    });
    want("Notification.signal", Notification::from_slot(badged).signal());
    wait_for("waiter wakes", || EV_GOT.load(Ordering::SeqCst) != 0);
    check(
        "a signal wakes a thread blocked in wait with the bits",
        EV_GOT.load(Ordering::SeqCst) == 0x40,
    );
    want("Thread.free waiter", w.free());

    // A thread waiting on a notification whose last capability goes wakes with PEER_CLOSED.
    let gone = want("Notification.create", Notification::create(q));
    EV_NTFN.store(gone.0, Ordering::SeqCst);
    EV_GOT.store(0, Ordering::SeqCst);
    let w = start_thread(q, ntfn_waiter, 0);
    wait_for("waiter blocks", || {
        w.tcb.state() == Ok(anvil::sys::kernel::ThreadState::BLOCKED)
    });
    want("Cap.delete notification", Cap::delete(&own, gone.0));
    wait_for("waiter wakes", || EV_GOT.load(Ordering::SeqCst) != 0);
    check(
        "deleting a notification wakes its waiter with PEER_CLOSED",
        EV_GOT.load(Ordering::SeqCst) == 0xE000 + u64::from(Status::PEER_CLOSED.0),
    );
    want("Thread.free waiter", w.free());

    // A server thread bound to the notification, waiting in recv, ends the receive on a signal.
    let ep = want("Endpoint.create", Endpoint::create(q));
    EV_EP.store(ep.0, Ordering::SeqCst);
    EV_STEP.store(0, Ordering::SeqCst);
    let how = Spawn {
        priority: 1,
        ipc_buffer: true,
        quota: Some(*q),
        ..Spawn::default()
    };
    // The server reads its IPC buffer through its argument: spawn it suspended, then restart
    // it with the address.
    let srv = want("spawn bound server", thread::spawn(bound_server_trampoline, 0, how));
    SERVER_BUF.store(srv.ipc_buffer, Ordering::SeqCst);
    want("Tcb.bind_notification", srv.tcb.bind_notification(&n));
    let other = want("Tcb.create", Tcb::create(q));
    check(
        "a notification binds to one thread only",
        other.bind_notification(&n) == Err(Status::IN_USE),
    );
    want("Cap.delete", Cap::delete(&own, other.0));
    SERVER_GO.store(1, Ordering::SeqCst);
    wait_for("bound server waits", || {
        srv.tcb.state() == Ok(anvil::sys::kernel::ThreadState::BLOCKED)
    });
    want("Notification.signal", Notification::from_slot(badged).signal());
    wait_for("bound server wakes", || EV_STEP.load(Ordering::SeqCst) == 1);
    check(
        "a signal ends a bound thread's recv with NOTIFY_LABEL and the bits as badge",
        EV_GOT.load(Ordering::SeqCst) == 0x40,
    );
    let m = my_message();
    m.label = 77;
    m.data_len = 0;
    m.cap_count = 0;
    want("Endpoint.call", ep.call());
    check(
        "the bound thread still receives calls",
        EV_STEP.load(Ordering::SeqCst) == 2 && EV_GOT.load(Ordering::SeqCst) == 1077,
    );
    wait_for("bound server exits", || {
        srv.tcb.state() == Ok(anvil::sys::kernel::ThreadState::DEAD)
    });
    want("Thread.free bound server", srv.free());

    // Saved replies: two callers; this thread receives both, saves the first reply, answers the
    // second at once and the first later; a third call's saved reply is deleted unanswered.
    let c0 = spawn_caller(q, 0);
    let mut got = [0u64; 2];
    want("Endpoint.recv", ep.recv());
    got[0] = m.label;
    let first = want("Endpoint.save_reply", Endpoint::save_reply(q));
    check(
        "no reply is owed after save_reply",
        Endpoint::reply() == Err(Status::BAD_STATE),
    );
    let c1 = spawn_caller(q, 1);
    want("Endpoint.recv", ep.recv());
    got[1] = m.label;
    m.label = 0;
    m.data_len = 0;
    want("Endpoint.reply", Endpoint::reply());
    wait_for("second caller answered", || CALLER_GOT[1].load(Ordering::SeqCst) != 0);
    check(
        "a call received after a saved one is answered first",
        got == [500, 501] && CALLER_GOT[0].load(Ordering::SeqCst) == 0,
    );
    m.label = 0;
    m.data_len = 0;
    m.cap_count = 0;
    want("Reply.send", first.send());
    wait_for("first caller answered", || CALLER_GOT[0].load(Ordering::SeqCst) != 0);
    check(
        "Reply.send answers the saved call",
        CALLER_GOT[0].load(Ordering::SeqCst) == 1,
    );
    check("a Reply answers once", first.send() == Err(Status::BAD_STATE));
    want("Cap.delete reply", Cap::delete(&own, first.0));
    for t in [c0, c1] {
        want("Thread.free caller", t.free());
    }
    let c2 = spawn_caller(q, 0);
    want("Endpoint.recv", ep.recv());
    let dropped = want("Endpoint.save_reply", Endpoint::save_reply(q));
    want("Cap.delete unsent reply", Cap::delete(&own, dropped.0));
    wait_for("dropped caller wakes", || CALLER_GOT[0].load(Ordering::SeqCst) != 0);
    check(
        "deleting an unsent Reply wakes its caller with PEER_CLOSED",
        CALLER_GOT[0].load(Ordering::SeqCst) == 2000 + u64::from(Status::PEER_CLOSED.0),
    );
    want("Thread.free caller", c2.free());
    for slot in [badged, n.0, ep.0] {
        want("Cap.delete", Cap::delete(&own, slot));
    }
}

static SERVER_BUF: AtomicU64 = AtomicU64::new(0);
static SERVER_GO: AtomicU64 = AtomicU64::new(0);

extern "C" fn bound_server_trampoline(_: u64) -> ! {
    while SERVER_GO.load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    bound_server(SERVER_BUF.load(Ordering::SeqCst))
}

fn spawn_caller(q: &Quota, k: usize) -> Thread {
    CALLER_GOT[k].store(0, Ordering::SeqCst);
    let how = Spawn {
        priority: 1,
        ipc_buffer: true,
        quota: Some(*q),
        ..Spawn::default()
    };
    CALLER_BUF[k].store(0, Ordering::SeqCst);
    let t = want("spawn caller", thread::spawn(caller_trampoline, k as u64, how));
    CALLER_BUF[k].store(t.ipc_buffer, Ordering::SeqCst);
    t
}

extern "C" fn caller_trampoline(k: u64) -> ! {
    while CALLER_BUF[k as usize].load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    caller(k)
}
