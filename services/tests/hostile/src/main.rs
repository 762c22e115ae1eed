//! hostile: attacks every capability and pointer argument of every syscall, driven by the
//! syscall table generated from `idl/`, plus specific misuse (W+X, mapping over the kernel,
//! exhausting a quota, ...). Each call must get the documented status; the kernel must keep
//! running; frames and heap must be the same before and after a round of attacks.

#![no_std]
#![no_main]

use anvil::sys::abi::syscall6;
use anvil::sys::kernel::Cap;
use anvil::sys::syscalls::{Arg, SYSCALLS};
use anvil::testing::Memory;
use anvil::thread::{self, Spawn, Thread};
use anvil::{
    boot, println, types, Endpoint, IoPort, IrqControl, MapFlags, Notification, Quota, Rights, Status, Tcb, Vmo,
};
use anvil::{CNode, VSpace};

anvil::entry!(main);

const PAGE: u64 = types::PAGE_SIZE;
const EMPTY_SLOT: u64 = 250;
const SCRATCH: u64 = 251;
const KERNEL_ADDR: u64 = 0xFFFF_8000_0000_0000;
const UNMAPPED: u64 = 0x0000_6000_0000_0000;

struct Tally {
    checks: u64,
    failures: u64,
}

impl Tally {
    fn expect(&mut self, what: &dyn core::fmt::Display, got: u64, want: Status) {
        self.checks += 1;
        if got != u64::from(want.0) {
            self.failures += 1;
            println!("hostile: FAIL {what}: got {:?}, expected {want:?}", Status(got as u32));
        }
    }

    fn expect_r<T>(&mut self, what: &str, got: Result<T, Status>, want: Status) {
        let code = match got {
            Ok(_) => 0,
            Err(e) => u64::from(e.0),
        };
        self.expect(&what, code, want);
    }
}

/// Slots holding a capability with all rights to an object of each type, by type id.
struct Fixtures {
    slots: [u64; 16],
    /// The thread whose call the `Reply` fixture answers, and the endpoint it called.
    caller: Option<Thread>,
    reply_ep: u64,
}

