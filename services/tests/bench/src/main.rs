//! bench: prints cycles (TSC ticks) per operation for the kernel's basic operations. Under
//! QEMU's `-icount shift=0` the TSC counts instructions, so the figures are deterministic and
//! comparable across machines; without it they follow the host. `./run.sh bench` runs both.
//! Figures are printed, never asserted: a benchmark is not a test. The shell's `bench` command
//! starts it as a service.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::sys::kernel::Cap;
use anvil::thread::{self, Spawn};
use anvil::{boot, println, types, Endpoint, MapFlags, Quota, Rights, Tcb, Vmo};

anvil::entry!(main);

const PAGE: u64 = types::PAGE_SIZE;

fn tsc() -> u64 {
    // SAFETY: rdtsc only reads the time-stamp counter, which the kernel leaves readable in
    // user mode.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn report(what: &str, n: u64, cycles: u64) {
    println!("bench: {what}: {} cycles/op ({n} ops)", cycles / n.max(1));
}

fn quota() -> Quota {
    Quota::from_slot(types::BOOT_SLOT_QUOTA)
}

static SERVED: AtomicU64 = AtomicU64::new(0);
static EP: AtomicU64 = AtomicU64::new(0);

/// Answers every call on the endpoint with an empty reply.
extern "C" fn server(_: u64) -> ! {
    let ep = Endpoint::from_slot(EP.load(Ordering::SeqCst));
    let _ = ep.recv();
    loop {
        SERVED.fetch_add(1, Ordering::Relaxed);
        let _ = ep.reply_recv();
    }
}

fn spawn(entry: extern "C" fn(u64) -> !, cpu: Option<u32>) -> Tcb {
    let how = Spawn {
        cpu,
        ipc_buffer: true,
        ..Spawn::default()
    };
    thread::spawn(entry, 0, how)
        .unwrap_or_else(|e| panic!("spawn: {e:?}"))
        .tcb
}

static EXITED: AtomicU64 = AtomicU64::new(0);

extern "C" fn quick(_: u64) -> ! {
    EXITED.fetch_add(1, Ordering::SeqCst);
    Tcb::exit(0)
}

fn ipc_round_trip(what: &str, server_cpu: u32, client_cpu: u32) {
    let q = quota();
    let ep = Endpoint::create(&q).unwrap_or_else(|e| panic!("Endpoint.create: {e:?}"));
    EP.store(ep.0, Ordering::SeqCst);
    let _ = boot::tcb().set_affinity(client_cpu);
    let _ = Tcb::yield_now();
    let s = spawn(server, Some(server_cpu));
    // Warm up, then measure.
    for _ in 0..100 {
        let _ = ep.call();
    }
    let n = 2000;
    let t0 = tsc();
    for _ in 0..n {
        let _ = ep.call();
    }
    report(what, n, tsc() - t0);
    let own = boot::cnode();
    let _ = Cap::delete(&own, s.0);
    let _ = Cap::delete(&own, ep.0);
}

fn main() -> u64 {
    let cpus = thread::cpu_count().unwrap_or_else(|e| panic!("cpu_count: {e:?}"));
    println!("bench: {cpus} CPUs");
    let n = 10_000;
    let t0 = tsc();
    for _ in 0..n {
        let _ = Tcb::current_cpu();
    }
    report("null syscall (Tcb.current_cpu)", n, tsc() - t0);

    ipc_round_trip("IPC round trip, same CPU (call + reply_recv)", 0, 0);
    if cpus > 1 {
        ipc_round_trip("IPC round trip, across CPUs", 1, 0);
    }
    let _ = boot::tcb().set_affinity(u32::MAX);

    let own = boot::cnode();
    let vmo = Vmo::create(&quota(), PAGE).unwrap_or_else(|e| panic!("{e:?}"));
    let n = 2000;
    let t0 = tsc();
    for _ in 0..n {
        let _ = Cap::copy(&own, vmo.0, &own, 200, Rights::READ);
        let _ = Cap::delete(&own, 200);
    }
    report("Cap.copy + Cap.delete", n, tsc() - t0);

    let t0 = tsc();
    for _ in 0..n {
        let _ = boot::vspace().map(&vmo, 0x6000_0000, 0, PAGE, MapFlags::R);
        let _ = boot::vspace().unmap(0x6000_0000, PAGE);
    }
    report("VSpace.map + VSpace.unmap (one page)", n, tsc() - t0);

    let n = 100;
    let t0 = tsc();
    for i in 0..n {
        let t = spawn(quick, None);
        while EXITED.load(Ordering::SeqCst) <= i {
            let _ = Tcb::yield_now();
        }
        let _ = Cap::delete(&own, t.0);
    }
    report("thread create + start + exit", n, tsc() - t0);
    println!("bench: done");
    // Booted as init (`./run.sh bench`), it ends the run; started by the shell's `bench`, it
    // just exits. Only init holds the interrupt controller.
    const IRQ_CONTROL: u32 = 9;
    if Cap::identify(&own, types::BOOT_SLOT_IRQ_CONTROL).is_ok_and(|(t, _, _)| t == IRQ_CONTROL) {
        boot::debug().shutdown(0)
    }
    0
}
