//! bench: the kernel's basic operations, one figure each: `BENCH <name> insns=<N>` when QEMU
//! runs with `-icount shift=0` (the TSC then counts guest instructions, so figures are exact
//! and repeatable) or `BENCH <name> ticks=<N>` on host time (`./run.sh bench` runs both and
//! writes `bench.conf` to say which). Each figure is the median of batches after a warm-up, with
//! the spread of the batches. IPC partners run in a process of their own (a copy of this
//! program started with an argument) unless the name says `1as`. Figures are printed, never
//! asserted: a benchmark is not a test. The shell's `bench` command starts it as a service (its
//! manifest line grants it the boot archive, where its partners' image is).

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::process::{destroy_quota, Process};
use anvil::sys::abi::Message;
use anvil::sys::kernel::{Cap, ThreadState};
use anvil::thread::{self, Spawn};
use anvil::{boot, println, types, Endpoint, MapFlags, Quota, Regs, Rights, Tcb, Vmo};

anvil::entry!(main);

const PAGE: u64 = types::PAGE_SIZE;
/// Batches per figure, after one warm-up batch.
const BATCHES: usize = 9;
/// Slot of a partner process's endpoint (its own CNode).
const PARTNER_EP: u64 = 12;
/// Roles a copy of this program is started in (`anvil::start_arg`).
const SERVER: u64 = 1;
const CAP_SERVER: u64 = 2;
const YIELDER: u64 = 3;

fn tsc() -> u64 {
    // SAFETY: rdtsc only reads the time-stamp counter, which the kernel leaves readable in
    // user mode.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn quota() -> Quota {
    Quota::from_slot(types::BOOT_SLOT_QUOTA)
}

fn msg() -> &'static mut Message {
    // SAFETY: this thread's IPC buffer, mapped read-write for it; only this thread uses it.
    unsafe { &mut *(anvil::ipc_buffer() as *mut Message) }
}

fn want<T>(what: &str, r: Result<T, anvil::Status>) -> T {
    r.unwrap_or_else(|e| panic!("bench: {what}: {e:?}"))
}

struct Config {
    /// "insns" or "ticks".
    unit: &'static str,
    /// Operations per batch (scaled down for the slow ones).
    per_batch: u64,
    /// `profile=NAME`: run only benchmark NAME, once, through `profiled`, whose two `rdtsc`
    /// open and close the window of `../shared/tools/insn-profile` (docs/performance.md).
    profile: Option<&'static str>,
}

/// The window `insn-profile` counts: one warm-up batch is left out, then `n` operations.
#[inline(never)]
fn profiled(n: u64, op: &mut dyn FnMut()) -> u64 {
    for _ in 0..n {
        op();
    }
    let t0 = tsc();
    for _ in 0..n {
        op();
    }
    tsc() - t0
}