static REPLY_EP: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Calls the endpoint once (the fixture saves the reply it is owed), then exits.
extern "C" fn reply_caller(_: u64) -> ! {
    while REPLY_BUF.load(core::sync::atomic::Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    let buf = REPLY_BUF.load(core::sync::atomic::Ordering::SeqCst);
    // SAFETY: the address of this thread's own IPC buffer, mapped read-write by
    // `thread::spawn` and published by the fixture before this loop ends.
    let m = unsafe { &mut *(buf as *mut anvil::sys::abi::Message) };
    m.label = 1;
    m.data_len = 0;
    m.cap_count = 0;
    let _ = Endpoint::from_slot(REPLY_EP.load(core::sync::atomic::Ordering::SeqCst)).call();
    Tcb::exit(0)
}

static REPLY_BUF: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl Fixtures {
    fn new(q: &Quota) -> Fixtures {
        let mut slots = [0u64; 16];
        let ok = |r: Result<u64, Status>| r.unwrap_or_else(|e| panic!("fixture: {e:?}"));
        slots[1] = ok(q.split(1 << 20).map(|x| x.0));
        slots[2] = ok(CNode::create(q, 8).map(|x| x.0));
        slots[4] = ok(Tcb::create(q).map(|x| x.0));
        slots[5] = ok(VSpace::create(q).map(|x| x.0));
        slots[6] = ok(Vmo::create(q, PAGE).map(|x| x.0));
        slots[7] = ok(Endpoint::create(q).map(|x| x.0));
        slots[8] = ok(IoPort::from_slot(types::BOOT_SLOT_IOPORT).split(0x80, 1).map(|x| x.0));
        slots[9] = types::BOOT_SLOT_IRQ_CONTROL;
        slots[10] = ok(IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL).get(5).map(|x| x.0));
        slots[11] = types::BOOT_SLOT_DEBUG;
        slots[12] = ok(Notification::create(q).map(|x| x.0));
        // A Reply: a helper thread calls an endpoint, this thread receives and saves the reply.
        let reply_ep = ok(Endpoint::create(q).map(|x| x.0));
        REPLY_EP.store(reply_ep, core::sync::atomic::Ordering::SeqCst);
        REPLY_BUF.store(0, core::sync::atomic::Ordering::SeqCst);
        let how = Spawn {
            ipc_buffer: true,
            quota: Some(*q),
            ..Spawn::default()
        };
        let caller = thread::spawn(reply_caller, 0, how).unwrap_or_else(|e| panic!("fixture: {e:?}"));
        REPLY_BUF.store(caller.ipc_buffer, core::sync::atomic::Ordering::SeqCst);
        ok(Endpoint::from_slot(reply_ep).recv().map(|()| 0));
        slots[13] = ok(Endpoint::save_reply(q).map(|x| x.0));
        Fixtures {
            slots,
            caller: Some(caller),
            reply_ep,
        }
    }

    fn slot_for(&self, object: Option<u32>) -> u64 {
        // `cap<any>` arguments get an endpoint.
        self.slots[object.unwrap_or(7) as usize]
    }

    /// A slot of a different type than `object`.
    fn wrong_type(&self, object: u32) -> u64 {
        if object == 11 {
            self.slots[1]
        } else {
            self.slots[11]
        }
    }

    fn release(mut self) {
        let own = boot::cnode();
        for (ty, &slot) in self.slots.iter().enumerate() {
            if slot != 0 && ![9, 11].contains(&ty) {
                let _ = Cap::delete(&own, slot);
            }
        }
        // The deleted Reply woke the helper with PEER_CLOSED; it exits.
        if let Some(t) = self.caller.take() {
            while !matches!(t.tcb.state(), Ok(s) if s == anvil::sys::kernel::ThreadState::DEAD) {
                let _ = Tcb::yield_now();
            }
            let _ = t.free();
        }
        let _ = Cap::delete(&own, self.reply_ep);
    }
}

/// Registers for a call of `args` where every capability is valid and every value is 0.
fn base_regs(args: &[Arg], fx: &Fixtures, buf: u64) -> ([u64; 6], [usize; 6]) {
    let mut regs = [0u64; 6];
    let mut at = [0usize; 6];
    let mut r = 0;
    for (i, a) in args.iter().enumerate() {
        at[i] = r;
        match *a {
            Arg::Cap { object, .. } => regs[r] = fx.slot_for(object),
            Arg::Bytes { .. } => {
                regs[r] = buf;
                regs[r + 1] = 1;
                r += 1;
            }
            Arg::Struct { .. } => regs[r] = buf,
            Arg::Value => {}
        }
        r += 1;
    }
    (regs, at)
}

