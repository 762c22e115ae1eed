//! soundness: drives the kernel through the hostile sequences of calls that once hung, crashed
//! or leaked it, and checks each ends in a documented status with nothing lost: creating into
//! a full CNode while other CPUs do the same, suspend/resume storms, quota exhaustion, a
//! server dying under a blocked caller, an endpoint deleted under its waiters, suspend and
//! resume of blocked threads, a thousand thread deaths of each kind, map/unmap churn, and a
//! map that runs out of quota half way through its page tables.
//! Runs as init (it needs the root quota); prints `soundness: ok ...` per check and `PASS`.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::sys::abi::Message;
use anvil::sys::kernel::{Cap, ThreadState};
use anvil::testing::{Memory, Test};
use anvil::thread::{self, Spawn, Thread};
use anvil::{boot, println, types, CNode, Endpoint, MapFlags, Quota, Rights, Status, Tcb, VSpace, Vmo};

anvil::entry!(main);

const T: Test = Test::new("soundness");
const PAGE: u64 = types::PAGE_SIZE;
const WORKERS: usize = 16;

fn quota() -> Quota {
    Quota::from_slot(types::BOOT_SLOT_QUOTA)
}

fn mem() -> Memory {
    T.want("Debug.memory", Memory::now(&quota()))
}

fn tsc() -> u64 {
    // SAFETY: rdtsc only reads the time-stamp counter, which the kernel leaves readable.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Per-worker state, indexed by the argument a worker starts with.
static BUF: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
static EP: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
static EP2: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
/// 0 while the worker's call has not returned, else `RETURNED + status`.
static STATUS: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
static STATUS2: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
static LABEL: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
static COUNT: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
static SLOT: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
static GO: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static BAD: AtomicU64 = AtomicU64::new(0);
static LAST_BAD: AtomicU64 = AtomicU64::new(0);

const RETURNED: u64 = 1000;

fn code(r: Result<(), Status>) -> u64 {
    RETURNED + r.err().map_or(0, |e| u64::from(e.0))
}

fn status_of(v: u64) -> Option<Status> {
    (v >= RETURNED).then(|| Status((v - RETURNED) as u32))
}

fn bad(v: Status) {
    BAD.fetch_add(1, Ordering::SeqCst);
    LAST_BAD.store(u64::from(v.0), Ordering::SeqCst);
}

/// Waits (yielding) until `f` holds; fails after a bound instead of hanging the run.
fn wait_for(what: &str, f: impl Fn() -> bool) {
    for _ in 0..2_000_000u64 {
        if f() {
            return;
        }
        let _ = Tcb::yield_now();
    }
    T.fail(what, "timed out");
}

/// This worker's IPC buffer, as a message (main stores its address right after spawning).
fn msg(i: usize) -> &'static mut Message {
    wait_for("IPC buffer address", || BUF[i].load(Ordering::SeqCst) != 0);
    // SAFETY: the page was mapped read-write for this thread by `thread::spawn` and is used by
    // this thread only; a `Message` fits in a page and is plain data.
    unsafe { &mut *(BUF[i].load(Ordering::SeqCst) as *mut Message) }
}

fn set_empty(m: &mut Message, label: u64) {
    m.label = label;
    m.data_len = 0;
    m.cap_count = 0;
}

fn spawn_on(entry: extern "C" fn(u64) -> !, i: usize, cpu: Option<u32>, q: Option<Quota>) -> Thread {
    for a in [&STATUS[i], &STATUS2[i], &LABEL[i], &COUNT[i]] {
        a.store(0, Ordering::SeqCst);
    }
    BUF[i].store(0, Ordering::SeqCst);
    let how = Spawn {
        cpu,
        ipc_buffer: true,
        quota: q,
        ..Spawn::default()
    };
    let t = T.want("thread::spawn", thread::spawn(entry, i as u64, how));
    SLOT[i].store(t.tcb.0, Ordering::SeqCst);
    BUF[i].store(t.ipc_buffer, Ordering::SeqCst);
    t
}

fn spawn(entry: extern "C" fn(u64) -> !, i: usize) -> Thread {
    spawn_on(entry, i, None, None)
}

fn state(t: &Thread) -> ThreadState {
    t.tcb.state().unwrap_or(ThreadState(u32::MAX))
}

fn wait_state(what: &str, t: &Thread, s: ThreadState) {
    wait_for(what, || state(t) == s);
}

fn free(t: Thread) {
    T.want("Thread::free", t.free());
}

fn endpoint() -> Endpoint {
    endpoint_with(&quota())
}

fn delete(slot: u64) {
    T.want("Cap.delete", Cap::delete(&boot::cnode(), slot));
}

// ---- workers -------------------------------------------------------------------------------

