//! stress: everything at once on every CPU, round after round: IPC ping-pong between threads
//! on different CPUs, map/unmap, capability copy/delete, thread create/exit. Every operation
//! must succeed and be counted exactly once, and after the measured rounds frames, heap and
//! quota must be exactly as after the first. Rounds: `rounds=N` in `stress.conf` in the boot
//! archive (`./run.sh stress`), else a short run for the test suite.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::sys::kernel::{Cap, ThreadState};
use anvil::testing::{Memory, Test};
use anvil::thread::{self, Spawn, Thread};
use anvil::{boot, println, types, Endpoint, MapFlags, Quota, Rights, Tcb, Vmo};

anvil::entry!(main);

const T: Test = Test::new("stress");
const PAGE: u64 = types::PAGE_SIZE;
const MAX_CPUS: usize = 8;
const CALLS: u64 = 500;
const MAPS: u64 = 200;
const COPIES: u64 = 200;
const THREADS: u64 = 20;

static EPS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static VMO: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static CALLED: AtomicU64 = AtomicU64::new(0);
static SERVED: AtomicU64 = AtomicU64::new(0);
static MAPPED: AtomicU64 = AtomicU64::new(0);
static COPIED: AtomicU64 = AtomicU64::new(0);
static EXITED: AtomicU64 = AtomicU64::new(0);
static BAD: AtomicU64 = AtomicU64::new(0);

fn quota() -> Quota {
    Quota::from_slot(types::BOOT_SLOT_QUOTA)
}

fn ok<V>(r: Result<V, anvil::Status>) -> Option<V> {
    if r.is_err() {
        BAD.fetch_add(1, Ordering::SeqCst);
    }
    r.ok()
}

