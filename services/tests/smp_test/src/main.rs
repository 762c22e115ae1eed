//! smp_test: threads on every CPU. Shows that every CPU runs user code, that idle CPUs steal
//! work, that pinned threads stay where they are pinned, that a CPU-bound thread cannot starve
//! another on its CPU, that an unmap makes a reader on another CPU fault, and runs a bounded
//! stress of capability, thread and mapping operations from all CPUs at once, then checks the
//! counters and that nothing leaked.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anvil::sys::kernel::Cap;
use anvil::sys::kernel::ThreadState;
use anvil::testing::Memory;
use anvil::thread::{self, Spawn, Thread};
use anvil::{boot, println, types, MapFlags, Quota, Rights, Status, Tcb, Vmo};

anvil::entry!(main);

const PAGE: u64 = types::PAGE_SIZE;
const MAX_THREADS: usize = 16;

fn fail(what: &str, why: impl core::fmt::Debug) -> ! {
    println!("smp_test: FAIL {what}: {why:?}");
    boot::debug().shutdown(1)
}

fn want<T>(what: &str, r: Result<T, Status>) -> T {
    r.unwrap_or_else(|e| fail(what, e))
}

fn check(what: &str, ok: bool) {
    if ok {
        println!("smp_test: ok {what}");
    } else {
        fail(what, "check failed");
    }
}

fn quota() -> Quota {
    Quota::from_slot(types::BOOT_SLOT_QUOTA)
}

fn spawn(entry: extern "C" fn(u64) -> !, arg: u64, cpu: Option<u32>) -> Thread {
    // Priority 0, as this thread has, so round robin shares a CPU between them.
    want(
        "spawn",
        thread::spawn(
            entry,
            arg,
            Spawn {
                cpu,
                ..Spawn::default()
            },
        ),
    )
}

/// Frees a thread that has exited (or is suspended): its capability and its stack.
fn reap(t: Thread) {
    want("Thread.free", t.free());
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let mut n = 0u64;
    while !cond() {
        want("Tcb.yield_now", Tcb::yield_now());
        n += 1;
        if n > 50_000_000 {
            fail(what, "timed out");
        }
    }
}

fn busy(n: u64) {
    for i in 0..n {
        core::hint::black_box(i);
    }
}

// --- spreading and stealing ---

static CPU_MASKS: [AtomicU64; MAX_THREADS] = [const { AtomicU64::new(0) }; MAX_THREADS];
static FINISHED: AtomicU64 = AtomicU64::new(0);