fn attack_table(t: &mut Tally, fx: &Fixtures, buf: u64) {
    let own = boot::cnode();
    for sc in SYSCALLS {
        for (i, a) in sc.args.iter().enumerate() {
            let (base, at) = base_regs(sc.args, fx, buf);
            let r = at[i];
            let call = |regs: [u64; 6]| syscall6(sc.number, regs).0;
            match *a {
                Arg::Cap { object, rights } => {
                    for (what, slot) in [
                        ("empty slot", EMPTY_SLOT),
                        ("slot out of range", 1 << 20),
                        ("slot u64::MAX", u64::MAX),
                    ] {
                        let mut regs = base;
                        regs[r] = slot;
                        t.expect(
                            &format_args!("{} arg {i}: {what}", sc.name),
                            call(regs),
                            Status::INVALID_CAP,
                        );
                    }
                    if let Some(o) = object {
                        let mut regs = base;
                        regs[r] = fx.wrong_type(o);
                        t.expect(
                            &format_args!("{} arg {i}: wrong object type", sc.name),
                            call(regs),
                            Status::WRONG_TYPE,
                        );
                    }
                    for bit in 0..32 {
                        let right = 1u32 << bit;
                        if rights & right == 0 {
                            continue;
                        }
                        let reduced = Rights(Rights::ALL.0 & !right);
                        if Cap::copy(&own, base[r], &own, SCRATCH, reduced).is_err() {
                            t.expect(
                                &format_args!("{} arg {i}: making a reduced copy", sc.name),
                                1,
                                Status::OK,
                            );
                            continue;
                        }
                        let mut regs = base;
                        regs[r] = SCRATCH;
                        let what = format_args!("{} arg {i}: without right {:?}", sc.name, Rights(right));
                        t.expect(&what, call(regs), Status::ACCESS_DENIED);
                        let _ = Cap::delete(&own, SCRATCH);
                    }
                }
                Arg::Bytes { max } => {
                    let cases = [
                        ("kernel pointer", KERNEL_ADDR, 8, Status::BAD_ADDRESS),
                        ("wrapping range", u64::MAX - 4, 8, Status::BAD_ADDRESS),
                        ("length u64::MAX", buf, u64::MAX, Status::INVALID_ARGS),
                        ("length over the bound", buf, max + 1, Status::INVALID_ARGS),
                        ("unmapped pointer", UNMAPPED, 8, Status::BAD_ADDRESS),
                    ];
                    for (what, ptr, len, want) in cases {
                        let mut regs = base;
                        regs[r] = ptr;
                        regs[r + 1] = len;
                        t.expect(&format_args!("{} arg {i}: {what}", sc.name), call(regs), want);
                    }
                }
                Arg::Struct { .. } => {
                    for (what, ptr) in [
                        ("kernel pointer", KERNEL_ADDR),
                        ("unmapped pointer", UNMAPPED),
                        ("null", 0),
                    ] {
                        let mut regs = base;
                        regs[r] = ptr;
                        t.expect(
                            &format_args!("{} arg {i}: {what}", sc.name),
                            call(regs),
                            Status::BAD_ADDRESS,
                        );
                    }
                }
                Arg::Value => {}
            }
        }
    }
}

