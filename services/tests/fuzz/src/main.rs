//! fuzz: an in-guest syscall fuzzer driven by the syscall table generated from `idl/`.
//!
//! The supervisor (this program started as init) starts workers: copies of itself, each a
//! process of its own with its own quota, started with a seed. A worker makes objects of every
//! type, then issues random syscalls from the table with arguments drawn from slots holding
//! objects of the right type, slots of other types, empty and out-of-range slots, edge values
//! and its own buffers; two threads of it do random blocking IPC (with random headers and
//! capabilities) on its endpoints, and now and then it starts a thread that runs random bytes
//! in an address space of its own. Every status must be one the IDL declares. After each
//! epoch the supervisor destroys the workers (revoking their quotas); at the end, frames,
//! heap and quota must be exactly as before. Each epoch's seed is printed, so a failure
//! replays with `./run.sh fuzz --seed S`.
//!
//! Configuration: `fuzz.conf` in the boot archive (`seed=0x... calls=N workers=W epoch=N`),
//! written by `./run.sh fuzz`; without it, a short run for the test suite.

#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::process::{destroy_quota, Process};
use anvil::sys::abi::{syscall6, Message};
use anvil::sys::kernel::{Cap, FaultKind, FaultReport, ThreadState, FAULT_LABEL};
use anvil::sys::syscalls::{Arg, SYSCALLS};
use anvil::testing::{Memory, Test};
use anvil::thread::{self, Spawn};
use anvil::{
    boot, println, types, CNode, Endpoint, IoPort, IrqControl, MapFlags, Notification, Quota, Rights, Status, Tcb,
    VSpace, Vmo,
};

anvil::entry!(main);

const T: Test = Test::new("fuzz");
const PAGE: u64 = types::PAGE_SIZE;

/// Slots of a worker's CNode: below `FUZZ_FIRST` are the ones it runs with, which random calls
/// never name as a slot number; random calls work on `FUZZ_FIRST..SLOTS`.
const SLOTS: u32 = 64;
const FUZZ_FIRST: u64 = 16;
const SLOT_IRQ: u64 = 12;
/// Fixture slots in the fuzz range.
const F_QUOTA: u64 = 16;
const F_CNODE: u64 = 17;
const F_VSPACE: u64 = 18;
const F_EP: [u64; 2] = [21, 22];
const F_BLOCKERS: [u64; 2] = [24, 25];
const F_NTFN: u64 = 28;
/// Where a worker's report goes (the supervisor's endpoint, badged with the worker's number).
const SLOT_REPORT: u64 = 10;

/// Labels of the messages workers send the supervisor.
const DONE: u64 = 1;
/// Per-status counts a report carries (statuses above this count in the last one).
const STATUSES: usize = 24;
/// Bytes of memory each worker may use.
const WORKER_QUOTA: u64 = 16 << 20;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

/// splitmix64 of `a` and `b`: a seed for one epoch or one worker.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

fn main() -> u64 {
    match anvil::start_arg() {
        0 => supervisor(),
        arg => worker(arg),
    }
}

// ---- supervisor ----------------------------------------------------------------------------

struct Config {
    seed: u64,
    calls: u64,
    workers: Option<u32>,
    /// Calls per worker per epoch.
    epoch: u64,
}