extern "C" fn recorder(slot: u64) -> ! {
    for _ in 0..400 {
        let c = Tcb::current_cpu().unwrap_or(63);
        CPU_MASKS[slot as usize].fetch_or(1 << c, Ordering::SeqCst);
        busy(20_000);
    }
    FINISHED.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

// --- preemption ---

static SPIN: AtomicBool = AtomicBool::new(true);
static TICKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn hog(_: u64) -> ! {
    while SPIN.load(Ordering::SeqCst) {
        core::hint::spin_loop();
    }
    Tcb::exit(0)
}

extern "C" fn ticker(_: u64) -> ! {
    while SPIN.load(Ordering::SeqCst) {
        TICKS.fetch_add(1, Ordering::SeqCst);
        busy(1000);
    }
    Tcb::exit(0)
}

// --- unmap under a reader ---

static READS: AtomicU64 = AtomicU64::new(0);
const SHARED_VA: u64 = 0x6100_0000;

extern "C" fn reader(_: u64) -> ! {
    loop {
        // SAFETY: reads a page that is mapped until the main thread unmaps it; after that the
        // read faults and the kernel stops this thread, which is what the test checks.
        let v = unsafe { core::ptr::read_volatile(SHARED_VA as *const u64) };
        core::hint::black_box(v);
        READS.fetch_add(1, Ordering::SeqCst);
    }
}

// --- stress ---

const ROUNDS: u64 = 40;
static COPIES: AtomicU64 = AtomicU64::new(0);
static MAPS: AtomicU64 = AtomicU64::new(0);
static CHILDREN: AtomicU64 = AtomicU64::new(0);
static STRESS_DONE: AtomicU64 = AtomicU64::new(0);
static SHARED_VMO: AtomicU64 = AtomicU64::new(0);

extern "C" fn child(_: u64) -> ! {
    CHILDREN.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

extern "C" fn stresser(i: u64) -> ! {
    let own = boot::cnode();
    let vmo = Vmo::from_slot(SHARED_VMO.load(Ordering::SeqCst));
    let slot = 200 + i;
    let va = 0x7000_0000 + i * 0x10_0000;
    for round in 0..ROUNDS {
        if Cap::copy(&own, vmo.0, &own, slot, Rights::READ | Rights::MAP).is_ok() && Cap::delete(&own, slot).is_ok() {
            COPIES.fetch_add(1, Ordering::SeqCst);
        }
        if boot::vspace().map(&vmo, va, 0, PAGE, MapFlags::R).is_ok() {
            // SAFETY: mapped readable just above, by this thread, at its own address.
            let v = unsafe { core::ptr::read_volatile(va as *const u64) };
            core::hint::black_box(v);
            if boot::vspace().unmap(va, PAGE).is_ok() {
                MAPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        if round % 8 == 0 {
            let before = CHILDREN.load(Ordering::SeqCst);
            let t = spawn(child, 0, None);
            wait_until("child", || CHILDREN.load(Ordering::SeqCst) > before);
            // The child has counted; wait until it has really exited before freeing its stack.
            wait_until("child exit", || t.tcb.state() == Ok(ThreadState::DEAD));
            reap(t);
        }
    }
    STRESS_DONE.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

fn caps_in_use() -> u64 {
    (1..256).filter(|&s| Cap::identify(&boot::cnode(), s).is_ok()).count() as u64
}

fn stress_round(threads: u64) {
    COPIES.store(0, Ordering::SeqCst);
    MAPS.store(0, Ordering::SeqCst);
    CHILDREN.store(0, Ordering::SeqCst);
    STRESS_DONE.store(0, Ordering::SeqCst);
    let mut ts: [Option<Thread>; MAX_THREADS] = [const { None }; MAX_THREADS];
    for (i, t) in ts.iter_mut().enumerate().take(threads as usize) {
        *t = Some(spawn(stresser, i as u64, None));
    }
    wait_until("stress threads", || STRESS_DONE.load(Ordering::SeqCst) == threads);
    for t in ts.iter_mut().filter_map(Option::take) {
        wait_until("stresser exit", || t.tcb.state() == Ok(ThreadState::DEAD));
        reap(t);
    }
}

fn main() -> u64 {
    let n = want("cpu_count", thread::cpu_count());
    println!("smp_test: {n} CPUs");

    // Spreading and stealing: more threads than CPUs, all queued from this CPU.
    let count = (2 * n as usize).min(MAX_THREADS);
    let mut ts: [Option<Thread>; MAX_THREADS] = [const { None }; MAX_THREADS];
    for (i, t) in ts.iter_mut().enumerate().take(count) {
        *t = Some(spawn(recorder, i as u64, None));
    }
    wait_until("recorders", || FINISHED.load(Ordering::SeqCst) == count as u64);
    let mut all = 0u64;
    let mut moved = 0;
    for (i, t) in ts.iter_mut().enumerate() {
        if let Some(t) = t.take() {
            let m = CPU_MASKS[i].load(Ordering::SeqCst);
            all |= m;
            if m.count_ones() > 1 {
                moved += 1;
            }
            wait_until("recorder exit", || t.tcb.state() == Ok(ThreadState::DEAD));
            reap(t);
        }
    }
    println!("smp_test: CPUs that ran user code: {all:#x}; threads that ran on more than one CPU: {moved}");
    check("every CPU ran user code", all == (1u64 << n) - 1);

    // Pinning: a thread pinned to each CPU in turn runs only there.
    for c in 0..n {
        CPU_MASKS[0].store(0, Ordering::SeqCst);
        FINISHED.store(0, Ordering::SeqCst);
        let t = spawn(recorder, 0, Some(c));
        wait_until("pinned", || FINISHED.load(Ordering::SeqCst) == 1);
        let m = CPU_MASKS[0].load(Ordering::SeqCst);
        println!("smp_test: thread pinned to cpu {c} ran on mask {m:#x}");
        check("pinned thread ran only on its CPU", m == 1 << c);
        wait_until("pinned exit", || t.tcb.state() == Ok(ThreadState::DEAD));
        reap(t);
    }

    // Stealing: with CPU 0 kept busy by a pinned hog, an unpinned thread queued on CPU 0
    // (this thread is pinned there) is taken by another CPU.
    if n > 1 {
        want("pin self", boot::tcb().set_affinity(0));
        want("Tcb.yield_now", Tcb::yield_now());
        SPIN.store(true, Ordering::SeqCst);
        let h = spawn(hog, 0, Some(0));
        CPU_MASKS[1].store(0, Ordering::SeqCst);
        FINISHED.store(0, Ordering::SeqCst);
        let w = spawn(recorder, 1, None);
        wait_until("stolen", || FINISHED.load(Ordering::SeqCst) == 1);
        let m = CPU_MASKS[1].load(Ordering::SeqCst);
        println!("smp_test: unpinned thread queued on busy cpu 0 ran on mask {m:#x}");
        check("an idle CPU stole the unpinned thread", m & !1 != 0);
        SPIN.store(false, Ordering::SeqCst);
        for t in [h, w] {
            wait_until("exit", || t.tcb.state() == Ok(ThreadState::DEAD));
            reap(t);
        }
    }

    // Preemption: a hog and a ticker pinned to the same CPU; the ticker still advances.
    let last = n - 1;
    SPIN.store(true, Ordering::SeqCst);
    TICKS.store(0, Ordering::SeqCst);
    let h = spawn(hog, 0, Some(last));
    let k = spawn(ticker, 0, Some(last));
    wait_until("ticker", || TICKS.load(Ordering::SeqCst) > 100);
    check("a CPU-bound thread does not starve another on its CPU", true);
    SPIN.store(false, Ordering::SeqCst);
    for t in [h, k] {
        wait_until("exit", || t.tcb.state() == Ok(ThreadState::DEAD));
        reap(t);
    }

    // Unmap under a reader on another CPU: the reader must fault, not read stale memory.
    if n > 1 {
        let vmo = want("Vmo.create", Vmo::create(&quota(), PAGE));
        want("VSpace.map", boot::vspace().map(&vmo, SHARED_VA, 0, PAGE, MapFlags::R));
        let r = spawn(reader, 0, Some(1));
        wait_until("reader", || READS.load(Ordering::SeqCst) > 1000);
        want("VSpace.unmap under the reader", boot::vspace().unmap(SHARED_VA, PAGE));
        wait_until("reader stopped", || r.tcb.state() == Ok(ThreadState::DEAD));
        let after = READS.load(Ordering::SeqCst);
        busy(2_000_000);
        check(
            "the reader faulted and stopped after the unmap",
            READS.load(Ordering::SeqCst) == after,
        );
        reap(r);
        want("Cap.delete vmo", Cap::delete(&boot::cnode(), vmo.0));
    }
    // Suspending, and deleting the last capability of, a thread running on another CPU stop it
    // before the call returns: its counter does not move afterwards.
    if n > 1 {
        SPIN.store(true, Ordering::SeqCst);
        TICKS.store(0, Ordering::SeqCst);
        let k = spawn(ticker, 0, Some(1));
        wait_until("remote ticker", || TICKS.load(Ordering::SeqCst) > 100);
        want("Tcb.suspend on another CPU", k.tcb.suspend());
        let at = TICKS.load(Ordering::SeqCst);
        busy(3_000_000);
        check(
            "a thread suspended on another CPU stopped before the call returned",
            TICKS.load(Ordering::SeqCst) == at,
        );
        want("Tcb.resume", k.tcb.resume());
        wait_until("resumed ticker", || TICKS.load(Ordering::SeqCst) > at + 100);
        want(
            "delete the running thread's last capability",
            Cap::delete(&boot::cnode(), k.tcb.0),
        );
        let at = TICKS.load(Ordering::SeqCst);
        busy(3_000_000);
        check(
            "a thread whose last capability was deleted stopped before the call returned",
            TICKS.load(Ordering::SeqCst) == at,
        );
        want("VSpace.unmap stack", boot::vspace().unmap(k.stack, thread::STACK_SIZE));
        SPIN.store(false, Ordering::SeqCst);
    }
    want("unpin self", boot::tcb().set_affinity(u32::MAX));

    // Stress from all CPUs at once; the second round is measured for leaks.
    let q = quota();
    let vmo = want("shared Vmo", Vmo::create(&q, PAGE));
    SHARED_VMO.store(vmo.0, Ordering::SeqCst);
    let threads = u64::from(n * 2).min(MAX_THREADS as u64);
    stress_round(threads);
    let before = (want("memory", Memory::now(&q)), caps_in_use());
    stress_round(threads);
    let after = (want("memory", Memory::now(&q)), caps_in_use());
    let (c, m, k) = (
        COPIES.load(Ordering::SeqCst),
        MAPS.load(Ordering::SeqCst),
        CHILDREN.load(Ordering::SeqCst),
    );
    println!("smp_test: stress with {threads} threads: {c} copy+delete, {m} map+unmap, {k} threads created and exited");
    println!(
        "smp_test: memory {:?} -> {:?}, capabilities {} -> {}",
        before.0, after.0, before.1, after.1
    );
    check(
        "no stress operation lost or duplicated",
        c == threads * ROUNDS && m == threads * ROUNDS && k == threads * ROUNDS.div_ceil(8),
    );
    check("no frame, heap, quota or capability leaked", before == after);
    println!("smp_test: PASS");
    boot::debug().shutdown(0)
}