extern "C" fn caller(i: u64) -> ! {
    let i = i as usize;
    set_empty(msg(i), 7);
    let r = Endpoint::from_slot(EP[i].load(Ordering::SeqCst)).call();
    LABEL[i].store(msg(i).label, Ordering::SeqCst);
    STATUS[i].store(code(r), Ordering::SeqCst);
    Tcb::exit(0)
}

extern "C" fn sender(i: u64) -> ! {
    let i = i as usize;
    set_empty(msg(i), 8);
    let r = Endpoint::from_slot(EP[i].load(Ordering::SeqCst)).send();
    STATUS[i].store(code(r), Ordering::SeqCst);
    Tcb::exit(0)
}

/// Receives on EP, then on EP2 (recording the second message's label).
extern "C" fn receiver(i: u64) -> ! {
    let i = i as usize;
    let m = msg(i);
    let r = Endpoint::from_slot(EP[i].load(Ordering::SeqCst)).recv();
    STATUS[i].store(code(r), Ordering::SeqCst);
    let ep2 = EP2[i].load(Ordering::SeqCst);
    if ep2 != 0 {
        let r = Endpoint::from_slot(ep2).recv();
        LABEL[i].store(m.label, Ordering::SeqCst);
        STATUS2[i].store(code(r), Ordering::SeqCst);
    }
    Tcb::exit(0)
}

/// Receives one call and then, by `COUNT[i]`'s initial instruction in LABEL, dies in a way:
/// 1 spin (to be killed or suspended), 2 fault, 3 exit.
extern "C" fn holder(i: u64) -> ! {
    let i = i as usize;
    let how = EP2[i].load(Ordering::SeqCst);
    let _ = msg(i);
    let r = Endpoint::from_slot(EP[i].load(Ordering::SeqCst)).recv();
    STATUS[i].store(code(r), Ordering::SeqCst);
    match how {
        2 => {
            // SAFETY: deliberately faults: the dangling address (8) is never mapped.
            let v = unsafe { core::ptr::read_volatile(core::ptr::dangling::<u64>()) };
            core::hint::black_box(v);
        }
        3 => Tcb::exit(3),
        _ => {}
    }
    loop {
        COUNT[i].fetch_add(1, Ordering::Relaxed);
        core::hint::spin_loop();
    }
}

/// Receives one call on EP (its status in STATUS), then waits for GO; returns the message.
fn call_held_until_go(i: usize) -> &'static mut Message {
    let m = msg(i);
    let r = Endpoint::from_slot(EP[i].load(Ordering::SeqCst)).recv();
    STATUS[i].store(code(r), Ordering::SeqCst);
    while GO.load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    m
}

/// Receives one call, waits for GO, tries to save the reply (STATUS2), then replies directly
/// with label 77 (STATUS of the reply in COUNT).
extern "C" fn saver(i: u64) -> ! {
    let i = i as usize;
    let m = call_held_until_go(i);
    let saved = Endpoint::save_reply(&quota());
    if let Ok(reply) = &saved {
        // Not expected (the CNode is full); keep the run going: answer through it.
        let _ = Cap::delete(&boot::cnode(), reply.0);
    }
    STATUS2[i].store(code(saved.map(drop)), Ordering::SeqCst);
    set_empty(m, 77);
    COUNT[i].store(code(Endpoint::reply()), Ordering::SeqCst);
    Tcb::exit(0)
}

/// Receives one call, waits for GO, then replies with label 99.
extern "C" fn late_replier(i: u64) -> ! {
    let i = i as usize;
    let m = call_held_until_go(i);
    set_empty(m, 99);
    STATUS2[i].store(code(Endpoint::reply()), Ordering::SeqCst);
    Tcb::exit(0)
}

extern "C" fn spinner(i: u64) -> ! {
    loop {
        COUNT[i as usize].fetch_add(1, Ordering::Relaxed);
        core::hint::spin_loop();
    }
}

extern "C" fn yielder(i: u64) -> ! {
    loop {
        COUNT[i as usize].fetch_add(1, Ordering::Relaxed);
        let _ = Tcb::yield_now();
    }
}

/// Deletes its own (last) capability.
extern "C" fn self_deleter(i: u64) -> ! {
    let i = i as usize;
    while GO.load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    COUNT[i].store(1, Ordering::SeqCst);
    let r = Cap::delete(&boot::cnode(), SLOT[i].load(Ordering::SeqCst));
    // Not reached: the thread stops before its delete returns.
    STATUS[i].store(code(r), Ordering::SeqCst);
    loop {
        let _ = Tcb::yield_now();
    }
}

/// Exits once GO is 1, its fault endpoint set (the exit report goes there, nobody receives it).
extern "C" fn exiter(i: u64) -> ! {
    let i = i as usize;
    while GO.load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    COUNT[i].store(1, Ordering::SeqCst);
    Tcb::exit(0)
}