fn number(v: &str) -> Option<u64> {
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

fn config() -> Config {
    let mut c = Config {
        seed: 0x5EED_0001,
        calls: 50_000,
        workers: None,
        epoch: 5_000,
    };
    let Some(text) = boot::archive_file("fuzz.conf") else {
        return c;
    };
    for word in core::str::from_utf8(text).unwrap_or("").split_ascii_whitespace() {
        let (k, v) = word.split_once('=').unwrap_or((word, ""));
        match (k, number(v)) {
            ("seed", Some(n)) => c.seed = n,
            ("calls", Some(n)) => c.calls = n,
            ("workers", Some(n)) => c.workers = Some(n as u32),
            ("epoch", Some(n)) if n > 0 => c.epoch = n,
            _ => T.fail("fuzz.conf", word),
        }
    }
    c
}

fn tsc() -> u64 {
    // SAFETY: rdtsc only reads the time-stamp counter, which the kernel leaves readable.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The `i`th 64-bit word of a message's data.
fn word(m: &Message, i: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&m.data[8 * i..8 * i + 8]);
    u64::from_le_bytes(b)
}

/// The supervisor's IPC buffer as a message.
fn my_message() -> &'static mut Message {
    // SAFETY: this thread's IPC buffer, mapped read-write for it (by the kernel for init, by
    // `Process` for a worker); a `Message` fits in its page; only this thread uses it.
    unsafe { &mut *(anvil::ipc_buffer() as *mut Message) }
}

fn supervisor() -> ! {
    let cfg = config();
    let cpus = T.want("cpu_count", thread::cpu_count());
    let workers = cfg.workers.unwrap_or(cpus).clamp(1, 16) as u64;
    let per_worker = cfg.calls.div_ceil(workers);
    let epochs = per_worker.div_ceil(cfg.epoch).max(1);
    println!(
        "fuzz: seed {:#x}, {} calls by {workers} worker(s) on {cpus} CPU(s), {epochs} epoch(s)",
        cfg.seed,
        per_worker * workers
    );
    let image = boot::archive_file("fuzz").unwrap_or_else(|| T.fail("own image", "not in the boot archive"));
    let root = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    let ctl = T.want("Endpoint.create", Endpoint::create(&root));
    let port = T.want(
        "IoPort.split",
        IoPort::from_slot(types::BOOT_SLOT_IOPORT).split(0x80, 1),
    );
    let irq = T.want(
        "IrqControl.get",
        IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL).get(5),
    );
    let m = my_message();
    let mut counts = [0u64; STATUSES];
    let (mut total, mut undeclared) = (0u64, 0u64);
    let mut before = None;
    let t0 = tsc();
    // Epoch 0 warms up (this program's own heap grows once); memory is measured after it.
    for e in 0..=epochs {
        if e == 1 {
            before = Some(T.want("Debug.memory", Memory::now(&root)));
        }
        let calls = if e == 0 {
            cfg.epoch.min(1000)
        } else {
            cfg.epoch.min(per_worker - (e - 1) * cfg.epoch)
        };
        let seed = mix(cfg.seed, e);
        println!(
            "fuzz: epoch {e}: seed {seed:#x}, {workers} x {calls} calls{}",
            if e == 0 { " (warm-up)" } else { "" }
        );
        let mut quotas = [0u64; 16];
        // Each worker's first thread, to tell its own faults from those of the threads its
        // random calls made (they report to the same endpoint: `Tcb.create`).
        let mut threads = [0u64; 16];
        // Workers whose exit was reported: stopped after it, not faulted.
        let mut exited = [false; 16];
        for (k, (q, t)) in quotas
            .iter_mut()
            .zip(threads.iter_mut())
            .enumerate()
            .take(workers as usize)
        {
            let badge = k as u64 + 1;
            let p = Process::load(&root, WORKER_QUOTA, image, SLOTS).unwrap_or_else(|e| T.fail("worker", e));
            let setup = p
                .grant_own()
                .and_then(|()| p.grant_badged(ctl.0, SLOT_REPORT, Rights::WRITE, badge))
                .and_then(|()| p.grant(port.0, types::BOOT_SLOT_IOPORT, Rights::ALL))
                .and_then(|()| p.grant(irq.0, SLOT_IRQ, Rights::ALL))
                .and_then(|()| p.report_to(ctl, badge))
                .and_then(|()| p.start("fuzz-worker", (calls << 32) | (mix(seed, badge) & 0xFFFF_FFFF) | 1));
            if let Err(e) = setup {
                T.fail("starting a worker", e);
            }
            (*q, _, *t) = p.release_keeping();
        }
        let mut done = 0;
        while done < workers {
            T.want("receive a report", ctl.recv());
            let k = m.badge;
            if m.label == DONE {
                let r: [u64; STATUSES + 4] = core::array::from_fn(|i| word(m, i));
                if e > 0 {
                    total += r[0];
                }
                undeclared += r[1];
                if r[1] != 0 {
                    println!(
                        "fuzz: FAIL worker {k}: {} undeclared statuses, first {:#x} from syscall {}",
                        r[1], r[3], r[2]
                    );
                }
                for (c, v) in counts.iter_mut().zip(&r[4..]) {
                    *c += v;
                }
                done += 1;
            } else if m.label == FAULT_LABEL {
                let f: FaultReport = m.read();
                if f.kind == FaultKind::EXIT && f.code != 0 {
                    let (line, st) = (f.code >> 32, Status(f.code as u32));
                    T.fail("a worker's setup failed", (k, line, st));
                }
                let w = (k as usize).wrapping_sub(1).min(15);
                if f.kind == FaultKind::EXIT {
                    exited[w] = true;
                }
                let itself = !exited[w]
                    && Tcb::from_slot(threads[w])
                        .stats()
                        .is_ok_and(|(s, _, _)| s == ThreadState::FAULTED);
                if f.kind != FaultKind::EXIT && itself {
                    T.fail("a worker faulted", (k, f.kind, f.vector, f.addr, f.rip));
                }
                // Else a thread a worker made and started with random registers: it stays
                // stopped until its worker's quota goes.
            } else {
                T.fail("unexpected message", m.label);
            }
        }
        for &q in quotas.iter().take(workers as usize) {
            destroy_quota(q);
        }
    }
    let cycles = tsc() - t0;
    let after = T.want("Debug.memory", Memory::now(&root));
    println!(
        "fuzz: {total} calls in {epochs} epoch(s), {} Mcycles",
        cycles / 1_000_000
    );
    for (s, &n) in counts.iter().enumerate().filter(|(_, &n)| n > 0) {
        println!("fuzz:   {:?}: {n}", Status(s as u32));
    }
    T.expect("undeclared statuses", undeclared, 0);
    T.expect("calls made", total, per_worker * workers);
    T.check("every status declared in idl/, the kernel kept running", true);
    T.expect("memory after the workers are gone", Some(after), before);
    T.check("frames, heap and quota exactly back", true);
    T.pass()
}

