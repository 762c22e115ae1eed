//! TLB shootdown: a CPU that removed or narrowed a mapping asks the other CPUs that may cache
//! it to flush, and waits until they have. Requests are per-CPU flags, so two CPUs shooting
//! at each other at once do not deadlock: a waiting CPU services its own flag while it waits.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use x86_64::registers::control::{Cr4, Cr4Flags};

use super::apic;

pub const MAX_CPUS: usize = 64;

/// APIC id of each CPU index, set as CPUs come up.
pub static APIC_IDS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(u32::MAX) }; MAX_CPUS];
static PENDING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Flushes this CPU's whole TLB, global entries included.
pub fn flush_all() {
    let cr4 = Cr4::read();
    // SAFETY: clearing and restoring PGE only flushes the TLB; no mapping changes.
    unsafe {
        Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL);
        Cr4::write(cr4);
    }
}

/// Handles a request addressed to CPU `me`, if there is one.
pub fn service(me: usize) {
    if PENDING[me % MAX_CPUS].swap(false, Ordering::AcqRel) {
        flush_all();
    }
}

/// Makes every CPU in `targets` (a bit mask of CPU indexes; `me` is skipped) flush its TLB and
/// waits until all have. The caller must not hold a lock that a target may be spinning on
/// with interrupts disabled.
pub fn shootdown(me: usize, targets: u64) {
    if targets & !(1 << me) == 0 {
        return;
    }
    let mut sent = 0u64;
    for (cpu, pending) in PENDING.iter().enumerate() {
        if cpu == me || targets & (1 << cpu) == 0 {
            continue;
        }
        let id = APIC_IDS[cpu].load(Ordering::Acquire);
        if id == u32::MAX {
            continue;
        }
        pending.store(true, Ordering::Release);
        apic::send_ipi(id, apic::TLB_VECTOR);
        sent |= 1 << cpu;
    }
    while sent != 0 {
        service(me);
        for (cpu, pending) in PENDING.iter().enumerate() {
            if sent & (1 << cpu) != 0 && !pending.load(Ordering::Acquire) {
                sent &= !(1 << cpu);
            }
        }
        core::hint::spin_loop();
    }
}
