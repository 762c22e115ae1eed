//! The Debug object: the kernel's serial console and the figures the kernel keeps, offered to
//! init (and the IO server) as a capability. The capability's rights decide what its holder
//! may do (WRITE: print, READ: statistics and the buffered console, MANAGE: hand the console
//! over, shut the machine down in test runs).

use core::sync::atomic::Ordering;

use super::{expect_obj, Capability};
use crate::abi::types::Status;
use crate::arch::x86_64::tlb::{APIC_IDS, MAX_CPUS};

/// There is one debug console.
pub struct DebugConsole;

/// `Debug.cpu`: (APIC id, timer ticks, device interrupts, dispatches, idle).
pub fn cpu(cpu: u32) -> Result<(u32, u64, u64, u64, bool), Status> {
    if cpu >= crate::cpu_count() || cpu as usize >= MAX_CPUS {
        return Err(Status::INVALID_ARGS);
    }
    let c = cpu as usize;
    Ok((
        APIC_IDS[c].load(Ordering::Acquire),
        crate::interrupts::CPU_TICKS[c].load(Ordering::Relaxed),
        super::irq::TAKEN[c].load(Ordering::Relaxed),
        crate::sched::DISPATCHES[c].load(Ordering::Relaxed),
        crate::sched::is_idle(c),
    ))
}

/// `Debug.uptime`: the boot CPU's ticks in milliseconds.
pub fn uptime() -> u64 {
    crate::interrupts::CPU_TICKS[0].load(Ordering::Relaxed) * crate::interrupts::TICK_MS
}

/// `Debug.attach`.
pub fn attach(n: &Capability) -> Result<(), Status> {
    let ntfn = expect_obj!(n, Notification)?;
    crate::log::attach(&ntfn.0, super::notification::bits_of(n));
    Ok(())
}

/// `Debug.read_log` by `me`: into its IPC buffer.
pub fn read_log(me: &super::tcb::Tcb) -> Result<(u32, u64), Status> {
    if me.inner.lock().ipc.is_none() {
        return Err(Status::BAD_STATE);
    }
    let mut buf = [0u8; crate::abi::types::MSG_DATA_BYTES as usize];
    let (n, lost) = crate::log::read(&mut buf);
    super::endpoint::write_data(me, &buf[..n])?;
    Ok((n as u32, lost))
}