fn config() -> Config {
    let text = boot::archive_file("bench.conf").and_then(|t| core::str::from_utf8(t).ok());
    let unit = match text {
        Some(t) if t.contains("mode=insns") => "insns",
        _ => "ticks",
    };
    let per_batch = text
        .and_then(|t| t.split_ascii_whitespace().find_map(|w| w.strip_prefix("batch=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let profile = text.and_then(|t| t.split_ascii_whitespace().find_map(|w| w.strip_prefix("profile=")));
    Config {
        unit,
        per_batch,
        profile,
    }
}

/// Runs `op` in a warm-up batch and then in `BATCHES` batches of `n`, and prints the median
/// cost per operation with the batches' spread.
fn measure(cfg: &Config, name: &str, n: u64, mut op: impl FnMut()) {
    let n = n.max(1);
    match cfg.profile {
        Some(p) if p == name => {
            let t = profiled(n, &mut op);
            println!("BENCH {name} {}={} profiled={n}", cfg.unit, t / n);
            return;
        }
        Some(_) => return,
        None => {}
    }
    let mut per_op = [0u64; BATCHES];
    for b in 0..=BATCHES {
        let t0 = tsc();
        for _ in 0..n {
            op();
        }
        let t = tsc() - t0;
        if b > 0 {
            per_op[b - 1] = t / n;
        }
    }
    per_op.sort_unstable();
    println!(
        "BENCH {name} {}={} spread={}..{} batches={BATCHES}x{n}",
        cfg.unit,
        per_op[BATCHES / 2],
        per_op[0],
        per_op[BATCHES - 1]
    );
}

fn main() -> u64 {
    match anvil::start_arg() {
        0 => run(),
        SERVER => serve(false),
        CAP_SERVER => serve(true),
        YIELDER => loop {
            let _ = Tcb::yield_now();
        },
        _ => 1,
    }
}

/// A partner process: answers every call on its endpoint. With `caps`, it deletes the
/// capability a request brings and answers with a copy of its own endpoint capability.
fn serve(caps: bool) -> u64 {
    let ep = Endpoint::from_slot(PARTNER_EP);
    let m = msg();
    let own = boot::cnode();
    let _ = ep.recv();
    loop {
        if caps {
            if m.cap_count == 1 {
                let _ = Cap::delete(&own, m.caps[0]);
            }
            m.caps[0] = PARTNER_EP;
            m.cap_count = 1;
        } else {
            m.cap_count = 0;
        }
        m.label = 0;
        let _ = ep.reply_recv();
    }
}

/// A copy of this program in a process of its own, pinned to `cpu`, in `role`; `ep` (of this
/// process) is given to it as its endpoint. Returns the slot of its quota.
fn partner(role: u64, cpu: u32, ep: Option<Endpoint>) -> u64 {
    let image = boot::archive_file("bench").unwrap_or_else(|| panic!("bench: own image not in the archive"));
    let p = Process::load(&quota(), 4 << 20, image, 64).unwrap_or_else(|e| panic!("bench: partner: {e}"));
    let setup = p.grant_own().and_then(|()| match ep {
        Some(ep) => p.grant(ep.0, PARTNER_EP, Rights::READ | Rights::WRITE | Rights::GRANT),
        None => Ok(()),
    });
    if let Err(e) = setup {
        panic!("bench: partner: {e}");
    }
    want("partner affinity", p.tcb.set_affinity(cpu));
    if let Err(e) = p.start("bench-partner", role) {
        panic!("bench: partner: {e}");
    }
    p.release()
}

static EP_1AS: AtomicU64 = AtomicU64::new(0);
static IPC_1AS: AtomicU64 = AtomicU64::new(0);

/// A server thread in this address space.
extern "C" fn serve_here(_: u64) -> ! {
    while IPC_1AS.load(Ordering::SeqCst) == 0 {
        let _ = Tcb::yield_now();
    }
    // SAFETY: this thread's own IPC buffer (from thread::spawn), used by it alone.
    let m = unsafe { &mut *(IPC_1AS.load(Ordering::SeqCst) as *mut Message) };
    let ep = Endpoint::from_slot(EP_1AS.load(Ordering::SeqCst));
    let _ = ep.recv();
    loop {
        m.label = 0;
        m.cap_count = 0;
        let _ = ep.reply_recv();
    }
}

/// Round trips of `data` bytes to a server process on `server_cpu`, from this thread pinned
/// to `client_cpu`.
fn ipc(cfg: &Config, name: &str, data: u32, server_cpu: u32, client_cpu: u32) {
    want("pin", boot::tcb().set_affinity(client_cpu));
    let _ = Tcb::yield_now();
    let ep = want("Endpoint.create", Endpoint::create(&quota()));
    let q = partner(SERVER, server_cpu, Some(ep));
    let m = msg();
    measure(cfg, name, cfg.per_batch, || {
        m.label = 1;
        m.data_len = data;
        m.cap_count = 0;
        let _ = ep.call();
    });
    destroy_quota(q);
    want("delete endpoint", Cap::delete(&boot::cnode(), ep.0));
}

fn run() -> u64 {
    let cfg = config();
    let cpus = want("cpu_count", thread::cpu_count());
    println!(
        "bench: {cpus} CPUs, figures in {} (median of {BATCHES} batches)",
        cfg.unit
    );
    let n = cfg.per_batch;
    let own = boot::cnode();

    want("pin", boot::tcb().set_affinity(0));
    measure(&cfg, "null_syscall", 5 * n, || {
        let _ = Tcb::current_cpu();
    });

    ipc(&cfg, "ipc_rt_0w", 0, 0, 0);
    ipc(&cfg, "ipc_rt_4w", 32, 0, 0);
    ipc(&cfg, "ipc_rt_full", types::MSG_DATA_BYTES, 0, 0);

    // Within one address space: a server thread of this process.
    let ep = want("Endpoint.create", Endpoint::create(&quota()));
    EP_1AS.store(ep.0, Ordering::SeqCst);
    let how = Spawn {
        cpu: Some(0),
        ipc_buffer: true,
        ..Spawn::default()
    };
    let t = want("spawn", thread::spawn(serve_here, 0, how));
    IPC_1AS.store(t.ipc_buffer, Ordering::SeqCst);
    let m = msg();
    measure(&cfg, "ipc_rt_1as_0w", n, || {
        m.label = 1;
        m.data_len = 0;
        m.cap_count = 0;
        let _ = ep.call();
    });
    want("free", t.free());
    want("delete", Cap::delete(&own, ep.0));

    // One capability each way: the client sends a VMO capability, the server deletes it and
    // answers with an endpoint capability, which the client deletes.
    let ep = want("Endpoint.create", Endpoint::create(&quota()));
    let q = partner(CAP_SERVER, 0, Some(ep));
    let vmo = want("Vmo.create", Vmo::create(&quota(), PAGE));
    measure(&cfg, "ipc_rt_cap", n, || {
        m.label = 1;
        m.data_len = 0;
        m.cap_count = 1;
        m.caps[0] = vmo.0;
        if ep.call().is_ok() && m.cap_count == 1 {
            let _ = Cap::delete(&own, m.caps[0]);
        }
    });
    destroy_quota(q);
    want("delete", Cap::delete(&own, ep.0));

    if cpus > 1 {
        ipc(&cfg, "ipc_rt_cross_cpu_0w", 0, 1, 0);
    }
    want("pin", boot::tcb().set_affinity(0));

    // Two address spaces yielding to each other on one CPU: each yield is a switch.
    let q = partner(YIELDER, 0, None);
    let _ = Tcb::yield_now();
    measure(&cfg, "yield_switch", n, || {
        let _ = Tcb::yield_now();
    });
    destroy_quota(q);

    measure(&cfg, "cap_copy_delete", n, || {
        let _ = Cap::copy(&own, vmo.0, &own, 200, Rights::READ);
        let _ = Cap::delete(&own, 200);
    });

    let va = 0x6000_0000u64;
    measure(&cfg, "vmo_map_touch_unmap", n, || {
        let _ = boot::vspace().map(&vmo, va, 0, PAGE, MapFlags::R | MapFlags::W);
        // SAFETY: mapped read-write just above, at an address nothing else uses.
        unsafe { core::ptr::write_volatile(va as *mut u64, 1) };
        let _ = boot::vspace().unmap(va, PAGE);
    });

    // A thread's whole life: create, configure, start, exit, delete. The thread runs on this
    // CPU (it is pinned here), so its exit happens within the operation.
    let stack = want(
        "stack",
        boot::vspace().alloc(&quota(), thread::STACK_SIZE, MapFlags::R | MapFlags::W),
    );
    measure(&cfg, "thread_lifecycle", n / 4, || {
        let t = want("Tcb.create", Tcb::create(&quota()));
        let _ = t.configure(&boot::vspace(), &own, 0, 1);
        let _ = t.set_regs(&Regs {
            rip: exit_at_once as *const () as u64,
            rsp: stack + thread::STACK_SIZE - 8,
            arg0: 0,
            arg1: 0,
            arg2: 0,
        });
        let _ = t.set_affinity(0);
        let _ = t.resume();
        while t.state() != Ok(ThreadState::DEAD) {
            let _ = Tcb::yield_now();
        }
        let _ = Cap::delete(&own, t.0);
    });
    println!("bench: done");
    // Booted as init (`./run.sh bench`), it ends the run; started by the shell's `bench`, it
    // just exits. Only init holds the interrupt controller.
    const IRQ_CONTROL: u32 = 9;
    if Cap::identify(&own, types::BOOT_SLOT_IRQ_CONTROL).is_ok_and(|(t, _, _)| t == IRQ_CONTROL) {
        boot::debug().shutdown(0)
    }
    0
}

extern "C" fn exit_at_once(_: u64) -> ! {
    Tcb::exit(0)
}