extern "C" fn pinger(c: u64) -> ! {
    let ep = Endpoint::from_slot(EPS[c as usize].load(Ordering::SeqCst));
    for _ in 0..CALLS {
        if ok(ep.call()).is_some() {
            CALLED.fetch_add(1, Ordering::SeqCst);
        }
    }
    DONE.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

extern "C" fn ponger(c: u64) -> ! {
    let ep = Endpoint::from_slot(EPS[c as usize].load(Ordering::SeqCst));
    let _ = ok(ep.recv());
    loop {
        SERVED.fetch_add(1, Ordering::SeqCst);
        let _ = ok(ep.reply_recv());
    }
}

extern "C" fn mapper(c: u64) -> ! {
    let vmo = Vmo::from_slot(VMO.load(Ordering::SeqCst));
    let va = 0x0000_7200_0000_0000 + c * 0x4000_0000;
    for i in 0..MAPS {
        let at = va + (i % 64) * 0x20_0000;
        if ok(boot::vspace().map(&vmo, at, 0, PAGE, MapFlags::R | MapFlags::W)).is_some() {
            // SAFETY: mapped read-write just above, by this thread, at an address of its own.
            unsafe { core::ptr::write_volatile(at as *mut u64, i) };
            if ok(boot::vspace().unmap(at, PAGE)).is_some() {
                MAPPED.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    DONE.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

extern "C" fn copier(c: u64) -> ! {
    let own = boot::cnode();
    let slot = 200 + c;
    for _ in 0..COPIES {
        if ok(Cap::copy(&own, VMO.load(Ordering::SeqCst), &own, slot, Rights::READ)).is_some()
            && ok(Cap::delete(&own, slot)).is_some()
        {
            COPIED.fetch_add(1, Ordering::SeqCst);
        }
    }
    DONE.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

extern "C" fn quick(_: u64) -> ! {
    EXITED.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

extern "C" fn creator(_: u64) -> ! {
    for _ in 0..THREADS {
        let before = EXITED.load(Ordering::SeqCst);
        let Some(t) = ok(thread::spawn(quick, 0, Spawn::default())) else {
            continue;
        };
        while EXITED.load(Ordering::SeqCst) == before || t.tcb.state() != Ok(ThreadState::DEAD) {
            let _ = Tcb::yield_now();
        }
        let _ = ok(t.free());
    }
    DONE.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

fn spawn(entry: extern "C" fn(u64) -> !, arg: u64, cpu: u32, ipc: bool) -> Thread {
    let how = Spawn {
        cpu: Some(cpu),
        ipc_buffer: ipc,
        ..Spawn::default()
    };
    T.want("thread::spawn", thread::spawn(entry, arg, how))
}

fn wait(what: &str, f: impl Fn() -> bool) {
    for _ in 0..50_000_000u64 {
        if f() {
            return;
        }
        let _ = Tcb::yield_now();
    }
    T.fail(what, "timed out");
}

/// One round: on every CPU at once, a caller (its server on the next CPU), a mapper, a
/// copier and a thread creator.
fn round(n: u32) {
    for c in [&DONE, &CALLED, &SERVED, &MAPPED, &COPIED, &EXITED] {
        c.store(0, Ordering::SeqCst);
    }
    let mut servers: [Option<Thread>; MAX_CPUS] = [const { None }; MAX_CPUS];
    let mut workers: [Option<Thread>; 4 * MAX_CPUS] = [const { None }; 4 * MAX_CPUS];
    for c in 0..n {
        let ep = T.want("Endpoint.create", Endpoint::create(&quota()));
        EPS[c as usize].store(ep.0, Ordering::SeqCst);
        servers[c as usize] = Some(spawn(ponger, u64::from(c), (c + 1) % n, true));
        let k = 4 * c as usize;
        workers[k] = Some(spawn(pinger, u64::from(c), c, true));
        workers[k + 1] = Some(spawn(mapper, u64::from(c), c, false));
        workers[k + 2] = Some(spawn(copier, u64::from(c), c, false));
        workers[k + 3] = Some(spawn(creator, u64::from(c), c, false));
    }
    wait("workers", || DONE.load(Ordering::SeqCst) == 4 * u64::from(n));
    for t in workers.into_iter().flatten() {
        wait("worker exit", || t.tcb.state() == Ok(ThreadState::DEAD));
        T.want("free worker", t.free());
    }
    for (c, s) in servers.into_iter().enumerate() {
        let Some(s) = s else { continue };
        T.want("free server", s.free());
        T.want(
            "delete endpoint",
            Cap::delete(&boot::cnode(), EPS[c].load(Ordering::SeqCst)),
        );
    }
    let n = u64::from(n);
    T.expect("bad statuses", BAD.load(Ordering::SeqCst), 0);
    T.expect("calls", CALLED.load(Ordering::SeqCst), n * CALLS);
    T.assert("served", SERVED.load(Ordering::SeqCst) >= n * CALLS);
    T.expect("maps", MAPPED.load(Ordering::SeqCst), n * MAPS);
    T.expect("copies", COPIED.load(Ordering::SeqCst), n * COPIES);
    T.expect("threads", EXITED.load(Ordering::SeqCst), n * THREADS);
}

fn rounds() -> u64 {
    boot::archive_file("stress.conf")
        .and_then(|t| core::str::from_utf8(t).ok())
        .and_then(|t| t.trim().strip_prefix("rounds="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn tsc() -> u64 {
    // SAFETY: rdtsc only reads the time-stamp counter, which the kernel leaves readable.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn main() -> u64 {
    let n = T.want("cpu_count", thread::cpu_count()).min(MAX_CPUS as u32);
    let rounds = rounds().max(2);
    println!("stress: {rounds} rounds on {n} CPU(s)");
    VMO.store(T.want("Vmo.create", Vmo::create(&quota(), PAGE)).0, Ordering::SeqCst);
    let t0 = tsc();
    round(n);
    let before = T.want("Debug.memory", Memory::now(&quota()));
    for r in 1..rounds {
        round(n);
        if r % 10 == 0 {
            println!("stress: {r} rounds done");
        }
    }
    let after = T.want("Debug.memory", Memory::now(&quota()));
    let n = u64::from(n);
    println!(
        "stress: per round {} IPC round trips across CPUs, {} map/unmap, {} copy/delete, {} threads; {} Mcycles in all",
        n * CALLS,
        n * MAPS,
        n * COPIES,
        n * THREADS,
        (tsc() - t0) / 1_000_000
    );
    T.check("every operation of every round succeeded exactly once", true);
    T.expect("memory after the rounds", after, before);
    println!("stress: memory {after:?}");
    T.check("frames, heap and quota exactly as after the first round", true);
    T.pass()
}