fn attack_specific(t: &mut Tally, q: &Quota) {
    let vs = boot::vspace();
    let own = boot::cnode();
    let vmo = Vmo::create(q, 2 * PAGE).unwrap_or_else(|e| panic!("vmo: {e:?}"));
    let rwx = MapFlags::R | MapFlags::W | MapFlags::X;
    t.expect_r("map W+X", vs.map(&vmo, 0x4000_0000, 0, PAGE, rwx), Status::INVALID_ARGS);
    t.expect_r(
        "map over the kernel",
        vs.map(&vmo, KERNEL_ADDR, 0, PAGE, MapFlags::R),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "map at the top of user space",
        vs.map(&vmo, 0x7FFF_FFFF_F000, 0, 2 * PAGE, MapFlags::R),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "map unaligned",
        vs.map(&vmo, 0x4000_0010, 0, PAGE, MapFlags::R),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "map past the VMO",
        vs.map(&vmo, 0x4000_0000, PAGE, 2 * PAGE, MapFlags::R),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "map with length overflow",
        vs.map(&vmo, 0x4000_0000, PAGE, u64::MAX - PAGE + 1, MapFlags::R),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "map with unknown flag bits",
        vs.map(&vmo, 0x4000_0000, 0, PAGE, MapFlags(0x80)),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "map over the program",
        vs.map(&vmo, 0x40_0000, 0, PAGE, MapFlags::R),
        Status::ALREADY_MAPPED,
    );
    t.expect_r(
        "unmap what is not mapped",
        vs.unmap(0x4000_0000, PAGE),
        Status::NOT_MAPPED,
    );
    t.expect_r("unmap kernel memory", vs.unmap(KERNEL_ADDR, PAGE), Status::INVALID_ARGS);
    t.expect_r("alloc W+X", vs.alloc(q, PAGE, rwx), Status::INVALID_ARGS);
    t.expect_r("alloc zero bytes", vs.alloc(q, 0, MapFlags::R), Status::INVALID_ARGS);
    t.expect_r("VMO of zero bytes", Vmo::create(q, 0), Status::INVALID_ARGS);
    t.expect_r(
        "VMO write past the end",
        vmo.write(2 * PAGE - 1, b"xy"),
        Status::INVALID_ARGS,
    );
    let ro = {
        let _ = Cap::copy(&own, vmo.0, &own, SCRATCH, Rights::READ | Rights::MAP);
        Vmo::from_slot(SCRATCH)
    };
    t.expect_r(
        "map writable without WRITE",
        vs.map(&ro, 0x4000_0000, 0, PAGE, MapFlags::R | MapFlags::W),
        Status::ACCESS_DENIED,
    );
    t.expect_r(
        "map executable without EXEC",
        vs.map(&ro, 0x4000_0000, 0, PAGE, MapFlags::R | MapFlags::X),
        Status::ACCESS_DENIED,
    );
    t.expect_r(
        "copy without GRANT",
        Cap::copy(&own, SCRATCH, &own, SCRATCH + 1, Rights::READ),
        Status::ACCESS_DENIED,
    );
    let _ = Cap::delete(&own, SCRATCH);
    t.expect_r(
        "copy into an occupied slot",
        Cap::copy(&own, vmo.0, &own, types::BOOT_SLOT_DEBUG, Rights::READ),
        Status::SLOT_OCCUPIED,
    );
    t.expect_r(
        "copy from an empty slot",
        Cap::copy(&own, EMPTY_SLOT, &own, SCRATCH, Rights::READ),
        Status::INVALID_CAP,
    );
    t.expect_r(
        "delete an empty slot",
        Cap::delete(&own, EMPTY_SLOT),
        Status::INVALID_CAP,
    );
    t.expect_r(
        "mint a zero badge",
        Cap::mint(&own, vmo.0, &own, SCRATCH, Rights::ALL, 0),
        Status::INVALID_ARGS,
    );
    // Exhausting a quota: a small child quota runs out, and nothing else is affected.
    let small = q.split(16 * PAGE).unwrap_or_else(|e| panic!("split: {e:?}"));
    let mut held = [0u64; 32];
    let mut n = 0;
    let last = loop {
        match Vmo::create(&small, 2 * PAGE) {
            Ok(v) if n < held.len() => {
                held[n] = v.0;
                n += 1;
            }
            Ok(v) => {
                let _ = Cap::delete(&own, v.0);
                break Ok(());
            }
            Err(e) => break Err(e),
        }
    };
    t.expect_r("exhausting a quota", last, Status::QUOTA_EXCEEDED);
    t.expect_r("split beyond the parent", small.split(1 << 40), Status::QUOTA_EXCEEDED);
    for &slot in &held[..n] {
        let _ = Cap::delete(&own, slot);
    }
    // Values out of range for their types are refused before any handler runs.
    let tcb = Tcb::create(q).unwrap_or_else(|e| panic!("tcb: {e:?}"));
    let (st, _) = syscall6(anvil::sys::kernel::SYS_TCB_CONFIGURE, [tcb.0, vs.0, own.0, 0, 256, 0]);
    t.expect(&"u8 argument out of range", st, Status::INVALID_ARGS);
    t.expect_r(
        "priority above the maximum",
        tcb.configure(&vs, &own, 0, 32),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "unaligned IPC buffer",
        tcb.configure(&vs, &own, 0x1234, 1),
        Status::INVALID_ARGS,
    );
    t.expect_r("resume an unconfigured thread", tcb.resume(), Status::BAD_STATE);
    let bad_regs = types::Regs {
        rip: KERNEL_ADDR,
        rsp: 0x1000,
        arg0: 0,
        arg1: 0,
        arg2: 0,
    };
    t.expect_r(
        "start a thread in the kernel",
        tcb.set_regs(&bad_regs),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "affinity to a missing CPU",
        tcb.set_affinity(1000),
        Status::INVALID_ARGS,
    );
    let (st, _) = syscall6(0xFFFF, [0; 6]);
    t.expect(&"unknown syscall number", st, Status::UNKNOWN_METHOD);
    let (st, _) = syscall6(0, [0; 6]);
    t.expect(&"syscall number 0", st, Status::UNKNOWN_METHOD);
    let (st, _) = syscall6(200 * 64 + 1, [0; 6]);
    t.expect(
        &"syscall of an object type that does not exist",
        st,
        Status::UNKNOWN_METHOD,
    );
    // Deleting a notification an interrupt line is bound to: the binding does not keep it
    // alive, and the line stays bound (an interrupt signals nobody).
    let n = Notification::create(q).unwrap_or_else(|e| panic!("notification: {e:?}"));
    let irq = IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL)
        .get(6)
        .unwrap_or_else(|e| panic!("irq: {e:?}"));
    t.expect_r(
        "a second capability to the same line",
        IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL).get(6),
        Status::ALREADY_EXISTS,
    );
    t.expect_r(
        "ISA line 16",
        IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL).get(16),
        Status::INVALID_ARGS,
    );
    t.expect_r(
        "a GSI no I/O APIC has",
        IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL).get_gsi(5000, true, true),
        Status::INVALID_ARGS,
    );
    t.expect_r("ack of an unbound line", irq.ack(), Status::BAD_STATE);
    let _ = irq.bind(&n);
    t.expect_r(
        "delete a notification an IRQ is bound to",
        Cap::delete(&own, n.0),
        Status::OK,
    );
    t.expect_r("the binding survives the deleted capability", irq.ack(), Status::OK);
    t.expect_r(
        "save_reply with no reply owed",
        Endpoint::save_reply(q),
        Status::BAD_STATE,
    );
    t.expect_r(
        "unbind with nothing bound",
        tcb.unbind_notification(),
        Status::BAD_STATE,
    );
    for slot in [irq.0, tcb.0, vmo.0, small.0] {
        let _ = Cap::delete(&own, slot);
    }
}