// ---- worker --------------------------------------------------------------------------------

static BLOCKER_BUF: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static BLOCKER_SEED: AtomicU64 = AtomicU64::new(0);

/// A worker: sets up fixtures, issues `arg >> 32` random calls, reports, exits.
fn worker(arg: u64) -> ! {
    let calls = arg >> 32;
    let mut rng = Rng(mix(arg, 0xF022));
    let own = boot::cnode();
    let q = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    BLOCKER_SEED.store(rng.next(), Ordering::SeqCst);
    let mut blockers = [0u64; 2];
    for (k, b) in blockers.iter_mut().enumerate() {
        let how = Spawn {
            ipc_buffer: true,
            ..Spawn::default()
        };
        let t = thread::spawn(blocker, k as u64, how).unwrap_or_else(|e| fail_worker(e));
        BLOCKER_BUF[k].store(t.ipc_buffer, Ordering::SeqCst);
        *b = t.tcb.0;
    }
    // Fixtures in the fuzz range: a quota of its own, then one object of each kind made with it.
    let placed = |r: Result<u64, Status>, to: u64| {
        let s = r.unwrap_or_else(|e| fail_worker(e));
        if s != to {
            Cap::transfer(&own, s, &own, to).unwrap_or_else(|e| fail_worker(e));
        }
    };
    placed(q.split(WORKER_QUOTA / 2).map(|c| c.0), F_QUOTA);
    let q = Quota::from_slot(F_QUOTA);
    placed(CNode::create(&q, SLOTS).map(|c| c.0), F_CNODE);
    placed(VSpace::create(&q).map(|c| c.0), F_VSPACE);
    placed(Vmo::create(&q, PAGE).map(|c| c.0), 19);
    placed(Vmo::create(&q, 4 * PAGE).map(|c| c.0), 20);
    placed(Endpoint::create(&q).map(|c| c.0), F_EP[0]);
    placed(Endpoint::create(&q).map(|c| c.0), F_EP[1]);
    placed(Tcb::create(&q).map(|c| c.0), 23);
    for (b, to) in blockers.iter().zip(F_BLOCKERS) {
        // No WRITE: random registers for a thread of this address space could run anything.
        Cap::copy(&own, *b, &own, to, Rights::READ | Rights::MANAGE).unwrap_or_else(|e| fail_worker(e));
    }
    Cap::copy(&own, types::BOOT_SLOT_IOPORT, &own, 26, Rights::ALL).unwrap_or_else(|e| fail_worker(e));
    Cap::copy(&own, SLOT_IRQ, &own, 27, Rights::ALL).unwrap_or_else(|e| fail_worker(e));
    placed(Notification::create(&q).map(|c| c.0), F_NTFN);
    // Buffers for pointer arguments, with random contents.
    let buf = boot::vspace()
        .alloc(&q, 2 * PAGE, MapFlags::R | MapFlags::W)
        .unwrap_or_else(|e| fail_worker(e));
    for i in 0..(2 * PAGE / 8) {
        // SAFETY: the two pages were mapped read-write just above.
        unsafe { ((buf + 8 * i) as *mut u64).write(rng.next()) };
    }
    let cnode_type = Cap::identify(&own, types::BOOT_SLOT_CNODE).map_or(0, |t| t.0);
    let mut types_of = [0u32; SLOTS as usize];
    let mut counts = [0u64; STATUSES];
    let (mut undeclared, mut first_bad) = (0u64, (0u64, 0u64));
    let mut random_threads = [0u64; 4];
    let calls_table: alloc::vec::Vec<_> = SYSCALLS.iter().filter(|s| !s.noreturn && !s.blocking).collect();
    for i in 0..calls {
        if i % 256 == 0 {
            for (s, t) in types_of.iter_mut().enumerate().skip(FUZZ_FIRST as usize) {
                *t = Cap::identify(&own, s as u64).map_or(0, |x| x.0);
            }
        }
        if i % 2000 == 1000 {
            random_thread(&mut rng, &q, &mut random_threads);
        }
        let sc = rng.pick(&calls_table);
        let mut a = [0u64; 6];
        let mut r = 0;
        for arg in sc.args {
            match *arg {
                Arg::Cap { object, .. } => {
                    a[r] = cap_arg(&mut rng, &types_of, object, cnode_type);
                    r += 1;
                }
                Arg::Bytes { max } => {
                    let (p, l) = bytes_arg(&mut rng, buf, max);
                    a[r] = p;
                    if r + 1 < 6 {
                        a[r + 1] = l;
                    }
                    r += 2;
                }
                Arg::Struct { .. } => {
                    a[r] = pointer(&mut rng, buf);
                    r += 1;
                }
                Arg::Value => {
                    a[r] = value(&mut rng);
                    r += 1;
                }
            }
            if r >= 6 {
                break;
            }
        }
        let (st, _) = syscall6(sc.number, a);
        if st > u64::from(u32::MAX) || !Status(st as u32).is_known() {
            if undeclared == 0 {
                first_bad = (sc.number, st);
            }
            undeclared += 1;
        }
        counts[(st as usize).min(STATUSES - 1)] += 1;
    }
    let m = my_message();
    let mut report = [0u64; STATUSES + 4];
    report[0] = calls;
    report[1] = undeclared;
    report[2] = first_bad.0;
    report[3] = first_bad.1;
    report[4..].copy_from_slice(&counts);
    m.label = DONE;
    m.cap_count = 0;
    for (i, v) in report.iter().enumerate() {
        m.data[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
    }
    m.data_len = 8 * report.len() as u32;
    let _ = Endpoint::from_slot(SLOT_REPORT).send();
    Tcb::exit(0)
}

/// A worker has no console: its setup failing shows as its exit code, the line and status,
/// in the report the supervisor gets, which fails the run.
#[track_caller]
fn fail_worker(e: Status) -> ! {
    let line = u64::from(core::panic::Location::caller().line());
    Tcb::exit((line << 32) | u64::from(e.0))
}

/// A capability argument: mostly a slot holding the type the call needs.
fn cap_arg(rng: &mut Rng, types_of: &[u32; SLOTS as usize], object: Option<u32>, cnode_type: u32) -> u64 {
    match rng.below(10) {
        0..=5 => {
            let want = object.unwrap_or(0);
            let n = types_of
                .iter()
                .enumerate()
                .filter(|&(s, &t)| s as u64 >= FUZZ_FIRST && t != 0 && (want == 0 || t == want))
                .count() as u64;
            if n == 0 {
                return fuzz_slot(rng);
            }
            let k = rng.below(n);
            types_of
                .iter()
                .enumerate()
                .filter(|&(s, &t)| s as u64 >= FUZZ_FIRST && t != 0 && (want == 0 || t == want))
                .nth(k as usize)
                .map_or(FUZZ_FIRST, |(s, _)| s as u64)
        }
        6 | 7 => fuzz_slot(rng),
        8 => rng.pick(&[0, u64::from(SLOTS), 4096, 1 << 32, u64::MAX]),
        // Its own CNode, so capability operations move things between the fuzz ranges.
        _ if object == Some(cnode_type) => types::BOOT_SLOT_CNODE,
        _ => fuzz_slot(rng),
    }
}

fn fuzz_slot(rng: &mut Rng) -> u64 {
    FUZZ_FIRST + rng.below(u64::from(SLOTS) - FUZZ_FIRST)
}

/// A value: slot numbers of the fuzz range, sizes, addresses, edges, and anything. Never one
/// of the worker's own slots below `FUZZ_FIRST`.
fn value(rng: &mut Rng) -> u64 {
    let v = match rng.below(8) {
        0 => fuzz_slot(rng),
        1 => rng.pick(&[0, 1, 2, 4, 8, 16, 31, 32, 255, 256, 4095, 4096, 4097, 1 << 20]),
        2 => PAGE * rng.below(8),
        3 => rng.pick(&[
            0x1000_0000,
            0x4000_0000_0000,
            0x7FFF_FFFF_F000,
            1 << 47,
            0xFFFF_8000_0000_0000,
        ]),
        4 => rng.pick(&[u64::from(u32::MAX), u64::MAX, u64::MAX - 4095, 1 << 32, 1 << 63]),
        5 => rng.below(64),
        _ => rng.next(),
    };
    if (1..FUZZ_FIRST).contains(&v) {
        fuzz_slot(rng)
    } else {
        v
    }
}

/// A pointer: into the worker's buffers, or somewhere it must not reach.
fn pointer(rng: &mut Rng, buf: u64) -> u64 {
    match rng.below(6) {
        0..=2 => buf + rng.below(2 * PAGE),
        3 => rng.pick(&[0, 8, 0xFFFF_8000_0000_0000, 0xFFFF_FFFF_8010_0000, u64::MAX - 7]),
        4 => 0x5000_0000_0000 + rng.below(1 << 20),
        _ => rng.next(),
    }
}

fn bytes_arg(rng: &mut Rng, buf: u64, max: u64) -> (u64, u64) {
    let len = match rng.below(6) {
        0 => 0,
        1 => max,
        2 => max + 1,
        3 => rng.pick(&[u64::MAX, 1 << 32]),
        _ => rng.below(max.min(2 * PAGE) + 1),
    };
    (pointer(rng, buf), len)
}

/// Starts a thread running a page of random bytes in the fuzz address space (with the fuzz
/// CNode), and kills the oldest such thread.
fn random_thread(rng: &mut Rng, q: &Quota, ring: &mut [u64; 4]) {
    let own = boot::cnode();
    let vs = VSpace::from_slot(F_VSPACE);
    let (code, stack) = (0x1000_0000u64, 0x2000_0000u64);
    let _ = vs.unmap(code, PAGE);
    let _ = vs.unmap(stack, PAGE);
    let Ok(vmo) = Vmo::create(q, PAGE) else { return };
    let mut bytes = [0u8; 512];
    for chunk in 0..8 {
        for b in bytes.chunks_mut(8) {
            b.copy_from_slice(&rng.next().to_le_bytes());
        }
        let _ = vmo.write(chunk * 512, &bytes);
    }
    let _ = vs.map(&vmo, code, 0, PAGE, MapFlags::R | MapFlags::X);
    let _ = Cap::delete(&own, vmo.0);
    if let Ok(s) = Vmo::create(q, PAGE) {
        let _ = vs.map(&s, stack, 0, PAGE, MapFlags::R | MapFlags::W);
        let _ = Cap::delete(&own, s.0);
    }
    let Ok(t) = Tcb::create(q) else { return };
    let regs = anvil::Regs {
        rip: code + rng.below(PAGE),
        rsp: stack + PAGE - 8,
        arg0: rng.next(),
        arg1: rng.next(),
        arg2: rng.next(),
    };
    let started = t
        .configure(&vs, &CNode::from_slot(F_CNODE), 0, 0)
        .and_then(|()| t.set_regs(&regs))
        .and_then(|()| t.resume());
    if started.is_err() {
        let _ = Cap::delete(&own, t.0);
        return;
    }
    let old = core::mem::replace(&mut ring[rng.below(4) as usize], t.0);
    if old != 0 {
        let _ = Cap::delete(&own, old);
    }
}

/// A thread of a worker doing random blocking IPC on the worker's endpoints, with random
/// headers and capabilities, for ever (it dies with its worker).
extern "C" fn blocker(k: u64) -> ! {
    let k = k as usize;
    while BLOCKER_BUF[k].load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    let mut rng = Rng(mix(BLOCKER_SEED.load(Ordering::SeqCst), k as u64 + 7));
    // SAFETY: this thread's IPC buffer, mapped read-write for it by `thread::spawn`.
    let m = unsafe { &mut *(BLOCKER_BUF[k].load(Ordering::SeqCst) as *mut Message) };
    loop {
        let ep = if rng.below(4) == 0 {
            Endpoint::from_slot(fuzz_slot(&mut rng))
        } else {
            Endpoint::from_slot(rng.pick(&F_EP))
        };
        m.label = rng.next();
        m.data_len = rng.pick(&[0, 8, 64, 512, 513, u32::MAX]);
        m.cap_count = rng.pick(&[0, 0, 1, 2, 4, 5]);
        for c in m.caps.iter_mut() {
            *c = value(&mut rng);
        }
        let _ = match rng.below(8) {
            0 => ep.call(),
            1 => ep.send(),
            2 => ep.recv(),
            3 => ep.reply_recv(),
            // Waits for a signal (the random calls signal the fixture now and then).
            4 => Notification::from_slot(F_NTFN).wait().map(|_| ()),
            // Takes the reply owed to a caller (if any) and answers it, or drops it (the
            // caller wakes with PEER_CLOSED).
            5 => Endpoint::save_reply(&Quota::from_slot(F_QUOTA)).and_then(|r| {
                let sent = if rng.below(2) == 0 { r.send() } else { Ok(()) };
                let _ = Cap::delete(&boot::cnode(), r.0);
                sent
            }),
            6 => Notification::from_slot(F_NTFN).signal(),
            _ => Endpoint::reply(),
        };
    }
}