/// While GO is 1, tries to create objects into the (full) CNode: every attempt must fail with
/// NO_SLOT and leave nothing behind.
extern "C" fn creator(i: u64) -> ! {
    let i = i as usize;
    while GO.load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    let q = quota();
    for _ in 0..100 {
        for r in [
            Tcb::create(&q).map(|_| ()),
            CNode::create(&q, 64).map(|_| ()),
            Endpoint::create(&q).map(|_| ()),
        ] {
            match r {
                Err(Status::NO_SLOT) => {}
                Err(e) => bad(e),
                Ok(()) => bad(Status::OK),
            }
        }
        COUNT[i].fetch_add(1, Ordering::Relaxed);
    }
    DONE.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

/// Suspends and resumes the thread in SLOT[0] 1000 times; any status but OK (and BAD_STATE
/// for a resume, when another storm thread resumed it first) is counted as bad.
extern "C" fn stormer(_i: u64) -> ! {
    let target = Tcb::from_slot(SLOT[0].load(Ordering::SeqCst));
    while GO.load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    for _ in 0..1000 {
        if let Err(e) = target.suspend() {
            bad(e);
        }
        match target.resume() {
            Ok(()) | Err(Status::BAD_STATE) => {}
            Err(e) => bad(e),
        }
    }
    DONE.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

// ---- scenarios -----------------------------------------------------------------------------

fn cpus() -> u32 {
    T.want("cpu_count", thread::cpu_count())
}

/// Worker `k`'s CPU when spreading workers over the other CPUs.
fn other_cpu(n: u32, k: u32) -> Option<u32> {
    (n > 1).then(|| 1 + k % (n - 1))
}

/// Creating objects into a full CNode fails with NO_SLOT, from this CPU and from the others
/// at once, and loses nothing.
fn full_cnode() {
    let n = cpus();
    let own = boot::cnode();
    let q = quota();
    let round = || {
        let workers = n.clamp(2, 4) as usize - 1;
        GO.store(0, Ordering::SeqCst);
        DONE.store(0, Ordering::SeqCst);
        let ts: [Option<Thread>; 3] =
            core::array::from_fn(|k| (k < workers).then(|| spawn_on(creator, k, other_cpu(n, k as u32), None)));
        let (slots, _) = T.want("CNode.info", own.info());
        let mut filled = [false; types::BOOT_CNODE_SLOTS as usize];
        T.assert("init's CNode size", slots == types::BOOT_CNODE_SLOTS);
        for (s, f) in filled.iter_mut().enumerate().skip(1) {
            if Cap::identify(&own, s as u64).is_err() {
                T.want(
                    "fill",
                    Cap::copy(&own, types::BOOT_SLOT_DEBUG, &own, s as u64, Rights::READ),
                );
                *f = true;
            }
        }
        let (_, used) = T.want("CNode.info", own.info());
        T.assert("the CNode is full", used + 1 == slots);
        GO.store(1, Ordering::SeqCst);
        T.expect(
            "CNode.create into a full CNode",
            CNode::create(&q, 16).err(),
            Some(Status::NO_SLOT),
        );
        T.expect(
            "Tcb.create into a full CNode",
            Tcb::create(&q).err(),
            Some(Status::NO_SLOT),
        );
        T.expect(
            "Vmo.create into a full CNode",
            Vmo::create(&q, PAGE).err(),
            Some(Status::NO_SLOT),
        );
        T.expect(
            "VSpace.create into a full CNode",
            VSpace::create(&q).err(),
            Some(Status::NO_SLOT),
        );
        T.expect(
            "Endpoint.create into a full CNode",
            Endpoint::create(&q).err(),
            Some(Status::NO_SLOT),
        );
        T.expect(
            "Quota.split into a full CNode",
            q.split(PAGE).err(),
            Some(Status::NO_SLOT),
        );
        wait_for("creators", || DONE.load(Ordering::SeqCst) == workers as u64);
        T.expect(
            "every creation from other CPUs failed with NO_SLOT",
            BAD.load(Ordering::SeqCst),
            0,
        );
        for (s, _) in filled.iter().enumerate().filter(|(_, &f)| f) {
            delete(s as u64);
        }
        for t in ts.into_iter().flatten() {
            wait_state("creator exit", &t, ThreadState::DEAD);
            free(t);
        }
    };
    round();
    let before = mem();
    round();
    T.expect("full-CNode rounds leave memory as it was", mem(), before);
    println!("soundness: ok create into a full CNode fails with NO_SLOT on {n} CPU(s), from every CPU at once, nothing leaked");
    save_reply_into_full_cnode();
}

/// A server whose CNode is full cannot save a reply (`NO_SLOT`), and still owes it: its
/// caller is not ended, and the direct reply reaches it.
fn save_reply_into_full_cnode() {
    let own = boot::cnode();
    let before = mem();
    let ep = endpoint();
    for i in [0, 1] {
        EP[i].store(ep.0, Ordering::SeqCst);
        STATUS[i].store(0, Ordering::SeqCst);
        STATUS2[i].store(0, Ordering::SeqCst);
        COUNT[i].store(0, Ordering::SeqCst);
        LABEL[i].store(0, Ordering::SeqCst);
    }
    GO.store(0, Ordering::SeqCst);
    let server = spawn(saver, 0);
    let client = spawn(caller, 1);
    wait_for("server got the call", || STATUS[0].load(Ordering::SeqCst) != 0);
    let mut filled = [false; types::BOOT_CNODE_SLOTS as usize];
    for (s, f) in filled.iter_mut().enumerate().skip(1) {
        if Cap::identify(&own, s as u64).is_err() {
            T.want(
                "fill",
                Cap::copy(&own, types::BOOT_SLOT_DEBUG, &own, s as u64, Rights::READ),
            );
            *f = true;
        }
    }
    GO.store(1, Ordering::SeqCst);
    wait_for("server done", || COUNT[0].load(Ordering::SeqCst) != 0);
    wait_for("client done", || STATUS[1].load(Ordering::SeqCst) != 0);
    for (s, _) in filled.iter().enumerate().filter(|(_, &f)| f) {
        delete(s as u64);
    }
    T.expect(
        "save_reply into a full CNode",
        status_of(STATUS2[0].load(Ordering::SeqCst)),
        Some(Status::NO_SLOT),
    );
    T.expect(
        "the direct reply after it",
        status_of(COUNT[0].load(Ordering::SeqCst)),
        Some(Status::OK),
    );
    T.expect(
        "the caller's call",
        status_of(STATUS[1].load(Ordering::SeqCst)),
        Some(Status::OK),
    );
    T.expect("the reply's label", LABEL[1].load(Ordering::SeqCst), 77);
    wait_state("server exit", &server, ThreadState::DEAD);
    wait_state("client exit", &client, ThreadState::DEAD);
    free(server);
    free(client);
    delete(ep.0);
    T.expect("memory after", mem(), before);
    println!("soundness: ok a server whose CNode is full cannot save a reply (NO_SLOT) and still answers the call");
}

/// Three threads suspend and resume one running thread 1000 times each, at once.
fn suspend_resume_storm() {
    let n = cpus();
    BAD.store(0, Ordering::SeqCst);
    GO.store(0, Ordering::SeqCst);
    DONE.store(0, Ordering::SeqCst);
    let target = spawn_on(spinner, 0, other_cpu(n, 0), None);
    let storm: [Thread; 3] = core::array::from_fn(|k| spawn_on(stormer, k + 1, other_cpu(n, k as u32 + 1), None));
    wait_for("target runs", || COUNT[0].load(Ordering::Relaxed) > 0);
    GO.store(1, Ordering::SeqCst);
    wait_for("storm", || DONE.load(Ordering::SeqCst) == 3);
    if BAD.load(Ordering::SeqCst) != 0 {
        T.fail("suspend/resume storm", Status(LAST_BAD.load(Ordering::SeqCst) as u32));
    }
    match target.tcb.resume() {
        Ok(()) | Err(Status::BAD_STATE) => {}
        Err(e) => T.fail("final resume", e),
    }
    let c = COUNT[0].load(Ordering::Relaxed);
    wait_for("target runs after the storm", || COUNT[0].load(Ordering::Relaxed) > c);
    T.expect(
        "resume of a running thread",
        target.tcb.resume().err(),
        Some(Status::BAD_STATE),
    );
    for t in storm {
        wait_state("stormer exit", &t, ThreadState::DEAD);
        free(t);
    }
    free(target);
    T.check(
        "1000 rounds of suspend/resume from 3 threads at once on one running thread",
        true,
    );
}

/// The root quota is spent on big CNodes, then threads, VMOs and endpoints, until the kernel
/// refuses; every refusal is QUOTA_EXCEEDED or NO_MEMORY, the kernel keeps serving, and
/// everything comes back.
fn exhaust() {
    let own = boot::cnode();
    let q = quota();
    let round = || -> (u64, Status) {
        let store = T.want("store CNode", CNode::create(&q, 4096));
        let mut k = 1u64;
        let mut last = Status::OK;
        let keep = |slot: u64, k: &mut u64| {
            T.want("Cap.transfer", Cap::transfer(&own, slot, &store, *k));
            *k += 1;
        };
        let kinds: [&dyn Fn() -> Result<u64, Status>; 4] = [
            &|| CNode::create(&q, 4096).map(|c| c.0),
            &|| Tcb::create(&q).map(|c| c.0),
            &|| Vmo::create(&q, 64 * PAGE).map(|c| c.0),
            &|| Endpoint::create(&q).map(|c| c.0),
        ];
        for make in kinds {
            while k < 4096 {
                match make() {
                    Ok(slot) => keep(slot, &mut k),
                    Err(e @ (Status::QUOTA_EXCEEDED | Status::NO_MEMORY)) => {
                        last = e;
                        break;
                    }
                    Err(e) => T.fail("exhaustion gave another status", e),
                }
            }
        }
        // The kernel still serves: a syscall, a map of an existing VMO, memory statistics.
        T.want("yield while exhausted", Tcb::yield_now());
        T.want("Debug.memory while exhausted", boot::debug().memory());
        let (limit, used) = T.want("Quota.info", q.info());
        T.assert("the quota is spent", limit - used < 64 * PAGE + 4096 * 128);
        delete(store.0);
        (k - 1, last)
    };
    round();
    let before = mem();
    let (objects, last) = round();
    T.expect("exhaustion leaves memory as it was", mem(), before);
    println!("soundness: exhausting the root quota made {objects} objects, then {last:?}");
    T.check(
        "a quota-driven attempt to exhaust kernel memory is refused, the kernel keeps serving, and everything comes back",
        true,
    );
}

/// A client blocked in `call` wakes with PEER_CLOSED when its server is killed, faults, exits
/// or is suspended while it holds the call.
fn server_death() {
    for (how, what) in [(1u64, "killed"), (2, "faults"), (3, "exits"), (4, "is suspended")] {
        let ep = endpoint();
        EP[0].store(ep.0, Ordering::SeqCst);
        EP[1].store(ep.0, Ordering::SeqCst);
        EP2[0].store(how, Ordering::SeqCst);
        let server = spawn(holder, 0);
        let client = spawn(caller, 1);
        wait_for("server got the call", || STATUS[0].load(Ordering::SeqCst) != 0);
        T.expect(
            "server's recv",
            status_of(STATUS[0].load(Ordering::SeqCst)),
            Some(Status::OK),
        );
        let t0 = tsc();
        let server = match how {
            1 => {
                free(server);
                None
            }
            4 => {
                T.want("suspend the server", server.tcb.suspend());
                Some(server)
            }
            _ => Some(server),
        };
        wait_for("client woken", || STATUS[1].load(Ordering::SeqCst) != 0);
        let cycles = tsc() - t0;
        T.expect(
            "the blocked client's call",
            status_of(STATUS[1].load(Ordering::SeqCst)),
            Some(Status::PEER_CLOSED),
        );
        wait_state("client exit", &client, ThreadState::DEAD);
        free(client);
        if let Some(s) = server {
            free(s);
        }
        delete(ep.0);
        println!("soundness: ok a client blocked in call gets PEER_CLOSED when its server {what} ({cycles} cycles)");
    }
}

/// Deleting an endpoint wakes its queued senders, callers and receivers with PEER_CLOSED.
fn endpoint_deleted() {
    let ep = endpoint();
    let mut ts: [Option<Thread>; 4] = [const { None }; 4];
    for (k, t) in ts.iter_mut().enumerate() {
        EP[k].store(ep.0, Ordering::SeqCst);
        *t = Some(spawn(if k < 2 { sender } else { caller }, k));
    }
    for t in ts.iter().flatten() {
        wait_state("queued on the endpoint", t, ThreadState::BLOCKED);
    }
    delete(ep.0);
    for (k, t) in ts.into_iter().enumerate() {
        let Some(t) = t else { continue };
        wait_for("woken", || STATUS[k].load(Ordering::SeqCst) != 0);
        T.expect(
            "queued sender or caller",
            status_of(STATUS[k].load(Ordering::SeqCst)),
            Some(Status::PEER_CLOSED),
        );
        wait_state("exit", &t, ThreadState::DEAD);
        free(t);
    }
    let ep = endpoint();
    let mut rs: [Option<Thread>; 3] = [const { None }; 3];
    for (k, t) in rs.iter_mut().enumerate() {
        EP[k].store(ep.0, Ordering::SeqCst);
        EP2[k].store(0, Ordering::SeqCst);
        *t = Some(spawn(receiver, k));
    }
    for t in rs.iter().flatten() {
        wait_state("receiving", t, ThreadState::BLOCKED);
    }
    delete(ep.0);
    for (k, t) in rs.into_iter().enumerate() {
        let Some(t) = t else { continue };
        wait_for("woken", || STATUS[k].load(Ordering::SeqCst) != 0);
        T.expect(
            "queued receiver",
            status_of(STATUS[k].load(Ordering::SeqCst)),
            Some(Status::PEER_CLOSED),
        );
        wait_state("exit", &t, ThreadState::DEAD);
        free(t);
    }
    T.check(
        "an endpoint deleted under 2 senders, 2 callers and 3 receivers wakes all with PEER_CLOSED",
        true,
    );
}

/// Suspend and resume of threads blocked in recv and in call.
fn blocked_threads() {
    // A receiver suspended in recv leaves the queue; resumed, its recv ends with CANCELLED,
    // and a message sent to its old endpoint never reaches it on the next.
    let (ep1, ep2) = (endpoint(), endpoint());
    EP[0].store(ep1.0, Ordering::SeqCst);
    EP2[0].store(ep2.0, Ordering::SeqCst);
    let r = spawn(receiver, 0);
    wait_state("receiver blocked", &r, ThreadState::BLOCKED);
    T.expect(
        "resume of a thread blocked in recv",
        r.tcb.resume().err(),
        Some(Status::BAD_STATE),
    );
    T.want("suspend a receiver", r.tcb.suspend());
    T.expect("suspended receiver's state", state(&r), ThreadState::SUSPENDED);
    EP[1].store(ep1.0, Ordering::SeqCst);
    let s = spawn(sender, 1);
    wait_state("the sender finds no receiver and waits", &s, ThreadState::BLOCKED);
    T.want("resume the receiver", r.tcb.resume());
    wait_for("receiver's recv returned", || STATUS[0].load(Ordering::SeqCst) != 0);
    T.expect(
        "a suspended recv ends with",
        status_of(STATUS[0].load(Ordering::SeqCst)),
        Some(Status::CANCELLED),
    );
    wait_state("receiver waits on the second endpoint", &r, ThreadState::BLOCKED);
    // SAFETY: init's IPC buffer, mapped read-write by the kernel for this thread.
    let m = unsafe { &mut *(anvil::ipc_buffer() as *mut Message) };
    set_empty(m, 22);
    T.want("send on the second endpoint", ep2.send());
    wait_for("second message", || STATUS2[0].load(Ordering::SeqCst) != 0);
    T.expect("label on the second endpoint", LABEL[0].load(Ordering::SeqCst), 22);
    T.expect("the first sender still waits", state(&s), ThreadState::BLOCKED);
    delete(ep1.0);
    wait_for("sender woken", || STATUS[1].load(Ordering::SeqCst) != 0);
    T.expect(
        "the first sender",
        status_of(STATUS[1].load(Ordering::SeqCst)),
        Some(Status::PEER_CLOSED),
    );
    for t in [r, s] {
        wait_state("exit", &t, ThreadState::DEAD);
        free(t);
    }
    delete(ep2.0);
    T.check(
        "a receiver suspended in recv leaves the queue and sees CANCELLED when resumed",
        true,
    );

    // A caller suspended while queued, and one suspended while its server holds the call:
    // both see CANCELLED; the late reply is dropped.
    let ep = endpoint();
    EP[0].store(ep.0, Ordering::SeqCst);
    let c = spawn(caller, 0);
    wait_state("caller queued", &c, ThreadState::BLOCKED);
    T.want("suspend a queued caller", c.tcb.suspend());
    T.want("resume it", c.tcb.resume());
    wait_for("caller returned", || STATUS[0].load(Ordering::SeqCst) != 0);
    T.expect(
        "a suspended queued call ends with",
        status_of(STATUS[0].load(Ordering::SeqCst)),
        Some(Status::CANCELLED),
    );
    wait_state("exit", &c, ThreadState::DEAD);
    free(c);
    GO.store(0, Ordering::SeqCst);
    EP[1].store(ep.0, Ordering::SeqCst);
    EP[2].store(ep.0, Ordering::SeqCst);
    let server = spawn(late_replier, 1);
    let c = spawn(caller, 2);
    wait_for("server holds the call", || STATUS[1].load(Ordering::SeqCst) != 0);
    wait_state("caller waits for the reply", &c, ThreadState::BLOCKED);
    T.want("suspend a caller waiting for its reply", c.tcb.suspend());
    T.want("resume it", c.tcb.resume());
    wait_for("caller returned", || STATUS[2].load(Ordering::SeqCst) != 0);
    T.expect(
        "a call suspended while held ends with",
        status_of(STATUS[2].load(Ordering::SeqCst)),
        Some(Status::CANCELLED),
    );
    GO.store(1, Ordering::SeqCst);
    wait_for("late reply", || STATUS2[1].load(Ordering::SeqCst) != 0);
    T.expect(
        "the late reply",
        status_of(STATUS2[1].load(Ordering::SeqCst)),
        Some(Status::OK),
    );
    T.expect(
        "the late reply never reached the caller",
        LABEL[2].load(Ordering::SeqCst),
        7,
    );
    for t in [server, c] {
        wait_state("exit", &t, ThreadState::DEAD);
        free(t);
    }
    delete(ep.0);
    T.check(
        "a caller suspended while queued or while held sees CANCELLED, and the late reply is dropped",
        true,
    );
}

/// A thousand threads of each kind die — killed blocked in a syscall, killed while making
/// syscalls on another CPU, deleting their own last capability — and memory comes back exactly.
fn thread_deaths() {
    let n = cpus();
    let own = boot::cnode();
    let ep = endpoint();
    EP[0].store(ep.0, Ordering::SeqCst);
    EP2[0].store(0, Ordering::SeqCst);
    let killed_blocked = || {
        let t = spawn(receiver, 0);
        wait_state("blocked", &t, ThreadState::BLOCKED);
        free(t);
    };
    let killed_running = || {
        let t = spawn_on(yielder, 1, other_cpu(n, 0), None);
        wait_for("running", || COUNT[1].load(Ordering::Relaxed) > 0);
        free(t);
    };
    let self_deleted = || {
        // Charged to a quota of its own, so that its release shows: the thread is gone when
        // its quota no longer pays for it.
        let q = T.want("Quota.split", quota().split(64 * PAGE));
        GO.store(0, Ordering::SeqCst);
        let t = spawn_on(self_deleter, 2, None, Some(q));
        let (_, charged) = T.want("Quota.info", q.info());
        GO.store(1, Ordering::SeqCst);
        wait_for("deleting itself", || COUNT[2].load(Ordering::SeqCst) != 0);
        wait_for("the thread released", || q.info().is_ok_and(|(_, u)| u < charged));
        T.expect(
            "its capability",
            Cap::identify(&own, t.tcb.0).err(),
            Some(Status::INVALID_CAP),
        );
        T.expect("a self-delete never returns", STATUS[2].load(Ordering::SeqCst), 0);
        let vs = boot::vspace();
        T.want("unmap stack", vs.unmap(t.stack, thread::STACK_SIZE));
        T.want("unmap IPC buffer", vs.unmap(t.ipc_buffer, PAGE));
        delete(q.0);
    };
    // Killed just as it exits on another CPU, its exit report on the way to a fault endpoint
    // nobody reads: whichever comes first, the report is not left queued (with the thread).
    let reports = endpoint();
    let killed_exiting = || {
        GO.store(0, Ordering::SeqCst);
        let t = spawn_on(exiter, 3, other_cpu(n, 0), None);
        T.want("Tcb.set_fault_endpoint", t.tcb.set_fault_endpoint(&reports));
        GO.store(1, Ordering::SeqCst);
        wait_for("exiting", || COUNT[3].load(Ordering::SeqCst) != 0);
        free(t);
    };
    let kinds: [(&str, &dyn Fn()); 4] = [
        ("killed while blocked in recv", &killed_blocked),
        ("killed while making syscalls", &killed_running),
        ("deleting its own last capability", &self_deleted),
        ("killed while exiting to a fault endpoint", &killed_exiting),
    ];
    for (what, f) in kinds {
        for _ in 0..10 {
            f();
        }
        let before = mem();
        for _ in 0..1000 {
            f();
        }
        T.expect(what, mem(), before);
        println!("soundness: ok 1000 threads {what}: frames, heap and quota exactly back");
    }
    delete(ep.0);
    delete(reports.0);
}

/// Receives on the endpoint in `slot` of its own CNode, for ever.
extern "C" fn cycle_member(slot: u64) -> ! {
    loop {
        let _ = Endpoint::from_slot(slot).recv();
    }
}

/// A thread blocked on an endpoint whose only capability is in the thread's own CNode, which
/// also holds the thread's only capability: nobody can reach it, and revoking the quota it
/// was made with frees all of it.
fn unreachable_cycle() {
    let own = boot::cnode();
    let vs = boot::vspace();
    let round = || {
        let q = T.want("Quota.split", quota().split(1 << 20));
        let cn = T.want("CNode.create", CNode::create(&q, 16));
        let ep = endpoint_with(&q);
        let t = T.want("Tcb.create", Tcb::create(&q));
        let rw = MapFlags::R | MapFlags::W;
        let stack = T.want("stack", vs.alloc(&q, thread::STACK_SIZE, rw));
        let ipc = T.want("IPC buffer", vs.alloc(&q, PAGE, rw));
        T.want("Tcb.configure", t.configure(&vs, &cn, ipc, 0));
        T.want("copy the endpoint", Cap::copy(&own, ep.0, &cn, 1, Rights::ALL));
        T.want("copy the thread", Cap::copy(&own, t.0, &cn, 2, Rights::ALL));
        let regs = anvil::Regs {
            rip: cycle_member as *const () as u64,
            rsp: stack + thread::STACK_SIZE - 8,
            arg0: 1,
            arg1: 0,
            arg2: 0,
        };
        T.want("Tcb.set_regs", t.set_regs(&regs));
        T.want("Tcb.resume", t.resume());
        wait_for("blocked", || t.state() == Ok(ThreadState::BLOCKED));
        // Let go of every capability but the quota's: only the cycle holds it all now.
        for slot in [t.0, ep.0, cn.0] {
            delete(slot);
        }
        anvil::process::destroy_quota(q.0);
        T.want("unmap stack", vs.unmap(stack, thread::STACK_SIZE));
        T.want("unmap IPC buffer", vs.unmap(ipc, PAGE));
    };
    round();
    let before = mem();
    for _ in 0..100 {
        round();
    }
    T.expect("memory after 100 unreachable cycles destroyed", mem(), before);
    T.check(
        "a thread blocked on an endpoint held only by its own CNode is freed by revoking its quota",
        true,
    );
}

fn endpoint_with(q: &Quota) -> Endpoint {
    T.want("Endpoint.create", Endpoint::create(q))
}

/// 100,000 map/unmap rounds over addresses spread across page tables run in constant memory.
fn map_unmap() {
    let vs = boot::vspace();
    let vmo = T.want("Vmo.create", Vmo::create(&quota(), PAGE));
    let round = |i: u64| {
        let va = 0x0000_7100_0000_0000 + (i % 4096) * 0x20_1000;
        T.want("VSpace.map", vs.map(&vmo, va, 0, PAGE, MapFlags::R | MapFlags::W));
        // SAFETY: mapped read-write just above, by this thread.
        unsafe { core::ptr::write_volatile(va as *mut u64, i) };
        T.want("VSpace.unmap", vs.unmap(va, PAGE));
    };
    for i in 0..4096 {
        round(i);
    }
    let before = mem();
    for i in 0..100_000 {
        round(i);
    }
    T.expect("memory after 100,000 map/unmap rounds", mem(), before);
    delete(vmo.0);
    T.check(
        "100,000 map/unmap rounds across page tables run in constant memory",
        true,
    );
}

/// A map that runs out of quota half way through making page tables leaves the address space
/// sound: the tables it made stay counted (an unmap that empties their parent must not take
/// the parent for empty and reuse it while it still links them), later maps around them work,
/// and deleting the address space gives everything back.
fn map_out_of_quota() {
    let before = mem();
    let vmo = T.want("Vmo.create", Vmo::create(&quota(), 2 * PAGE));
    // What an empty address space costs its quota, measured on a scratch one.
    let probe = T.want("Quota.split", quota().split(64 * PAGE));
    let scratch = T.want("VSpace.create", VSpace::create(&probe));
    let (_, empty) = T.want("Quota.info", probe.info());
    delete(scratch.0);
    delete(probe.0);
    // Room for exactly 8 frames of tables: the first page below takes 6 (a PDPT, a PD and a
    // page table, each with its shadow), the second crosses into the next PDPT entry and gets
    // its PD (2 frames) before its page table is refused.
    let q = T.want("Quota.split", quota().split(empty + 8 * PAGE));
    let vs = T.want("VSpace.create", VSpace::create(&q));
    let va = 0x0000_1000_3FFF_F000;
    let rw = MapFlags::R | MapFlags::W;
    let r = vs.map(&vmo, va, 0, 2 * PAGE, rw);
    T.expect(
        "a map that runs out of quota for its page tables",
        r,
        Err(Status::QUOTA_EXCEEDED),
    );
    // Two pages in the first PDPT entry again, from the tables the failed map gave back.
    let low = 0x0000_1000_0000_0000;
    T.want("VSpace.map after the failed map", vs.map(&vmo, low, 0, PAGE, rw));
    T.expect(
        "the page next to it is free",
        vs.map(&vmo, low + PAGE, PAGE, PAGE, rw),
        Ok(()),
    );
    T.want("VSpace.unmap", vs.unmap(low, 2 * PAGE));
    T.want("VSpace.map", vs.map(&vmo, low, 0, PAGE, rw));
    delete(vs.0);
    delete(q.0);
    delete(vmo.0);
    T.expect("memory after a map that ran out of quota", mem(), before);
    T.check(
        "a map that runs out of quota half way leaves its address space sound, and everything comes back",
        true,
    );
}

fn main() -> u64 {
    println!("soundness: {} CPU(s)", cpus());
    full_cnode();
    suspend_resume_storm();
    server_death();
    endpoint_deleted();
    blocked_threads();
    thread_deaths();
    unreachable_cycle();
    map_unmap();
    map_out_of_quota();
    exhaust();
    T.pass()
}