fn round(t: &mut Tally, q: &Quota, buf: u64) {
    let fx = Fixtures::new(q);
    attack_table(t, &fx, buf);
    fx.release();
    attack_specific(t, q);
}

fn main() -> u64 {
    let root = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    let q = root.split(8 << 20).unwrap_or_else(|e| panic!("quota: {e:?}"));
    let buf = boot::vspace()
        .alloc(&q, PAGE, MapFlags::R | MapFlags::W)
        .unwrap_or_else(|e| panic!("buf: {e:?}"));
    let mut t = Tally { checks: 0, failures: 0 };
    // The first round warms up kernel tables that grow once (capability slots); the second is
    // measured: it must leave frames, heap and the quota exactly as it found them.
    round(&mut t, &q, buf);
    let before = Memory::now(&q);
    round(&mut t, &q, buf);
    let after = Memory::now(&q);
    println!(
        "hostile: {} syscalls attacked, {} checks, {} failures",
        SYSCALLS.len(),
        t.checks,
        t.failures
    );
    println!("hostile: memory {before:?} -> {after:?}");
    let leak = before.is_err() || before != after;
    if leak {
        println!("hostile: FAIL memory leaked during a round of attacks");
    }
    // The system still works after all that.
    let v = Vmo::create(&q, PAGE).and_then(|v| v.write(0, b"still alive").map(|_| v));
    let alive = v.is_ok() && Tcb::current_cpu().is_ok();
    println!("hostile: system still works: {alive}");
    if t.failures == 0 && !leak && alive {
        println!("hostile: PASS");
        boot::debug().shutdown(0)
    } else {
        println!("hostile: FAIL");
        boot::debug().shutdown(1)
    }
}
